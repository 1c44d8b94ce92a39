// SPDX-License-Identifier: Apache-2.0
// LinearAttention (ai.onnx 27): the recurrent form of linear attention with its four update rules
// (spec and onnx/reference/ops/op_linear_attention.py):
//   linear:      S_t = S_{t-1} + k_t v_t^T
//   gated:       S_t = exp(g_t) S_{t-1} + k_t v_t^T                       (GLA / RetNet decay)
//   delta:       S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T        (DeltaNet)
//   gated_delta: S_t = exp(g_t) S_{t-1} + beta_t k_t (v_t - exp(g_t) S_{t-1}^T k_t)^T
//   o_t = scale * S_t^T q_t, scale default 1 / sqrt(d_k).
// query / key / value are packed (B, T, H * D); decay (B, T, H_kv) or (B, T, H_kv * d_k); beta
// (B, T, H_kv) or (B, T, 1); state (B, H_kv, d_k, d_v); query heads share KV heads (GQA,
// q_num_heads a multiple of kv_num_heads). Computed in float32 as the reference; chunk_size is a
// tuning hint without effect on the result.
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

struct LinDims {
  int64_t B = 0, T = 0, Hq = 0, Hkv = 0, dk = 0, dv = 0;
  bool gating = false, delta = false;
};

bool lin_type(DType t) { return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16; }

LinDims lin_dims(const KernelContext& c) {
  LinDims d;
  const std::string rule = attr_string(c.node, "update_rule", "gated_delta");
  if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta")
    c.fail("attribute 'update_rule': '" + rule + "' is not linear, gated, delta or gated_delta");
  d.gating = rule == "gated" || rule == "gated_delta";
  d.delta = rule == "delta" || rule == "gated_delta";
  if (!find_attr(c.node, "q_num_heads") || !find_attr(c.node, "kv_num_heads"))
    c.fail("attributes 'q_num_heads' and 'kv_num_heads' are required");
  d.Hq = attr_int(c.node, "q_num_heads", 0);
  d.Hkv = attr_int(c.node, "kv_num_heads", 0);
  if (d.Hq <= 0 || d.Hkv <= 0 || d.Hq % d.Hkv != 0)
    c.fail("attribute 'q_num_heads' (" + std::to_string(d.Hq) + ") must be a positive multiple of 'kv_num_heads' (" +
           std::to_string(d.Hkv) + ")");
  const Tensor& q = c.in(0);
  const Tensor& k = c.in(1);
  const Tensor& v = c.in(2);
  for (const Tensor* t : {&q, &k, &v})
    if (t->rank() != 3) c.fail("query, key and value must be 3-D (B, T, H * D), got " + shape_str(t->shape()));
  d.B = q.dim(0);
  d.T = q.dim(1);
  if (k.dim(0) != d.B || v.dim(0) != d.B || k.dim(1) != d.T || v.dim(1) != d.T)
    c.fail("query, key and value differ in batch or sequence length");
  if (q.dim(2) % d.Hq != 0 || k.dim(2) % d.Hkv != 0 || v.dim(2) % d.Hkv != 0)
    c.fail("the head counts do not divide the hidden sizes of query, key and value");
  d.dk = q.dim(2) / d.Hq;
  if (k.dim(2) / d.Hkv != d.dk) c.fail("query and key differ in head size");
  d.dv = v.dim(2) / d.Hkv;
  if (c.has(3)) {
    const Tensor& s = c.in(3);
    if (s.shape() != Shape{d.B, d.Hkv, d.dk, d.dv})
      c.fail("past_state " + shape_str(s.shape()) + " must be (B, H_kv, d_k, d_v) = " + shape_str({d.B, d.Hkv, d.dk, d.dv}));
  }
  if (d.gating != c.has(4)) c.fail("update_rule '" + rule + (d.gating ? "' requires" : "' forbids") + " the decay input");
  if (d.delta != c.has(5)) c.fail("update_rule '" + rule + (d.delta ? "' requires" : "' forbids") + " the beta input");
  if (c.has(4)) {
    const Tensor& g = c.in(4);
    if (g.rank() != 3 || g.dim(0) != d.B || g.dim(1) != d.T || (g.dim(2) != d.Hkv && g.dim(2) != d.Hkv * d.dk))
      c.fail("decay " + shape_str(g.shape()) + " must be (B, T, H_kv) or (B, T, H_kv * d_k)");
  }
  if (c.has(5)) {
    const Tensor& b = c.in(5);
    if (b.rank() != 3 || b.dim(0) != d.B || b.dim(1) != d.T || (b.dim(2) != d.Hkv && b.dim(2) != 1))
      c.fail("beta " + shape_str(b.shape()) + " must be (B, T, H_kv) or (B, T, 1)");
  }
  shape_numel({d.B, d.Hq, d.dk, d.dv});
  return d;
}

void validate_linear_attention(KernelContext& c) {
  for (int i = 0; i < 6; ++i)
    if (c.has(i) && !lin_type(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {1, 2, 4, 5})
    if (c.has(0) && c.has(i) && c.in(i).dtype() != c.in(0).dtype()) c.fail("input #" + std::to_string(i) + "'s type differs from query's");
  if (c.has(0) && c.has(1) && c.has(2)) lin_dims(c);
}

void linear_attention(KernelContext& c) {
  const LinDims d = lin_dims(c);
  const auto q = c.in(0).to_floats(), k = c.in(1).to_floats(), v = c.in(2).to_floats();
  const auto g = c.has(4) ? c.in(4).to_floats() : std::vector<float>{};
  const auto beta = c.has(5) ? c.in(5).to_floats() : std::vector<float>{};
  const int64_t g_width = c.has(4) ? c.in(4).dim(2) : 0, b_width = c.has(5) ? c.in(5).dim(2) : 0;
  const float attr_scale = attr_float(c.node, "scale", 0.f);
  const double scale = attr_scale == 0.f ? 1.0 / std::sqrt(static_cast<double>(d.dk)) : static_cast<double>(attr_scale);
  const float scale_f = static_cast<float>(scale);  // numpy: float32 array * python float -> float32
  std::vector<float> S = c.has(3) ? c.in(3).to_floats() : std::vector<float>(static_cast<size_t>(d.B * d.Hkv * d.dk * d.dv), 0.f);
  std::vector<float> out(static_cast<size_t>(d.B * d.T * d.Hq * d.dv));
  std::vector<float> vt(static_cast<size_t>(d.dv)), retrieved(static_cast<size_t>(d.dv));
  const int64_t group = d.Hq / d.Hkv;
  for (int64_t t = 0; t < d.T; ++t) {
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t h = 0; h < d.Hkv; ++h) {
        float* st = S.data() + (((b * d.Hkv + h) * d.dk) * d.dv);
        const float* kt = k.data() + (((b * d.T + t) * d.Hkv + h) * d.dk);
        for (int64_t m = 0; m < d.dv; ++m) vt[m] = v[((b * d.T + t) * d.Hkv + h) * d.dv + m];
        if (d.gating) {
          for (int64_t x = 0; x < d.dk; ++x) {
            const float gv = g_width == d.Hkv ? g[(b * d.T + t) * d.Hkv + h] : g[((b * d.T + t) * d.Hkv + h) * d.dk + x];
            const float e = std::exp(gv);
            for (int64_t m = 0; m < d.dv; ++m) st[x * d.dv + m] *= e;
          }
        }
        if (d.delta) {
          const float bt = beta[(b * d.T + t) * b_width + (b_width == 1 ? 0 : h)];
          for (int64_t m = 0; m < d.dv; ++m) {
            float acc = 0.f;
            for (int64_t x = 0; x < d.dk; ++x) acc += st[x * d.dv + m] * kt[x];
            vt[m] = bt * (vt[m] - acc);
          }
        }
        for (int64_t x = 0; x < d.dk; ++x)
          for (int64_t m = 0; m < d.dv; ++m) st[x * d.dv + m] += kt[x] * vt[m];
      }
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t hq = 0; hq < d.Hq; ++hq) {
        const float* st = S.data() + (((b * d.Hkv + hq / group) * d.dk) * d.dv);
        const float* qt = q.data() + (((b * d.T + t) * d.Hq + hq) * d.dk);
        float* o = out.data() + (((b * d.T + t) * d.Hq + hq) * d.dv);
        for (int64_t m = 0; m < d.dv; ++m) {
          float acc = 0.f;
          for (int64_t x = 0; x < d.dk; ++x) acc += qt[x] * st[x * d.dv + m];
          o[m] = scale_f * acc;
        }
      }
  }
  const DType out_type = c.in(0).dtype();
  const DType state_type = c.has(3) ? c.in(3).dtype() : out_type;
  Tensor y = Tensor::from<float>({d.B, d.T, d.Hq * d.dv}, out).cast(out_type);
  c.outputs[0] = std::move(y);
  if (c.outputs.size() > 1) c.outputs[1] = Tensor::from<float>({d.B, d.Hkv, d.dk, d.dv}, S).cast(state_type);
}

}  // namespace

void register_linear_attention_ops(OpRegistry& r) {
  r.add("", "LinearAttention", {27}, OpDef{linear_attention, nullptr, validate_linear_attention});
}

}  // namespace qtool
