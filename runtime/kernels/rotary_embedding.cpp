// SPDX-License-Identifier: Apache-2.0
// Rotary positional embeddings (RoPE, Su et al. 2021, arXiv:2104.09864):
//   ai.onnx RotaryEmbedding 23 (the algorithm in the spec / onnx/reference/ops/op_rotary_embedding.py):
//     X 4-D (batch, heads, seq, head) or 3-D (batch, seq, heads * head) with num_heads; the first
//     rotary_embedding_dim (default head) channels rotate, split in halves or interleaved pairs
//     (x1, x2): real = cos x1 - sin x2, imag = sin x1 + cos x2; the rest pass through. cos / sin
//     are (max_pos, rot / 2) gathered by position_ids (batch, seq), or (batch, seq, rot / 2).
//   com.microsoft RotaryEmbedding 1 (onnxruntime contrib): inputs (input, position_ids, cos_cache,
//     sin_cache); position_ids (batch, seq) or one start offset (positions start + s); input 3-D
//     (batch, seq, hidden) (num_heads, or head = 2 * cos_cache's width) or 4-D (batch, heads, seq,
//     head). The `scale` attribute is not applied (onnxruntime's CPU kernel ignores it too).
// Each product / sum rounds to the input type (float16 / bfloat16 through float32, as numpy).
#include <algorithm>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

struct RopeLayout {
  int64_t B = 0, S = 0, H = 0, D = 0, rot = 0;
  bool heads_first = true;  // (b, h, s, x) when true, (b, s, h, x) otherwise
  bool interleaved = false;
  int64_t index(int64_t b, int64_t s, int64_t h, int64_t x) const {
    return heads_first ? ((b * H + h) * S + s) * D + x : ((b * S + s) * H + h) * D + x;
  }
};

template <typename T>
inline Compute<T> rnd(Compute<T> v) {
  return to_compute(from_compute<T>(v));
}

// cs / sn: rot / 2 values per (b, s).
template <typename T>
void rope(const T* x, T* y, const RopeLayout& l, const std::vector<float>& cs, const std::vector<float>& sn) {
  using C = Compute<T>;
  const int64_t half_rot = l.rot / 2;
  for (int64_t b = 0; b < l.B; ++b)
    for (int64_t s = 0; s < l.S; ++s) {
      const float* cb = cs.data() + ((b * l.S + s) * half_rot);
      const float* sb = sn.data() + ((b * l.S + s) * half_rot);
      for (int64_t h = 0; h < l.H; ++h) {
        const int64_t base = l.index(b, s, h, 0);
        for (int64_t i = 0; i < half_rot; ++i) {
          const int64_t i1 = l.interleaved ? 2 * i : i, i2 = l.interleaved ? 2 * i + 1 : i + half_rot;
          const C x1 = to_compute(x[base + i1]), x2 = to_compute(x[base + i2]);
          const C co = static_cast<C>(cb[i]), si = static_cast<C>(sb[i]);
          y[base + i1] = from_compute<T>(rnd<T>(co * x1) - rnd<T>(si * x2));
          y[base + i2] = from_compute<T>(rnd<T>(si * x1) + rnd<T>(co * x2));
        }
        for (int64_t i = l.rot; i < l.D; ++i) y[base + i] = x[base + i];
      }
    }
}

bool rope_type(DType t) { return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16; }

void run_rope(KernelContext& c, const RopeLayout& l, const std::vector<float>& cs, const std::vector<float>& sn) {
  const Tensor& x = c.in(0);
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  c.dispatch_or_fail<TypeList<float, half, bfloat16>>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    rope(x.data<T>(), y.data<T>(), l, cs, sn);
  });
  c.outputs[0] = std::move(y);
}

// cos / sin rows gathered for each (b, s): position p = pos(b, s) selects cache row p.
template <typename Pos>
std::vector<float> gather_rows(const KernelContext& c, const Tensor& cache, const RopeLayout& l, Pos pos,
                               const char* name) {
  const int64_t half_rot = l.rot / 2, rows = cache.dim(0);
  const auto v = cache.to_floats();
  std::vector<float> out(static_cast<size_t>(l.B * l.S * half_rot));
  for (int64_t b = 0; b < l.B; ++b)
    for (int64_t s = 0; s < l.S; ++s) {
      int64_t p = pos(b, s);
      if (p < -rows || p >= rows)
        c.fail("position_ids value " + std::to_string(p) + " is outside " + name + "'s " + std::to_string(rows) + " rows");
      if (p < 0) p += rows;  // numpy indexing
      std::copy(v.begin() + p * half_rot, v.begin() + (p + 1) * half_rot, out.begin() + (b * l.S + s) * half_rot);
    }
  return out;
}

// ------------------------------------------------------------------ ai.onnx RotaryEmbedding-23

RopeLayout onnx_layout(const KernelContext& c) {
  const Tensor& x = c.in(0);
  RopeLayout l;
  l.interleaved = attr_int(c.node, "interleaved", 0) != 0;
  if (x.rank() == 4) {
    l.B = x.dim(0); l.H = x.dim(1); l.S = x.dim(2); l.D = x.dim(3);
    l.heads_first = true;
  } else if (x.rank() == 3) {
    const int64_t nh = attr_int(c.node, "num_heads", 0);
    if (nh <= 0) c.fail("attribute 'num_heads' is required (> 0) for a 3-D input");
    if (x.dim(2) % nh != 0) c.fail("attribute 'num_heads': " + std::to_string(nh) + " does not divide the hidden size " + std::to_string(x.dim(2)));
    l.B = x.dim(0); l.S = x.dim(1); l.H = nh; l.D = x.dim(2) / nh;
    l.heads_first = false;
  } else {
    c.fail("input must be 3-D or 4-D, got " + shape_str(x.shape()));
  }
  const int64_t rd = attr_int(c.node, "rotary_embedding_dim", 0);
  l.rot = rd == 0 ? l.D : rd;
  if (l.rot < 0 || l.rot > l.D || l.rot % 2 != 0)
    c.fail("attribute 'rotary_embedding_dim': " + std::to_string(rd) + " must be even and at most the head size " + std::to_string(l.D));
  return l;
}

void validate_rotary_embedding(KernelContext& c) {
  for (int i = 0; i < 3; ++i)
    if (c.has(i) && !rope_type(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(1) && c.in(1).dtype() != c.in(0).dtype()) c.fail("cos_cache's type differs from X's");
  if (c.has(0) && c.has(2) && c.in(2).dtype() != c.in(0).dtype()) c.fail("sin_cache's type differs from X's");
  if (c.has(3) && c.in(3).dtype() != DType::kInt64) c.fail_dtype(3, c.in(3).dtype());
  if (!c.has(0) || !c.has(1) || !c.has(2)) return;
  const RopeLayout l = onnx_layout(c);
  const Tensor& cs = c.in(1);
  const Tensor& sn = c.in(2);
  if (cs.shape() != sn.shape()) c.fail("cos_cache " + shape_str(cs.shape()) + " and sin_cache " + shape_str(sn.shape()) + " differ");
  if (cs.rank() < 1 || cs.dim(-1) != l.rot / 2)
    c.fail("cos_cache's last extent must be rotary_embedding_dim / 2 = " + std::to_string(l.rot / 2) + ", got " + shape_str(cs.shape()));
  if (c.has(3)) {
    const Tensor& p = c.in(3);
    if (cs.rank() != 2) c.fail("with position_ids, cos_cache must be 2-D (max_position, rot / 2), got " + shape_str(cs.shape()));
    if (p.rank() != 2 || (p.dim(0) != l.B && p.dim(0) != 1) || (p.dim(1) != l.S && p.dim(1) != 1))
      c.fail("position_ids " + shape_str(p.shape()) + " must be (batch, seq) = (" + std::to_string(l.B) + ", " + std::to_string(l.S) + ")");
  } else if (cs.rank() != 3 || (cs.dim(0) != l.B && cs.dim(0) != 1) || (cs.dim(1) != l.S && cs.dim(1) != 1)) {
    c.fail("without position_ids, cos_cache must be (batch, seq, rot / 2), got " + shape_str(cs.shape()));
  }
}

void rotary_embedding(KernelContext& c) {
  const RopeLayout l = onnx_layout(c);
  const Tensor& cache_c = c.in(1);
  const Tensor& cache_s = c.in(2);
  std::vector<float> cs, sn;
  if (c.has(3)) {
    const Tensor& p = c.in(3);
    const auto pv = p.to_int64s();
    auto pos = [&](int64_t b, int64_t s) { return pv[(p.dim(0) == 1 ? 0 : b) * p.dim(1) + (p.dim(1) == 1 ? 0 : s)]; };
    cs = gather_rows(c, cache_c, l, pos, "cos_cache");
    sn = gather_rows(c, cache_s, l, pos, "sin_cache");
  } else {
    const int64_t h = l.rot / 2;
    const auto cv = cache_c.to_floats(), sv = cache_s.to_floats();
    cs.resize(static_cast<size_t>(l.B * l.S * h));
    sn.resize(cs.size());
    for (int64_t b = 0; b < l.B; ++b)
      for (int64_t s = 0; s < l.S; ++s)
        for (int64_t i = 0; i < h; ++i) {
          const int64_t src = ((cache_c.dim(0) == 1 ? 0 : b) * cache_c.dim(1) + (cache_c.dim(1) == 1 ? 0 : s)) * h + i;
          cs[(b * l.S + s) * h + i] = cv[src];
          sn[(b * l.S + s) * h + i] = sv[src];
        }
  }
  run_rope(c, l, cs, sn);
}

// ------------------------------------------------------------------ com.microsoft RotaryEmbedding

RopeLayout contrib_layout(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& cs = c.in(2);
  if (cs.rank() != 2) c.fail("cos_cache must be 2-D (max_sequence_length, rot / 2), got " + shape_str(cs.shape()));
  RopeLayout l;
  l.interleaved = attr_int(c.node, "interleaved", 0) != 0;
  const int64_t rd = attr_int(c.node, "rotary_embedding_dim", 0);
  int64_t nh = attr_int(c.node, "num_heads", 0);
  if (x.rank() == 4) {
    l.B = x.dim(0); l.H = x.dim(1); l.S = x.dim(2); l.D = x.dim(3);
    l.heads_first = true;
  } else if (x.rank() == 3) {
    l.B = x.dim(0); l.S = x.dim(1);
    if (nh <= 0) {
      if (rd > 0) c.fail("attribute 'num_heads' is required with 'rotary_embedding_dim'");
      const int64_t head = 2 * cs.dim(1);
      if (head <= 0 || x.dim(2) % head != 0) c.fail("cos_cache's width does not divide the hidden size " + std::to_string(x.dim(2)));
      nh = x.dim(2) / head;
    }
    if (x.dim(2) % nh != 0) c.fail("attribute 'num_heads': " + std::to_string(nh) + " does not divide the hidden size");
    l.H = nh;
    l.D = x.dim(2) / nh;
    l.heads_first = false;
  } else {
    c.fail("input must be 3-D or 4-D, got " + shape_str(x.shape()));
  }
  l.rot = rd == 0 ? l.D : rd;
  if (l.rot < 0 || l.rot > l.D || l.rot % 2 != 0)
    c.fail("attribute 'rotary_embedding_dim': " + std::to_string(rd) + " must be even and at most the head size");
  if (cs.dim(1) != l.rot / 2) c.fail("cos_cache's width must be rot / 2 = " + std::to_string(l.rot / 2));
  return l;
}

void validate_rotary_embedding_contrib(KernelContext& c) {
  for (int i : {0, 2, 3})
    if (c.has(i) && !rope_type(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(1) && c.in(1).dtype() != DType::kInt64) c.fail_dtype(1, c.in(1).dtype());
  if (!c.has(0) || !c.has(1) || !c.has(2) || !c.has(3)) return;
  const RopeLayout l = contrib_layout(c);
  if (c.in(3).shape() != c.in(2).shape()) c.fail("cos_cache and sin_cache differ in shape");
  const Tensor& p = c.in(1);
  if (!(p.numel() == 1 && p.rank() <= 1) && !(p.rank() == 2 && p.dim(0) == l.B && p.dim(1) == l.S))
    c.fail("position_ids " + shape_str(p.shape()) + " must be (1) or (batch, seq)");
}

void rotary_embedding_contrib(KernelContext& c) {
  const RopeLayout l = contrib_layout(c);
  const Tensor& p = c.in(1);
  const auto pv = p.to_int64s();
  const bool offset = p.numel() == 1 && p.rank() <= 1;
  auto pos = [&](int64_t b, int64_t s) { return offset ? pv[0] + s : pv[b * l.S + s]; };
  auto check = [&](int64_t b, int64_t s) {
    const int64_t v = pos(b, s);
    if (v < 0) c.fail("position_ids value " + std::to_string(v) + " is negative");
    return v;
  };
  const auto cs = gather_rows(c, c.in(2), l, check, "cos_cache");
  const auto sn = gather_rows(c, c.in(3), l, check, "sin_cache");
  run_rope(c, l, cs, sn);
}

}  // namespace

void register_rotary_embedding_ops(OpRegistry& r) {
  r.add("", "RotaryEmbedding", {23}, OpDef{rotary_embedding, nullptr, validate_rotary_embedding});
  r.add("com.microsoft", "RotaryEmbedding", {1}, OpDef{rotary_embedding_contrib, nullptr, validate_rotary_embedding_contrib});
}

}  // namespace qtool
