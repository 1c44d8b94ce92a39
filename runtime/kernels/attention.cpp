// SPDX-License-Identifier: Apache-2.0
// Attention (ai.onnx 23, 24, 25): scaled dot-product attention as the ONNX spec and onnx's reference
// (onnx/reference/ops/op_attention.py) define it:
//   Q, K, V 4-D (batch, heads, seq, head_size) or 3-D (batch, seq, heads * head_size) with
//   q_num_heads / kv_num_heads; past_key / past_value concatenated in front of K / V (present_key /
//   present_value); scale (default 1 / sqrt(head_size)) applied as sqrt(scale) to Q and K; softcap
//   (softcap * tanh(x / softcap)) before the bias; the additive bias from attn_mask (bool: -inf where
//   False; float: added; a last axis shorter than the total sequence padded with -inf / False),
//   is_causal (bottom-right aligned: query i sees key j iff j <= i + offset, offset = past length,
//   or nonpad_kv_seqlen[b] - q_len with an external cache (24+)), left/right_window_size (25) and
//   nonpad_kv_seqlen (24+); softmax in softmax_precision (or the biased scores' type); fully masked
//   rows (bias all -inf) give zero rows; GQA repeats each K/V head q_heads / kv_heads times;
//   qk_matmul_output in modes 0 (QK), 1 (after softcap), 2 (with bias), 3 (after softmax).
// Every step rounds to the type numpy computes it in (float16 / bfloat16 results via float32), and
// softmax sums use numpy's pairwise summation, so results match the reference to the last bit
// except for the summation order of the matrix products. Fast kernel (float32): both products as
// oneDNN batched matmuls, the query heads sharing a KV head (GQA) as one matrix.
#include <algorithm>
#include <limits>

#include "runtime/kernels/attention_common.h"
#include "runtime/kernels/matmul.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct AttnDims {
  bool three_d = false;
  int64_t B = 0, Hq = 0, Hkv = 0, Sq = 0, Skv = 0, P = 0, D = 0, Dv = 0;
  int64_t total() const { return P + Skv; }
};

bool float_type(DType t) {
  return t == DType::kFloat || t == DType::kDouble || t == DType::kFloat16 || t == DType::kBFloat16;
}

// Shapes, heads and attributes, checked before anything runs.
AttnDims attention_dims(const KernelContext& c) {
  const Tensor& q = c.in(0);
  const Tensor& k = c.in(1);
  const Tensor& v = c.in(2);
  AttnDims d;
  const int r = q.rank();
  if ((r != 3 && r != 4) || k.rank() != r || v.rank() != r)
    c.fail("Q, K and V must all be 3-D or all 4-D, got " + shape_str(q.shape()) + ", " + shape_str(k.shape()) + ", " +
           shape_str(v.shape()));
  const auto* qh = find_attr(c.node, "q_num_heads");
  const auto* kh = find_attr(c.node, "kv_num_heads");
  d.B = q.dim(0);
  if (k.dim(0) != d.B || v.dim(0) != d.B) c.fail("Q, K and V differ in batch size");
  if (r == 3) {
    d.three_d = true;
    if (!qh || !kh) c.fail("attributes 'q_num_heads' and 'kv_num_heads' are required for 3-D inputs");
    d.Hq = attr_int(c.node, "q_num_heads", 0);
    d.Hkv = attr_int(c.node, "kv_num_heads", 0);
    if (d.Hq <= 0 || d.Hkv <= 0) c.fail("attributes 'q_num_heads' and 'kv_num_heads' must be positive");
    if (q.dim(2) % d.Hq != 0) c.fail("attribute 'q_num_heads': " + std::to_string(d.Hq) + " does not divide Q's hidden size " + std::to_string(q.dim(2)));
    if (k.dim(2) % d.Hkv != 0 || v.dim(2) % d.Hkv != 0)
      c.fail("attribute 'kv_num_heads': " + std::to_string(d.Hkv) + " does not divide the hidden sizes of K and V");
    d.Sq = q.dim(1);
    d.Skv = k.dim(1);
    d.D = q.dim(2) / d.Hq;
    if (k.dim(2) / d.Hkv != d.D) c.fail("Q and K differ in head size");
    d.Dv = v.dim(2) / d.Hkv;
    if (v.dim(1) != d.Skv) c.fail("K and V differ in sequence length");
  } else {
    if (c.version >= 25 && (qh || kh))
      c.fail("attributes 'q_num_heads' and 'kv_num_heads' must not be given for 4-D inputs");
    d.Hq = q.dim(1);
    d.Hkv = k.dim(1);
    d.Sq = q.dim(2);
    d.Skv = k.dim(2);
    d.D = q.dim(3);
    d.Dv = v.dim(3);
    if (k.dim(3) != d.D) c.fail("Q and K differ in head size: " + shape_str(q.shape()) + " and " + shape_str(k.shape()));
    if (v.dim(1) != d.Hkv || v.dim(2) != d.Skv) c.fail("K " + shape_str(k.shape()) + " and V " + shape_str(v.shape()) + " do not match");
  }
  if (d.Hkv == 0 || d.Hq % d.Hkv != 0)
    c.fail("query heads (" + std::to_string(d.Hq) + ") must be a multiple of key/value heads (" + std::to_string(d.Hkv) + ")");
  if (c.has(4) != c.has(5)) c.fail("past_key and past_value must be given together");
  if (c.has(4)) {
    const Tensor& pk = c.in(4);
    const Tensor& pv = c.in(5);
    if (pk.rank() != 4 || pk.dim(0) != d.B || pk.dim(1) != d.Hkv || pk.dim(3) != d.D)
      c.fail("past_key " + shape_str(pk.shape()) + " must be (batch, kv_heads, past, head_size) = (" + std::to_string(d.B) +
             ", " + std::to_string(d.Hkv) + ", past, " + std::to_string(d.D) + ")");
    if (pv.rank() != 4 || pv.dim(0) != d.B || pv.dim(1) != d.Hkv || pv.dim(2) != pk.dim(2) || pv.dim(3) != d.Dv)
      c.fail("past_value " + shape_str(pv.shape()) + " does not match past_key " + shape_str(pk.shape()) + " and V");
    d.P = pk.dim(2);
  }
  if (c.version >= 24 && c.has(6)) {
    if (c.has(4)) c.fail("nonpad_kv_seqlen cannot be combined with past_key / past_value");
    const Tensor& np = c.in(6);
    if (np.dtype() != DType::kInt64) c.fail_dtype(6, np.dtype());
    if (np.rank() != 1 || np.dim(0) != d.B) c.fail("nonpad_kv_seqlen must have shape (batch,) = (" + std::to_string(d.B) + ")");
  }
  if (c.has(3)) {
    const Tensor& m = c.in(3);
    if (m.rank() < 1 || m.rank() > 4) c.fail("attn_mask must have rank 1 to 4, got " + shape_str(m.shape()));
    const Shape full{d.B, d.Hq, d.Sq, d.total()};
    const int mr = m.rank();
    if (m.dim(mr - 1) > d.total())
      c.fail("attn_mask's last axis (" + std::to_string(m.dim(mr - 1)) + ") exceeds the total sequence length " +
             std::to_string(d.total()));
    for (int i = 0; i < mr - 1; ++i) {
      const int64_t want = full[4 - mr + i];
      if (m.dim(i) != 1 && m.dim(i) != want)
        c.fail("attn_mask " + shape_str(m.shape()) + " does not broadcast to " + shape_str(full));
    }
  }
  const int64_t mode = attr_int(c.node, "qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) c.fail("attribute 'qk_matmul_output_mode': must be 0..3, got " + std::to_string(mode));
  const int64_t sp = attr_int(c.node, "softmax_precision", 0);
  if (sp != 0 && !float_type(static_cast<DType>(sp)))
    c.fail("attribute 'softmax_precision': " + std::to_string(sp) + " is not float32, float16, float64 or bfloat16");
  if (c.version >= 25) {
    for (const char* w : {"left_window_size", "right_window_size"})
      if (attr_int(c.node, w, -1) < -1) c.fail(std::string("attribute '") + w + "': must be -1 or >= 0");
  }
  shape_numel({d.B, d.Hq, d.Sq, d.total()});
  shape_numel({d.B, d.Hq, d.Sq, d.Dv});
  return d;
}

void validate_attention(KernelContext& c) {
  const int max_inputs = c.version >= 24 ? 7 : 6;
  if (c.num_inputs() > max_inputs) c.fail("takes at most " + std::to_string(max_inputs) + " inputs");
  for (int i : {0, 1, 2, 4, 5})
    if (c.has(i) && !float_type(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(1) && c.in(1).dtype() != c.in(0).dtype()) c.fail("Q and K differ in type");
  if (c.has(1) && c.has(4) && c.in(4).dtype() != c.in(1).dtype()) c.fail("past_key's type differs from K's");
  if (c.has(2) && c.has(5) && c.in(5).dtype() != c.in(2).dtype()) c.fail("past_value's type differs from V's");
  if (c.has(3)) {
    const DType mt = c.in(3).dtype();
    if (!(mt == DType::kBool || float_type(mt) || (dtype_is_integer(mt) && dtype_size(mt) * 8 == static_cast<size_t>(dtype_bits(mt)))))
      c.fail_dtype(3, mt);
  }
  if (c.has(0) && c.has(1) && c.has(2)) attention_dims(c);
}

// (b, h, s, x) of a 4-D tensor, or of the 3-D (b, s, h * dh) form, as a flat index.
inline int64_t at4(bool three_d, int64_t H, int64_t S, int64_t X, int64_t b, int64_t h, int64_t s, int64_t x) {
  return three_d ? ((b * S + s) * H + h) * X + x : ((b * H + h) * S + s) * X + x;
}

// The additive bias (batch, q_heads, q_len, total): attn_mask (bool -> 0 / -inf, float added, a short
// last axis padded with -inf), is_causal, the sliding window (25) and nonpad_kv_seqlen (24+), each
// masked position adding -inf. *bias_type: the type numpy holds it in (the mask's float type
// promoted with T).
std::vector<double> attention_bias(const KernelContext& c, const AttnDims& d, DType T, DType* bias_type) {
  const int64_t Stot = d.total();
  *bias_type = T;
  const size_t nb = static_cast<size_t>(d.B * d.Hq * d.Sq * Stot);
  std::vector<double> bias(nb, 0.0);
  auto bidx = [&](int64_t b, int64_t h, int64_t i, int64_t j) { return ((b * d.Hq + h) * d.Sq + i) * Stot + j; };
  if (c.has(3)) {
    const Tensor& m = c.in(3);
    const bool is_bool = m.dtype() == DType::kBool;
    if (!is_bool && float_type(m.dtype())) *bias_type = promote_float(T, m.dtype());
    const auto mv = m.to_doubles();
    const int mr = m.rank();
    Shape ms(4, 1);
    for (int i = 0; i < mr; ++i) ms[4 - mr + i] = m.dim(i);
    const int64_t mlast = ms[3];
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t h = 0; h < d.Hq; ++h)
        for (int64_t i = 0; i < d.Sq; ++i)
          for (int64_t j = 0; j < Stot; ++j) {
            double val;
            if (j >= mlast) {
              val = kNegInf;  // padding of a short last axis (False / -inf)
            } else {
              const int64_t mi = (((ms[0] == 1 ? 0 : b) * ms[1] + (ms[1] == 1 ? 0 : h)) * ms[2] + (ms[2] == 1 ? 0 : i)) * mlast + j;
              val = is_bool ? (mv[mi] != 0.0 ? 0.0 : kNegInf) : mv[mi];
            }
            bias[bidx(b, h, i, j)] = val;
          }
  }
  const bool causal = attr_int(c.node, "is_causal", 0) != 0;
  const bool external = c.version >= 24 && c.has(6);
  std::vector<int64_t> nonpad = external ? c.in(6).to_int64s() : std::vector<int64_t>{};
  auto offset = [&](int64_t b) { return external ? nonpad[b] - d.Sq : d.P; };
  const int64_t left = c.version >= 25 ? attr_int(c.node, "left_window_size", -1) : -1;
  const int64_t right = c.version >= 25 ? attr_int(c.node, "right_window_size", -1) : -1;
  if (!causal && !external && left < 0 && right < 0) return bias;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h)
      for (int64_t i = 0; i < d.Sq; ++i)
        for (int64_t j = 0; j < Stot; ++j) {
          double& v = bias[bidx(b, h, i, j)];
          const int64_t diff = i + offset(b) - j;
          if (causal && !(j <= i + offset(b))) v += kNegInf;
          if ((left >= 0 && diff > left) || (right >= 0 && -diff > right)) v += kNegInf;
          if (external && !(j < nonpad[b])) v += kNegInf;
        }
  return bias;
}

void attention(KernelContext& c) {
  const AttnDims d = attention_dims(c);
  const Tensor& qt = c.in(0);
  const DType T = qt.dtype();
  const int64_t Stot = d.total(), group = d.Hq / d.Hkv;
  const auto qv = qt.to_doubles(), kv = c.in(1).to_doubles(), vv = c.in(2).to_doubles();
  // sqrt(scale) in float64, then cast to T (onnx's reference)
  const auto* sa = find_attr(c.node, "scale");
  const double scale = sa ? static_cast<double>(attr_float(c.node, "scale", 1.f)) : 1.0 / std::sqrt(static_cast<double>(d.D));
  const double s = round_as(T, std::sqrt(scale));
  // present K / V (batch, kv_heads, total, head) in T, and the scaled Q and K
  Tensor present_k = Tensor::uninitialized(T, {d.B, d.Hkv, Stot, d.D});
  Tensor present_v = Tensor::uninitialized(c.in(2).dtype(), {d.B, d.Hkv, Stot, d.Dv});
  std::vector<double> pk(static_cast<size_t>(present_k.numel())), pv(static_cast<size_t>(present_v.numel()));
  {
    const std::vector<double> past_k = c.has(4) ? c.in(4).to_doubles() : std::vector<double>{};
    const std::vector<double> past_v = c.has(5) ? c.in(5).to_doubles() : std::vector<double>{};
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t h = 0; h < d.Hkv; ++h)
        for (int64_t j = 0; j < Stot; ++j) {
          for (int64_t x = 0; x < d.D; ++x)
            pk[((b * d.Hkv + h) * Stot + j) * d.D + x] =
                j < d.P ? past_k[((b * d.Hkv + h) * d.P + j) * d.D + x] : kv[at4(d.three_d, d.Hkv, d.Skv, d.D, b, h, j - d.P, x)];
          for (int64_t x = 0; x < d.Dv; ++x)
            pv[((b * d.Hkv + h) * Stot + j) * d.Dv + x] =
                j < d.P ? past_v[((b * d.Hkv + h) * d.P + j) * d.Dv + x] : vv[at4(d.three_d, d.Hkv, d.Skv, d.Dv, b, h, j - d.P, x)];
        }
  }
  std::vector<double> qs(static_cast<size_t>(d.B * d.Hq * d.Sq * d.D)), ks(pk.size());
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h)
      for (int64_t i = 0; i < d.Sq; ++i)
        for (int64_t x = 0; x < d.D; ++x)
          qs[((b * d.Hq + h) * d.Sq + i) * d.D + x] = round_as(T, qv[at4(d.three_d, d.Hq, d.Sq, d.D, b, h, i, x)] * s);
  for (size_t i = 0; i < pk.size(); ++i) ks[i] = round_as(T, pk[i] * s);

  // ---- additive bias (batch, q_heads, q_len, total), kept at the mask's precision
  DType bias_type = T;
  const size_t nb = static_cast<size_t>(d.B * d.Hq * d.Sq * Stot);
  const std::vector<double> bias = attention_bias(c, d, T, &bias_type);
  auto bidx = [&](int64_t b, int64_t h, int64_t i, int64_t j) { return ((b * d.Hq + h) * d.Sq + i) * Stot + j; };

  // ---- scores
  const int64_t mode = attr_int(c.node, "qk_matmul_output_mode", 0);
  const double softcap = static_cast<double>(attr_float(c.node, "softcap", 0.f));
  const int64_t sp = attr_int(c.node, "softmax_precision", 0);
  const DType P = sp != 0 ? static_cast<DType>(sp) : bias_type;
  const bool want_qk = c.outputs.size() > 3 && c.node.output(3).size() > 0;
  Tensor qk_out = want_qk ? Tensor::uninitialized(T, {d.B, d.Hq, d.Sq, Stot}) : Tensor();
  std::vector<double> qk_vals(want_qk ? nb : 0);
  std::vector<double> row(static_cast<size_t>(Stot)), probs(static_cast<size_t>(d.B * d.Hq * d.Sq * Stot));
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < d.Sq; ++i) {
        const double* qrow = qs.data() + (((b * d.Hq + h) * d.Sq + i) * d.D);
        double bias_max = kNegInf;
        bool bias_nan = false;
        for (int64_t j = 0; j < Stot; ++j) {
          const double* krow = ks.data() + (((b * d.Hkv + hk) * Stot + j) * d.D);
          double acc = 0.0;
          for (int64_t x = 0; x < d.D; ++x) acc += qrow[x] * krow[x];
          double sc = round_as(T, acc);
          const size_t bi = static_cast<size_t>(bidx(b, h, i, j));
          if (want_qk && mode == 0) qk_vals[bi] = sc;
          if (softcap > 0.0) sc = round_as(T, round_as(T, std::tanh(round_as(T, sc / softcap))) * softcap);
          if (want_qk && mode == 1) qk_vals[bi] = sc;
          const double with_bias = round_as(bias_type, sc + bias[bi]);
          if (want_qk && mode == 2) qk_vals[bi] = with_bias;
          row[j] = round_as(P, with_bias);
          if (std::isnan(bias[bi])) bias_nan = true;
          bias_max = std::max(bias_max, bias[bi]);
        }
        // softmax in P: exp(x - max) / sum, all -inf rows give 0 (onnx's reference)
        double mx = kNegInf;
        bool nan = false;
        for (int64_t j = 0; j < Stot; ++j) {
          if (std::isnan(row[j])) nan = true;
          mx = std::max(mx, row[j]);
        }
        if (nan) mx = std::numeric_limits<double>::quiet_NaN();
        const double safe = mx == kNegInf ? 0.0 : mx;
        for (int64_t j = 0; j < Stot; ++j) row[j] = round_as(P, std::exp(round_as(P, row[j] - safe)));
        double sum = numpy_sum(P, row.data(), Stot);
        if (sum == 0.0) sum = 1.0;
        const bool masked = !bias_nan && bias_max == kNegInf && Stot > 0;
        double* prow = probs.data() + (((b * d.Hq + h) * d.Sq + i) * Stot);
        for (int64_t j = 0; j < Stot; ++j) {
          const double p = masked ? 0.0 : round_as(P, row[j] / sum);
          if (want_qk && mode == 3) qk_vals[bidx(b, h, i, j)] = p;
          prow[j] = round_as(T, p);
        }
      }
    }

  // ---- output = probs x V
  const Shape y_shape = d.three_d ? Shape{d.B, d.Sq, d.Hq * d.Dv} : Shape{d.B, d.Hq, d.Sq, d.Dv};
  std::vector<double> yv(static_cast<size_t>(shape_numel(y_shape)));
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < d.Sq; ++i) {
        const double* prow = probs.data() + (((b * d.Hq + h) * d.Sq + i) * Stot);
        for (int64_t x = 0; x < d.Dv; ++x) {
          double acc = 0.0;
          for (int64_t j = 0; j < Stot; ++j) acc += prow[j] * pv[((b * d.Hkv + hk) * Stot + j) * d.Dv + x];
          yv[at4(d.three_d, d.Hq, d.Sq, d.Dv, b, h, i, x)] = round_as(T, acc);
        }
      }
    }
  auto store = [](const std::vector<double>& src, Tensor& dst) {
    dispatch<FloatTypes>(dst.dtype(), [&](auto tag) {
      using X = typename decltype(tag)::type;
      X* p = dst.data<X>();
      for (size_t i = 0; i < src.size(); ++i) p[i] = from_compute<X>(static_cast<Compute<X>>(src[i]));
    });
  };
  Tensor y = Tensor::uninitialized(T, y_shape);
  store(yv, y);
  c.outputs[0] = std::move(y);
  if (c.outputs.size() > 1) {
    store(pk, present_k);
    c.outputs[1] = std::move(present_k);
  }
  if (c.outputs.size() > 2) {
    store(pv, present_v);
    c.outputs[2] = std::move(present_v);
  }
  if (want_qk) {
    for (auto& v : qk_vals) v = round_as(T, v);
    store(qk_vals, qk_out);
    c.outputs[3] = std::move(qk_out);
  }
}


// float32 Q, K, V (float32 or bool mask, softmax in float32): both products through oneDNN batched
// matmuls (query heads of one KV group as one matrix), softmax in float32. Same steps as the
// reference, float32 throughout.
bool attention_fast(KernelContext& c) {
  const DType T = c.in(0).dtype();
  if (T != DType::kFloat || c.in(1).dtype() != T || c.in(2).dtype() != T) return false;
  const int64_t sp = attr_int(c.node, "softmax_precision", 0);
  if (sp != 0 && sp != static_cast<int64_t>(DType::kFloat)) return false;
  if (c.has(3) && c.in(3).dtype() != DType::kBool && c.in(3).dtype() != DType::kFloat) return false;
  const AttnDims d = attention_dims(c);
  const int64_t Stot = d.total(), group = d.Hq / d.Hkv;
  const auto* sa = find_attr(c.node, "scale");
  const double scale = sa ? static_cast<double>(attr_float(c.node, "scale", 1.f)) : 1.0 / std::sqrt(static_cast<double>(d.D));
  const float s = static_cast<float>(std::sqrt(scale));
  const float* q = c.in(0).data<float>();
  const float* k = c.in(1).data<float>();
  const float* v = c.in(2).data<float>();
  Tensor present_k = Tensor::uninitialized(T, {d.B, d.Hkv, Stot, d.D});
  Tensor present_v = Tensor::uninitialized(T, {d.B, d.Hkv, Stot, d.Dv});
  float* pk = present_k.data<float>();
  float* pv = present_v.data<float>();
  const float* past_k = c.has(4) ? c.in(4).data<float>() : nullptr;
  const float* past_v = c.has(5) ? c.in(5).data<float>() : nullptr;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hkv; ++h)
      for (int64_t j = 0; j < Stot; ++j) {
        for (int64_t x = 0; x < d.D; ++x)
          pk[((b * d.Hkv + h) * Stot + j) * d.D + x] =
              j < d.P ? past_k[((b * d.Hkv + h) * d.P + j) * d.D + x] : k[at4(d.three_d, d.Hkv, d.Skv, d.D, b, h, j - d.P, x)];
        for (int64_t x = 0; x < d.Dv; ++x)
          pv[((b * d.Hkv + h) * Stot + j) * d.Dv + x] =
              j < d.P ? past_v[((b * d.Hkv + h) * d.P + j) * d.Dv + x] : v[at4(d.three_d, d.Hkv, d.Skv, d.Dv, b, h, j - d.P, x)];
      }
  std::vector<float> qs(static_cast<size_t>(d.B * d.Hq * d.Sq * d.D)), ks(static_cast<size_t>(present_k.numel()));
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h)
      for (int64_t i = 0; i < d.Sq; ++i)
        for (int64_t x = 0; x < d.D; ++x)
          qs[((b * d.Hq + h) * d.Sq + i) * d.D + x] = q[at4(d.three_d, d.Hq, d.Sq, d.D, b, h, i, x)] * s;
  for (size_t i = 0; i < ks.size(); ++i) ks[i] = pk[i] * s;
  DType bias_type = T;
  const std::vector<double> bias = attention_bias(c, d, T, &bias_type);
  // scores (B * Hkv, group * Sq, Stot) = Q (B * Hkv, group * Sq, D) x K^T
  const int64_t BH = d.B * d.Hkv, M = group * d.Sq;
  std::vector<float> sc(static_cast<size_t>(BH * M * Stot));
  const int64_t qst[3] = {M * d.D, d.D, 1}, kst[3] = {Stot * d.D, 1, d.D};
  if (!strided_bmm_f32(BH, M, d.D, Stot, qs.data(), qst, ks.data(), kst, sc.data())) return false;
  const int64_t mode = attr_int(c.node, "qk_matmul_output_mode", 0);
  const float softcap = attr_float(c.node, "softcap", 0.f);
  const bool want_qk = c.outputs.size() > 3 && c.node.output(3).size() > 0;
  Tensor qk_out = want_qk ? Tensor::uninitialized(T, {d.B, d.Hq, d.Sq, Stot}) : Tensor();
  float* qo = want_qk ? qk_out.data<float>() : nullptr;  // same (B, Hq, Sq, Stot) order as sc
  const size_t rows = static_cast<size_t>(BH * M);
  for (size_t r = 0; r < rows; ++r) {
    float* row = sc.data() + (r * Stot);
    const double* brow = bias.data() + (r * Stot);
    double bias_max = kNegInf;
    bool bias_nan = false;
    for (int64_t j = 0; j < Stot; ++j) {
      float x = row[j];
      if (qo && mode == 0) qo[r * Stot + j] = x;
      if (softcap > 0.f) x = std::tanh(x / softcap) * softcap;
      if (qo && mode == 1) qo[r * Stot + j] = x;
      x += static_cast<float>(brow[j]);
      if (qo && mode == 2) qo[r * Stot + j] = x;
      row[j] = x;
      if (std::isnan(brow[j])) bias_nan = true;
      bias_max = std::max(bias_max, brow[j]);
    }
    float mx = -std::numeric_limits<float>::infinity();
    bool nan = false;
    for (int64_t j = 0; j < Stot; ++j) {
      nan = nan || std::isnan(row[j]);
      mx = std::max(mx, row[j]);
    }
    const float safe = nan ? std::numeric_limits<float>::quiet_NaN() : (mx == -std::numeric_limits<float>::infinity() ? 0.f : mx);
    float sum = 0.f;
    for (int64_t j = 0; j < Stot; ++j) sum += (row[j] = std::exp(row[j] - safe));
    if (sum == 0.f) sum = 1.f;
    const bool masked = !bias_nan && bias_max == kNegInf && Stot > 0;
    for (int64_t j = 0; j < Stot; ++j) {
      row[j] = masked ? 0.f : row[j] / sum;
      if (qo && mode == 3) qo[r * Stot + j] = row[j];
    }
  }
  // Y (B * Hkv, group * Sq, Dv) = probs x V
  std::vector<float> y4(static_cast<size_t>(BH * M * d.Dv));
  const int64_t pst[3] = {M * Stot, Stot, 1}, vst[3] = {Stot * d.Dv, d.Dv, 1};
  if (!strided_bmm_f32(BH, M, Stot, d.Dv, sc.data(), pst, pv, vst, y4.data())) return false;
  const Shape y_shape = d.three_d ? Shape{d.B, d.Sq, d.Hq * d.Dv} : Shape{d.B, d.Hq, d.Sq, d.Dv};
  Tensor y = Tensor::uninitialized(T, y_shape);
  if (d.three_d) {
    float* yp = y.data<float>();
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t h = 0; h < d.Hq; ++h)
        for (int64_t i = 0; i < d.Sq; ++i)
          for (int64_t x = 0; x < d.Dv; ++x)
            yp[at4(true, d.Hq, d.Sq, d.Dv, b, h, i, x)] = y4[((b * d.Hq + h) * d.Sq + i) * d.Dv + x];
  } else {
    std::copy(y4.begin(), y4.end(), y.data<float>());
  }
  c.outputs[0] = std::move(y);
  if (c.outputs.size() > 1) c.outputs[1] = std::move(present_k);
  if (c.outputs.size() > 2) c.outputs[2] = std::move(present_v);
  if (want_qk) c.outputs[3] = std::move(qk_out);
  return true;
}

}  // namespace

void register_attention_ops(OpRegistry& r) {
  r.add("", "Attention", {23, 24, 25}, OpDef{attention, attention_fast, validate_attention});
}

}  // namespace qtool
