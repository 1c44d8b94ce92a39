// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the quantization kernels of the matmul/quantize family (quantize.cpp,
// matmul_integer.cpp, qlinear.cpp): integer ranges of the quantized types, the saturating
// round-half-to-even of ONNX QuantizeLinear (y = saturate(round(x / scale) + zero_point)), and the
// per-tensor / per-axis / blocked layout of scales and zero points (ONNX QuantizeLinear-21).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace qtool {

struct IntRange {
  int64_t lo = 0, hi = 0;
};

// Range of an integer quantized type (uint8, int8, uint16, int16, uint4, int4, uint2, int2, int32,
// uint32); false for other types.
inline bool quant_int_range(DType t, IntRange* r) {
  switch (t) {
    case DType::kUInt8: *r = {0, 255}; return true;
    case DType::kInt8: *r = {-128, 127}; return true;
    case DType::kUInt16: *r = {0, 65535}; return true;
    case DType::kInt16: *r = {-32768, 32767}; return true;
    case DType::kUInt4: *r = {0, 15}; return true;
    case DType::kInt4: *r = {-8, 7}; return true;
    case DType::kUInt2: *r = {0, 3}; return true;
    case DType::kInt2: *r = {-2, 1}; return true;
    case DType::kInt32: *r = {INT32_MIN, INT32_MAX}; return true;
    case DType::kUInt32: *r = {0, UINT32_MAX}; return true;
    default: return false;
  }
}

// round_half_to_even(q) + zp saturated to r; NaN gives r.lo (as onnxruntime's MLAS kernels and
// numpy's clip(int32(NaN)) in onnx's reference do).
inline int64_t round_saturate(double q, int64_t zp, const IntRange& r) {
  if (std::isnan(q)) return r.lo;
  const double v = std::nearbyint(q) + static_cast<double>(zp);  // default FP environment: ties to even
  if (v <= static_cast<double>(r.lo)) return r.lo;
  if (v >= static_cast<double>(r.hi)) return r.hi;
  return static_cast<int64_t>(v);
}

// Rounds q (float, |q| small after clamping) half to even the way MLAS does: clamp to
// [lo - zp, hi - zp] in float first (NaN -> lo - zp), then add and subtract 1.5 * 2^23.
// Equal to round_saturate for every float q; used by the vectorizable fast loops (always inlined,
// so the AVX-512 / AVX2 clones of those loops vectorize it too).
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline int32_t round_saturate_f(float q, float lo_minus_zp, float hi_minus_zp, int32_t zp) {
  q = q >= lo_minus_zp ? q : lo_minus_zp;
  q = q <= hi_minus_zp ? q : hi_minus_zp;
  constexpr float magic = 12582912.f;  // exact without -ffast-math (the build never sets it)
  return static_cast<int32_t>((q + magic) - magic) + zp;
}

// Where the scale / zero point of element (outer o, axis index ch, inner i) is:
//   per-tensor: one value; per-axis: index ch; blocked: (o, ch / block, i) in a tensor shaped like x
//   with ceil(x.dim(axis) / block) along axis.
struct QuantLayout {
  enum Kind { kTensor, kAxis, kBlocked } kind = kTensor;
  int64_t outer = 1, channels = 1, inner = 1, block = 1;
  int64_t blocks() const { return (channels + block - 1) / block; }
  int64_t index(int64_t o, int64_t ch, int64_t i) const {
    switch (kind) {
      case kTensor: return 0;
      case kAxis: return ch;
      default: return (o * blocks() + ch / block) * inner + i;
    }
  }
};

// Layout of `scale` for input shape `x`: per-tensor when it has one value (any block_size),
// per-axis for a 1-D scale of x.dim(axis) values, blocked when block_size > 0 (scale of x's rank,
// ceil(x.dim(axis) / block_size) along axis, x's extents elsewhere). fail()s naming the attributes.
inline QuantLayout quant_layout(const KernelContext& c, const Shape& x, const Shape& scale, int64_t axis_attr,
                                int64_t block_size) {
  QuantLayout l;
  const int rank = static_cast<int>(x.size());
  if (block_size < 0) c.fail("attribute 'block_size': must be >= 0, got " + std::to_string(block_size));
  const int64_t n = shape_numel(scale);
  if (n == 1) {  // one value: per-tensor (onnx's reference takes it so with or without block_size)
    l.inner = shape_numel(x);
    return l;
  }
  if (rank == 0) c.fail("scale " + shape_str(scale) + " needs per-tensor quantization for a scalar input");
  if (axis_attr < -rank || axis_attr >= rank)
    c.fail("attribute 'axis': " + std::to_string(axis_attr) + " is out of range for input rank " +
           std::to_string(rank));
  const int axis = static_cast<int>(axis_attr < 0 ? axis_attr + rank : axis_attr);
  for (int d = 0; d < axis; ++d) l.outer *= x[d];
  l.channels = x[axis];
  for (int d = axis + 1; d < rank; ++d) l.inner *= x[d];
  if (block_size == 0) {
    if (scale.size() != 1 || scale[0] != x[axis])
      c.fail("scale " + shape_str(scale) + " is neither a scalar nor a 1-D tensor of input " + shape_str(x) +
             "'s extent along attribute 'axis' = " + std::to_string(axis));
    l.kind = QuantLayout::kAxis;
    return l;
  }
  bool ok = static_cast<int>(scale.size()) == rank;
  for (int d = 0; ok && d < rank; ++d)
    ok = d == axis ? scale[d] == (x[d] + block_size - 1) / block_size : scale[d] == x[d];
  if (!ok)
    c.fail("attribute 'block_size': scale " + shape_str(scale) + " does not block input " + shape_str(x) +
           " along axis " + std::to_string(axis) + " with block_size " + std::to_string(block_size) +
           " (expected ceil(" + std::to_string(x[axis]) + " / " + std::to_string(block_size) + ") there and " +
           "the input's extents elsewhere)");
  l.kind = QuantLayout::kBlocked;
  l.block = block_size;
  return l;
}

// Values of a scalar-or-vector parameter tensor as doubles (exact for every dtype qtool holds).
inline std::vector<double> param_values(const Tensor& t) { return t.to_doubles(); }

}  // namespace qtool
