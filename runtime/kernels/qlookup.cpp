// SPDX-License-Identifier: Apache-2.0
// qtool.QLookup (internal op, since 1): what the executor runs for
//   DequantizeLinear(x_q, scalar scale, zero point) -> pointwise float op -> QuantizeLinear(scalar)
// after the compile-time rewrite in runtime/qdq_lookup_fusion.cpp (never written to a file): an
// 8-bit code has 256 values, so the chain is a table computed once from the same kernels
// (onnxruntime's QLinearSigmoid / QLinearLeakyRelu are such tables too).
// Inputs: 0 x (uint8/int8, any shape), 1 table (1-D, 256 codes of the output type: entry i is
// the result for the code lowest(x's type) + i). Output: y = table[x - lowest], x's shape.
//
// qtool.QLookup2 (internal op, since 1): the same for a pointwise op of two DequantizeLinear
// results (Mul, Add, ... of two quantized tensors: onnxruntime's QLinearMul / QLinearAdd), with
// numpy broadcasting. Inputs: 0 a, 1 b (uint8/int8), 2 table (2 x 256 x 256 codes of the output
// type: entry (0, i, j) is the result for codes lowest(a) + i and lowest(b) + j, and entry (1, j, i)
// the same value, so that a row of either operand's codes is contiguous). Output: the broadcast
// shape of a and b.
//   reference: plain loop.
//   fast: 64 lookups at a time with AVX-512 VBMI (vpermi2b) where the CPU has it, 32 with AVX2
//         (vpshufb over the table's 16 rows), split across
//         the OpenMP threads; layout-aware: a dense runtime layout
//         (an integer convolution's nhwc output) is kept when the output type is x's type.
#include <immintrin.h>

#include <array>
#include <cstdint>

#include "runtime/broadcast.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/elementwise_common.h"
#include "runtime/kernels/layout_broadcast.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

bool is_q8(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

void validate(KernelContext& c) {
  if (c.has(0) && !is_q8(c.in(0).dtype())) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(1)) {
    const Tensor& t = c.in(1);
    if (!is_q8(t.dtype())) c.fail_dtype(1, t.dtype());
    if (t.rank() != 1 || t.dim(0) != 256) c.fail("table must have 256 entries, got " + shape_str(t.shape()));
  }
}

// y[i] = table[x[i] + offset] over [lo, hi) (offset 128 for int8 codes, 0 for uint8).
void look_up_plain(const uint8_t* x, int offset, const uint8_t* table, uint8_t* y, int64_t lo, int64_t hi) {
  if (offset == 0) {
    for (int64_t i = lo; i < hi; ++i) y[i] = table[x[i]];
  } else {
    for (int64_t i = lo; i < hi; ++i) y[i] = table[static_cast<uint8_t>(x[i] + 128)];
  }
}

// AVX-512 VBMI: 64 lookups per step, two 128-entry permutes (vpermi2b) chosen by the index's top
// bit; the tail through the plain loop.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void look_up_vbmi(const uint8_t* x, int offset,
                                                                      const uint8_t* table, uint8_t* y, int64_t lo,
                                                                      int64_t hi) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(offset));  // +128 == xor 0x80 on 8 bits
  int64_t i = lo;
  for (; i + 64 <= hi; i += 64) {
    const __m512i idx = _mm512_xor_si512(_mm512_loadu_si512(x + i), flip);
    const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1), high = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
  }
  look_up_plain(x, offset, table, y, i, hi);
}

// AVX2: 32 lookups per step. The table as 16 rows of 16 codes (each broadcast to both lanes);
// vpshufb picks entry (index & 15) of every row, and the row whose number is index >> 4 is kept
// (a byte compare and blend per row); the tail through the plain loop.
__attribute__((target("avx2"))) void look_up_avx2(const uint8_t* x, int offset, const uint8_t* table, uint8_t* y,
                                                 int64_t lo, int64_t hi) {
  __m256i rows[16];
  for (int k = 0; k < 16; ++k)
    rows[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * k)));
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(offset));
  const __m256i low_nibble = _mm256_set1_epi8(0x0F);
  int64_t i = lo;
  for (; i + 32 <= hi; i += 32) {
    const __m256i idx = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), flip);
    const __m256i col = _mm256_and_si256(idx, low_nibble);
    const __m256i row = _mm256_and_si256(_mm256_srli_epi16(idx, 4), low_nibble);
    __m256i r = _mm256_shuffle_epi8(rows[0], col);
    for (int k = 1; k < 16; ++k)
      r = _mm256_blendv_epi8(r, _mm256_shuffle_epi8(rows[k], col), _mm256_cmpeq_epi8(row, _mm256_set1_epi8(static_cast<char>(k))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), r);
  }
  look_up_plain(x, offset, table, y, i, hi);
}

void look_up(const uint8_t* x, int offset, const uint8_t* table, uint8_t* y, int64_t lo, int64_t hi) {
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw");
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (vbmi) look_up_vbmi(x, offset, table, y, lo, hi);
  else if (avx2) look_up_avx2(x, offset, table, y, lo, hi);
  else look_up_plain(x, offset, table, y, lo, hi);
}

Tensor looked_up(const Tensor& x, const Tensor& table) {
  Tensor y = Tensor::uninitialized(table.dtype(), x.shape());
  const auto* px = static_cast<const uint8_t*>(x.raw());
  const auto* pt = static_cast<const uint8_t*>(table.raw());
  auto* py = static_cast<uint8_t*>(y.raw());
  const int offset = x.dtype() == DType::kInt8 ? 128 : 0;
  ew::parallel_chunks(x.numel(), ew::kParallelGrain * 4, [&](int64_t lo, int64_t hi) { look_up(px, offset, pt, py, lo, hi); });
  return y;
}

void reference(KernelContext& c) {
  if (!c.has(0) || !c.has(1)) c.fail("x and table are required");
  const Tensor x = to_plain(c.in(0)), table = to_plain(c.in(1));
  Tensor y = Tensor::uninitialized(table.dtype(), x.shape());
  look_up_plain(static_cast<const uint8_t*>(x.raw()), x.dtype() == DType::kInt8 ? 128 : 0,
                static_cast<const uint8_t*>(table.raw()), static_cast<uint8_t*>(y.raw()), 0, x.numel());
  c.outputs[0] = std::move(y);
}

bool fast(KernelContext& c) {
  if (!c.has(0) || !c.has(1)) return false;
  const Tensor& x = c.in(0);
  const Tensor& table = c.in(1);
  if (table.layout()) return false;
  if (x.layout() && x.has_dense_layout() && x.dtype() == table.dtype()) {
    Tensor y = looked_up(x.dense_storage(), table).relabelled(x.shared_layout());
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
    return true;
  }
  c.outputs[0] = looked_up(to_plain(x), table);
  return true;
}

// ---- QLookup2

void validate2(KernelContext& c) {
  for (int i : {0, 1})
    if (c.has(i) && !is_q8(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(2)) {
    const Tensor& t = c.in(2);
    if (!is_q8(t.dtype())) c.fail_dtype(2, t.dtype());
    if (t.rank() != 3 || t.dim(0) != 2 || t.dim(1) != 256 || t.dim(2) != 256)
      c.fail("table must be 2 x 256 x 256, got " + shape_str(t.shape()));
  }
  if (c.has(0) && c.has(1)) broadcast_shape(c.in(0).shape(), c.in(1).shape());
}

// Row index of a code: its byte with int8's sign bit flipped (code - lowest).
inline uint8_t row_of(uint8_t raw, uint8_t flip) { return raw ^ flip; }

// y[j] = table[a[j * sa]][b[j * sb]] for one row (steps 0 or 1), operands' codes made row indices.
void look_up2_run(const uint8_t* a, int64_t sa, uint8_t fa, const uint8_t* b, int64_t sb, uint8_t fb,
                  const uint8_t* t, uint8_t* y, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t j = 0; j < n; ++j) y[j] = t[256 * row_of(a[j], fa) + row_of(b[j], fb)];
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = t[256 * row_of(a[j * sa], fa) + row_of(b[j * sb], fb)];
  }
}

// y = table[a][b] over the broadcast plan; `fast`: rows where one operand is fixed go through the
// 256-entry look_up (a row of the table, or a gathered column), rows split across the threads.
Tensor looked_up2(const Tensor& a, const Tensor& b, const Tensor& table, bool fast) {
  const Shape so = broadcast_shape(a.shape(), b.shape());
  Tensor y = Tensor::uninitialized(table.dtype(), so);
  const BroadcastPlan<2> plan({&a.shape(), &b.shape()}, so);
  if (plan.numel() == 0) return y;
  const auto* pa = static_cast<const uint8_t*>(a.raw());
  const auto* pb = static_cast<const uint8_t*>(b.raw());
  const auto* t = static_cast<const uint8_t*>(table.raw());
  auto* py = static_cast<uint8_t*>(y.raw());
  const uint8_t fa = a.dtype() == DType::kInt8 ? 0x80 : 0, fb = b.dtype() == DType::kInt8 ? 0x80 : 0;
  const int64_t len = plan.row_length(), sa = plan.row_step(0), sb = plan.row_step(1);
  auto row = [&](int64_t oa, int64_t ob, int64_t o) {
    const uint8_t *ra = pa + oa, *rb = pb + ob;
    uint8_t* ry = py + o;
    if (fast && sa == 1 && sb == 0) {  // b fixed: column b of the table, a row of its transpose
      look_up(ra, fa ? 128 : 0, t + 65536 + 256 * row_of(rb[0], fb), ry, 0, len);
    } else if (fast && sa == 0 && sb == 1) {  // a fixed: row a of the table
      look_up(rb, fb ? 128 : 0, t + 256 * row_of(ra[0], fa), ry, 0, len);
    } else {
      look_up2_run(ra, sa, fa, rb, sb, fb, t, ry, len);
    }
  };
  const int64_t rows = plan.rows();
  if (rows == 1 && fast) {  // one long row (same shapes): split it
    ew::parallel_chunks(len, ew::kParallelGrain * 4, [&](int64_t lo, int64_t hi) {
      look_up2_run(pa + lo * sa, sa, fa, pb + lo * sb, sb, fb, t, py + lo, hi - lo);
    });
    return y;
  }
  const int64_t per_chunk = fast ? std::max<int64_t>(1, ew::kParallelGrain * 4 / std::max<int64_t>(len, 1)) : rows;
  ew::parallel_chunks(rows, per_chunk, [&](int64_t lo, int64_t hi) {
    plan.for_each_row(lo, hi, [&](int64_t, int64_t o, const std::array<int64_t, 2>& off) { row(off[0], off[1], o); });
  });
  return y;
}

void reference2(KernelContext& c) {
  if (!c.has(0) || !c.has(1) || !c.has(2)) c.fail("a, b and table are required");
  c.outputs[0] = looked_up2(to_plain(c.in(0)), to_plain(c.in(1)), to_plain(c.in(2)), false);
}

// One operand in a dense strided layout (nhwc), the other plain and broadcast into it
// (runtime/kernels/layout_broadcast.h): the result in the layout. false: not that case.
bool broadcast_on_layout(KernelContext& c, const Tensor& a, const Tensor& b, const Tensor& table) {
  LayoutBroadcast v;
  if (!layout_broadcast_views(a, b, &v) || v.big->dtype() != table.dtype()) return false;
  Tensor y = looked_up2(v.a, v.b, table, true);
  y = y.reshaped(v.big->shape()).relabelled(v.big->shared_layout());
  c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
  return true;
}

// Layout-aware: same-shaped operands of one dense layout (and a result of their type) keep it, so
// does a strided layout with a broadcast plain operand; anything else runs on plain copies.
bool fast2(KernelContext& c) {
  if (!c.has(0) || !c.has(1) || !c.has(2) || c.in(2).layout()) return false;
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const Tensor& table = c.in(2);
  if (one_dense_layout(a, b) && a.dtype() == table.dtype()) {
    Tensor y = looked_up2(a.dense_storage(), b.dense_storage(), table, true).relabelled(a.shared_layout());
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
    return true;
  }
  if ((a.layout() != nullptr) != (b.layout() != nullptr) && broadcast_on_layout(c, a, b, table)) return true;
  c.outputs[0] = looked_up2(to_plain(a), to_plain(b), table, true);
  return true;
}

}  // namespace

void register_qlookup_ops(OpRegistry& r) {
  r.add("qtool", "QLookup", {1}, OpDef{reference, fast, validate, /*layout_aware=*/true, /*foldable=*/true});
  r.add("qtool", "QLookup2", {1}, OpDef{reference2, fast2, validate2, /*layout_aware=*/true, /*foldable=*/true});
}

}  // namespace qtool
