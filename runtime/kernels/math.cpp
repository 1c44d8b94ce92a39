// SPDX-License-Identifier: Apache-2.0
// Unary math of ai.onnx: Abs, Neg, Sign, Reciprocal, Sqrt, Exp, Log, Erf, Floor, Ceil, Round,
// the trigonometric and hyperbolic functions (Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh
// Atanh), IsNaN and IsInf (ONNX operator specs; results as onnx's numpy reference). Float16 and
// bfloat16 compute in float32 and round once; Round is half to even; integer Abs / Neg wrap like
// numpy (Abs(INT_MIN) = INT_MIN); Sign of NaN is NaN; Erf accepts integers (Erf-9).
//
// Fast kernels (float32): Exp (NaN kept) and Sqrt through oneDNN's eltwise, the rest as vectorizable loops
// (Erf: a rational approximation good to a few ulp) split across the OpenMP threads.
#include <cmath>
#include <type_traits>

#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/kernels/elementwise_common.h"

namespace qtool {

namespace {

using namespace ew;

// Unary float op: f(Compute<T>) with T in Floats.
#define QTOOL_UNARY_FLOAT(name, expr)                                                \
  void name(KernelContext& c) {                                                      \
    unary_same_type<Floats>(c, [](auto x) -> decltype(x) { return expr; });          \
  }

QTOOL_UNARY_FLOAT(acos_, std::acos(x))
QTOOL_UNARY_FLOAT(asin_, std::asin(x))
QTOOL_UNARY_FLOAT(atan_, std::atan(x))
QTOOL_UNARY_FLOAT(acosh_, std::acosh(x))
QTOOL_UNARY_FLOAT(asinh_, std::asinh(x))
QTOOL_UNARY_FLOAT(atanh_, std::atanh(x))
QTOOL_UNARY_FLOAT(cos_, std::cos(x))
QTOOL_UNARY_FLOAT(sin_, std::sin(x))
QTOOL_UNARY_FLOAT(tan_, std::tan(x))
QTOOL_UNARY_FLOAT(cosh_, std::cosh(x))
QTOOL_UNARY_FLOAT(sinh_, std::sinh(x))
QTOOL_UNARY_FLOAT(exp_, std::exp(x))
QTOOL_UNARY_FLOAT(log_, std::log(x))
QTOOL_UNARY_FLOAT(sqrt_, std::sqrt(x))
QTOOL_UNARY_FLOAT(ceil_, std::ceil(x))
QTOOL_UNARY_FLOAT(floor_, std::floor(x))
QTOOL_UNARY_FLOAT(round_, std::nearbyint(x))  // default rounding mode: to nearest, ties to even
QTOOL_UNARY_FLOAT(reciprocal, decltype(x)(1) / x)
#undef QTOOL_UNARY_FLOAT

template <typename C>
C abs_value(C x) {
  if constexpr (std::is_floating_point_v<C>) return std::fabs(x);
  else if constexpr (std::is_unsigned_v<C>) return x;
  else return x < 0 ? wrap_neg(x) : x;
}
void abs_(KernelContext& c) { unary_same_type<Numbers>(c, [](auto x) { return abs_value(x); }); }
void neg(KernelContext& c) { unary_same_type<Numbers>(c, [](auto x) { return wrap_neg(x); }); }

template <typename C>
C sign_of(C x) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(x)) return x;
  }
  return x > 0 ? C(1) : (x < 0 ? C(-1) : C(0));
}
void sign(KernelContext& c) { unary_same_type<Numbers>(c, [](auto x) { return sign_of(x); }); }

// Erf-9 also takes integers: erf of the value, truncated back (0, or +/-1 for large values).
void erf_(KernelContext& c) {
  const Tensor& x = c.in(0);
  c.dispatch_or_fail<Numbers>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_int_v<T>)
      c.outputs[0] = map_unary<T, T>(x, [](T v) { return float_to_int<T>(std::erf(static_cast<double>(v))); });
    else
      c.outputs[0] = map_unary<T, T>(x, [](auto v) { return static_cast<decltype(v)>(std::erf(v)); });
  });
}

void is_nan(KernelContext& c) {
  const Tensor& x = c.in(0);
  c.dispatch_or_fail<FloatsAndFloat8>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    c.outputs[0] = map_unary<T, bool>(x, [](auto v) { return std::isnan(v); });
  });
}

void is_inf(KernelContext& c) {
  const bool pos = attr_int(c.node, "detect_positive", 1) != 0, neg_ = attr_int(c.node, "detect_negative", 1) != 0;
  const Tensor& x = c.in(0);
  c.dispatch_or_fail<FloatsAndFloat8>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    c.outputs[0] = map_unary<T, bool>(x, [&](auto v) { return std::isinf(v) && (v > 0 ? pos : neg_); });
  });
}

// ---- float32 fast kernels ----------------------------------------------------------------------

bool is_f32(const KernelContext& c) { return c.has(0) && c.value(0).is_tensor() && c.in(0).dtype() == DType::kFloat; }

template <typename F>
bool fast_loop(KernelContext& c, F f) {
  if (!is_f32(c)) return false;
  c.outputs[0] = unary_f32(c.in(0), f);
  return true;
}

// builtins, not the std:: wrappers (those would not be inlined into the vectorized loop)
bool abs_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return __builtin_fabsf(v); }); }
bool neg_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return -v; }); }
bool sqrt_fast(KernelContext& c) {  // oneDNN: sqrt of a negative is NaN, of -0 is -0, as libm
  if (!is_f32(c) || c.in(0).numel() < kDnnlMinElements) return false;
  c.outputs[0] = dnnl_eltwise_f32(c.in(0), static_cast<int>(dnnl::algorithm::eltwise_sqrt));
  return true;
}
bool reciprocal_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return 1.f / v; }); }
bool erf_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return fast_erf(v); }); }
bool exp_fast(KernelContext& c) {
  if (!is_f32(c) || c.in(0).numel() < kDnnlMinElements) return false;
  c.outputs[0] = dnnl_eltwise_f32(c.in(0), static_cast<int>(dnnl::algorithm::eltwise_exp), 0.f, 0.f, true);
  return true;
}
// libm's logf (oneDNN's log is off by up to ~40 ulp), threaded.
bool log_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return std::log(v); }); }

}  // namespace

void register_math_ops(OpRegistry& r) {
  r.add("", "Abs", {6, 13}, pointwise(OpDef{abs_, abs_fast}));
  r.add("", "Neg", {6, 13}, pointwise(OpDef{neg, neg_fast}));
  r.add("", "Sign", {9, 13}, OpDef{sign});
  r.add("", "Reciprocal", {6, 13}, pointwise(OpDef{reciprocal, reciprocal_fast}));
  r.add("", "Sqrt", {6, 13}, pointwise(OpDef{sqrt_, sqrt_fast}));
  r.add("", "Exp", {6, 13}, pointwise(OpDef{exp_, exp_fast}));
  r.add("", "Log", {6, 13}, pointwise(OpDef{log_, log_fast}));
  r.add("", "Erf", {9, 13}, pointwise(OpDef{erf_, erf_fast}));
  r.add("", "Floor", {6, 13}, pointwise(OpDef{floor_}));
  r.add("", "Ceil", {6, 13}, pointwise(OpDef{ceil_}));
  r.add("", "Round", {11, 22}, pointwise(OpDef{round_}));
  r.add("", "Sin", {7, 22}, OpDef{sin_});
  r.add("", "Cos", {7, 22}, OpDef{cos_});
  r.add("", "Tan", {7, 22}, OpDef{tan_});
  r.add("", "Asin", {7, 22}, OpDef{asin_});
  r.add("", "Acos", {7, 22}, OpDef{acos_});
  r.add("", "Atan", {7, 22}, OpDef{atan_});
  r.add("", "Sinh", {9, 22}, OpDef{sinh_});
  r.add("", "Cosh", {9, 22}, OpDef{cosh_});
  r.add("", "Asinh", {9, 22}, OpDef{asinh_});
  r.add("", "Acosh", {9, 22}, OpDef{acosh_});
  r.add("", "Atanh", {9, 22}, OpDef{atanh_});
  r.add("", "IsNaN", {9, 13, 20}, OpDef{is_nan});
  r.add("", "IsInf", {10, 20}, OpDef{is_inf});
}

}  // namespace qtool
