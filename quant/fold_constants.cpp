// fold_constants: evaluates every node whose inputs are all initializers (e.g. Constant, or a
// Reshape of a weight as in the ONNX Model Zoo MNIST) with the executor's kernels and stores the
// results as initializers, so weights reach quantization as initializers.
#include <set>

#include "io/onnx_tensor.h"
#include "quant/pass.h"
#include "runtime/op_registry.h"

namespace qtool {

void fold_constants(Model& model, PassContext&) {
  auto& g = model.graph();
  const auto& reg = OpRegistry::instance();
  std::set<std::string> consts;
  for (const auto& t : g.initializer()) consts.insert(t.name());
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  std::vector<onnx::NodeProto> keep;
  for (const auto& n : g.node()) {
    bool foldable = n.domain().empty() && n.op_type() != "QuantizeLinear" && n.op_type() != "DequantizeLinear";
    for (const auto& i : n.input()) foldable = foldable && (i.empty() || consts.count(i));
    for (const auto& o : n.output()) foldable = foldable && !graph_outputs.count(o);
    KernelFn fn = reg.find(n.domain(), n.op_type());
    if (!foldable || !fn) {
      keep.push_back(n);
      continue;
    }
    std::vector<Tensor> ins;
    for (const auto& i : n.input()) ins.push_back(i.empty() ? Tensor() : model.initializer(i));
    KernelContext ctx(n, model.opset());
    for (const auto& t : ins) ctx.inputs.push_back(t.empty() ? nullptr : &t);
    ctx.outputs.resize(n.output_size());
    fn(ctx);
    for (int k = 0; k < n.output_size(); ++k) {
      if (n.output(k).empty()) continue;
      model.set_initializer(n.output(k), ctx.outputs[k]);
      consts.insert(n.output(k));
    }
  }
  g.clear_node();
  for (auto& n : keep) *g.add_node() = std::move(n);
  // Drop initializers nothing reads any more.
  std::set<std::string> used(graph_outputs);
  for (const auto& n : g.node())
    for (const auto& i : n.input()) used.insert(i);
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i)
    if (!used.count(inits->Get(i).name())) inits->DeleteSubrange(i, 1);
}

}  // namespace qtool
