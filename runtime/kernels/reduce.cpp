// ReduceMean / ReduceSum / ReduceMax / ReduceMin over float32. Axes come from the `axes`
// attribute (ReduceSum < 13, others < 18) or the second input.
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

enum class Reduce { kMean, kSum, kMax, kMin };

void reduce(KernelContext& c, Reduce kind, int axes_input_since) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat) c.fail("expects float32 input");
  const int r = x.rank();
  std::vector<int64_t> axes = c.opset < axes_input_since ? attr_ints(c.node, "axes")
                                                         : (c.has(1) ? c.in(1).to_int64s() : std::vector<int64_t>{});
  const bool keep = attr_int(c.node, "keepdims", 1);
  std::vector<bool> red(r, axes.empty() && !attr_int(c.node, "noop_with_empty_axes", 0));
  for (auto a : axes) red[normalize_axis(a, r, c.node)] = true;
  Shape out_shape, kept_shape;
  for (int i = 0; i < r; ++i) {
    kept_shape.push_back(red[i] ? 1 : x.dim(i));
    if (!red[i] || keep) out_shape.push_back(red[i] ? 1 : x.dim(i));
  }
  const int64_t n_out = shape_numel(kept_shape), count = n_out ? x.numel() / n_out : 0;
  const double init = kind == Reduce::kMax ? -INFINITY : kind == Reduce::kMin ? INFINITY : 0.0;
  std::vector<double> acc(n_out, init);
  std::vector<int64_t> ost(r);
  int64_t s = 1;
  for (int i = r; i-- > 0;) {
    ost[i] = red[i] ? 0 : s;
    s *= kept_shape[i];
  }
  const float* p = x.data<float>();
  std::vector<int64_t> idx(r, 0);
  int64_t o = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = p[i];
    double& a = acc[o];
    if (kind == Reduce::kMax) a = std::max(a, v);
    else if (kind == Reduce::kMin) a = std::min(a, v);
    else a += v;
    for (int d = r - 1; d >= 0; --d) {
      o += ost[d];
      if (++idx[d] < x.dim(d)) break;
      o -= ost[d] * x.dim(d);
      idx[d] = 0;
    }
  }
  Tensor y = Tensor::uninitialized(DType::kFloat, out_shape);
  float* q = y.data<float>();
  for (int64_t i = 0; i < n_out; ++i) q[i] = static_cast<float>(kind == Reduce::kMean ? acc[i] / count : acc[i]);
  c.outputs[0] = std::move(y);
}

void reduce_mean(KernelContext& c) { reduce(c, Reduce::kMean, 18); }
void reduce_sum(KernelContext& c) { reduce(c, Reduce::kSum, 13); }
void reduce_max(KernelContext& c) { reduce(c, Reduce::kMax, 18); }
void reduce_min(KernelContext& c) { reduce(c, Reduce::kMin, 18); }

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add("ReduceMean", {1, 11, 13, 18}, reduce_mean);
  r.add("ReduceSum", {1, 11, 13}, reduce_sum);
  r.add("ReduceMax", {1, 11, 12, 13, 18, 20}, reduce_max);
  r.add("ReduceMin", {1, 11, 12, 13, 18, 20}, reduce_min);
}

}  // namespace qtool
