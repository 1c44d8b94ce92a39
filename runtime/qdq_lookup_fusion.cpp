// SPDX-License-Identifier: Apache-2.0
// Executor rewrite of 8-bit QDQ pointwise ops into table lookups (compile time only; the model is
// not changed):
//
//   DequantizeLinear(x: uint8/int8, scalar scale, scalar zero point)
//     -> one pointwise op (OpDef::pointwise: Sigmoid, HardSwish, LeakyRelu, Clip, Mul by a scalar
//        constant, ...) whose other inputs are single-element constants
//     -> QuantizeLinear(scalar scale, uint8/int8 zero point, saturate)
//
// becomes one qtool.QLookup step (runtime/kernels/qlookup.cpp) reading x and a 256-entry table;
// a pointwise op of two such DequantizeLinear results (Mul, Add of two quantized tensors, as the
// squeeze-and-excitation scale and hard-swish gate) one qtool.QLookup2 step with a 256 x 256 table.
// The table is computed here by running the three nodes' own kernels on the 256 codes, so the
// result is exactly what the float chain gives, element for element. This is how onnxruntime
// runs QLinearSigmoid / QLinearLeakyRelu, and it covers every such op at once.
// Like runtime/qdq_fusion.cpp, the pointwise op's output must have the QuantizeLinear as its one
// reader and be neither a graph output, a kept value nor read by a subgraph; the
// DequantizeLinear stays when others read it.
#include <algorithm>

#include "runtime/compiled_graph.h"

namespace qtool {

namespace {

bool is_op(const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; }
bool is_q8(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

}  // namespace

void CompiledGraph::fuse_qdq_lookup(std::vector<bool>& removed) {
  const auto lookup = OpRegistry::instance().find("qtool", "QLookup", 1);
  const auto lookup2 = OpRegistry::instance().find("qtool", "QLookup2", 1);
  const auto cten = [&](int id) { return constant_tensor(id); };
  const StepLinks links = step_links(&removed);
  const std::vector<int>& producer = links.producer;
  const std::vector<std::vector<size_t>>& readers = links.readers;
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
    // one or two computed inputs (DequantizeLinear results); the rest single-element constants
    std::vector<int> xs;
    bool ok = true;
    for (int id : op.in) {
      if (id < 0) continue;
      if (const Tensor* t = cten(id)) ok = ok && t->numel() == 1 && t->rank() <= 1;
      else if (std::find(xs.begin(), xs.end(), id) == xs.end()) xs.push_back(id);  // Mul(y, y) reads y once
    }
    if (!ok || xs.empty() || xs.size() > 2 || (xs.size() == 2 && op.in.size() != 2)) continue;
    std::vector<const Step*> dqs;
    for (int x : xs) {
      if (producer[x] < 0) break;
      const Step& dq = steps_[producer[x]];
      if (!is_op(*dq.node, "DequantizeLinear") || dq.out.size() != 1 || !scalar_params(dq) || cten(dq.in[0])) break;
      dqs.push_back(&dq);
    }
    if (dqs.size() != xs.size()) continue;
    const size_t qk = readers[op.out[0]][0];
    const Step& q = steps_[qk];
    if (removed[qk] || !is_op(*q.node, "QuantizeLinear") || q.out.size() != 1 || q.out[0] < 0 || q.in[0] != op.out[0] ||
        !scalar_params(q) || attr_int(*q.node, "saturate", 1) != 1)
      continue;
    // the table: every code (pair of codes) through the nodes' own kernels; a second operand's
    // codes lie along the second axis ([256, 1] against [1, 256])
    Tensor table;
    try {
      std::vector<Value> deq;
      for (size_t k2 = 0; k2 < dqs.size(); ++k2) {
        const Step& dq = *dqs[k2];
        const DType xt = cten(dq.in[2])->dtype();
        Tensor codes(xt, dqs.size() == 1 ? Shape{256} : k2 == 0 ? Shape{256, 1} : Shape{1, 256});
        for (int i = 0; i < 256; ++i)
          static_cast<uint8_t*>(codes.raw())[i] = static_cast<uint8_t>(xt == DType::kInt8 ? i - 128 : i);
        const Value cv = codes;
        deq.push_back(run_node(*dq.node, dq.domain_opset, {&cv, &constants_[dq.in[1]], &constants_[dq.in[2]]}).at(0));
      }
      std::vector<const Value*> args;
      for (int id : op.in) {
        const auto it = std::find(xs.begin(), xs.end(), id);
        args.push_back(id < 0 ? nullptr : it != xs.end() ? &deq[it - xs.begin()] : &constants_[id]);
      }
      std::vector<Value> g = run_node(*op.node, op.domain_opset, args);
      const std::vector<const Value*> qargs{&g.at(0), &constants_[q.in[1]], &constants_[q.in[2]]};
      table = run_node(*q.node, q.domain_opset, qargs).at(0).tensor();
    } catch (const std::exception&) {
      continue;  // the chain does not evaluate on codes alone: it stays as it is
    }
    const Shape want = dqs.size() == 1 ? Shape{256} : Shape{256, 256};
    if (table.shape() != want || !is_q8(table.dtype())) continue;
    if (dqs.size() == 2) {  // and its transpose (qlookup.cpp)
      Tensor both(table.dtype(), {2, 256, 256});
      const auto* t = static_cast<const uint8_t*>(table.raw());
      auto* p = static_cast<uint8_t*>(both.raw());
      for (int i = 0; i < 256; ++i)
        for (int j = 0; j < 256; ++j) p[i * 256 + j] = p[65536 + j * 256 + i] = t[i * 256 + j];
      table = std::move(both);
    }
    const auto& def = dqs.size() == 1 ? lookup : lookup2;
    if (!def.def) continue;
    const int table_id = made_slot(slot_names_[q.out[0]] + "/qtool_lookup_table");
    constants_[table_id] = std::move(table);
    auto node = std::make_unique<onnx::NodeProto>();
    node->set_op_type(dqs.size() == 1 ? "QLookup" : "QLookup2");
    node->set_domain("qtool");
    node->set_name(op.node->name().empty() ? slot_names_[op.out[0]] : op.node->name());
    std::vector<int> in;
    for (const Step* dq : dqs) in.push_back(dq->in[0]);
    in.push_back(table_id);
    removed[qk] = true;
    // in the pointwise op's place: x exists there, the readers of y come later
    op = internal_step(def, std::move(node), std::move(in), q.out[0]);
  }
}

// f(x, g(x)) for a two-operand table f and a one-operand table g (SiLU: x * sigmoid(x), as
// x -> Sigmoid -> Mul(x, .) writes it) is one table of x: h[i] = f[i][g[i]]. The QLookup of g
// goes when the QLookup2 is its only reader (after unread DequantizeLinear steps are dropped).
void CompiledGraph::compose_lookups(std::vector<bool>& removed) {
  const auto one = OpRegistry::instance().find("qtool", "QLookup", 1);
  if (!one.def) return;
  const std::vector<int> producer = step_links(&removed).producer;
  const std::vector<int> reads = count_reads(removed);
  const auto is_lookup = [](const Step& s, const char* type) {
    return s.node->domain() == "qtool" && s.node->op_type() == type;
  };
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& f = steps_[k];
    if (removed[k] || !is_lookup(f, "QLookup2") || f.in.size() != 3) continue;
    for (int inner : {1, 0}) {  // g computes operand `inner` from the other one
      const int gv = f.in[inner], x = f.in[1 - inner];
      if (gv < 0 || x < 0 || producer[gv] < 0 || keep_[gv] || reads[gv] != 1) continue;
      const int gk = producer[gv];
      const Step& g = steps_[gk];
      if (removed[gk] || !is_lookup(g, "QLookup") || g.in.size() != 2 || g.in[0] != x) continue;
      const Tensor& gt = constants_[g.in[1]].tensor();
      const Tensor& ft = constants_[f.in[2]].tensor();
      const auto* gp = static_cast<const uint8_t*>(gt.raw());
      const auto* fp = static_cast<const uint8_t*>(ft.raw());
      const uint8_t flip = gt.dtype() == DType::kInt8 ? 0x80 : 0;  // g's codes as row indices of f
      Tensor h(ft.dtype(), {256});
      auto* hp = static_cast<uint8_t*>(h.raw());
      for (int i = 0; i < 256; ++i) {
        const int gi = static_cast<uint8_t>(gp[i] ^ flip);
        hp[i] = inner == 1 ? fp[256 * i + gi] : fp[256 * gi + i];
      }
      const int table_id = made_slot(slot_names_[f.out[0]] + "/qtool_composed_table");
      constants_[table_id] = std::move(h);
      auto node = std::make_unique<onnx::NodeProto>();
      node->set_op_type("QLookup");
      node->set_domain("qtool");
      node->set_name(f.node->name());
      removed[gk] = true;
      f = internal_step(one, std::move(node), {x, table_id}, f.out[0]);
      break;
    }
  }
}

}  // namespace qtool
