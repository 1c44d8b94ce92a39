// SPDX-License-Identifier: Apache-2.0
// Executor: runs an ONNX graph (every op in runtime/kernels/, any dtype, subgraphs) for
// calibration, evaluation and `qtool run`.
//
// The graph is compiled once (runtime/compiled_graph.h): nodes sorted topologically, values get
// slots, initializers and Constant nodes become tensors, every node whose inputs are all constant
// is folded (a result larger than ExecutorOptions::fold_limit_bytes is computed by the first run
// instead, and kept for the later ones), and If/Loop/Scan
// bodies are compiled as child graphs that read outer-scope values. run() then executes the
// remaining nodes in order. Inputs are named like the model's graph inputs; a leading batch
// extent > 1 is accepted where the model declares 1 or a symbolic extent.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/value.h"
#include "io/model.h"
#include "runtime/kernel.h"

namespace qtool {

using TensorMap = std::map<std::string, Tensor>;
using ValueMap = std::map<std::string, Value>;

// Every node the executor cannot run (subgraphs included), as "Op (node 'name')" or
// "domain.Op-version (node 'name')", one entry per op type and version.
std::vector<std::string> find_unsupported_ops(const Model& model);
// Throws InputError "<file>: unsupported ops: A (node 'x'), B (node 'y')" when any is found.
void require_supported(const Model& model);

struct InputSpec {
  std::string name;
  DType dtype;            // element type (of the tensor, or of the sequence's tensors)
  Shape shape;            // -1 for a symbolic or unknown extent; empty when the rank is unknown
  Value::Kind kind = Value::Kind::kTensor;  // kSequence for sequence inputs
  bool optional = false;  // declared as an optional type
  bool rank_known = true;
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
  // Run every node with its reference kernel (no oneDNN / Eigen fast paths, no fusion).
  bool reference_only = false;
  // Constant folding leaves a node in the graph when one of its results would be larger.
  size_t fold_limit_bytes = size_t{256} << 20;
  // Run QDQ convolutions (DequantizeLinear -> Conv [-> Relu] [-> QuantizeLinear] with int8
  // per-channel weights) as integer convolutions (runtime/qdq_fusion.cpp), as onnxruntime runs
  // them (QLinearConv), instead of float convolutions of dequantized tensors. Needs `fuse`.
  // (Last member: aggregate initialisers of the ones above keep their meaning.)
  bool integer_qdq = true;
};

class CompiledGraph;
class BufferPoolUser;

// Wall time of one top-level step over the runs since Executor::set_profiling(true) (fused
// nodes are one step, named by the node that survives fusion).
struct StepProfile {
  std::string node;       // node name (or its first output's name when unnamed)
  std::string op_type;    // with "+Relu" etc. for a fused activation
  std::string layout;     // "plain", "layout in", "layout out", "layout in+out"
  int64_t calls = 0;
  double seconds = 0;     // summed over calls
};

class Executor {
 public:
  // The executor refers to `model`'s nodes and initializers: the model must outlive it (a
  // temporary is refused at compile time).
  explicit Executor(const Model& model, ExecutorOptions options = {});
  Executor(const Model&& model, ExecutorOptions options = {}) = delete;
  ~Executor();
  Executor(Executor&&) noexcept;

  const std::vector<InputSpec>& inputs() const { return inputs_; }
  const std::vector<std::string>& output_names() const;

  // Called with (value name, tensor) for every tensor a top-level node produces, in plain row-major
  // order. With any_layout, a tensor the executor holds in a dense runtime layout (no padding, e.g.
  // oneDNN's NHWC for convolutions) is passed as it is, Tensor::layout() set: its storage holds the
  // same values in another order (Tensor::dense_storage() reads it), which saves a reorder per
  // value for hooks that need only value statistics (calibration observers).
  using Hook = std::function<void(const std::string&, const Tensor&)>;
  void set_hook(Hook hook, bool any_layout = false);
  // Also keep these intermediate values (beyond graph outputs) in run()'s result. Throws
  // InputError for a name the model does not have.
  void keep_values(std::vector<std::string> names);
  // Make sure the hook sees these values (fusion never removes them) without keeping them in
  // run()'s result: each is released after its last reader as usual, so streaming observers hold
  // one batch's activations at a time. Throws InputError for a name the model does not have.
  void observe_values(const std::vector<std::string>& names);
  bool has_value(const std::string& name) const;
  // A value known at compile time (initializer, or folded from constants, e.g. a dequantized
  // weight); nullptr otherwise.
  const Tensor* constant(const std::string& name) const;

  // Throws InputError when a feed is missing or its dtype/shape does not match the model input,
  // or when an output is not a tensor (use run_values).
  TensorMap run(const TensorMap& feeds);
  // Any kind of input and output value (sequences, optionals).
  ValueMap run_values(const ValueMap& feeds);

  // Shapes of every tensor seen in the last run (for passes that need shapes the file does not
  // state; they run the model on real data to get them).
  const std::map<std::string, std::pair<DType, Shape>>& last_value_shapes() const { return value_shapes_; }
  void record_shapes(bool on) { record_shapes_ = on; }
  // Time every top-level step of the following runs (a steady_clock read per step); profile()
  // gives the totals in execution order. Turning it on clears earlier totals.
  void set_profiling(bool on);
  const std::vector<StepProfile>& profile() const { return profile_; }

 private:
  // Keeps freed tensor storage for reuse while the executor lives (core/buffer_pool.h); declared
  // before graph_ so that the graph's constants and caches return their blocks first.
  std::unique_ptr<BufferPoolUser> pool_user_;
  std::unique_ptr<CompiledGraph> graph_;
  std::vector<InputSpec> inputs_;
  Hook hook_;
  bool hook_any_layout_ = false;
  std::map<std::string, std::pair<DType, Shape>> value_shapes_;
  bool record_shapes_ = false;
  bool profiling_ = false;
  std::vector<StepProfile> profile_;
};

// Runs one node (no subgraph attributes) on known inputs (nullptr for omitted ones) with the
// kernel the registry has for it at `domain_opset`: validation, then the fast kernel when there is
// one (unless reference_only), else the reference. Throws InputError for an unsupported op,
// AllocationCapExceeded under an AllocationCap.
std::vector<Value> run_node(const onnx::NodeProto& node, int domain_opset, const std::vector<const Value*>& inputs,
                            bool reference_only = false);
// Whether run_node can evaluate this node ahead of time: a supported, deterministic op without
// subgraphs.
bool node_is_foldable(const onnx::NodeProto& node, int domain_opset);

}  // namespace qtool
