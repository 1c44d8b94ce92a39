// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the elementwise op family (elementwise.cpp, math.cpp, activation.cpp,
// logical.cpp, cast.cpp): type lists of the ONNX type constraints, typed unary / binary / n-ary
// loops over broadcast inputs (runtime/broadcast.h), integer arithmetic that wraps like numpy
// instead of overflowing (signed overflow is undefined in C++), and the chunked parallel loop
// the float32 fast kernels use.
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "runtime/broadcast.h"
#include "runtime/op_registry.h"

// The float32 fast loops select with NaN-preserving ternaries (x < 0 ? 0 : x keeps NaN, unlike
// max). GCC only turns a select next to arithmetic into vector code when floating-point ops may
// not trap, so the loop functions carry -fno-trapping-math (and -fno-math-errno, for sqrt): no
// value changes, only the permission to compute both sides. The per-element functors are
// always_inline so they are compiled into those loops.
#if defined(__GNUC__) && !defined(__clang__)
#define QTOOL_EW_VECTORIZE __attribute__((optimize("no-trapping-math", "no-math-errno")))
#else
#define QTOOL_EW_VECTORIZE
#endif
#if defined(__GNUC__)
#define QTOOL_EW_INLINE __attribute__((always_inline))
#else
#define QTOOL_EW_INLINE
#endif

namespace qtool::ew {

using Floats = FloatTypes;                                            // float, double, half, bfloat16
using SignedNumbers = decltype(FloatTypes{} + SignedIntTypes{});
using Numbers = NumericTypes;                                         // floats and every integer
using Integers = IntTypes;
using NumbersAndBool = decltype(NumericTypes{} + TypeList<bool>{});
// Float types with the float8 formats (IsNaN-20, IsInf-20, Dropout-22).
using FloatsAndFloat8 = decltype(FloatTypes{} + TypeList<Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ>{});

template <typename T>
constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// Unsigned type integer arithmetic on T wraps in (no promotion to a signed int).
template <typename T>
using WrapType = std::conditional_t<sizeof(T) <= 4, uint32_t, uint64_t>;

template <typename T> inline T wrap_add(T a, T b) {
  if constexpr (is_int_v<T>) return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
  else return a + b;
}
template <typename T> inline T wrap_sub(T a, T b) {
  if constexpr (is_int_v<T>) return static_cast<T>(static_cast<WrapType<T>>(a) - static_cast<WrapType<T>>(b));
  else return a - b;
}
template <typename T> inline T wrap_mul(T a, T b) {
  if constexpr (is_int_v<T>) return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
  else return a * b;
}
template <typename T> inline T wrap_neg(T a) {
  if constexpr (is_int_v<T>) return static_cast<T>(WrapType<T>(0) - static_cast<WrapType<T>>(a));
  else return -a;
}

// NaN test that is false for integers.
template <typename C> inline QTOOL_EW_INLINE bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return v != v;
  else return false;
}

// numpy.maximum / numpy.minimum: a NaN operand gives NaN (`|`, not `||`: no branch to vectorize).
template <typename C> inline QTOOL_EW_INLINE C max_nan(C x, C y) { return ((x >= y) | is_nan(x)) ? x : y; }
template <typename C> inline QTOOL_EW_INLINE C min_nan(C x, C y) { return ((x <= y) | is_nan(x)) ? x : y; }

// out = f(x) elementwise; f takes and returns Compute types, results through from_compute<TOut>.
template <typename TIn, typename TOut, typename F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor out = Tensor::uninitialized(dtype_of<TOut>(), x.shape());
  const TIn* p = x.data<TIn>();
  TOut* o = out.data<TOut>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = from_compute<TOut>(f(to_compute(p[i])));
  return out;
}

// Unary op over the dtypes of List, same dtype out: f(Compute<T>) -> Compute<T>.
template <typename List, typename F>
void unary_same_type(KernelContext& ctx, F f) {
  const Tensor& x = ctx.in(0);
  ctx.dispatch_or_fail<List>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.outputs[0] = map_unary<T, T>(x, [&](Compute<T> v) { return static_cast<Compute<T>>(f(v)); });
  });
}

// The broadcast shape of the given inputs, or ctx.fail naming the shapes.
inline Shape broadcast_inputs(const KernelContext& ctx, const std::vector<int>& inputs) {
  Shape out;
  for (int i : inputs) {
    const Shape& s = ctx.in(i).shape();
    const size_t r = std::max(out.size(), s.size());
    Shape next(r);
    for (size_t d = 0; d < r; ++d) {
      const int64_t a = d < r - out.size() ? 1 : out[d - (r - out.size())];
      const int64_t b = d < r - s.size() ? 1 : s[d - (r - s.size())];
      if (a != b && a != 1 && b != 1) {
        std::string all;
        for (int j : inputs) all += (all.empty() ? "" : ", ") + shape_str(ctx.in(j).shape());
        ctx.fail("input shapes " + all + " cannot be broadcast together");
      }
      next[d] = a == 1 ? b : a;
    }
    out = std::move(next);
  }
  shape_numel(out);  // throws on overflow
  return out;
}

// Inputs 0 and 1 have the same dtype (fail otherwise).
inline void require_same_dtype(const KernelContext& ctx, int i, int j) {
  if (ctx.has(i) && ctx.has(j) && ctx.value(i).is_tensor() && ctx.value(j).is_tensor() &&
      ctx.in(i).dtype() != ctx.in(j).dtype())
    ctx.fail("inputs #" + std::to_string(i) + " and #" + std::to_string(j) + " must have the same type, got " +
             dtype_name(ctx.in(i).dtype()) + " and " + dtype_name(ctx.in(j).dtype()));
}

// Validator of ops whose inputs (all given ones) broadcast together and share one dtype.
inline void validate_broadcast_same_type(KernelContext& ctx) {
  std::vector<int> given;
  for (int i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has(i) && ctx.value(i).is_tensor()) given.push_back(i);
  for (size_t k = 1; k < given.size(); ++k) require_same_dtype(ctx, given[0], given[k]);
  broadcast_inputs(ctx, given);
}

// Binary op with broadcasting over the dtypes of List: out<R>[i] = f(a, b) with a, b of
// Compute<T>; R = T (same_type) or bool (comparisons). f returns Compute<R> (or bool).
template <typename List, bool kBoolOut, typename F>
void binary_kernel(KernelContext& ctx, F f) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  require_same_dtype(ctx, 0, 1);
  const Shape so = broadcast_inputs(ctx, {0, 1});
  ctx.dispatch_or_fail<List>(0, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using R = std::conditional_t<kBoolOut, bool, T>;
    Tensor out = Tensor::uninitialized(dtype_of<R>(), so);
    broadcast_binary(a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<R>(), so, [&](T x, T y) {
      if constexpr (kBoolOut) return static_cast<bool>(f(to_compute(x), to_compute(y)));
      else return from_compute<T>(f(to_compute(x), to_compute(y)));
    });
    ctx.outputs[0] = std::move(out);
  });
}

// Runs fn(begin, end) over [0, n) in chunks of at least `grain`, on the OpenMP threads when there
// is more than one chunk (the float32 fast kernels; the reference kernels stay single-threaded).
template <typename Fn>
void parallel_chunks(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  const int64_t chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  if (chunks == 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) fn(n * c / chunks, n * (c + 1) / chunks);
}

constexpr int64_t kParallelGrain = 1 << 15;  // elements per chunk worth a thread
constexpr int64_t kDnnlMinElements = 256;     // smaller tensors: the plain loop beats a oneDNN primitive

// float -> integer the way numpy does it on x86 (the ONNX reference): truncation toward zero
// through a 32-bit (targets up to 16 bits and int32) or 64-bit (uint32, int64) conversion whose
// NaN / out-of-range result is that type's minimum, then wrapped to the target width. The Cast
// spec leaves out-of-range values undefined; this keeps them deterministic and free of C++ UB.
template <typename T>
inline T float_to_int(double d) {
  static_assert(std::is_integral_v<T>, "integer target");
  auto via32 = [](double v) -> int32_t {
    const double t = std::trunc(v);
    return (std::isnan(t) || t >= 2147483648.0 || t < -2147483648.0) ? std::numeric_limits<int32_t>::min()
                                                                         : static_cast<int32_t>(t);
  };
  auto via64 = [](double v) -> int64_t {
    const double t = std::trunc(v);
    return (std::isnan(t) || t >= 9223372036854775808.0 || t < -9223372036854775808.0)
               ? std::numeric_limits<int64_t>::min()
               : static_cast<int64_t>(t);
  };
  if constexpr (std::is_same_v<T, uint64_t>) {
    if (std::isnan(d)) return uint64_t{1} << 63;
    if (d < 9223372036854775808.0) return static_cast<uint64_t>(via64(d));
    if (d < 18446744073709551616.0) return static_cast<uint64_t>(d);
    return 0;
  } else if constexpr (sizeof(T) == 8 || std::is_same_v<T, uint32_t>) {
    return static_cast<T>(static_cast<uint64_t>(via64(d)));
  } else {
    return static_cast<T>(static_cast<uint32_t>(via32(d)));
  }
}

// erf(x) for float32 as a 13/8-degree rational interpolant on [-4, 4] (+/-1 outside), accurate to a
// couple of ulp (the approximation Eigen uses); plain arithmetic, so loops over it vectorize.
// NaN stays NaN.
inline QTOOL_EW_INLINE float fast_erf(float a) {
  const float t = a < -4.f ? -4.f : a;
  const float x = t > 4.f ? 4.f : t;
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

// y[i] = f(x[i]) for n float32 values (f: an always_inline functor).
template <typename F>
QTOOL_EW_VECTORIZE void map_f32(const float* x, float* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// y = f(x) for a float32 tensor: allocates the output and maps chunks across the OpenMP threads.
template <typename F>
Tensor unary_f32(const Tensor& x, F f) {
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = out.data<float>();
  parallel_chunks(x.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) { map_f32(p + lo, o + lo, hi - lo, f); });
  return out;
}

// po[j] = f(pa[j * sa], pb[j * sb]) for j < n, sa and sb 0 or 1, each pattern its own loop.
template <typename F>
QTOOL_EW_VECTORIZE void row_f32(const float* pa, int64_t sa, const float* pb, int64_t sb, float* po, int64_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t j = 0; j < n; ++j) po[j] = f(pa[j], pb[j]);
  } else if (sa == 1) {
    const float v = *pb;
    for (int64_t j = 0; j < n; ++j) po[j] = f(pa[j], v);
  } else if (sb == 1) {
    const float v = *pa;
    for (int64_t j = 0; j < n; ++j) po[j] = f(v, pb[j]);
  } else {
    const float v = f(*pa, *pb);
    for (int64_t j = 0; j < n; ++j) po[j] = v;
  }
}

// out = f(a, b) for float32 inputs of broadcastable shapes sa, sb into `out` of shape so (out may
// be a when sa == so; f an always_inline functor): rows of the broadcast plan, the walking / fixed
// operand patterns as separate loops so each vectorizes, split across the OpenMP threads.
template <typename F>
void broadcast_f32(const float* a, const Shape& sa, const float* b, const Shape& sb, float* out, const Shape& so, F f) {
  const BroadcastPlan<2> plan({&sa, &sb}, so);
  if (plan.numel() == 0) return;
  const int64_t len = plan.row_length(), rows = plan.rows(), s0 = plan.row_step(0), s1 = plan.row_step(1);
  auto row = [&f](const float* pa, int64_t sa_, const float* pb, int64_t sb_, float* po, int64_t n) {
    row_f32(pa, sa_, pb, sb_, po, n, f);
  };
  if (rows == 1) {  // one long row: split it
    parallel_chunks(len, kParallelGrain, [&](int64_t lo, int64_t hi) {
      row(a + lo * s0, s0, b + lo * s1, s1, out + lo, hi - lo);
    });
    return;
  }
  const int64_t rows_per_chunk = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(len, 1));
  parallel_chunks(rows, rows_per_chunk, [&](int64_t lo, int64_t hi) {
    plan.for_each_row(lo, hi, [&](int64_t, int64_t o, const std::array<int64_t, 2>& off) {
      row(a + off[0], s0, b + off[1], s1, out + o, len);
    });
  });
}

// oneDNN eltwise (forward inference) over n float32 values, `alg` a dnnl::algorithm value
// (activation.cpp). oneDNN threads and vectorizes it; with `keep_nan`, NaN inputs stay NaN in y
// (oneDNN's exp clamps them to a finite range first).
void dnnl_eltwise_f32(const float* x, float* y, int64_t n, int alg, float alpha, float beta, bool keep_nan = false);
// The same into a new tensor of x's shape.
Tensor dnnl_eltwise_f32(const Tensor& x, int alg, float alpha = 0.f, float beta = 0.f, bool keep_nan = false);

}  // namespace qtool::ew
