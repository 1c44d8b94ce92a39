// SPDX-License-Identifier: Apache-2.0
// Executor rewrite of 8-bit QDQ pointwise ops into table lookups (compile time only; the model is
// not changed):
//
//   DequantizeLinear(x: uint8/int8, scalar scale, scalar zero point)
//     -> one pointwise op (OpDef::pointwise: Sigmoid, HardSwish, LeakyRelu, Clip, Mul by a scalar
//        constant, ...) whose other inputs are single-element constants
//     -> QuantizeLinear(scalar scale, uint8/int8 zero point, saturate)
//
// becomes one qtool.QLookup step (runtime/kernels/qlookup.cpp) reading x and a 256-entry table.
// The table is computed here by running the three nodes' own kernels on the 256 codes, so the
// result is exactly what the float chain gives, element for element. This is how onnxruntime
// runs QLinearSigmoid / QLinearLeakyRelu, and it covers every such op at once.
// Like runtime/qdq_fusion.cpp, the pointwise op's output must have the QuantizeLinear as its one
// reader and be neither a graph output, a kept value nor read by a subgraph; the
// DequantizeLinear stays when others read it.
#include "runtime/compiled_graph.h"

namespace qtool {

namespace {

bool is_op(const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; }
bool is_q8(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

}  // namespace

void CompiledGraph::fuse_qdq_lookup(std::vector<bool>& removed) {
  const auto lookup = OpRegistry::instance().find("qtool", "QLookup", 1);
  if (!lookup.def) return;
  const auto cten = [&](int id) -> const Tensor* {
    return id >= 0 && id < static_cast<int>(constants_.size()) && constants_[id].is_tensor() ? &constants_[id].tensor()
                                                                                            : nullptr;
  };
  std::vector<int> producer(slot_names_.size(), -1);
  std::vector<std::vector<size_t>> readers(slot_names_.size());
  for (size_t k = 0; k < steps_.size(); ++k) {
    if (removed[k]) continue;
    for (int id : steps_[k].out)
      if (id >= 0) producer[id] = static_cast<int>(k);
    for (int id : steps_[k].in)
      if (id >= 0) readers[id].push_back(k);
    for (int id : steps_[k].implicit)
      if (id >= 0) readers[id].push_back(k);
  }
  // scalar float scale > 0 and scalar 8-bit zero point, both constant
  const auto scalar_params = [&](const Step& s) {
    if (s.in.size() < 3 || s.in[0] < 0) return false;
    const Tensor *sc = cten(s.in[1]), *zp = cten(s.in[2]);
    return sc && zp && sc->dtype() == DType::kFloat && sc->numel() == 1 && sc->to_floats()[0] > 0.f &&
           zp->numel() == 1 && is_q8(zp->dtype()) && !find_attr(*s.node, "output_dtype") &&
           !find_attr(*s.node, "block_size") && !find_attr(*s.node, "precision");
  };
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& op = steps_[k];
    if (removed[k] || !op.def || !op.def->pointwise || !op.bodies.empty() || op.out.size() != 1 || op.out[0] < 0 ||
        keep_[op.out[0]] || readers[op.out[0]].size() != 1)
      continue;
    // one computed input (the DequantizeLinear's result); the rest single-element constants
    int x = -1;
    bool ok = true;
    for (int id : op.in) {
      if (id < 0) continue;
      if (const Tensor* t = cten(id)) {
        ok = ok && t->numel() == 1 && t->rank() <= 1;
      } else if (id != x) {  // Mul(y, y) reads y twice
        ok = ok && x < 0;
        x = id;
      }
    }
    if (!ok || x < 0 || producer[x] < 0) continue;
    const Step& dq = steps_[producer[x]];
    if (!is_op(*dq.node, "DequantizeLinear") || dq.out.size() != 1 || !scalar_params(dq) || cten(dq.in[0])) continue;
    const size_t qk = readers[op.out[0]][0];
    const Step& q = steps_[qk];
    if (removed[qk] || !is_op(*q.node, "QuantizeLinear") || q.out.size() != 1 || q.out[0] < 0 || q.in[0] != op.out[0] ||
        !scalar_params(q) || attr_int(*q.node, "saturate", 1) != 1)
      continue;
    // the table: the 256 codes through the three nodes' kernels
    const DType xt = cten(dq.in[2])->dtype();
    Tensor codes(xt, {256});
    for (int i = 0; i < 256; ++i) static_cast<uint8_t*>(codes.raw())[i] = static_cast<uint8_t>(xt == DType::kInt8 ? i - 128 : i);
    Tensor table;
    try {
      const Value cv = codes;
      std::vector<Value> f = run_node(*dq.node, dq.domain_opset, {&cv, &constants_[dq.in[1]], &constants_[dq.in[2]]});
      std::vector<const Value*> args;
      for (int id : op.in) args.push_back(id < 0 ? nullptr : id == x ? &f.at(0) : &constants_[id]);
      std::vector<Value> g = run_node(*op.node, op.domain_opset, args);
      const std::vector<const Value*> qargs{&g.at(0), &constants_[q.in[1]], &constants_[q.in[2]]};
      table = run_node(*q.node, q.domain_opset, qargs).at(0).tensor();
    } catch (const std::exception&) {
      continue;  // the chain does not evaluate on codes alone: it stays as it is
    }
    if (table.shape() != Shape{256} || !is_q8(table.dtype())) continue;
    const int table_id = slot(slot_names_[q.out[0]] + "/qtool_lookup_table");
    constants_.resize(slot_names_.size());
    if (keep_.size() < slot_names_.size()) keep_.resize(slot_names_.size(), false);
    constants_[table_id] = std::move(table);
    auto node = std::make_unique<onnx::NodeProto>();
    node->set_op_type("QLookup");
    node->set_domain("qtool");
    node->set_name(op.node->name().empty() ? slot_names_[op.out[0]] : op.node->name());
    node->add_input(slot_names_[dq.in[0]]);
    node->add_input(slot_names_[table_id]);
    node->add_output(slot_names_[q.out[0]]);
    Step s;
    s.def = lookup.def;
    s.version = lookup.version;
    s.domain_opset = 1;
    s.layout_aware = lookup.def->layout_aware;
    s.in = {dq.in[0], table_id};
    s.out = {q.out[0]};
    s.node = node.get();
    owned_nodes_.push_back(std::move(node));
    removed[qk] = true;
    op = std::move(s);  // in the pointwise op's place: x exists there, the readers of y come later
  }
}

}  // namespace qtool
