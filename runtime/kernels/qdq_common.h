// SPDX-License-Identifier: Apache-2.0
// What the integer kernels the executor makes from QDQ patterns share (qtool.QDQConv,
// qtool.QDQMatMul; QLinearConv / ConvInteger use has_vnni too): the VNNI check for exact oneDNN
// int8 accumulation, oneDNN types of codes, onnxruntime's requantization multipliers and the
// reference requantization of int32 accumulators.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/quant_common.h"

namespace qtool::qdq {

// oneDNN's integer kernels are exact for any weights only with VNNI (without it, u8 x s8 pairs go
// through vpmaddubsw, which saturates at int16: pairs_fit_int16 below).
inline bool has_vnni() {
  static const bool yes = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    return (isa & static_cast<unsigned>(dnnl_cpu_isa_avx512_core_vnni & ~dnnl_cpu_isa_avx512_core)) != 0 ||
           (isa & static_cast<unsigned>(dnnl_cpu_isa_avx2_vnni & ~dnnl_cpu_isa_avx2)) != 0;
  }();
  return yes;
}

// Without VNNI, oneDNN's integer kernels (AVX2 / AVX-512 without VNNI) multiply uint8 source codes
// by int8 weights with vpmaddubsw, which adds the products of each pair of adjacent K elements
// (k, k + 1), k even, into a saturating int16: the convolution's K pairs are input channels
// (2j, 2j + 1) of one kernel position (blocked weight layouts, 4 input channels innermost), the
// matmul's consecutive rows of B. With |w_k| + |w_k+1| <= 128 every pair stays within
// 255 * 128 = 32640 <= 32767 and the int32 accumulators are exact. oneDNN's convolutions run int8
// sources (signed input) there with weights halved ("scale_adjust" 0.5), which rounds odd weights:
// QDQConv hands them over as uint8 codes x + 128 (its matmul shifts int8 rows itself, exactly). Measured with oneDNN 2.6 on an AVX2 EPYC (jit_uni_int8 / jit_uni_int8_1x1
// convolutions, gemm:jit matmul): exact for pair-safe weights, wrong in most outputs otherwise or
// with odd-aligned pairs; depthwise kernels (one input channel per group) have no pairs.
// w: int8 [outer, k, inner] (row major); true when every pair (o, 2j..2j+1, i) sums to <= 128 in
// magnitude. qtool's own files satisfy it (quant/overflow_fix.h, --overflow-fix pairs).
inline bool pairs_fit_int16(const int8_t* w, int64_t outer, int64_t k, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t kk = 0; kk + 1 < k; kk += 2) {
      const int8_t* a = w + (o * k + kk) * inner;
      const int8_t* b = a + inner;
      for (int64_t i = 0; i < inner; ++i)
        if (std::abs(static_cast<int>(a[i])) + std::abs(static_cast<int>(b[i])) > 128) return false;
    }
  return true;
}

// The oneDNN implementations whose pair order pairs_fit_int16 describes (checked by name: a
// gemm-based convolution would pair im2col columns, the reference kernels are exact but slow).
inline bool pairs_order_known(const char* impl, bool convolution) {
  const std::string name = impl ? impl : "";
  if (convolution) return name.rfind("jit_uni_int8", 0) == 0 || name.rfind("jit_int8", 0) == 0;
  return name == "gemm:jit";
}

// u8 / s8 / s32 for the code types, f32 otherwise.
inline dnnl::memory::data_type dnnl_type(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::kUInt8: return dt::u8;
    case DType::kInt8: return dt::s8;
    case DType::kInt32: return dt::s32;
    default: return dt::f32;
  }
}

// Input i as a scalar integer (0 when absent).
inline int32_t scalar_int(const KernelContext& c, int i) {
  return c.has(i) ? static_cast<int32_t>(c.in(i).to_int64s()[0]) : 0;
}

// Per output channel / column o < count: the float32 multiplier of acc + bias, computed in float32
// as onnxruntime does: x_scale * w_scale[o] / y_scale (quantized output, y_scale input given), or
// x_scale * w_scale[o] (float output). w_scale: scalar or [count].
inline std::vector<float> multipliers(const KernelContext& c, int x_scale, int w_scale, int y_scale, int64_t count) {
  const float xs = c.in(x_scale).to_floats()[0];
  const auto ws = c.in(w_scale).to_floats();
  const bool q = c.has(y_scale);
  const float ys = q ? c.in(y_scale).to_floats()[0] : 1.f;
  std::vector<float> m(static_cast<size_t>(count));
  for (int64_t o = 0; o < count; ++o) {
    const float w = ws.size() == 1 ? ws[0] : ws[o];
    m[o] = q ? xs * w / ys : xs * w;
  }
  return m;
}

// float32(acc + bias) * multiplier, acc + bias wrapping in int32 as the integer kernels do.
inline float requantized(int32_t acc, int32_t bias, float multiplier) {
  return static_cast<float>(static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(bias))) *
         multiplier;
}

// The codes of value v (already multiplied) in TY with zero point zp: saturate(round_half_even(v)) + zp.
template <typename TY>
inline TY quantized(float v, int32_t zp) {
  const float lo = static_cast<float>(std::numeric_limits<TY>::min() - zp);
  const float hi = static_cast<float>(std::numeric_limits<TY>::max() - zp);
  return static_cast<TY>(round_saturate_f(v, lo, hi, zp));
}

// Without VNNI the integer kernels take their accumulators from oneDNN's float32 kernels on
// x - x_zero_point and the integer weights: exact while max|x - x_zp| * widest < 2^24, widest being
// the largest sum of |w| over one output channel / column (every partial sum is then an exact
// float32 integer, in any summation order).
inline bool float_sums_exact(DType x_type, int32_t x_zp, double widest) {
  const int64_t lo = x_type == DType::kUInt8 ? 0 : -128, hi = x_type == DType::kUInt8 ? 255 : 127;
  return static_cast<double>(std::max<int64_t>(hi - x_zp, x_zp - lo)) * widest < 16777216.0;
}

// out[i] = x[i] - zp as float32 (x uint8 / int8, plain).
inline void shifted_codes(const Tensor& x, int32_t zp, float* out) {
  const int64_t n = x.numel();
  auto run = [&](const auto* p) {
#pragma omp parallel for schedule(static) if (n >= (int64_t{1} << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int32_t>(p[i]) - zp);
  };
  if (x.dtype() == DType::kUInt8) run(x.data<uint8_t>());
  else run(x.data<int8_t>());
}

// acc[k] = sums[k] (exact integers held in float32).
inline void sums_to_int32(const float* sums, int64_t n, int32_t* acc) {
#pragma omp parallel for schedule(static) if (n >= (int64_t{1} << 16))
  for (int64_t k = 0; k < n; ++k) acc[k] = static_cast<int32_t>(sums[k]);
}

}  // namespace qtool::qdq
