// SPDX-License-Identifier: Apache-2.0
// onnxruntime's attention contrib ops (com.microsoft 1, docs/ContribOperators.md), as its CPU kernels
// compute them (contrib_ops/cpu/bert/attention_cpu_base.h):
//   scores = scale * Q K^T (+ attention_bias) (+ mask), softmax over the keys, times V; scale defaults
//   to 1 / sqrt(head_size); masked keys (padding mask or, with `unidirectional`, future keys
//   j > past_length + i) get the score `mask_filter_value` (default -10000), not -inf.
//   Attention: input (B, S, D_in) x weights (D_in, Dq + Dk + Dv) + bias, split by qkv_hidden_sizes
//     (default equal thirds); mask_index (B) right-padding lengths, (2B) end and start positions,
//     (B, T) or (B, S, T) 0/1 masks; past (2, B, N, P, H) -> present (2, B, N, P + L, H);
//     attention_bias (B or 1, N or 1, S, T).
//   MultiHeadAttention: query (B, S, D), key / value (B, L, D) with optional bias (D + D + Dv), or
//     packed KV (B, L, N, 2, H), packed QKV query (B, S, N, 3, H), or projected key / value
//     (B, N, L, H); key_padding_mask (B), (B, T) or (B, S, T); past_key / past_value (B, N, P, H);
//     outputs output (B, S, Dv), present_key / present_value (B, N, T, H), qk (the masked scores).
// Arithmetic in float32 (float16 inputs widened, results rounded back).
#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

bool attn_type(DType t) { return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16; }

// Q (B, N, S, H), K (B, N, T, H), V (B, N, T, Hv) in float32; mask (B, S, T) additive (empty: none).
struct SdpaInput {
  int64_t B = 0, N = 0, S = 0, T = 0, H = 0, Hv = 0;
  std::vector<float> q, k, v, mask;
  std::vector<float> bias;  // attention_bias values
  Shape bias_shape;         // (B or 1, N or 1, S, T)
  float scale = 1.f;
};

// out (B, S, N * Hv); qk (B, N, S, T) = the scores softmax sees.
void sdpa(const SdpaInput& in, std::vector<float>& out, std::vector<float>* qk) {
  out.assign(static_cast<size_t>(in.B * in.S * in.N * in.Hv), 0.f);
  if (qk) qk->assign(static_cast<size_t>(in.B * in.N * in.S * in.T), 0.f);
  std::vector<float> row(static_cast<size_t>(in.T));
  for (int64_t b = 0; b < in.B; ++b)
    for (int64_t h = 0; h < in.N; ++h)
      for (int64_t i = 0; i < in.S; ++i) {
        const float* qr = in.q.data() + (((b * in.N + h) * in.S + i) * in.H);
        for (int64_t j = 0; j < in.T; ++j) {
          const float* kr = in.k.data() + (((b * in.N + h) * in.T + j) * in.H);
          float acc = 0.f;
          for (int64_t x = 0; x < in.H; ++x) acc += qr[x] * kr[x];
          float s = in.scale * acc;
          if (!in.bias.empty()) {
            const int64_t bb = in.bias_shape[0] == 1 ? 0 : b, bh = in.bias_shape[1] == 1 ? 0 : h;
            s += in.bias[((bb * in.bias_shape[1] + bh) * in.S + i) * in.T + j];
          }
          if (!in.mask.empty()) s += in.mask[(b * in.S + i) * in.T + j];
          row[j] = s;
          if (qk) (*qk)[((b * in.N + h) * in.S + i) * in.T + j] = s;
        }
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < in.T; ++j) mx = std::max(mx, row[j]);
        float sum = 0.f;
        for (int64_t j = 0; j < in.T; ++j) sum += (row[j] = std::exp(row[j] - mx));
        for (int64_t j = 0; j < in.T; ++j) row[j] /= sum;
        float* o = out.data() + (((b * in.S + i) * in.N + h) * in.Hv);
        for (int64_t j = 0; j < in.T; ++j) {
          const float* vr = in.v.data() + (((b * in.N + h) * in.T + j) * in.Hv);
          for (int64_t x = 0; x < in.Hv; ++x) o[x] += row[j] * vr[x];
        }
      }
}

// (B, S, N * H) packed rows -> (B, N, S, H), with an optional bias of N * H values.
std::vector<float> split_heads(const float* x, int64_t B, int64_t S, int64_t N, int64_t H, int64_t row_stride,
                               const float* bias) {
  std::vector<float> out(static_cast<size_t>(B * N * S * H));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < N; ++h)
        for (int64_t d = 0; d < H; ++d)
          out[((b * N + h) * S + s) * H + d] = x[(b * S + s) * row_stride + h * H + d] + (bias ? bias[h * H + d] : 0.f);
  return out;
}

// past (B, N, P, H) in front of cur (B, N, L, H).
std::vector<float> concat_past(const std::vector<float>& past, const std::vector<float>& cur, int64_t B, int64_t N,
                               int64_t P, int64_t L, int64_t H) {
  if (P == 0) return cur;
  std::vector<float> out(static_cast<size_t>(B * N * (P + L) * H));
  for (int64_t bn = 0; bn < B * N; ++bn) {
    std::copy(past.begin() + bn * P * H, past.begin() + (bn + 1) * P * H, out.begin() + bn * (P + L) * H);
    std::copy(cur.begin() + bn * L * H, cur.begin() + (bn + 1) * L * H, out.begin() + bn * (P + L) * H + P * H);
  }
  return out;
}

Tensor to_tensor(const std::vector<float>& v, const Shape& s, DType t) { return Tensor::from<float>(s, v).cast(t); }

// Additive mask (B, S, T): mask_filter_value where a key is masked, 0 elsewhere.
std::vector<float> build_mask(const KernelContext& c, const Tensor* m, bool causal, int64_t B, int64_t S, int64_t P,
                              int64_t L, float filter) {
  const int64_t T = P + L;
  if (!m && !causal) return {};
  std::vector<float> mask(static_cast<size_t>(B * S * T), 0.f);
  if (m) {
    const auto mv = m->to_int64s();
    const Shape& ms = m->shape();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < S; ++i)
        for (int64_t j = 0; j < T; ++j) {
          bool keep;
          if (ms.size() == 1 && ms[0] == B) keep = j < mv[b];
          else if (ms.size() == 1 && ms[0] == 2 * B) keep = j < mv[b] && j >= mv[B + b];
          else if (ms.size() == 2) keep = mv[b * T + j] > 0;
          else if (ms.size() == 3) keep = mv[(b * S + i) * T + j] > 0;
          else c.fail("unsupported mask shape " + shape_str(ms));
          if (!keep) mask[(b * S + i) * T + j] = filter;
        }
  }
  if (causal)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < S; ++i)
        for (int64_t j = P + i + 1; j < T; ++j) mask[(b * S + i) * T + j] = filter;
  return mask;
}

void check_mask(const KernelContext& c, const Tensor& m, int64_t B, int64_t S, int64_t T) {
  if (m.dtype() != DType::kInt32) c.fail("the mask must be int32, got " + dtype_name(m.dtype()));
  const Shape& s = m.shape();
  const bool ok = (s.size() == 1 && (s[0] == B || s[0] == 2 * B)) || (s.size() == 2 && s[0] == B && s[1] == T) ||
                  (s.size() == 3 && s[0] == B && s[1] == S && s[2] == T);
  if (!ok)
    c.fail("mask " + shape_str(s) + " must be (B), (2B), (B, T) or (B, S, T) with B = " + std::to_string(B) + ", S = " +
           std::to_string(S) + ", T = " + std::to_string(T));
}

void check_bias(const KernelContext& c, const Tensor& b, int64_t B, int64_t N, int64_t S, int64_t T) {
  const Shape& s = b.shape();
  if (s.size() != 4 || (s[0] != 1 && s[0] != B) || (s[1] != 1 && s[1] != N) || s[2] != S || s[3] != T)
    c.fail("attention_bias " + shape_str(s) + " must be (B or 1, N or 1, S, T) = (" + std::to_string(B) + ", " +
           std::to_string(N) + ", " + std::to_string(S) + ", " + std::to_string(T) + ")");
}

float scale_attr(const KernelContext& c, int64_t head) {
  const float s = attr_float(c.node, "scale", 0.f);
  return s == 0.f ? 1.f / std::sqrt(static_cast<float>(head)) : s;
}

// ------------------------------------------------------------------ Attention

struct ContribAttn {
  int64_t B, S, Din, N, Dq, Dk, Dv, P;
};

ContribAttn contrib_attention_dims(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  if (x.rank() != 3) c.fail("input must be (B, S, D_in), got " + shape_str(x.shape()));
  if (w.rank() != 2 || w.dim(0) != x.dim(2)) c.fail("weights " + shape_str(w.shape()) + " must be (D_in, Dq + Dk + Dv)");
  ContribAttn a{x.dim(0), x.dim(1), x.dim(2), attr_int(c.node, "num_heads", 0), 0, 0, 0, 0};
  if (a.N <= 0) c.fail("attribute 'num_heads' is required (> 0)");
  if (attr_int(c.node, "do_rotary", 0) != 0) c.fail("attribute 'do_rotary' is not supported");
  if (attr_int(c.node, "past_present_share_buffer", 0) != 0) c.fail("attribute 'past_present_share_buffer' is not supported");
  const auto sizes = attr_ints(c.node, "qkv_hidden_sizes", {});
  if (sizes.empty()) {
    if (w.dim(1) % 3 != 0) c.fail("weights' width " + std::to_string(w.dim(1)) + " is not 3 equal parts");
    a.Dq = a.Dk = a.Dv = w.dim(1) / 3;
  } else {
    if (sizes.size() != 3 || sizes[0] != sizes[1] || sizes[0] <= 0 || sizes[2] <= 0)
      c.fail("attribute 'qkv_hidden_sizes' must hold 3 positive sizes with Q's equal to K's");
    a.Dq = sizes[0]; a.Dk = sizes[1]; a.Dv = sizes[2];
  }
  if (a.Dq + a.Dk + a.Dv != w.dim(1)) c.fail("weights' width does not match qkv_hidden_sizes");
  if (a.Dq % a.N != 0 || a.Dv % a.N != 0) c.fail("attribute 'num_heads' does not divide the hidden sizes");
  if (c.has(2) && c.in(2).numel() != w.dim(1)) c.fail("bias must have Dq + Dk + Dv = " + std::to_string(w.dim(1)) + " values");
  if (c.has(4)) {
    const Tensor& p = c.in(4);
    if (p.rank() != 5 || p.dim(0) != 2 || p.dim(1) != a.B || p.dim(2) != a.N || p.dim(4) != a.Dq / a.N || a.Dv != a.Dq)
      c.fail("past " + shape_str(p.shape()) + " must be (2, B, N, P, H) with equal Q, K and V sizes");
    a.P = p.dim(3);
  }
  if (c.has(3)) check_mask(c, c.in(3), a.B, a.S, a.P + a.S);
  if (c.has(5)) check_bias(c, c.in(5), a.B, a.N, a.S, a.P + a.S);
  return a;
}

void validate_contrib_attention(KernelContext& c) {
  for (int i : {0, 1, 2, 4, 5})
    if (c.has(i) && !attn_type(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(1)) contrib_attention_dims(c);
}

void contrib_attention(KernelContext& c) {
  const ContribAttn a = contrib_attention_dims(c);
  const auto x = c.in(0).to_floats(), w = c.in(1).to_floats();
  const std::vector<float> bias = c.has(2) ? c.in(2).to_floats() : std::vector<float>(static_cast<size_t>(c.in(1).dim(1)), 0.f);
  const int64_t W = c.in(1).dim(1), rows = a.B * a.S;
  std::vector<float> proj(static_cast<size_t>(rows * W));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < W; ++n) {
      float acc = 0.f;
      for (int64_t k = 0; k < a.Din; ++k) acc += x[r * a.Din + k] * w[k * W + n];
      proj[r * W + n] = acc + bias[n];
    }
  SdpaInput in;
  in.B = a.B; in.N = a.N; in.S = a.S; in.H = a.Dq / a.N; in.Hv = a.Dv / a.N; in.T = a.P + a.S;
  in.q = split_heads(proj.data(), a.B, a.S, a.N, in.H, W, nullptr);
  auto k = split_heads(proj.data() + a.Dq, a.B, a.S, a.N, in.H, W, nullptr);
  auto v = split_heads(proj.data() + a.Dq + a.Dk, a.B, a.S, a.N, in.Hv, W, nullptr);
  if (c.has(4)) {
    const auto past = c.in(4).to_floats();
    const size_t half_n = past.size() / 2;
    k = concat_past(std::vector<float>(past.begin(), past.begin() + half_n), k, a.B, a.N, a.P, a.S, in.H);
    v = concat_past(std::vector<float>(past.begin() + half_n, past.end()), v, a.B, a.N, a.P, a.S, in.Hv);
  }
  in.k = k;
  in.v = v;
  in.scale = scale_attr(c, in.H);
  in.mask = build_mask(c, c.has(3) ? &c.in(3) : nullptr, attr_int(c.node, "unidirectional", 0) != 0, a.B, a.S, a.P, a.S,
                       attr_float(c.node, "mask_filter_value", -10000.f));
  if (c.has(5)) {
    in.bias = c.in(5).to_floats();
    in.bias_shape = c.in(5).shape();
  }
  std::vector<float> out;
  sdpa(in, out, nullptr);
  const DType t = c.in(0).dtype();
  c.outputs[0] = to_tensor(out, {a.B, a.S, a.Dv}, t);
  if (c.outputs.size() > 1) {
    std::vector<float> present(in.k);
    present.insert(present.end(), in.v.begin(), in.v.end());
    c.outputs[1] = to_tensor(present, {2, a.B, a.N, in.T, in.H}, t);
  }
}

// ------------------------------------------------------------------ MultiHeadAttention

struct MhaParts {
  SdpaInput in;
  int64_t P = 0, L = 0;
};

MhaParts mha_parts(const KernelContext& c) {
  const Tensor& q = c.in(0);
  const int64_t N = attr_int(c.node, "num_heads", 0);
  if (N <= 0) c.fail("attribute 'num_heads' is required (> 0)");
  MhaParts p;
  SdpaInput& in = p.in;
  in.N = N;
  const std::vector<float> bias = c.has(3) ? c.in(3).to_floats() : std::vector<float>{};
  const auto qv = q.to_floats();
  if (q.rank() == 5) {  // packed QKV (B, S, N, 3, H)
    if (c.has(1) || c.has(2)) c.fail("packed QKV query takes no key or value");
    if (q.dim(2) != N || q.dim(3) != 3) c.fail("packed QKV query must be (B, S, N, 3, H), got " + shape_str(q.shape()));
    in.B = q.dim(0); in.S = q.dim(1); in.H = in.Hv = q.dim(4);
    p.L = in.S;
    const int64_t D = N * in.H;
    if (!bias.empty() && static_cast<int64_t>(bias.size()) != 3 * D) c.fail("bias must have 3 * hidden values");
    in.q.resize(static_cast<size_t>(in.B * N * in.S * in.H));
    in.k.resize(in.q.size());
    in.v.resize(in.q.size());
    for (int64_t b = 0; b < in.B; ++b)
      for (int64_t s = 0; s < in.S; ++s)
        for (int64_t h = 0; h < N; ++h)
          for (int64_t d = 0; d < in.H; ++d)
            for (int part = 0; part < 3; ++part) {
              const float bv = bias.empty() ? 0.f : bias[part * D + h * in.H + d];
              const float val = qv[(((b * in.S + s) * N + h) * 3 + part) * in.H + d] + bv;
              auto& dst = part == 0 ? in.q : part == 1 ? in.k : in.v;
              dst[((b * N + h) * in.S + s) * in.H + d] = val;
            }
  } else {
    if (q.rank() != 3) c.fail("query must be (B, S, D) or packed (B, S, N, 3, H), got " + shape_str(q.shape()));
    in.B = q.dim(0); in.S = q.dim(1);
    const int64_t D = q.dim(2);
    if (D % N != 0) c.fail("attribute 'num_heads' does not divide the hidden size " + std::to_string(D));
    in.H = D / N;
    if (!c.has(1)) c.fail("key is required unless the query is packed QKV");
    const Tensor& k = c.in(1);
    int64_t Dv = D;
    if (k.rank() == 5) {  // packed KV (B, L, N, 2, H)
      if (c.has(2)) c.fail("packed KV key takes no value");
      if (k.dim(0) != in.B || k.dim(2) != N || k.dim(3) != 2 || k.dim(4) != in.H)
        c.fail("packed KV key must be (B, L, N, 2, H), got " + shape_str(k.shape()));
      p.L = k.dim(1);
      in.Hv = in.H;
      if (!bias.empty() && static_cast<int64_t>(bias.size()) != 3 * D) c.fail("bias must have 3 * hidden values");
      const auto kv = k.to_floats();
      in.k.resize(static_cast<size_t>(in.B * N * p.L * in.H));
      in.v.resize(in.k.size());
      for (int64_t b = 0; b < in.B; ++b)
        for (int64_t s = 0; s < p.L; ++s)
          for (int64_t h = 0; h < N; ++h)
            for (int64_t d = 0; d < in.H; ++d) {
              const int64_t src = (((b * p.L + s) * N + h) * 2) * in.H + d;
              in.k[((b * N + h) * p.L + s) * in.H + d] = kv[src] + (bias.empty() ? 0.f : bias[D + h * in.H + d]);
              in.v[((b * N + h) * p.L + s) * in.H + d] = kv[src + in.H] + (bias.empty() ? 0.f : bias[2 * D + h * in.H + d]);
            }
    } else {
      if (!c.has(2)) c.fail("value is required with a key of rank " + std::to_string(k.rank()));
      const Tensor& v = c.in(2);
      if (k.rank() == 4) {  // projected (B, N, L, H): no bias on K / V
        if (v.rank() != 4 || k.dim(0) != in.B || k.dim(1) != N || k.dim(3) != in.H || v.dim(0) != in.B ||
            v.dim(1) != N || v.dim(2) != k.dim(2))
          c.fail("4-D key / value must be (B, N, L, H), got " + shape_str(k.shape()) + " and " + shape_str(v.shape()));
        p.L = k.dim(2);
        in.Hv = v.dim(3);
        Dv = N * in.Hv;
        in.k = k.to_floats();
        in.v = v.to_floats();
      } else if (k.rank() == 3) {
        if (v.rank() != 3 || k.dim(0) != in.B || v.dim(0) != in.B || k.dim(2) != D || v.dim(1) != k.dim(1) || v.dim(2) % N != 0)
          c.fail("key " + shape_str(k.shape()) + " and value " + shape_str(v.shape()) + " must be (B, L, D) and (B, L, Dv)");
        p.L = k.dim(1);
        Dv = v.dim(2);
        in.Hv = Dv / N;
        if (!bias.empty() && static_cast<int64_t>(bias.size()) != 2 * D + Dv) c.fail("bias must have D + D + Dv values");
        const auto kv = k.to_floats(), vv = v.to_floats();
        in.k = split_heads(kv.data(), in.B, p.L, N, in.H, D, bias.empty() ? nullptr : bias.data() + D);
        in.v = split_heads(vv.data(), in.B, p.L, N, in.Hv, Dv, bias.empty() ? nullptr : bias.data() + 2 * D);
      } else {
        c.fail("key must be (B, L, D), (B, L, N, 2, H) or (B, N, L, H), got " + shape_str(k.shape()));
      }
    }
    if (!bias.empty() && static_cast<int64_t>(bias.size()) < D) c.fail("bias is too short");
    in.q = split_heads(qv.data(), in.B, in.S, N, in.H, D, bias.empty() ? nullptr : bias.data());
  }
  if (c.has(6) != c.has(7)) c.fail("past_key and past_value must be given together");
  if (c.has(6)) {
    const Tensor& pk = c.in(6);
    const Tensor& pv = c.in(7);
    if (pk.rank() != 4 || pk.dim(0) != in.B || pk.dim(1) != N || pk.dim(3) != in.H || pv.rank() != 4 ||
        pv.dim(0) != in.B || pv.dim(1) != N || pv.dim(2) != pk.dim(2) || pv.dim(3) != in.Hv)
      c.fail("past_key / past_value must be (B, N, P, H)");
    p.P = pk.dim(2);
    in.k = concat_past(pk.to_floats(), in.k, in.B, N, p.P, p.L, in.H);
    in.v = concat_past(pv.to_floats(), in.v, in.B, N, p.P, p.L, in.Hv);
  }
  in.T = p.P + p.L;
  if (c.has(4)) check_mask(c, c.in(4), in.B, in.S, in.T);
  if (c.has(5)) check_bias(c, c.in(5), in.B, N, in.S, in.T);
  if (c.has(8) || c.has(9)) c.fail("past_sequence_length and cache_indirection are not supported");
  in.scale = scale_attr(c, in.H);
  return p;
}

void validate_mha(KernelContext& c) {
  for (int i : {0, 1, 2, 3, 5, 6, 7})
    if (c.has(i) && !attn_type(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0)) mha_parts(c);
}

void multi_head_attention(KernelContext& c) {
  MhaParts p = mha_parts(c);
  SdpaInput& in = p.in;
  in.mask = build_mask(c, c.has(4) ? &c.in(4) : nullptr, attr_int(c.node, "unidirectional", 0) != 0, in.B, in.S, p.P, p.L,
                       attr_float(c.node, "mask_filter_value", -10000.f));
  if (c.has(5)) {
    in.bias = c.in(5).to_floats();
    in.bias_shape = c.in(5).shape();
  }
  const bool want_qk = c.outputs.size() > 3 && !c.node.output(3).empty();
  std::vector<float> out, qk;
  sdpa(in, out, want_qk ? &qk : nullptr);
  const DType t = c.in(0).dtype();
  c.outputs[0] = to_tensor(out, {in.B, in.S, in.N * in.Hv}, t);
  if (c.outputs.size() > 1) c.outputs[1] = to_tensor(in.k, {in.B, in.N, in.T, in.H}, t);
  if (c.outputs.size() > 2) c.outputs[2] = to_tensor(in.v, {in.B, in.N, in.T, in.Hv}, t);
  if (want_qk) c.outputs[3] = to_tensor(qk, {in.B, in.N, in.S, in.T}, t);
}

}  // namespace

void register_attention_contrib_ops(OpRegistry& r) {
  r.add("com.microsoft", "Attention", {1}, OpDef{contrib_attention, nullptr, validate_contrib_attention});
  r.add("com.microsoft", "MultiHeadAttention", {1}, OpDef{multi_head_attention, nullptr, validate_mha});
}

}  // namespace qtool
