// SPDX-License-Identifier: Apache-2.0
// Activations of ai.onnx: Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid,
// HardSwish, Tanh, Softplus, Softsign, ThresholdedRelu, Shrink, Mish, Swish, Gelu, Clip and
// Dropout (ONNX operator specs, the function bodies of the function ops, and onnx's numpy
// reference), plus the com.microsoft activations onnxruntime's optimizer writes into saved models
// (onnxruntime docs/ContribOperators.md): Gelu (erf), FastGelu (tanh approximation, optional bias
// added first), BiasGelu (Gelu(A + B)) and QuickGelu (x * sigmoid(alpha * x), alpha = 1.702).
//
// NaN stays NaN through Relu, LeakyRelu, Clip and the other piecewise ops (numpy's maximum /
// minimum propagate it). Clip-6 clips to its min / max attributes, which default to -/+FLT_MAX;
// Clip-11+ takes optional scalar bound inputs (integers from Clip-12). Dropout is the identity
// in inference (mask all true); in training mode its mask draws from MT19937 seeded with the
// `seed` attribute exactly as numpy's RandomState(seed).uniform does in onnx's reference
// (random_device when no seed is given).
//
// Fast kernels (float32): Sigmoid, Tanh, Elu, Gelu, Mish, Swish, QuickGelu, FastGelu,
// BiasGelu through oneDNN's eltwise primitive; Relu, LeakyRelu, Clip, HardSigmoid, HardSwish,
// PRelu, Softplus as loops split across the OpenMP threads.
#include <cmath>
#include <random>
#include <type_traits>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/elementwise_common.h"

namespace qtool {

namespace ew {

void dnnl_eltwise_f32(const float* x, float* y, int64_t n, int alg, float alpha, float beta, bool keep_nan) {
  if (n <= 0) return;
  auto& dc = DnnlContext::get();
  const dnnl::memory::desc md({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::x);
  const dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, static_cast<dnnl::algorithm>(alg), md, alpha,
                                      beta);
  const dnnl::eltwise_forward::primitive_desc pd(d, dc.engine);
  dnnl::memory src(md, dc.engine, const_cast<float*>(x)), dst(md, dc.engine, y);
  dnnl::eltwise_forward(pd).execute(dc.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  dc.stream.wait();
  if (keep_nan)
    parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) y[i] = x[i] != x[i] ? x[i] : y[i];
    });
}

Tensor dnnl_eltwise_f32(const Tensor& x, int alg, float alpha, float beta, bool keep_nan) {
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  dnnl_eltwise_f32(x.data<float>(), out.data<float>(), x.numel(), alg, alpha, beta, keep_nan);
  return out;
}

}  // namespace ew

namespace {

using namespace ew;

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

// ---- formulas (C = float for float32 / float16 / bfloat16, double for double) -----------------

template <typename C> C relu_of(C x) { return x < C(0) ? C(0) : x; }
template <typename C> C sigmoid_of(C x) {
  if (x > C(0)) return C(1) / (C(1) + std::exp(-x));
  const C e = std::exp(x);
  return e / (C(1) + e);
}
template <typename C> inline QTOOL_EW_INLINE C softplus_of(C x) {  // log(1 + exp(x)) without overflow (numpy.logaddexp(0, x))
  if (std::isnan(x)) return x;
  return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
template <typename C> C gelu_erf_of(C x) { return C(0.5) * x * (C(1) + std::erf(x / C(kSqrt2))); }
template <typename C> C gelu_tanh_of(C x) {
  return C(0.5) * x * (C(1) + std::tanh(C(kSqrt2OverPi) * (x + C(0.044715) * x * x * x)));
}
template <typename C> inline QTOOL_EW_INLINE C hard_sigmoid_of(C x, C alpha, C beta) {
  return max_nan(C(0), min_nan(C(1), alpha * x + beta));
}

float fattr(const KernelContext& c, const char* name, float def) { return attr_float(c.node, name, def); }

// ---- reference kernels -------------------------------------------------------------------------

void relu(KernelContext& c) {
  unary_same_type<SignedNumbers>(c, [](auto x) { return relu_of(x); });
}
void leaky_relu(KernelContext& c) {
  const float a = fattr(c, "alpha", 0.01f);
  unary_same_type<Floats>(c, [a](auto x) { return x > 0 ? x : static_cast<decltype(x)>(a) * x; });
}
void elu(KernelContext& c) {
  const float a = fattr(c, "alpha", 1.f);
  unary_same_type<Floats>(c, [a](auto x) { return x > 0 ? x : static_cast<decltype(x)>(a) * std::expm1(x); });
}
void selu(KernelContext& c) {
  const float a = fattr(c, "alpha", 1.67326319217681884765625f), g = fattr(c, "gamma", 1.05070102214813232421875f);
  unary_same_type<Floats>(c, [a, g](auto x) {
    using C = decltype(x);
    return static_cast<C>(g) * (x > 0 ? x : static_cast<C>(a) * std::expm1(x));
  });
}
void validate_celu(KernelContext& c) {
  if (fattr(c, "alpha", 1.f) == 0.f) c.fail("attribute 'alpha': must not be 0");
}
void celu(KernelContext& c) {
  const float a = fattr(c, "alpha", 1.f);
  unary_same_type<Floats>(c, [a](auto x) {
    using C = decltype(x);
    const C alpha = static_cast<C>(a);
    return max_nan(C(0), x) + min_nan(C(0), alpha * std::expm1(x / alpha));
  });
}
void sigmoid(KernelContext& c) { unary_same_type<Floats>(c, [](auto x) { return sigmoid_of(x); }); }
void tanh_(KernelContext& c) { unary_same_type<Floats>(c, [](auto x) { return std::tanh(x); }); }
void hard_sigmoid(KernelContext& c) {
  const float a = fattr(c, "alpha", 0.2f), b = fattr(c, "beta", 0.5f);
  unary_same_type<Floats>(c, [a, b](auto x) {
    using C = decltype(x);
    return hard_sigmoid_of(x, static_cast<C>(a), static_cast<C>(b));
  });
}
void hard_swish(KernelContext& c) {
  unary_same_type<Floats>(c, [](auto x) {
    using C = decltype(x);
    return x * hard_sigmoid_of(x, C(1) / C(6), C(0.5));
  });
}
void softplus(KernelContext& c) { unary_same_type<Floats>(c, [](auto x) { return softplus_of(x); }); }
void softsign(KernelContext& c) {
  unary_same_type<Floats>(c, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); });
}
void thresholded_relu(KernelContext& c) {
  const float a = fattr(c, "alpha", 1.f);
  unary_same_type<Floats>(c, [a](auto x) { return x > static_cast<decltype(x)>(a) ? x : decltype(x)(0); });
}
void mish(KernelContext& c) { unary_same_type<Floats>(c, [](auto x) { return x * std::tanh(softplus_of(x)); }); }
void swish(KernelContext& c) {
  const float a = fattr(c, "alpha", 1.f);
  unary_same_type<Floats>(c, [a](auto x) { return x * sigmoid_of(static_cast<decltype(x)>(a) * x); });
}
void quick_gelu(KernelContext& c) {
  const float a = fattr(c, "alpha", 1.702f);
  unary_same_type<Floats>(c, [a](auto x) { return x * sigmoid_of(static_cast<decltype(x)>(a) * x); });
}

// Shrink: numbers of any kind; integers compute in double (x + bias as numpy does) and truncate.
void shrink(KernelContext& c) {
  const double bias = fattr(c, "bias", 0.f), lambd = fattr(c, "lambd", 0.5f);
  const Tensor& x = c.in(0);
  c.dispatch_or_fail<Numbers>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    c.outputs[0] = map_unary<T, T>(x, [&](auto v) -> Compute<T> {
      if constexpr (is_int_v<T>) {
        const double d = static_cast<double>(v);
        return float_to_int<T>(d < -lambd ? d + bias : (d > lambd ? d - bias : 0.0));
      } else {
        using C = decltype(v);
        return v < static_cast<C>(-lambd) ? v + static_cast<C>(bias) : (v > static_cast<C>(lambd) ? v - static_cast<C>(bias) : C(0));
      }
    });
  });
}

void validate_gelu(KernelContext& c) {
  const std::string a = attr_string(c.node, "approximate", "none");
  if (a != "none" && a != "tanh") c.fail("attribute 'approximate': must be \"none\" or \"tanh\", got \"" + a + "\"");
}
void gelu(KernelContext& c) {
  if (attr_string(c.node, "approximate", "none") == "tanh")
    unary_same_type<Floats>(c, [](auto x) { return gelu_tanh_of(x); });
  else
    unary_same_type<Floats>(c, [](auto x) { return gelu_erf_of(x); });
}

// ---- PRelu: slope broadcast to X's shape (unidirectional) -------------------------------------

// The shape slope is read with: its own when it broadcasts to X; a 1-D slope whose length matches
// exactly one axis of X is laid along that axis (onnx's reference accepts this too).
Shape prelu_slope_shape(const KernelContext& c, const Shape& x, const Shape& slope) {
  if (broadcasts_to(slope, x)) return slope;
  if (slope.size() == 1) {
    int hits = 0;
    Shape s(x.size(), 1);
    for (size_t d = 0; d < x.size(); ++d)
      if (x[d] == slope[0]) {
        s[d] = slope[0];
        ++hits;
      }
    if (hits == 1) return s;
  }
  c.fail("slope of shape " + shape_str(slope) + " does not broadcast to X of shape " + shape_str(x));
}
void validate_prelu(KernelContext& c) {
  require_same_dtype(c, 0, 1);
  if (c.has(0) && c.has(1)) prelu_slope_shape(c, c.in(0).shape(), c.in(1).shape());
}
void prelu(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& s = c.in(1);
  require_same_dtype(c, 0, 1);
  const Shape ss = prelu_slope_shape(c, x.shape(), s.shape());
  c.dispatch_or_fail<Numbers>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out = Tensor::uninitialized(x.dtype(), x.shape());
    broadcast_binary(x.data<T>(), x.shape(), s.data<T>(), ss, out.data<T>(), x.shape(), [](T a, T b) {
      const auto va = to_compute(a);
      return va > 0 ? a : from_compute<T>(wrap_mul(va, to_compute(b)));
    });
    c.outputs[0] = std::move(out);
  });
}

// ---- Clip ----------------------------------------------------------------------------------------

void validate_clip(KernelContext& c) {
  if (c.version < 11) return;
  for (int i = 1; i <= 2; ++i) {
    if (!c.has(i)) continue;
    require_same_dtype(c, 0, i);
    if (c.value(i).is_tensor() && c.in(i).numel() != 1)
      c.fail(std::string(i == 1 ? "input 'min'" : "input 'max'") + ": must be a scalar, got shape " +
             shape_str(c.in(i).shape()));
  }
}

// min(max(x, lo), hi) as numpy.clip: NaN stays NaN, and min > max gives max.
void clip(KernelContext& c) {
  validate_clip(c);
  const Tensor& x = c.in(0);
  c.dispatch_or_fail<Numbers>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    bool has_lo = false, has_hi = false;
    C lo{}, hi{};
    if (c.version < 11) {
      has_lo = has_hi = true;
      lo = static_cast<C>(fattr(c, "min", -std::numeric_limits<float>::max()));
      hi = static_cast<C>(fattr(c, "max", std::numeric_limits<float>::max()));
    } else {
      if (c.has(1)) {
        has_lo = true;
        lo = to_compute(c.in(1).data<T>()[0]);
      }
      if (c.has(2)) {
        has_hi = true;
        hi = to_compute(c.in(2).data<T>()[0]);
      }
    }
    c.outputs[0] = map_unary<T, T>(x, [&](C v) {
      if (has_lo) v = max_nan(v, lo);
      if (has_hi) v = min_nan(v, hi);
      return v;
    });
  });
}

// ---- Dropout -------------------------------------------------------------------------------------

void validate_dropout(KernelContext& c) {
  if (c.version >= 12 && c.has(1) && c.value(1).is_tensor() && c.in(1).numel() != 1)
    c.fail("input 'ratio': must be a scalar, got shape " + shape_str(c.in(1).shape()));
  if (c.version >= 12 && c.has(2) && c.value(2).is_tensor() &&
      (c.in(2).numel() != 1 || c.in(2).dtype() != DType::kBool))
    c.fail("input 'training_mode': must be a bool scalar");
}

void dropout(KernelContext& c) {
  validate_dropout(c);
  const Tensor& x = c.in(0);
  double ratio = 0.5;
  bool training = false;
  if (c.version >= 12) {
    if (c.has(1)) ratio = c.in(1).to_doubles().at(0);
    if (c.has(2)) training = c.in(2).data<bool>()[0];
  } else {
    ratio = fattr(c, "ratio", 0.5f);
  }
  const bool want_mask = c.outputs.size() > 1;
  if (!training || ratio == 0.0) {
    c.outputs[0] = x;
    if (want_mask) {
      if (c.version < 10) {  // Dropout-7: the mask has X's type
        Tensor ones = Tensor(DType::kFloat, x.shape());
        std::fill_n(ones.data<float>(), ones.numel(), 1.f);
        c.outputs[1] = ones.cast(x.dtype());
      } else {
        Tensor mask(DType::kBool, x.shape());
        std::fill_n(mask.data<bool>(), mask.numel(), true);
        c.outputs[1] = std::move(mask);
      }
    }
    return;
  }
  if (!(ratio >= 0.0 && ratio < 1.0)) c.fail("input 'ratio': must be in [0, 1) in training mode, got " + std::to_string(ratio));
  // numpy RandomState(seed).uniform(0, 1, shape): MT19937 (init_genrand seeding), 53-bit doubles.
  const auto* seed_attr = find_attr(c.node, "seed");
  std::mt19937 rng(seed_attr ? static_cast<uint32_t>(attr_int(c.node, "seed", 0)) : std::random_device{}());
  const int64_t n = x.numel();
  Tensor mask(DType::kBool, x.shape());
  bool* m = mask.data<bool>();
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t a = rng() >> 5, b = rng() >> 6;
    const double u = (a * 67108864.0 + b) / 9007199254740992.0;
    m[i] = u >= ratio;
  }
  c.dispatch_or_fail<FloatsAndFloat8>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    const C scale = static_cast<C>(C(1) / (C(1) - static_cast<C>(ratio)));
    Tensor out = Tensor::uninitialized(x.dtype(), x.shape());
    const T* p = x.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) o[i] = from_compute<T>(m[i] ? to_compute(p[i]) * scale : C(0) * to_compute(p[i]));
    c.outputs[0] = std::move(out);
  });
  if (want_mask) c.outputs[1] = std::move(mask);
}

// ---- com.microsoft Gelu family -------------------------------------------------------------------

// x + bias with bias broadcast (FastGelu's bias is 1-D over the last axis; BiasGelu's B too).
template <typename T>
Tensor add_bias(const KernelContext& c, const Tensor& x, const Tensor& bias) {
  if (!broadcasts_to(bias.shape(), x.shape()))
    c.fail("bias of shape " + shape_str(bias.shape()) + " does not broadcast to input of shape " + shape_str(x.shape()));
  Tensor out = Tensor::uninitialized(x.dtype(), x.shape());
  broadcast_binary(x.data<T>(), x.shape(), bias.data<T>(), bias.shape(), out.data<T>(), x.shape(),
                   [](T a, T b) { return from_compute<T>(to_compute(a) + to_compute(b)); });
  return out;
}

void validate_bias(KernelContext& c) {
  require_same_dtype(c, 0, 1);
  if (c.has(0) && c.has(1) && !broadcasts_to(c.in(1).shape(), c.in(0).shape()))
    c.fail("bias of shape " + shape_str(c.in(1).shape()) + " does not broadcast to input of shape " +
           shape_str(c.in(0).shape()));
}

template <bool kTanh>
void biased_gelu(KernelContext& c) {
  validate_bias(c);
  const Tensor& x = c.in(0);
  c.dispatch_or_fail<Floats>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Tensor sum = c.has(1) ? add_bias<T>(c, x, c.in(1)) : x;
    c.outputs[0] = map_unary<T, T>(sum, [](auto v) { return kTanh ? gelu_tanh_of(v) : gelu_erf_of(v); });
  });
}
void contrib_gelu(KernelContext& c) { unary_same_type<Floats>(c, [](auto x) { return gelu_erf_of(x); }); }

// ---- float32 fast kernels ----------------------------------------------------------------------

bool is_f32(const KernelContext& c) { return c.has(0) && c.value(0).is_tensor() && c.in(0).dtype() == DType::kFloat; }

template <typename F>
bool fast_loop(KernelContext& c, F f) {
  if (!is_f32(c)) return false;
  c.outputs[0] = unary_f32(c.in(0), f);
  return true;
}

bool fast_dnnl(KernelContext& c, dnnl::algorithm alg, float alpha = 0.f, float beta = 0.f) {
  if (!is_f32(c) || c.in(0).numel() < kDnnlMinElements) return false;
  c.outputs[0] = dnnl_eltwise_f32(c.in(0), static_cast<int>(alg), alpha, beta);
  return true;
}

bool relu_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return v < 0.f ? 0.f : v; }); }
bool leaky_relu_fast(KernelContext& c) {
  const float a = fattr(c, "alpha", 0.01f);
  return fast_loop(c, [a](float v) QTOOL_EW_INLINE { return v > 0.f ? v : a * v; });
}
bool hard_sigmoid_fast(KernelContext& c) {
  const float a = fattr(c, "alpha", 0.2f), b = fattr(c, "beta", 0.5f);
  return fast_loop(c, [a, b](float v) QTOOL_EW_INLINE { return hard_sigmoid_of(v, a, b); });
}
bool hard_swish_fast(KernelContext& c) {
  return fast_loop(c, [](float v) QTOOL_EW_INLINE { return v * hard_sigmoid_of(v, 1.f / 6.f, 0.5f); });
}
bool sigmoid_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_logistic); }
bool tanh_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_tanh); }
bool elu_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_elu, fattr(c, "alpha", 1.f)); }
// libm, threaded (oneDNN's soft_relu loses relative accuracy for negative inputs).
bool softplus_fast(KernelContext& c) { return fast_loop(c, [](float v) QTOOL_EW_INLINE { return softplus_of(v); }); }
bool mish_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_mish); }
bool swish_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_swish, fattr(c, "alpha", 1.f)); }
bool quick_gelu_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_swish, fattr(c, "alpha", 1.702f)); }
bool gelu_fast(KernelContext& c) {
  const bool t = attr_string(c.node, "approximate", "none") == "tanh";
  return fast_dnnl(c, t ? dnnl::algorithm::eltwise_gelu_tanh : dnnl::algorithm::eltwise_gelu_erf);
}
bool contrib_gelu_fast(KernelContext& c) { return fast_dnnl(c, dnnl::algorithm::eltwise_gelu_erf); }

template <bool kTanh>
bool biased_gelu_fast(KernelContext& c) {
  if (!is_f32(c) || (c.has(1) && c.in(1).dtype() != DType::kFloat)) return false;
  const Tensor& x = c.in(0);
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* src = x.data<float>();
  if (c.has(1)) {
    const Tensor& b = c.in(1);
    if (!broadcasts_to(b.shape(), x.shape())) return false;
    broadcast_f32(src, x.shape(), b.data<float>(), b.shape(), out.data<float>(), x.shape(),
                  [](float u, float v) QTOOL_EW_INLINE { return u + v; });
    src = out.data<float>();
  }
  dnnl_eltwise_f32(src, out.data<float>(), x.numel(),
                   static_cast<int>(kTanh ? dnnl::algorithm::eltwise_gelu_tanh : dnnl::algorithm::eltwise_gelu_erf), 0.f,
                   0.f, false);
  c.outputs[0] = std::move(out);
  return true;
}

bool clip_fast(KernelContext& c) {
  if (!is_f32(c)) return false;
  float lo = -INFINITY, hi = INFINITY;
  if (c.version < 11) {
    lo = fattr(c, "min", -std::numeric_limits<float>::max());
    hi = fattr(c, "max", std::numeric_limits<float>::max());
  } else {
    if (c.has(1)) lo = c.in(1).data<float>()[0];
    if (c.has(2)) hi = c.in(2).data<float>()[0];
  }
  if (std::isnan(lo) || std::isnan(hi)) return false;
  return fast_loop(c, [lo, hi](float v) QTOOL_EW_INLINE {
    const float t = v < lo ? lo : v;
    return t > hi ? hi : t;
  });
}

bool prelu_fast(KernelContext& c) {
  if (!is_f32(c) || !c.has(1) || c.in(1).dtype() != DType::kFloat) return false;
  const Tensor& x = c.in(0);
  const Shape ss = prelu_slope_shape(c, x.shape(), c.in(1).shape());
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  broadcast_f32(x.data<float>(), x.shape(), c.in(1).data<float>(), ss, out.data<float>(), x.shape(),
                [](float v, float s) QTOOL_EW_INLINE { return v > 0.f ? v : v * s; });
  c.outputs[0] = std::move(out);
  return true;
}

}  // namespace

void register_activation_ops(OpRegistry& r) {
  r.add("", "Relu", {6, 13, 14}, pointwise(OpDef{relu, relu_fast}));
  r.add("", "LeakyRelu", {6, 16}, pointwise(OpDef{leaky_relu, leaky_relu_fast}));
  r.add("", "PRelu", {7, 9, 16}, OpDef{prelu, prelu_fast, validate_prelu});
  r.add("", "Elu", {6, 22}, pointwise(OpDef{elu, elu_fast}));
  r.add("", "Selu", {6, 22}, pointwise(OpDef{selu}));
  r.add("", "Celu", {12, 28}, OpDef{celu, nullptr, validate_celu});
  r.add("", "Sigmoid", {6, 13}, pointwise(OpDef{sigmoid, sigmoid_fast}));
  r.add("", "HardSigmoid", {6, 22}, pointwise(OpDef{hard_sigmoid, hard_sigmoid_fast}));
  r.add("", "HardSwish", {14, 22}, pointwise(OpDef{hard_swish, hard_swish_fast}));
  r.add("", "Tanh", {6, 13}, pointwise(OpDef{tanh_, tanh_fast}));
  r.add("", "Softplus", {1, 22}, pointwise(OpDef{softplus, softplus_fast}));
  r.add("", "Softsign", {1, 22}, pointwise(OpDef{softsign}));
  r.add("", "ThresholdedRelu", {10, 22}, OpDef{thresholded_relu});
  r.add("", "Shrink", {9}, OpDef{shrink});
  r.add("", "Mish", {18, 22}, pointwise(OpDef{mish, mish_fast}));
  r.add("", "Swish", {24}, pointwise(OpDef{swish, swish_fast}));
  r.add("", "Gelu", {20}, pointwise(OpDef{gelu, gelu_fast, validate_gelu}));
  r.add("", "Clip", {6, 11, 12, 13}, pointwise(OpDef{clip, clip_fast, validate_clip}));
  r.add("", "Dropout", {7, 10, 12, 13, 22}, OpDef{dropout, nullptr, validate_dropout});
  r.add("com.microsoft", "Gelu", {1}, OpDef{contrib_gelu, contrib_gelu_fast});
  r.add("com.microsoft", "FastGelu", {1}, OpDef{biased_gelu<true>, biased_gelu_fast<true>, validate_bias});
  r.add("com.microsoft", "BiasGelu", {1}, OpDef{biased_gelu<false>, biased_gelu_fast<false>, validate_bias});
  r.add("com.microsoft", "QuickGelu", {1}, OpDef{quick_gelu, quick_gelu_fast});
}

}  // namespace qtool
