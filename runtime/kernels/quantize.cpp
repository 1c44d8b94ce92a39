// SPDX-License-Identifier: Apache-2.0
// QuantizeLinear / DequantizeLinear (ai.onnx 10, 13, 19, 21, 23, 24, 25, 28 and the com.microsoft
// versions older onnxruntime exports write) and DynamicQuantizeLinear (ai.onnx 11).
// Follows the ONNX specs and onnx's reference implementation (onnx/reference/ops/op_quantize_linear.py,
// op_dequantize_linear.py, op_dynamic_quantize_linear.py):
//   Q:  y = saturate(round_half_even(x / y_scale) + y_zero_point) for integer outputs;
//       y = cast(x / y_scale) (saturating when `saturate`) for float8 outputs (zero point unused);
//       y = cast(x / y_scale + y_zero_point) for float4 / float6 outputs.
//       x / y_scale is a true division in the precision numpy uses for the operand types (float32
//       for float32 operands, float16 for float16 ones, double for int32 x) or the `precision`
//       attribute (23+): never x * (1 / scale), whose rounding differs on ties (onnxruntime divides too).
//   DQ: y = (x - x_zero_point) * x_scale computed in float32, then cast to x_scale's type or
//       `output_dtype` (23+).
// Granularity: per-tensor, per-axis (`axis`, 13+) or blocked (`block_size`, 21+).
// Q and DQ are layout-aware: per tensor they keep a convolution's nhwc layout (on_runtime_layout).
#include <algorithm>
#include <cmath>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/elementwise_common.h"
#include "runtime/kernels/quant_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

bool is_contrib(const KernelContext& c) { return canonical_domain(c.node.domain()) == "com.microsoft"; }
// The ONNX version whose rules apply (the com.microsoft ops follow QuantizeLinear-21 without blocks).
int rule_version(const KernelContext& c) { return is_contrib(c) ? 21 : c.version; }

bool is_float8(DType t) {
  return t == DType::kFloat8E4M3FN || t == DType::kFloat8E4M3FNUZ || t == DType::kFloat8E5M2 ||
         t == DType::kFloat8E5M2FNUZ;
}
bool is_float46(DType t) { return t == DType::kFloat4E2M1 || t == DType::kFloat6E2M3 || t == DType::kFloat6E3M2; }

// Quantized types a version accepts (QuantizeLinear's output, DequantizeLinear's input).
bool quantized_type_allowed(int v, DType t, bool dequantize) {
  switch (t) {
    case DType::kUInt8: case DType::kInt8: return true;
    case DType::kInt32: return dequantize;
    case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ: case DType::kFloat8E5M2: case DType::kFloat8E5M2FNUZ:
      return v >= 19;
    case DType::kUInt16: case DType::kInt16: case DType::kUInt4: case DType::kInt4: return v >= 21;
    case DType::kFloat4E2M1: return v >= 23;
    case DType::kUInt2: case DType::kInt2: return v >= 25;
    case DType::kFloat6E2M3: case DType::kFloat6E3M2: return v >= 28;
    default: return false;
  }
}

bool is_ieee_float(DType t) {
  return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kDouble;
}

// Scale types: float32 (10, 13: also int32, the type x shares), float16 / bfloat16 (19+),
// float8e8m0 (24+).
bool scale_type_allowed(int v, DType t) {
  if (t == DType::kFloat) return true;
  if (t == DType::kInt32) return v < 19 || v >= 23;  // T1 of 10..21 / T2 of 23+ lists int32
  if (t == DType::kFloat16 || t == DType::kBFloat16) return v >= 19;
  if (t == DType::kFloat8E8M0) return v >= 24;
  return false;
}

void check_zero_point(const KernelContext& c, int zp_index) {
  if (!c.has(zp_index) || !c.has(1)) return;
  const Tensor& zp = c.in(zp_index);
  const Tensor& scale = c.in(1);
  if (zp.shape() != scale.shape() && !(zp.numel() == 1 && scale.numel() == 1))
    c.fail("zero point " + shape_str(zp.shape()) + " and scale " + shape_str(scale.shape()) + " differ in shape");
}

// ---------------------------------------------------------------- QuantizeLinear

DType quantize_output_type(const KernelContext& c) {
  const int64_t od = rule_version(c) >= 21 ? attr_int(c.node, "output_dtype", 0) : 0;
  if (c.has(2)) {
    const DType zt = c.in(2).dtype();
    if (od != 0 && od != static_cast<int64_t>(zt))
      c.fail("attribute 'output_dtype' (" + dtype_name(static_cast<DType>(od)) + ") differs from y_zero_point's type " +
             dtype_name(zt));
    return zt;
  }
  if (od < 0 || od > kMaxDTypeValue) c.fail("attribute 'output_dtype': unknown type " + std::to_string(od));
  return od != 0 ? static_cast<DType>(od) : DType::kUInt8;
}

// The type x / y_scale is computed in.
DType division_type(const KernelContext& c, DType x, DType s) {
  if (rule_version(c) >= 23) {
    const int64_t p = attr_int(c.node, "precision", 0);
    if (p != 0) {
      const DType d = static_cast<DType>(p);
      if (!is_ieee_float(d)) c.fail("attribute 'precision': " + std::to_string(p) + " is not a float type");
      return d;
    }
  }
  if (x == DType::kInt32 || s == DType::kInt32) return DType::kDouble;  // numpy: int32 / float -> float64
  if (x == s && is_ieee_float(x)) return x;
  return DType::kFloat;  // mixed float16 / bfloat16 / float32 / float8e8m0: float32
}

void validate_quantize(KernelContext& c) {
  const int v = rule_version(c);
  if (c.has(0)) {
    const DType xt = c.in(0).dtype();
    const bool ok = xt == DType::kFloat || xt == DType::kInt32 || (v >= 19 && (xt == DType::kFloat16 || xt == DType::kBFloat16));
    if (!ok) c.fail_dtype(0, xt);
  }
  if (c.has(1) && !scale_type_allowed(v, c.in(1).dtype())) c.fail_dtype(1, c.in(1).dtype());
  const DType out = quantize_output_type(c);
  if (!quantized_type_allowed(v, out, false))
    c.fail("output type " + dtype_name(out) + " is not a QuantizeLinear-" + std::to_string(v) + " output type");
  if (c.has(0) && c.has(1)) {
    division_type(c, c.in(0).dtype(), c.in(1).dtype());
    quant_layout(c, c.in(0).shape(), c.in(1).shape(), attr_int(c.node, "axis", 1),
                 v >= 21 ? attr_int(c.node, "block_size", 0) : 0);
  }
  check_zero_point(c, 2);
}

// x / s rounded as the division type does it (numpy computes float16 / bfloat16 arithmetic in
// float32 and rounds the result to the type).
template <typename D>
inline double divide_in(double x, double s) {
  if constexpr (std::is_same_v<D, double>) {
    return x / s;
  } else if constexpr (std::is_same_v<D, float>) {
    return static_cast<double>(static_cast<float>(x) / static_cast<float>(s));
  } else {
    const float xd = static_cast<float>(D(static_cast<float>(x))), sd = static_cast<float>(D(static_cast<float>(s)));
    return static_cast<double>(static_cast<float>(D(xd / sd)));
  }
}

template <typename X, typename D>
void quotients(const X* x, const QuantLayout& l, const std::vector<double>& s, double* q) {
  for (int64_t o = 0, k = 0; o < l.outer; ++o)
    for (int64_t ch = 0; ch < l.channels; ++ch)
      for (int64_t i = 0; i < l.inner; ++i, ++k)
        q[k] = divide_in<D>(static_cast<double>(to_compute(x[k])), s[l.index(o, ch, i)]);
}

void quantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  const int v = rule_version(c);
  const DType out = quantize_output_type(c);
  const QuantLayout l = quant_layout(c, x.shape(), scale.shape(), attr_int(c.node, "axis", 1),
                                     v >= 21 ? attr_int(c.node, "block_size", 0) : 0);
  const DType dt = division_type(c, x.dtype(), scale.dtype());
  const bool saturate = attr_int(c.node, "saturate", 1) != 0;
  const std::vector<double> s = param_values(scale);
  const std::vector<double> zp = c.has(2) ? param_values(c.in(2)) : std::vector<double>(s.size(), 0.0);
  const int64_t n = x.numel();
  std::vector<double> q(static_cast<size_t>(n));
  c.dispatch_or_fail<TypeList<float, half, bfloat16, int32_t>>(0, x.dtype(), [&](auto xtag) {
    using X = typename decltype(xtag)::type;
    const X* xp = x.data<X>();
    switch (dt) {
      case DType::kDouble: quotients<X, double>(xp, l, s, q.data()); break;
      case DType::kFloat16: quotients<X, half>(xp, l, s, q.data()); break;
      case DType::kBFloat16: quotients<X, bfloat16>(xp, l, s, q.data()); break;
      default: quotients<X, float>(xp, l, s, q.data()); break;
    }
  });
  Tensor y = Tensor::uninitialized(out, x.shape());
  IntRange range;
  if (quant_int_range(out, &range)) {
    std::vector<int64_t> z(zp.size());
    for (size_t k = 0; k < zp.size(); ++k) z[k] = static_cast<int64_t>(zp[k]);
    dispatch<decltype(IntTypes{} + SubByteIntTypes{})>(out, [&](auto tag) {
      using Q = typename decltype(tag)::type;
      Q* yp = y.data<Q>();
      for (int64_t o = 0, k = 0; o < l.outer; ++o)
        for (int64_t ch = 0; ch < l.channels; ++ch)
          for (int64_t i = 0; i < l.inner; ++i, ++k)
            yp[k] = from_compute<Q>(static_cast<Compute<Q>>(round_saturate(q[k], z[l.index(o, ch, i)], range)));
    });
  } else {
    auto* yp = static_cast<uint8_t*>(y.raw());  // small floats: one code per byte
    const bool add_zp = is_float46(out);
    for (int64_t o = 0, k = 0; o < l.outer; ++o)
      for (int64_t ch = 0; ch < l.channels; ++ch)
        for (int64_t i = 0; i < l.inner; ++i, ++k) {
          const double val = add_zp ? q[k] + zp[l.index(o, ch, i)] : q[k];
          yp[k] = small_float_encode(out, val, saturate || !is_float8(out));
        }
  }
  c.outputs[0] = std::move(y);
}

// One run of float32 -> 8-bit codes with one scale: the hot loop of QDQ models, compiled for
// AVX-512 / AVX2 as well (picked at load time) so the division and rounding run 16 / 8 wide.
// Same division and rounding as the reference, so bit-identical.
template <typename Q>
QTOOL_EW_INLINE inline void quantize_run(const float* x, int64_t n, float sc, float lz, float hz, int32_t z, Q* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<Q>(round_saturate_f(x[i] / sc, lz, hz, z));
}
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math"))) void quantize_run_u8(
    const float* x, int64_t n, float sc, float lz, float hz, int32_t z, uint8_t* y) {
  quantize_run(x, n, sc, lz, hz, z, y);
}
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math"))) void quantize_run_s8(
    const float* x, int64_t n, float sc, float lz, float hz, int32_t z, int8_t* y) {
  quantize_run(x, n, sc, lz, hz, z, y);
}

// float32 -> int8 / uint8 / int16 / uint16 with float32 scales, per-tensor or per-axis: the hot path
// of QDQ models. Bit-identical to the reference (same division, same rounding). 8-bit runs go
// through the vector clones above, split across the OpenMP threads when long.
template <typename Q>
void quantize_f32(const float* x, const QuantLayout& l, const std::vector<double>& s, const std::vector<double>& zp,
                  Q* y) {
  constexpr float lo = static_cast<float>(std::numeric_limits<Q>::min()), hi = static_cast<float>(std::numeric_limits<Q>::max());
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t ch = 0; ch < l.channels; ++ch) {
      const int64_t k = l.kind == QuantLayout::kAxis ? ch : 0;
      const float sc = static_cast<float>(s[k]);
      const int32_t z = static_cast<int32_t>(zp[k]);
      const float lz = lo - static_cast<float>(z), hz = hi - static_cast<float>(z);
      const float* xi = x + (o * l.channels + ch) * l.inner;
      Q* yi = y + (o * l.channels + ch) * l.inner;
      if constexpr (std::is_same_v<Q, uint8_t> || std::is_same_v<Q, int8_t>) {
        ew::parallel_chunks(l.inner, ew::kParallelGrain, [&](int64_t lo, int64_t hi) {
          if constexpr (std::is_same_v<Q, uint8_t>) quantize_run_u8(xi + lo, hi - lo, sc, lz, hz, z, yi + lo);
          else quantize_run_s8(xi + lo, hi - lo, sc, lz, hz, z, yi + lo);
        });
      } else {
        quantize_run(xi, l.inner, sc, lz, hz, z, yi);
      }
    }
}

bool quantize_linear_plain_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  if (x.dtype() != DType::kFloat || scale.dtype() != DType::kFloat) return false;
  const int v = rule_version(c);
  const DType out = quantize_output_type(c);
  if (v >= 23 && attr_int(c.node, "precision", 0) != 0 && attr_int(c.node, "precision", 0) != 1) return false;
  const int64_t block = v >= 21 ? attr_int(c.node, "block_size", 0) : 0;
  const QuantLayout l = quant_layout(c, x.shape(), scale.shape(), attr_int(c.node, "axis", 1), block);
  if (l.kind == QuantLayout::kBlocked) return false;
  const std::vector<double> s = param_values(scale);
  const std::vector<double> zp = c.has(2) ? param_values(c.in(2)) : std::vector<double>(s.size(), 0.0);
  Tensor y = Tensor::uninitialized(out, x.shape());
  switch (out) {
    case DType::kUInt8: quantize_f32(x.data<float>(), l, s, zp, y.data<uint8_t>()); break;
    case DType::kInt8: quantize_f32(x.data<float>(), l, s, zp, y.data<int8_t>()); break;
    case DType::kUInt16: quantize_f32(x.data<float>(), l, s, zp, y.data<uint16_t>()); break;
    case DType::kInt16: quantize_f32(x.data<float>(), l, s, zp, y.data<int16_t>()); break;
    default: return false;
  }
  c.outputs[0] = std::move(y);
  return true;
}

// ---------------------------------------------------------------- DequantizeLinear

DType dequantize_output_type(const KernelContext& c) {
  const DType st = c.in(1).dtype();
  const int64_t od = rule_version(c) >= 23 ? attr_int(c.node, "output_dtype", 0) : 0;
  const DType out = od != 0 ? static_cast<DType>(od) : st;
  if (out != DType::kFloat && out != DType::kFloat16 && out != DType::kBFloat16)
    c.fail(od != 0 ? "attribute 'output_dtype': " + std::to_string(od) + " is not float32, float16 or bfloat16"
                   : "x_scale of type " + dtype_name(st) + " needs attribute 'output_dtype'");
  return out;
}

void validate_dequantize(KernelContext& c) {
  const int v = rule_version(c);
  if (c.has(0) && !quantized_type_allowed(v, c.in(0).dtype(), true)) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(1)) {
    const DType st = c.in(1).dtype();
    if (st != DType::kFloat && !(v >= 19 && (st == DType::kFloat16 || st == DType::kBFloat16)) &&
        !(v >= 24 && st == DType::kFloat8E8M0))
      c.fail_dtype(1, st);
    dequantize_output_type(c);
  }
  if (c.has(0) && c.has(2)) {
    const DType xt = c.in(0).dtype(), zt = c.in(2).dtype();
    if (zt != xt) c.fail("x_zero_point has type " + dtype_name(zt) + ", x has " + dtype_name(xt));
    if (xt == DType::kInt32) {
      for (int64_t z : c.in(2).to_int64s())
        if (z != 0) c.fail("int32 input takes no zero point (it must be 0)");
    }
    if (is_float8(xt)) {
      for (double z : c.in(2).to_doubles())
        if (z != 0.0) c.fail("x_zero_point must be 0 for float8 input");
    }
  }
  if (c.has(0) && c.has(1))
    quant_layout(c, c.in(0).shape(), c.in(1).shape(), attr_int(c.node, "axis", 1),
                 v >= 21 ? attr_int(c.node, "block_size", 0) : 0);
  check_zero_point(c, 2);
}

template <typename Out, typename X>
void dequantize_to(const X* x, const QuantLayout& l, const std::vector<float>& s, const std::vector<double>& zp,
                   bool use_zp, Out* y) {
  for (int64_t o = 0, k = 0; o < l.outer; ++o)
    for (int64_t ch = 0; ch < l.channels; ++ch)
      for (int64_t i = 0; i < l.inner; ++i, ++k) {
        const int64_t p = l.index(o, ch, i);
        float dx;
        if constexpr (std::is_floating_point_v<Compute<X>>) {
          const float xv = to_compute(x[k]);
          dx = use_zp ? static_cast<float>(static_cast<double>(xv) - zp[p]) : xv;
        } else {
          dx = static_cast<float>(static_cast<int64_t>(to_compute(x[k])) - static_cast<int64_t>(zp[p]));
        }
        y[k] = from_compute<Out>(dx * s[p]);
      }
}

void dequantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  const int v = rule_version(c);
  const DType out = dequantize_output_type(c);
  const QuantLayout l = quant_layout(c, x.shape(), scale.shape(), attr_int(c.node, "axis", 1),
                                     v >= 21 ? attr_int(c.node, "block_size", 0) : 0);
  const std::vector<float> s = scale.to_floats();
  const std::vector<double> zp = c.has(2) ? param_values(c.in(2)) : std::vector<double>(s.size(), 0.0);
  // float8 and float4 codes take no zero point (onnx's reference ignores it); float6 subtracts it
  const bool use_zp = c.has(2) && !is_float8(x.dtype()) && x.dtype() != DType::kFloat4E2M1;
  Tensor y = Tensor::uninitialized(out, x.shape());
  c.dispatch_or_fail<decltype(IntTypes{} + SubByteIntTypes{} + SmallFloatTypes{})>(0, x.dtype(), [&](auto xtag) {
    using X = typename decltype(xtag)::type;
    dispatch<TypeList<float, half, bfloat16>>(out, [&](auto otag) {
      using Out = typename decltype(otag)::type;
      dequantize_to(x.data<X>(), l, s, zp, use_zp, y.data<Out>());
    });
  });
  c.outputs[0] = std::move(y);
}

// One run of 8-bit codes -> float32 with one scale, vector clones as for quantize_run_u8.
template <typename X>
QTOOL_EW_INLINE inline void dequantize_run(const X* x, int64_t n, float sc, int32_t z, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - z) * sc;
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void dequantize_run_u8(const uint8_t* x, int64_t n,
                                                                                       float sc, int32_t z, float* y) {
  dequantize_run(x, n, sc, z, y);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void dequantize_run_s8(const int8_t* x, int64_t n,
                                                                                       float sc, int32_t z, float* y) {
  dequantize_run(x, n, sc, z, y);
}

// uint8 / int8 -> float32 with float32 scales, per-tensor or per-axis.
template <typename X>
void dequantize_8bit(const X* x, const QuantLayout& l, const std::vector<float>& s, const std::vector<double>& zp,
                     float* y) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t ch = 0; ch < l.channels; ++ch) {
      const int64_t k = l.kind == QuantLayout::kAxis ? ch : 0;
      const float sc = s[k];
      const int32_t z = static_cast<int32_t>(zp[k]);
      const X* xi = x + (o * l.channels + ch) * l.inner;
      float* yi = y + (o * l.channels + ch) * l.inner;
      ew::parallel_chunks(l.inner, ew::kParallelGrain, [&](int64_t lo, int64_t hi) {
        if constexpr (std::is_same_v<X, uint8_t>) dequantize_run_u8(xi + lo, hi - lo, sc, z, yi + lo);
        else dequantize_run_s8(xi + lo, hi - lo, sc, z, yi + lo);
      });
    }
}

bool dequantize_linear_plain_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  if ((x.dtype() != DType::kUInt8 && x.dtype() != DType::kInt8) || scale.dtype() != DType::kFloat) return false;
  if (dequantize_output_type(c) != DType::kFloat) return false;
  const int v = rule_version(c);
  const QuantLayout l = quant_layout(c, x.shape(), scale.shape(), attr_int(c.node, "axis", 1),
                                     v >= 21 ? attr_int(c.node, "block_size", 0) : 0);
  if (l.kind == QuantLayout::kBlocked) return false;
  const std::vector<float> s = scale.to_floats();
  const std::vector<double> zp = c.has(2) ? param_values(c.in(2)) : std::vector<double>(s.size(), 0.0);
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  if (x.dtype() == DType::kUInt8) dequantize_8bit(x.data<uint8_t>(), l, s, zp, y.data<float>());
  else dequantize_8bit(x.data<int8_t>(), l, s, zp, y.data<float>());
  c.outputs[0] = std::move(y);
  return true;
}

// Layout-aware Q / DQ (OpRegistry): x in a runtime layout. Per tensor, from a dense strided layout
// (a convolution's nhwc), the kernel runs on x's storage and the result keeps the layout for its
// own element type, so integer and float convolutions pass nhwc through QDQ pairs; otherwise on a
// plain copy. The plain kernels (fast, else reference) do the work in both cases.
bool on_runtime_layout(KernelContext& c, DType out_type, bool (*plain_fast)(KernelContext&), void (*reference)(KernelContext&)) {
  const Tensor& x = c.in(0);
  const bool per_tensor = c.has(1) && c.in(1).numel() == 1;
  const std::shared_ptr<const Layout> out_layout = per_tensor ? strided_layout_as(x, out_type) : nullptr;
  const Value storage = out_layout ? x.dense_storage() : to_plain(x);
  const Value* given = c.inputs[0];
  c.inputs[0] = &storage;
  if (!plain_fast(c)) {
    for (auto& o : c.outputs) o = Value();
    reference(c);
  }
  c.inputs[0] = given;
  if (out_layout) {
    Tensor y = c.outputs[0].tensor().relabelled(out_layout);
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
  }
  return true;
}

bool quantize_linear_fast(KernelContext& c) {
  if (c.has(0) && c.value(0).is_tensor() && c.in(0).layout())
    return on_runtime_layout(c, quantize_output_type(c), quantize_linear_plain_fast, quantize_linear);
  return quantize_linear_plain_fast(c);
}

bool dequantize_linear_fast(KernelContext& c) {
  if (c.has(0) && c.value(0).is_tensor() && c.in(0).layout())
    return on_runtime_layout(c, dequantize_output_type(c), dequantize_linear_plain_fast, dequantize_linear);
  return dequantize_linear_plain_fast(c);
}

// ---------------------------------------------------------------- DynamicQuantizeLinear

void validate_dynamic_quantize(KernelContext& c) {
  if (c.has(0) && c.in(0).dtype() != DType::kFloat) c.fail_dtype(0, c.in(0).dtype());
}

// y_scale = (max(0, max(x)) - min(0, min(x))) / 255 (1 / 255 when that range is 0, as onnx's
// reference), y_zero_point = round_half_even(clamp(0 - min / y_scale, 0, 255)),
// y = saturate(round_half_even(x / y_scale) + y_zero_point). NaNs are left out of min / max
// (as onnxruntime does) and quantize to 0.
void dynamic_quantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  const float* xp = x.data<float>();
  const int64_t n = x.numel();
  float mx = 0.f, mn = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    mx = xp[i] > mx ? xp[i] : mx;
    mn = xp[i] < mn ? xp[i] : mn;
  }
  const float scale = (mx == mn ? 1.f : mx - mn) / 255.f;
  const float initial_zp = 0.f - mn / scale;
  const float zp = std::nearbyint(std::min(255.f, std::max(0.f, initial_zp)));
  Tensor y = Tensor::uninitialized(DType::kUInt8, x.shape());
  uint8_t* yp = y.data<uint8_t>();
  const int32_t z = static_cast<int32_t>(zp);
  const float lz = 0.f - zp, hz = 255.f - zp;
  for (int64_t i = 0; i < n; ++i) yp[i] = static_cast<uint8_t>(round_saturate_f(xp[i] / scale, lz, hz, z));
  c.outputs[0] = std::move(y);
  if (c.outputs.size() > 1) c.outputs[1] = Tensor::from<float>({}, {scale});
  if (c.outputs.size() > 2) c.outputs[2] = Tensor::from<uint8_t>({}, {static_cast<uint8_t>(z)});
}

}  // namespace

void register_quantize_ops(OpRegistry& r) {
  const OpDef q{quantize_linear, quantize_linear_fast, validate_quantize, /*layout_aware=*/true};
  const OpDef dq{dequantize_linear, dequantize_linear_fast, validate_dequantize, /*layout_aware=*/true};
  r.add("", "QuantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, q);
  r.add("", "DequantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, dq);
  r.add("com.microsoft", "QuantizeLinear", {1}, q);
  r.add("com.microsoft", "DequantizeLinear", {1}, dq);
  r.add("", "DynamicQuantizeLinear", {11}, OpDef{dynamic_quantize_linear, nullptr, validate_dynamic_quantize});
}

}  // namespace qtool
