// SPDX-License-Identifier: Apache-2.0
// Kernel interface of the executor. A kernel is a plain function that reads ctx.inputs and fills
// ctx.outputs (one Value per node output). Kernels register in their family file under
// runtime/kernels/ (one register_<family>_ops function each; the list of families is generated
// by CMake from the folder), so adding an op means one entry in its family file plus its tests.
//
// Errors: a kernel reports bad models and bad inputs with ctx.fail(...), which throws InputError
// "node 'name' (OpType): what" (the CLI's exit 2); anything else it throws is a qtool failure.
#pragma once
#include <onnx/onnx_pb.h>

#include <memory>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/value.h"

namespace qtool {

// An elementwise activation the executor fused into a node's output (runtime/fusion.cpp).
// Only kernels listed in fusion.cpp as accepting one ever receive kind != kNone.
struct FusedActivation {
  enum Kind { kNone, kRelu, kLeakyRelu, kClip, kTanh, kSigmoid, kHardSigmoid, kHardSwish, kSwish } kind = kNone;
  // LeakyRelu: alpha = slope; Clip: [alpha, beta]; HardSigmoid: max(0, min(1, alpha x + beta));
  // Swish: x * sigmoid(alpha x) (SiLU for alpha 1, as Sigmoid -> Mul write it)
  float alpha = 0.f, beta = 0.f;
};

// A subgraph attribute of a node (If's branches, Loop's and Scan's body), compiled by the
// executor, with the values it reads from enclosing scopes already bound.
class Subgraph {
 public:
  virtual ~Subgraph() = default;
  virtual size_t num_inputs() const = 0;
  virtual size_t num_outputs() const = 0;
  // Runs the body once; `inputs` bind its formal inputs in order. Returns its outputs in order.
  virtual std::vector<Value> run(std::vector<Value> inputs) const = 0;
};

struct KernelContext {
  KernelContext(const onnx::NodeProto& n, int domain_opset, int since_version)
      : node(n), opset(domain_opset), version(since_version) {}
  const onnx::NodeProto& node;
  int opset;    // the model's opset of the node's domain (ai.onnx for the standard ops)
  int version;  // since-version of the ONNX definition that matched (OpRegistry::find)
  std::vector<const Value*> inputs;       // nullptr for omitted optional inputs
  std::vector<Value> outputs;             // sized to node.output_size(); kernel assigns
  // Per-node cache that lives as long as the compiled graph (e.g. a oneDNN primitive and weights
  // already reordered to its preferred layout). nullptr when the node runs once (constant folding).
  std::shared_ptr<void>* state = nullptr;
  // Which inputs are graph constants (initializers or folded values): their buffers never change
  // between runs, so a kernel may cache work derived from them. Empty = none known.
  std::vector<bool> constant;
  FusedActivation activation;             // apply to the output before returning it
  // Inputs this node is the last reader of: values computed by an earlier node of the run, read once
  // here, not a graph output or kept. A kernel may write its output into such an input's storage
  // when no other tensor shares it (Tensor::storage_unshared()): the residual operand of a Conv with
  // a sum post-op. Empty = none (constant folding, graph inputs).
  std::vector<bool> last_read;
  // Every reader of output 0 is layout-aware: a layout-aware kernel may return it in a runtime
  // layout (Tensor::layout()). Inputs of layout-aware kernels may carry a layout too.
  bool allow_layout_output = false;
  // Subgraph attributes by name (set by the executor for nodes that have them).
  const std::vector<std::pair<std::string, const Subgraph*>>* subgraphs = nullptr;

  int num_inputs() const { return static_cast<int>(inputs.size()); }
  // Input i is given (any kind of value).
  bool has(int i) const { return i >= 0 && i < num_inputs() && inputs[i] != nullptr && inputs[i]->present(); }
  bool is_constant(int i) const { return i < static_cast<int>(constant.size()) && constant[i]; }
  bool is_last_read(int i) const { return i >= 0 && i < static_cast<int>(last_read.size()) && last_read[i]; }
  // Input i as a tensor; fail()s when it is missing or not a tensor.
  const Tensor& in(int i) const;
  // Input i as a value of any kind; fail()s when it is missing.
  const Value& value(int i) const;
  // The subgraph attribute `name`; fail()s when the node has none of that name.
  const Subgraph& subgraph(const std::string& name) const;
  // Throws InputError "node 'X' (Op): what".
  [[noreturn]] void fail(const std::string& what) const;
  // Throws InputError "node 'X' (Op): input #i has type T, which Op does not accept".
  [[noreturn]] void fail_dtype(int input, DType t) const;
  // dispatch<List>(dtype, f) that fail_dtype()s for a type outside List.
  template <typename List, typename F>
  void dispatch_or_fail(int input, DType t, F&& f) const {
    if (!dispatch<List>(t, std::forward<F>(f))) fail_dtype(input, t);
  }
};

using KernelFn = void (*)(KernelContext&);
// An optimized kernel: returns false (with ctx.outputs untouched) for cases it does not handle,
// and the reference kernel runs instead.
using FastKernelFn = bool (*)(KernelContext&);

// Attribute helpers (runtime/attrs.cpp). Missing attributes return the default; an attribute of
// the wrong type is an InputError naming the node and attribute.
const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name);
int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t def);
float attr_float(const onnx::NodeProto& n, const std::string& name, float def);
std::string attr_string(const onnx::NodeProto& n, const std::string& name, const std::string& def);
std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> def = {});
std::vector<float> attr_floats(const onnx::NodeProto& n, const std::string& name, std::vector<float> def = {});
std::vector<std::string> attr_strings(const onnx::NodeProto& n, const std::string& name,
                                      std::vector<std::string> def = {});
// A TENSOR attribute (e.g. Constant's value, ConstantOfShape's value); nullptr when absent.
const onnx::TensorProto* attr_tensor(const onnx::NodeProto& n, const std::string& name);
std::string node_label(const onnx::NodeProto& n);  // "node 'name' (OpType)"
// Normalises a possibly negative axis against rank; throws InputError when out of range.
int normalize_axis(int64_t axis, int rank, const onnx::NodeProto& n);

}  // namespace qtool
