// SPDX-License-Identifier: Apache-2.0
// fold_constants: evaluates every node whose inputs are all initializers (e.g. Constant, or a
// Reshape of a weight as in the ONNX Model Zoo MNIST) with the executor's kernels and stores the
// results as initializers, so weights reach quantization as initializers. A node whose result
// would exceed the fold limit stays in the graph (a tiny file must not expand into gigabytes): the
// limit is max(16 MiB, 2 x the model's bytes), or QTOOL_FOLD_LIMIT (bytes, a plain decimal number;
// anything else is an InputError naming the variable) from the environment.
#include <algorithm>
#include <cstdlib>
#include <set>

#include "io/external_data.h"
#include "io/onnx_tensor.h"
#include "quant/pass.h"
#include "runtime/executor.h"

namespace qtool {

namespace {
size_t fold_limit(const Model& model) {
  if (const char* env = std::getenv("QTOOL_FOLD_LIMIT")) {
    return static_cast<size_t>(parse_decimal(env, "environment variable QTOOL_FOLD_LIMIT"));
  }
  const uint64_t bytes = model.bytes_on_disk() ? model.bytes_on_disk() : model.serialized_bytes();
  return static_cast<size_t>(std::max<uint64_t>(uint64_t{16} << 20, 2 * bytes));
}

}  // namespace

void collect_node_reads(const onnx::NodeProto& n, std::set<std::string>& used) {
  for (const auto& i : n.input()) used.insert(i);
  for (const auto& a : n.attribute()) {
    if (a.has_g())
      for (const auto& sub_node : a.g().node()) collect_node_reads(sub_node, used);
    for (const auto& sub : a.graphs())
      for (const auto& sub_node : sub.node()) collect_node_reads(sub_node, used);
  }
}

void drop_unread_initializers(Model& model) {
  auto& g = model.graph();
  std::set<std::string> used;
  for (const auto& o : g.output()) used.insert(o.name());
  for (const auto& n : g.node()) collect_node_reads(n, used);
  std::set<std::string> dropped;
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i)
    if (!used.count(inits->Get(i).name())) {
      dropped.insert(inits->Get(i).name());
      inits->DeleteSubrange(i, 1);
    }
  auto* inputs = g.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (dropped.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
}

void fold_constants(Model& model, PassContext&) {
  const size_t limit = fold_limit(model);
  auto& g = model.graph();
  std::set<std::string> consts;
  for (const auto& t : g.initializer()) consts.insert(t.name());
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  std::vector<onnx::NodeProto> keep;
  for (const auto& n : g.node()) {
    bool foldable = n.domain().empty() && n.op_type() != "QuantizeLinear" && n.op_type() != "DequantizeLinear";
    for (const auto& i : n.input()) foldable = foldable && (i.empty() || consts.count(i));
    for (const auto& o : n.output()) foldable = foldable && !graph_outputs.count(o);
    if (!foldable || !node_is_foldable(n, model.opset())) {
      keep.push_back(n);
      continue;
    }
    std::vector<Value> ins;
    for (const auto& i : n.input()) ins.push_back(i.empty() ? Value() : Value(model.initializer(i)));
    std::vector<const Value*> ptrs;
    for (const auto& v : ins) ptrs.push_back(v.present() ? &v : nullptr);
    std::vector<Value> outs;
    try {
      AllocationCap cap(limit);
      outs = run_node(n, model.opset(), ptrs);
    } catch (const AllocationCapExceeded&) {
      keep.push_back(n);
      continue;
    }
    bool tensors = true;
    for (int k = 0; k < n.output_size(); ++k) tensors = tensors && (n.output(k).empty() || outs[k].is_tensor());
    if (!tensors) {
      keep.push_back(n);
      continue;
    }
    for (int k = 0; k < n.output_size(); ++k) {
      if (n.output(k).empty()) continue;
      model.set_initializer(n.output(k), outs[k].tensor());
      consts.insert(n.output(k));
    }
  }
  g.clear_node();
  for (auto& n : keep) *g.add_node() = std::move(n);
  drop_unread_initializers(model);
}

}  // namespace qtool
