// SPDX-License-Identifier: Apache-2.0
// Reductions of the ONNX default domain (opsets 1..28): ReduceSum, ReduceMean, ReduceMax,
// ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare.
//
// Follows the ONNX operator spec and onnx's numpy reference (onnx/reference/ops/op_reduce_*.py):
// - axes: the `axes` attribute before ReduceSum-13 / the others' 18, the optional second input
//   from then on; no axes = every axis, unless noop_with_empty_axes = 1 (input form only), where
//   the reduction runs over the empty set: the composite ops still apply their element-wise steps
//   (ReduceLogSum gives log(x), ReduceSumSquare x*x, ReduceL1 |x|).
// - reductions over zero elements give the identity: sum 0, prod 1, max -inf (lowest for
//   integers, false for bool), min +inf (highest, true), L1/L2/SumSquare 0, LogSum and
//   LogSumExp -inf; ReduceMean of nothing is NaN (0 for integers).
// - integers wrap modulo 2^n as numpy does (sum, prod, mean's sum); ReduceMean truncates toward
//   zero; ReduceL2 / LogSum / LogSumExp of integers follow the spec's function bodies (sum in T,
//   then a float32 square root / double log / log-sum-exp in double) and truncate.
// - float16 / bfloat16 / float / double accumulate in double; NaN propagates through max / min.
// Fast kernel: float32 ReduceSum / ReduceMean whose reduced axes are trailing (row sums, the
// GlobalAveragePool pattern) or sit between kept axes with a contiguous kept inner block.
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The reduction as two nested walks: output elements in row-major order over the kept dims, each
// the reduction over the reduced dims. Extent-1 dims are dropped and adjacent dims of the same
// kind merged, so most reductions become one or two flat loops.
struct Plan {
  Shape out_shape;
  std::vector<int64_t> kept_ext, kept_st, red_ext, red_st;
  int64_t n_out = 1, count = 1;
};

Plan make_plan(const Shape& in, const std::vector<bool>& red, bool keepdims) {
  Plan p;
  const auto st = strides_of(in);
  Shape kept_dims, red_dims;
  int last = -1;  // kind of the previous non-unit dim: 0 kept, 1 reduced
  for (size_t i = 0; i < in.size(); ++i) {
    if (red[i]) {
      red_dims.push_back(in[i]);
      if (keepdims) p.out_shape.push_back(1);
    } else {
      kept_dims.push_back(in[i]);
      p.out_shape.push_back(in[i]);
    }
    if (in[i] == 1) continue;
    auto& ext = red[i] ? p.red_ext : p.kept_ext;
    auto& sv = red[i] ? p.red_st : p.kept_st;
    if (last == static_cast<int>(red[i])) {
      ext.back() *= in[i];
      sv.back() = st[i];
    } else {
      ext.push_back(in[i]);
      sv.push_back(st[i]);
    }
    last = red[i];
  }
  p.n_out = shape_numel(kept_dims);
  p.count = shape_numel(red_dims);
  return p;
}

// f(offset) for every element of the dims (ext, st) from `base`, row-major; `total` = product.
template <typename F>
inline void walk(const std::vector<int64_t>& ext, const std::vector<int64_t>& st, int64_t total, int64_t base, F&& f) {
  if (total == 0) return;
  const int r = static_cast<int>(ext.size());
  if (r == 0) {
    f(base);
    return;
  }
  if (r == 1) {
    for (int64_t i = 0; i < ext[0]; ++i) f(base + i * st[0]);
    return;
  }
  std::vector<int64_t> idx(r, 0);
  int64_t off = base;
  for (int64_t n = 0; n < total; ++n) {
    f(off);
    for (int d = r - 1; d >= 0; --d) {
      off += st[d];
      if (++idx[d] < ext[d]) break;
      off -= st[d] * ext[d];
      idx[d] = 0;
    }
  }
}

bool accepts_bool(Kind k) { return k == Kind::kMax || k == Kind::kMin; }

// The mask of reduced axes for input rank `rank` (attribute or input form, per version).
std::vector<bool> reduced_mask(const KernelContext& c, int axes_input_since, int rank) {
  std::vector<int64_t> axes;
  bool noop = false;
  std::string what;
  if (c.version < axes_input_since) {
    axes = attr_ints(c.node, "axes");
    what = "attribute 'axes'";
  } else {
    noop = attr_int(c.node, "noop_with_empty_axes", 0) != 0;
    if (c.has(1)) {
      const Tensor& a = c.in(1);
      if (!dtype_is_integer(a.dtype())) c.fail("input 'axes' must be an int64 tensor, got " + dtype_name(a.dtype()));
      if (a.rank() > 1) c.fail("input 'axes' must be 1-D, got shape " + shape_str(a.shape()));
      axes = a.to_int64s();
    }
    what = "input 'axes'";
  }
  if (axes.empty()) return std::vector<bool>(rank, !noop);
  return axes_mask(c, axes, rank, what);
}

template <typename T>
constexpr bool kFloatLike = std::is_floating_point_v<Compute<T>>;

template <typename T>
void reduce_typed(const Tensor& x, Tensor& y, const Plan& p, Kind k) {
  const T* px = x.data<T>();
  T* py = y.data<T>();
  int64_t o = 0;
  if constexpr (std::is_same_v<T, bool>) {
    walk(p.kept_ext, p.kept_st, p.n_out, 0, [&](int64_t base) {
      bool r = k == Kind::kMin;  // identity: min of nothing is true, max of nothing false
      walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { r = k == Kind::kMax ? (r || px[i]) : (r && px[i]); });
      py[o++] = r;
    });
  } else if constexpr (kFloatLike<T>) {
    auto v = [&](int64_t i) { return static_cast<double>(to_compute(px[i])); };
    walk(p.kept_ext, p.kept_st, p.n_out, 0, [&](int64_t base) {
      double r = 0.0;
      switch (k) {
        case Kind::kSum:
        case Kind::kMean:
        case Kind::kLogSum:
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { r += v(i); });
          if (k == Kind::kMean) r /= static_cast<double>(p.count);  // 0/0 = NaN for an empty mean
          if (k == Kind::kLogSum) r = std::log(r);
          break;
        case Kind::kL1:
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { r += std::fabs(v(i)); });
          break;
        case Kind::kL2:
        case Kind::kSumSquare:
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { r += v(i) * v(i); });
          if (k == Kind::kL2) r = std::sqrt(r);
          break;
        case Kind::kProd:
          r = 1.0;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { r *= v(i); });
          break;
        case Kind::kMax:
        case Kind::kMin: {
          const bool mx = k == Kind::kMax;
          r = mx ? -INFINITY : INFINITY;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) {
            const double a = v(i);
            if (std::isnan(r)) return;
            if (std::isnan(a) || (mx ? a > r : a < r)) r = a;
          });
          break;
        }
        case Kind::kLogSumExp: {
          // Shift by the largest finite value (0 when there is none): all -inf gives -inf,
          // any +inf gives +inf, NaN propagates.
          double m = -INFINITY;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) {
            const double a = v(i);
            if (std::isfinite(a) && a > m) m = a;
          });
          if (!std::isfinite(m)) m = 0.0;
          double s = 0.0;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { s += std::exp(v(i) - m); });
          r = std::log(s) + m;
          break;
        }
      }
      py[o++] = from_compute<T>(static_cast<Compute<T>>(r));
    });
  } else {
    // Integers: wrapping arithmetic in T (numpy), double for the logarithmic / root ones.
    using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
    walk(p.kept_ext, p.kept_st, p.n_out, 0, [&](int64_t base) {
      T r{};
      switch (k) {
        case Kind::kSum:
        case Kind::kMean: {
          Wide s = 0;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { s = wrap_add<Wide>(s, px[i]); });
          r = static_cast<T>(s);
          if (k == Kind::kMean) r = p.count ? static_cast<T>(static_cast<Wide>(r) / static_cast<Wide>(p.count)) : T(0);
          break;
        }
        case Kind::kL1: {
          Wide s = 0;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) {
            Wide a = static_cast<Wide>(px[i]);
            if constexpr (std::is_signed_v<T>) a = a < 0 ? wrap_mul<Wide>(a, -1) : a;
            s = wrap_add<Wide>(s, a);
          });
          r = static_cast<T>(s);
          break;
        }
        case Kind::kSumSquare: {
          Wide s = 0;
          walk(p.red_ext, p.red_st, p.count, base,
               [&](int64_t i) { s = wrap_add<Wide>(s, wrap_mul<Wide>(px[i], px[i])); });
          r = static_cast<T>(s);
          break;
        }
        case Kind::kProd: {
          Wide s = 1;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { s = wrap_mul<Wide>(s, px[i]); });
          r = static_cast<T>(s);
          break;
        }
        case Kind::kMax:
        case Kind::kMin: {
          const bool mx = k == Kind::kMax;
          r = mx ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { r = mx ? std::max(r, px[i]) : std::min(r, px[i]); });
          break;
        }
        case Kind::kL2:
        case Kind::kLogSum: {
          Wide s = 0;
          if (k == Kind::kL2)
            walk(p.red_ext, p.red_st, p.count, base,
                 [&](int64_t i) { s = wrap_add<Wide>(s, wrap_mul<Wide>(px[i], px[i])); });
          else
            walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) { s = wrap_add<Wide>(s, px[i]); });
          // As the spec's function bodies: the sum wraps in T; L2 takes a float32 square root.
          const T st = static_cast<T>(s);
          r = saturate_cast<T>(k == Kind::kL2 ? static_cast<double>(std::sqrt(static_cast<float>(st)))
                                              : std::log(static_cast<double>(st)));
          break;
        }
        case Kind::kLogSumExp: {
          bool any = false;
          T m = 0;
          walk(p.red_ext, p.red_st, p.count, base, [&](int64_t i) {
            if (!any || px[i] > m) m = px[i];
            any = true;
          });
          double s = 0.0;
          walk(p.red_ext, p.red_st, p.count, base,
               [&](int64_t i) { s += std::exp(static_cast<double>(px[i]) - static_cast<double>(m)); });
          r = saturate_cast<T>(std::log(s) + static_cast<double>(m));
          break;
        }
      }
      py[o++] = r;
    });
  }
}

using ReduceTypes = decltype(NumericTypes{} + TypeList<bool>{});

template <Kind K, int Since>
void reduce_validate(KernelContext& c) {
  attr_int(c.node, "keepdims", 1);
  if (c.version < Since) {
    const auto axes = attr_ints(c.node, "axes");
    if (c.has(0) && c.value(0).is_tensor()) axes_mask(c, axes, c.in(0).rank(), "attribute 'axes'");
  } else {
    attr_int(c.node, "noop_with_empty_axes", 0);
    if (c.has(1) && c.value(1).is_tensor()) {
      const Tensor& a = c.in(1);
      if (!dtype_is_integer(a.dtype())) c.fail("input 'axes' must be an int64 tensor, got " + dtype_name(a.dtype()));
      if (a.rank() > 1) c.fail("input 'axes' must be 1-D, got shape " + shape_str(a.shape()));
    }
  }
  if (c.has(0) && c.value(0).is_tensor()) {
    const DType t = c.in(0).dtype();
    if (t == DType::kBool ? !accepts_bool(K) : !dispatch<NumericTypes>(t, [](auto) {})) c.fail_dtype(0, t);
  }
}

template <Kind K, int Since>
void reduce_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() == DType::kBool && !accepts_bool(K)) c.fail_dtype(0, x.dtype());
  const auto red = reduced_mask(c, Since, x.rank());
  const Plan p = make_plan(x.shape(), red, attr_int(c.node, "keepdims", 1) != 0);
  Tensor y = Tensor::uninitialized(x.dtype(), p.out_shape);
  c.dispatch_or_fail<ReduceTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduce_typed<T>(x, y, p, K);
  });
  c.outputs[0] = std::move(y);
}

// float32 ReduceSum / ReduceMean over (a) trailing reduced axes or (b) reduced axes between kept
// ones with a contiguous kept inner block; other layouts fall back to the reference.
template <Kind K, int Since>
bool reduce_sum_mean_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.layout()) return false;
  const auto red = reduced_mask(c, Since, x.rank());
  const Plan p = make_plan(x.shape(), red, attr_int(c.node, "keepdims", 1) != 0);
  if (p.count == 0 || p.n_out == 0) return false;
  const double scale = K == Kind::kMean ? 1.0 / static_cast<double>(p.count) : 1.0;
  const float* px = x.data<float>();
  if (p.red_ext.empty() || (p.red_ext.size() == 1 && p.red_st[0] == 1)) {
    Tensor y = Tensor::uninitialized(DType::kFloat, p.out_shape);
    float* py = y.data<float>();
    walk(p.kept_ext, p.kept_st, p.n_out, 0,
         [&](int64_t base) { *py++ = static_cast<float>(sum_f32(px + base, p.count) * scale); });
    c.outputs[0] = std::move(y);
    return true;
  }
  // [K1] R K2: kept inner block K2 contiguous, one reduced run of stride K2 before it.
  if (p.red_ext.size() != 1 || p.kept_ext.empty() || p.kept_ext.size() > 2 || p.kept_st.back() != 1) return false;
  const int64_t inner = p.kept_ext.back(), r = p.red_ext[0];
  if (p.red_st[0] != inner) return false;
  const int64_t outer = p.kept_ext.size() == 2 ? p.kept_ext[0] : 1;
  Tensor y = Tensor::uninitialized(DType::kFloat, p.out_shape);
  float* py = y.data<float>();
  std::vector<double> acc(inner);
  for (int64_t a = 0; a < outer; ++a) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const float* q = px + a * r * inner;
    for (int64_t i = 0; i < r; ++i, q += inner)
      for (int64_t j = 0; j < inner; ++j) acc[j] += q[j];
    for (int64_t j = 0; j < inner; ++j) py[a * inner + j] = static_cast<float>(acc[j] * scale);
  }
  c.outputs[0] = std::move(y);
  return true;
}

template <Kind K, int Since>
OpDef reduce_def() {
  OpDef d{reduce_run<K, Since>};
  d.validate = reduce_validate<K, Since>;
  if constexpr (K == Kind::kSum || K == Kind::kMean) d.fast = reduce_sum_mean_fast<K, Since>;
  return d;
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add("", "ReduceSum", {1, 11, 13}, reduce_def<Kind::kSum, 13>());
  r.add("", "ReduceMean", {1, 11, 13, 18}, reduce_def<Kind::kMean, 18>());
  r.add("", "ReduceMax", {1, 11, 12, 13, 18, 20}, reduce_def<Kind::kMax, 18>());
  r.add("", "ReduceMin", {1, 11, 12, 13, 18, 20}, reduce_def<Kind::kMin, 18>());
  r.add("", "ReduceProd", {1, 11, 13, 18}, reduce_def<Kind::kProd, 18>());
  r.add("", "ReduceL1", {1, 11, 13, 18}, reduce_def<Kind::kL1, 18>());
  r.add("", "ReduceL2", {1, 11, 13, 18}, reduce_def<Kind::kL2, 18>());
  r.add("", "ReduceLogSum", {1, 11, 13, 18, 28}, reduce_def<Kind::kLogSum, 18>());
  r.add("", "ReduceLogSumExp", {1, 11, 13, 18, 28}, reduce_def<Kind::kLogSumExp, 18>());
  r.add("", "ReduceSumSquare", {1, 11, 13, 18}, reduce_def<Kind::kSumSquare, 18>());
}

}  // namespace qtool
