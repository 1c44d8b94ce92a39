// SPDX-License-Identifier: Apache-2.0
// qtool.QLookup (internal op, since 1): what the executor runs for
//   DequantizeLinear(x_q, scalar scale, zero point) -> pointwise float op -> QuantizeLinear(scalar)
// after the compile-time rewrite in runtime/qdq_lookup_fusion.cpp (never written to a file): an
// 8-bit code has 256 values, so the chain is a table computed once from the same kernels
// (onnxruntime's QLinearSigmoid / QLinearLeakyRelu are such tables too).
// Inputs: 0 x (uint8/int8, any shape), 1 table (1-D, 256 codes of the output type: entry i is
// the result for the code lowest(x's type) + i). Output: y = table[x - lowest], x's shape.
//   reference: plain loop.
//   fast: 64 lookups at a time with AVX-512 VBMI (vpermi2b) where the CPU has it, split across
//         the OpenMP threads; layout-aware: a dense runtime layout
//         (an integer convolution's nhwc output) is kept when the output type is x's type.
#include <immintrin.h>

#include <cstdint>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/elementwise_common.h"
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

void look_up(const uint8_t* x, int offset, const uint8_t* table, uint8_t* y, int64_t lo, int64_t hi) {
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw");
  if (vbmi) look_up_vbmi(x, offset, table, y, lo, hi);
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

}  // namespace

void register_qlookup_ops(OpRegistry& r) {
  r.add("qtool", "QLookup", {1}, OpDef{reference, fast, validate, /*layout_aware=*/true, /*foldable=*/true});
}

}  // namespace qtool
