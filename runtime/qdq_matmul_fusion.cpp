// SPDX-License-Identifier: Apache-2.0
// Executor rewrite of QDQ MatMul / Gemm with constant int8 weights into integer matmuls (compile
// time only; the model is not changed). Matches what onnxruntime's QDQ transformers turn into
// QLinearMatMul / QGemm / MatMulIntegerToFloat:
//
//   DequantizeLinear(x: uint8/int8, scalar scale, scalar zero point)
//   DequantizeLinear(w: constant int8 2-D, scale scalar or per column (MatMul: axis 1; Gemm with
//                    transB = 1: axis 0), zero point 0)
//   Gemm only: DequantizeLinear(C: constant int32 [N], scale = x_scale * w_scale, zero point 0)
//     -> MatMul | Gemm(transA = 0, alpha = 1, beta = 1) [-> QuantizeLinear(scalar scale, 8-bit zero point)]
//
// becomes one qtool.QDQMatMul step (runtime/kernels/qdq_matmul.cpp). A value disappears only when
// it has one reader and is neither a graph output, a kept value nor read by a subgraph; the
// DequantizeLinear steps nobody reads any more are removed by fuse_qdq afterwards.
#include "runtime/compiled_graph.h"

namespace qtool {

void CompiledGraph::fuse_qdq_matmul(std::vector<bool>& removed) {
  const auto def = OpRegistry::instance().find("qtool", "QDQMatMul", 1);
  if (!def.def) return;
  const auto is_op = [](const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; };
  const StepLinks links = step_links(&removed);
  const auto dq_of = [&](int id) { return dequantize_step(id, links); };
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& mm = steps_[k];
    if (removed[k] || mm.out.size() != 1 || mm.out[0] < 0 || mm.in.size() < 2) continue;
    const bool gemm = is_op(*mm.node, "Gemm");
    if (!gemm && !(is_op(*mm.node, "MatMul") && mm.in.size() == 2)) continue;
    bool trans_b = false;
    if (gemm) {
      if (attr_int(*mm.node, "transA", 0) != 0 || attr_float(*mm.node, "alpha", 1.f) != 1.f ||
          attr_float(*mm.node, "beta", 1.f) != 1.f)
        continue;
      trans_b = attr_int(*mm.node, "transB", 0) != 0;
    }
    // activation: per-tensor uint8/int8 with a known zero point, computed by a step
    float x_scale = 0.f;
    const Step* dx = per_tensor_codes(mm.in[0], links, &x_scale);
    if (!dx) continue;
    // weights: constant int8 2-D, per tensor or per output column, zero point 0
    const Step* dw = dq_of(mm.in[1]);
    if (!dw || dw->in.size() < 2) continue;
    const Tensor *w = constant_tensor(dw->in[0]), *ws = constant_tensor(dw->in[1]);
    if (!w || !ws || w->dtype() != DType::kInt8 || w->rank() != 2 || ws->dtype() != DType::kFloat) continue;
    const int64_t n = trans_b ? w->dim(0) : w->dim(1);
    if (ws->numel() != 1) {
      if (ws->rank() != 1 || ws->dim(0) != n) continue;
      int64_t axis = attr_int(*dw->node, "axis", 1);
      if (axis < 0) axis += 2;
      if (axis != (trans_b ? 0 : 1) || attr_int(*dw->node, "block_size", 0) != 0) continue;
    }
    if (dw->in.size() > 2 && !all_zero_constant(dw->in[2])) continue;
    const auto w_scale = ws->to_floats();
    // Gemm's C: constant int32 [N] on the accumulator's scale
    int bias = -1;
    if (gemm && mm.in.size() > 2 && mm.in[2] >= 0) {
      bias = int32_bias(mm.in[2], x_scale, w_scale, n, links);
      if (bias < 0) continue;
    }
    // output: [QuantizeLinear], the only reader of the product
    int q_step = -1;
    const int out = mm.out[0];
    if (!keep_[out] && links.readers[out].size() == 1) {
      const int r = static_cast<int>(links.readers[out][0]);
      if (!removed[r] && quantizes_to_codes(steps_[r], out)) q_step = r;
    }
    auto node = std::make_unique<onnx::NodeProto>();
    node->set_op_type("QDQMatMul");
    node->set_domain("qtool");
    node->set_name(mm.node->name().empty() ? slot_names_[out] : mm.node->name());
    auto* tb = node->add_attribute();
    tb->set_name("trans_b");
    tb->set_type(onnx::AttributeProto::INT);
    tb->set_i(trans_b ? 1 : 0);
    auto* ga = node->add_attribute();  // Gemm: x must stay 2-D, as Gemm requires
    ga->set_name("gemm");
    ga->set_type(onnx::AttributeProto::INT);
    ga->set_i(gemm ? 1 : 0);
    std::vector<int> in = {dx->in[0], dx->in[1], dx->in[2], dw->in[0], dw->in[1], bias, -1, -1};
    int final_out = out;
    if (q_step >= 0) {
      in[6] = steps_[q_step].in[1];
      in[7] = steps_[q_step].in[2];
      final_out = steps_[q_step].out[0];
      removed[q_step] = true;
    }
    mm = internal_step(def, std::move(node), std::move(in), final_out);
  }
}

}  // namespace qtool
