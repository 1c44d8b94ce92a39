// Executor: runs an ONNX graph in fp32 (and QDQ graphs) for calibration and evaluation.
//
// The graph is compiled once: values get slots, initializers and Constant nodes become tensors,
// and every node whose inputs are all constant (e.g. DequantizeLinear of int8 weights) is folded.
// run() then executes the remaining nodes in order; Conv/Gemm/MatMul/pooling use oneDNN.
// Inputs are NCHW/row-major float32 tensors named like the model's graph inputs; a leading batch
// extent > 1 is allowed wherever the model's shape plumbing allows it.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/model.h"
#include "runtime/kernel.h"

namespace qtool {

using TensorMap = std::map<std::string, Tensor>;

// Every op type the executor cannot run, as "OpType (node 'name')", one entry per op type.
std::vector<std::string> find_unsupported_ops(const Model& model);
// Throws InputError "<file>: unsupported ops: A (node 'x'), B (node 'y')" when any is found.
void require_supported(const Model& model);

struct InputSpec {
  std::string name;
  DType dtype;
  Shape shape;  // -1 for a symbolic or unknown extent
};

// The model's real inputs (initializers listed as inputs excluded).
std::vector<InputSpec> model_input_specs(const Model& model);

struct ExecutorOptions {
  // Fold BatchNormalization into a preceding Conv and fuse a following Relu / LeakyRelu / Clip
  // into it (runtime/fusion.cpp). A fused-away value (the Conv's own output) is then never produced,
  // so hooks do not see it; graph outputs and keep_values() names are never fused away.
  bool fuse = true;
  // Let convolutions hand each other oneDNN blocked tensors (nChw16c, ...) instead of converting
  // to NCHW between them. Invisible outside the executor: hooks and results are always plain.
  bool layouts = true;
};

class Executor {
 public:
  explicit Executor(const Model& model, ExecutorOptions options = {});

  const std::vector<InputSpec>& inputs() const { return inputs_; }
  const std::vector<std::string>& output_names() const { return outputs_; }

  // Called with (value name, tensor) for every node output as it is produced.
  using Hook = std::function<void(const std::string&, const Tensor&)>;
  void set_hook(Hook hook) { hook_ = std::move(hook); }
  // Also keep these intermediate values (beyond graph outputs) in run()'s result. Throws
  // InputError for a name the model does not have.
  void keep_values(std::vector<std::string> names);
  bool has_value(const std::string& name) const { return slot_of_.count(name) > 0; }
  // A value known at compile time (initializer, or folded from constants, e.g. a dequantized
  // weight); nullptr otherwise.
  const Tensor* constant(const std::string& name) const {
    auto it = slot_of_.find(name);
    return it == slot_of_.end() || constants_[it->second].empty() ? nullptr : &constants_[it->second];
  }

  // Throws InputError when a feed is missing or its dtype/shape does not match the model input.
  TensorMap run(const TensorMap& feeds);

  // Shapes of every value seen in the last run (used to help shape inference / opset upgrade).
  const std::map<std::string, std::pair<DType, Shape>>& last_value_shapes() const { return value_shapes_; }
  void record_shapes(bool on) { record_shapes_ = on; }

 private:
  struct Step {
    const onnx::NodeProto* node;
    KernelFn fn;
    std::vector<int> in, out;
    mutable std::shared_ptr<void> state;  // kernel cache (KernelContext::state)
    FusedActivation activation;           // set by fusion
    bool layout_aware = false;            // kernel accepts runtime layouts (OpRegistry)
    bool allow_layout_output = false;     // every reader of out[0] is layout-aware (compile)
  };
  int slot(const std::string& name);
  void compile();  // fusion + liveness; runs before the first run() and after keep_values()
  void fuse();     // runtime/fusion.cpp
  void execute(const Step& s, std::vector<Tensor>& slots, bool cached) const;

  int opset_;
  onnx::ModelProto proto_;  // own copy: steps point into it
  std::map<std::string, int> slot_of_;
  std::vector<std::string> slot_names_;
  std::vector<Tensor> constants_;  // per slot; empty when not constant
  std::vector<Step> graph_steps_;  // as in the model (constant nodes folded)
  std::vector<Step> steps_;        // what run() executes (after fusion)
  ExecutorOptions options_;
  bool compiled_ = false;
  std::vector<int> last_use_;      // per slot: index of the last step reading it
  std::vector<InputSpec> inputs_;
  std::vector<std::string> outputs_;
  std::vector<bool> keep_;
  Hook hook_;
  bool record_shapes_ = false;
  std::map<std::string, std::pair<DType, Shape>> value_shapes_;
};

// dtype and shape of every value in one run of `model` on zero inputs (symbolic extents taken as
// 1), for passes that need shapes the file does not state (opset upgrade, channel surgery).
std::map<std::string, std::pair<DType, Shape>> value_shapes_on_zeros(const Model& model,
                                                                     ExecutorOptions options = {});

}  // namespace qtool
