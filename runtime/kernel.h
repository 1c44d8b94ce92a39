// Kernel interface of the executor. A kernel is a plain function that reads ctx.inputs and fills
// ctx.outputs (one Tensor per node output). Kernels register in runtime/op_registry.cpp, one
// register_* function per kernel file, so adding an op means adding it to one file + one list line.
#pragma once
#include <onnx/onnx_pb.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace qtool {

// An elementwise activation the executor fused into a node's output (runtime/fusion.cpp).
// Only kernels listed in fusion.cpp as accepting one ever receive kind != kNone.
struct FusedActivation {
  enum Kind { kNone, kRelu, kLeakyRelu, kClip } kind = kNone;
  float alpha = 0.f, beta = 0.f;  // LeakyRelu: alpha = slope; Clip: [alpha, beta]
};

struct KernelContext {
  KernelContext(const onnx::NodeProto& n, int model_opset) : node(n), opset(model_opset) {}
  const onnx::NodeProto& node;
  int opset;                              // ai.onnx opset of the model
  std::vector<const Tensor*> inputs;      // nullptr for omitted optional inputs
  std::vector<Tensor> outputs;            // sized to node.output_size(); kernel assigns
  // Per-node cache that lives as long as the compiled graph (e.g. a oneDNN primitive and weights
  // already reordered to its preferred layout). nullptr when the node runs once (constant folding).
  std::shared_ptr<void>* state = nullptr;
  // Which inputs are graph constants (initializers or folded values): their buffers never change
  // between runs, so a kernel may cache work derived from them. Empty = none known.
  std::vector<bool> constant;
  FusedActivation activation;             // apply to the output before returning it
  // Every reader of output 0 is layout-aware: a layout-aware kernel may return it in a runtime
  // layout (Tensor::layout()). Inputs of layout-aware kernels may carry a layout too.
  bool allow_layout_output = false;

  int num_inputs() const { return static_cast<int>(inputs.size()); }
  bool has(int i) const { return i < num_inputs() && inputs[i] != nullptr; }
  bool is_constant(int i) const { return i < static_cast<int>(constant.size()) && constant[i]; }
  const Tensor& in(int i) const;          // throws Error naming the node when missing
  [[noreturn]] void fail(const std::string& what) const;  // throws Error "node 'X' (Op): what"
};

using KernelFn = void (*)(KernelContext&);

// Attribute helpers (runtime/kernels/attrs.cpp). Missing attributes return the default.
const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name);
int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t def);
float attr_float(const onnx::NodeProto& n, const std::string& name, float def);
std::string attr_string(const onnx::NodeProto& n, const std::string& name, const std::string& def);
std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> def = {});
std::string node_label(const onnx::NodeProto& n);  // "node 'name' (OpType)"
// Normalises a possibly negative axis against rank; throws when out of range.
int normalize_axis(int64_t axis, int rank, const onnx::NodeProto& n);

}  // namespace qtool
