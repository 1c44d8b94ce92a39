// SPDX-License-Identifier: Apache-2.0
// Executor rewrite of DequantizeLinear -> data movement -> QuantizeLinear into the data movement
// on the codes (compile time only; the model is not changed), as onnxruntime's QDQ transformers
// drop such Q / DQ pairs around Transpose, Reshape and the like:
//
//   DequantizeLinear(x: integer codes, scalar scale s, scalar zero point z)
//     -> op (OpDef::moves_data: Transpose, Reshape, Flatten, Squeeze, Slice, Gather, ...)
//     -> QuantizeLinear(scale s, zero point z of x's type)
//
// becomes op(x). Exact: every output element of op is an element of its input, and
// QuantizeLinear(DequantizeLinear(c)) = c for equal parameters, since (c - z) * s / s rounds back
// to c - z. x's type must be known at compile time to be the zero point's (x comes from a
// QuantizeLinear, an integer convolution or matmul, an earlier rewritten op, or is a constant), so
// a model whose DequantizeLinear would refuse x still fails there. The op's float output must have that QuantizeLinear as its one reader and be neither
// a graph output, a kept or observed value nor read by a subgraph; DequantizeLinear steps nobody
// reads any more are removed by fuse_qdq afterwards.
#include <cmath>
#include <map>

#include "runtime/compiled_graph.h"

namespace qtool {

void CompiledGraph::fuse_qdq_data_movement(std::vector<bool>& removed) {
  const auto is_op = [](const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; };
  const auto is_code = [](DType t) {
    return t == DType::kUInt8 || t == DType::kInt8 || t == DType::kUInt16 || t == DType::kInt16;
  };
  const StepLinks links = step_links(&removed);
  // Scalar float scale and scalar integer zero point of a Q / DQ step, or false.
  const auto params = [&](const Step& s, float& scale, int64_t& zp, DType& type) {
    if (s.in.size() < 3 || s.in[1] < 0 || s.in[2] < 0) return false;
    const Tensor *sc = constant_tensor(s.in[1]), *z = constant_tensor(s.in[2]);
    if (!sc || !z || sc->dtype() != DType::kFloat || sc->numel() != 1 || z->numel() != 1 || !is_code(z->dtype()))
      return false;
    scale = sc->to_floats()[0];
    zp = z->to_int64s()[0];
    type = z->dtype();
    return scale > 0.f && std::isfinite(scale);
  };
  // Types of codes known at compile time: outputs of QuantizeLinear and of the integer
  // convolutions / matmuls (their y_zero_point's type), constants, and ops rewritten below.
  std::map<int, DType> code_type;
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& s = steps_[k];
    if (removed[k] || s.out.empty() || s.out[0] < 0) continue;
    const bool q = is_op(*s.node, "QuantizeLinear");
    const bool qdq = s.node->domain() == "qtool" && (s.node->op_type() == "QDQConv" || s.node->op_type() == "QDQMatMul");
    const int zp = q && s.in.size() > 2 ? s.in[2] : qdq && s.in.size() > 7 ? s.in[7] : -1;
    const Tensor* z = zp >= 0 ? constant_tensor(zp) : nullptr;
    if (z && (!q || attr_int(*s.node, "output_dtype", 0) == 0)) code_type[s.out[0]] = z->dtype();
  }
  const auto type_of = [&](int id) {
    if (const Tensor* c = constant_tensor(id)) return c->dtype();
    auto it = code_type.find(id);
    return it == code_type.end() ? DType::kUndefined : it->second;
  };
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& op = steps_[k];
    if (removed[k] || !op.def || !op.def->moves_data || op.in.empty() || op.in[0] < 0 || op.out.size() != 1 ||
        op.out[0] < 0 || !op.bodies.empty())
      continue;
    const int p = links.producer[op.in[0]];
    if (p < 0 || removed[p] || !is_op(*steps_[p].node, "DequantizeLinear")) continue;
    const Step& dq = steps_[p];
    float ds = 0.f, qs = 0.f;
    int64_t dz = 0, qz = 0;
    DType dt = DType::kUndefined, qt = DType::kUndefined;
    if (!params(dq, ds, dz, dt) || dq.in[0] < 0 || type_of(dq.in[0]) != dt) continue;
    const int out = op.out[0];
    if (keep_[out] || links.readers[out].size() != 1) continue;
    const size_t r = links.readers[out][0];
    const Step& q = steps_[r];
    if (removed[r] || !is_op(*q.node, "QuantizeLinear") || q.in.empty() || q.in[0] != out || q.out.size() != 1 ||
        q.out[0] < 0 || attr_int(*q.node, "saturate", 1) != 1)
      continue;
    if (!params(q, qs, qz, qt) || qs != ds || qz != dz || qt != dt) continue;
    // the op reads the codes and writes the QuantizeLinear's output
    auto node = std::make_unique<onnx::NodeProto>(*op.node);
    node->set_input(0, slot_names_[dq.in[0]]);
    node->set_output(0, slot_names_[q.out[0]]);
    op.in[0] = dq.in[0];
    op.out[0] = q.out[0];
    op.validated = false;
    op.node = node.get();
    owned_nodes_.push_back(std::move(node));
    removed[r] = true;
    code_type[op.out[0]] = dt;
  }
}

}  // namespace qtool
