// SPDX-License-Identifier: Apache-2.0
// Random ops: RandomNormal, RandomNormalLike, RandomUniform, RandomUniformLike (ai.onnx 1, 22),
// Bernoulli (15, 22), Multinomial (7, 22). Registered with foldable = false: never evaluated at
// compile time.
//
// The generator is MT19937 (std::mt19937). With the `seed` attribute it is seeded with
// uint32(int64(seed)) on every run, so a seeded node gives the same values every time; without it
// (or with a NaN seed) it is seeded from std::random_device. The draws follow numpy's legacy
// RandomState (which the ONNX reference implementation uses with the same seeding), so seeded
// results equal onnx.reference's for RandomUniform(Like), RandomNormal(Like) and Bernoulli:
//  - uniform double: (a >> 5) * 2^26 + (b >> 6), divided by 2^53, from two 32-bit draws;
//  - normal: Marsaglia's polar method, the second value of each pair kept for the next draw;
//    value = cast(z) * scale + mean, uniform = cast(u) * (high - low) + low, in the output type;
//  - Bernoulli(p): numpy's binomial(1, p), i.e. inversion on min(p, 1 - p) with one uniform draw
//    per element (essentially u > 1 - p for p <= 0.5, u <= p otherwise);
//  - Multinomial (no onnx reference): per batch row, p_k = exp(x_k - max x) (unnormalised
//    log-probabilities), then for each sample u = uniform * sum p and the first class whose
//    running sum exceeds u.
// onnxruntime uses other generators, so its values differ from qtool's for the same seed.
#include <cmath>
#include <random>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

// numpy's legacy RandomState draws on top of MT19937.
class LegacyRandom {
 public:
  explicit LegacyRandom(uint32_t seed) : mt_(seed) {}
  double uniform() {
    const uint32_t a = mt_() >> 5, b = mt_() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }
  double gauss() {
    if (has_gauss_) {
      has_gauss_ = false;
      return gauss_;
    }
    double x1, x2, r2;
    do {
      x1 = 2.0 * uniform() - 1.0;
      x2 = 2.0 * uniform() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    gauss_ = f * x1;
    has_gauss_ = true;
    return f * x2;
  }

 private:
  std::mt19937 mt_;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

uint32_t node_seed(const KernelContext& c) {
  const auto* a = find_attr(c.node, "seed");
  if (a) {
    const float s = attr_float(c.node, "seed", 0.f);
    if (!std::isnan(s)) {
      const double d = std::clamp(static_cast<double>(s), -9.0e18, 9.0e18);
      return static_cast<uint32_t>(static_cast<uint64_t>(static_cast<int64_t>(d)));
    }
  }
  std::random_device rd;
  return rd();
}

// The dtype attribute (or `def` when absent / 0), checked against `List`.
template <typename List>
DType dtype_attr(const KernelContext& c, DType def, const char* allowed) {
  const int64_t v = attr_int(c.node, "dtype", 0);
  const DType t = v == 0 ? def : static_cast<DType>(v);
  if (v < 0 || v > kMaxDTypeValue || !dispatch<List>(t, [](auto) {}))
    c.fail("attribute 'dtype': " + (v == 0 ? "the input's type " + dtype_name(def) : std::to_string(v)) +
           " is not one of " + allowed);
  return t;
}

using RandomFloatTypes = FloatTypes;  // float16, float, double, bfloat16

// The output shape: the `shape` attribute, or the input's shape for the *Like ops.
Shape random_shape(const KernelContext& c, bool like) {
  if (like) return c.in(0).shape();
  if (!find_attr(c.node, "shape")) c.fail("attribute 'shape' is required");
  Shape s = attr_ints(c.node, "shape");
  for (int64_t d : s)
    if (d < 0) c.fail("attribute 'shape' has a negative extent " + std::to_string(d));
  shape_numel(s);
  return s;
}

DType random_dtype(const KernelContext& c, bool like) {
  const DType def = like ? c.in(0).dtype() : DType::kFloat;
  return dtype_attr<RandomFloatTypes>(c, def, "float16, float, double, bfloat16");
}

template <bool kNormal, bool kLike>
void random_validate(KernelContext& c) {
  if (kLike && !c.has(0)) return;
  random_shape(c, kLike);
  random_dtype(c, kLike);
}

template <bool kNormal, bool kLike>
void random_op(KernelContext& c) {
  const Shape shape = random_shape(c, kLike);
  const DType t = random_dtype(c, kLike);
  // a = scale or high - low, b = mean or low: value = cast(draw) * a + b in the output type
  const double p0 = attr_float(c.node, kNormal ? "mean" : "low", 0.f);
  const double p1 = attr_float(c.node, kNormal ? "scale" : "high", 1.f);
  const double a = kNormal ? p1 : p1 - p0, b = p0;
  LegacyRandom rng(node_seed(c));
  Tensor y = Tensor::uninitialized(t, shape);
  dispatch<RandomFloatTypes>(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    T* o = y.data<T>();
    const C ca = to_compute(from_compute<T>(static_cast<C>(a))), cb = to_compute(from_compute<T>(static_cast<C>(b)));
    const int64_t n = y.numel();
    for (int64_t i = 0; i < n; ++i) {
      const double d = kNormal ? rng.gauss() : rng.uniform();
      const T v = from_compute<T>(static_cast<C>(d));
      const T m = from_compute<T>(to_compute(v) * ca);
      o[i] = from_compute<T>(to_compute(m) + cb);
    }
  });
  c.outputs[0] = std::move(y);
}

// ---- Bernoulli ----

using BernoulliOutTypes = decltype(NumericTypes{} + TypeList<bool>{});

void bernoulli_validate(KernelContext& c) {
  if (!c.has(0)) return;
  const Tensor& x = c.in(0);
  if (!dispatch<FloatTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  dtype_attr<BernoulliOutTypes>(c, x.dtype(), "a numeric type or bool");
}

// numpy's legacy_random_binomial(p, n = 1) (RandomState.binomial): inversion (n * p <= 30 always holds for n = 1), on the
// smaller of p and 1 - p; the loop redraws in the rare case rounding overshoots the last step.
int binomial1(LegacyRandom& rng, double p) {
  auto inversion = [&](double pp) -> int {
    const double q = 1.0 - pp;
    const double qn = std::exp(std::log(q));
    const double np = pp;
    const int64_t bound = static_cast<int64_t>(std::min(1.0, np + 10.0 * std::sqrt(np * q + 1)));
    int64_t x = 0;
    double px = qn, u = rng.uniform();
    while (u > px) {
      ++x;
      if (x > bound) {
        x = 0;
        px = qn;
        u = rng.uniform();
      } else {
        u -= px;
        px = (static_cast<double>(1 - x + 1) * pp * px) / (static_cast<double>(x) * q);
      }
    }
    return static_cast<int>(x);
  };
  return p <= 0.5 ? inversion(p) : 1 - inversion(1.0 - p);
}

void bernoulli(KernelContext& c) {
  bernoulli_validate(c);
  const Tensor& x = c.in(0);
  const DType t = dtype_attr<BernoulliOutTypes>(c, x.dtype(), "a numeric type or bool");
  const auto p = x.to_doubles();
  for (double v : p)
    if (!(v >= 0 && v <= 1)) c.fail("input probabilities must lie in [0, 1], got " + std::to_string(v));
  LegacyRandom rng(node_seed(c));
  Tensor y = Tensor::uninitialized(t, x.shape());
  dispatch<BernoulliOutTypes>(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = y.data<T>();
    for (size_t i = 0; i < p.size(); ++i) {
      const bool one = binomial1(rng, p[i]) == 1;
      if constexpr (std::is_same_v<T, bool>) o[i] = one;
      else o[i] = from_compute<T>(static_cast<Compute<T>>(one ? 1 : 0));
    }
  });
  c.outputs[0] = std::move(y);
}

// ---- Multinomial ----

void multinomial_validate(KernelContext& c) {
  const int64_t dt = attr_int(c.node, "dtype", 6);
  if (dt != static_cast<int64_t>(DType::kInt32) && dt != static_cast<int64_t>(DType::kInt64))
    c.fail("attribute 'dtype' must be int32 (6) or int64 (7), got " + std::to_string(dt));
  const int64_t n = attr_int(c.node, "sample_size", 1);
  if (n < 0) c.fail("attribute 'sample_size' must be >= 0, got " + std::to_string(n));
  if (!c.has(0)) return;
  const Tensor& x = c.in(0);
  if (!dispatch<FloatTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  if (x.rank() != 2) c.fail("input must be [batch_size, class_size], got " + shape_str(x.shape()));
  if (x.dim(1) == 0 && x.dim(0) > 0 && n > 0) c.fail("input has no classes to sample from");
  shape_numel({x.dim(0), n});
}

void multinomial(KernelContext& c) {
  multinomial_validate(c);
  const Tensor& x = c.in(0);
  const int64_t samples = attr_int(c.node, "sample_size", 1);
  const DType t = static_cast<DType>(attr_int(c.node, "dtype", 6));
  const int64_t B = x.dim(0), K = x.dim(1);
  const auto lp = x.to_doubles();
  LegacyRandom rng(node_seed(c));
  Tensor y = Tensor::uninitialized(t, {B, samples});
  std::vector<double> cdf(K);
  std::vector<int64_t> out(static_cast<size_t>(B * samples));
  for (int64_t b = 0; b < B; ++b) {
    const double* row = lp.data() + b * K;
    double mx = -INFINITY;
    for (int64_t k = 0; k < K; ++k)
      if (row[k] > mx) mx = row[k];
    double sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const double e = std::isnan(row[k]) || mx == -INFINITY ? 0.0 : std::exp(row[k] - mx);
      sum += e;
      cdf[k] = sum;
    }
    if (!(sum > 0) || !std::isfinite(sum))
      c.fail("row " + std::to_string(b) + " of the log-probabilities has no finite, positive mass");
    for (int64_t s = 0; s < samples; ++s) {
      const double u = rng.uniform() * sum;
      int64_t k = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
      if (k >= K) k = K - 1;
      out[b * samples + s] = k;
    }
  }
  if (t == DType::kInt64) {
    std::copy(out.begin(), out.end(), y.data<int64_t>());
  } else {
    int32_t* o = y.data<int32_t>();
    for (size_t i = 0; i < out.size(); ++i) o[i] = static_cast<int32_t>(out[i]);
  }
  c.outputs[0] = std::move(y);
}

OpDef random_def(KernelFn run, KernelFn validate) {
  OpDef d{run, nullptr, validate};
  d.foldable = false;
  return d;
}

}  // namespace

void register_random_ops(OpRegistry& r) {
  r.add("", "RandomNormal", {1, 22}, random_def(random_op<true, false>, random_validate<true, false>));
  r.add("", "RandomNormalLike", {1, 22}, random_def(random_op<true, true>, random_validate<true, true>));
  r.add("", "RandomUniform", {1, 22}, random_def(random_op<false, false>, random_validate<false, false>));
  r.add("", "RandomUniformLike", {1, 22}, random_def(random_op<false, true>, random_validate<false, true>));
  r.add("", "Bernoulli", {15, 22}, random_def(bernoulli, bernoulli_validate));
  r.add("", "Multinomial", {7, 22}, random_def(multinomial, multinomial_validate));
}

}  // namespace qtool
