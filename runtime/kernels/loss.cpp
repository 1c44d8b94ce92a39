// SPDX-License-Identifier: Apache-2.0
// Loss ops of the ONNX default domain: SoftmaxCrossEntropyLoss (12, 13) and
// NegativeLogLikelihoodLoss (12, 13, 22).
//
// Input (N, C) or (N, C, D1, ..., Dk), target (N) or (N, D1, ..., Dk) of int32/int64 class indices,
// optional weight (C). Per element loss[n, d] = -weight[t] * input[n, t, d] with t = target[n, d]
// (weight 1 when absent); elements whose target equals ignore_index contribute 0 and no weight.
// SoftmaxCrossEntropyLoss first takes log_softmax over the class axis (max-shifted) and can return
// it as log_prob. reduction: none (loss shaped like target), sum, or mean = sum(loss) / sum of the
// applied weights (every element weighs 1 without weights; NaN when every target is ignored).
// A target outside [0, C) that is not ignore_index is an error. Follows the ONNX spec and
// onnx/reference/ops/op_softmax_cross_entropy_loss.py, op_negative_log_likelihood_loss.py;
// computed in double for every float type.
#include <cmath>

#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

enum class Reduction { kNone, kSum, kMean };

Reduction reduction_of(const KernelContext& c) {
  const std::string r = attr_string(c.node, "reduction", "mean");
  if (r == "none") return Reduction::kNone;
  if (r == "sum") return Reduction::kSum;
  if (r == "mean") return Reduction::kMean;
  c.fail("attribute 'reduction' must be 'none', 'sum' or 'mean', got '" + r + "'");
}

template <bool Softmax>
void loss_validate(KernelContext& c) {
  reduction_of(c);
  if (find_attr(c.node, "ignore_index")) attr_int(c.node, "ignore_index", 0);
  const bool has_x = c.has(0) && c.value(0).is_tensor(), has_t = c.has(1) && c.value(1).is_tensor();
  if (has_x && !dispatch<RealTypes>(c.in(0).dtype(), [](auto) {})) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(2) && c.value(2).is_tensor() && !dispatch<RealTypes>(c.in(2).dtype(), [](auto) {}))
    c.fail_dtype(2, c.in(2).dtype());
  if (has_t && c.in(1).dtype() != DType::kInt32 && c.in(1).dtype() != DType::kInt64) c.fail_dtype(1, c.in(1).dtype());
  const char* xname = Softmax ? "scores" : "input";
  if (has_x && c.in(0).rank() < 2)
    c.fail(std::string("input '") + xname + "' must have shape (N, C) or (N, C, D1, ...), got " +
           shape_str(c.in(0).shape()));
  if (has_x && has_t) {
    const Shape& xs = c.in(0).shape();
    Shape want{xs[0]};
    want.insert(want.end(), xs.begin() + 2, xs.end());
    if (c.in(1).shape() != want)
      c.fail(std::string("input '") + (Softmax ? "labels" : "target") + "' must have shape " + shape_str(want) +
             " for " + xname + " of shape " + shape_str(xs) + ", got " + shape_str(c.in(1).shape()));
  }
  if (has_x && c.has(2) && c.value(2).is_tensor() && (c.in(2).rank() != 1 || c.in(2).dim(0) != c.in(0).dim(1)))
    c.fail("input 'weights' must have shape [" + std::to_string(c.in(0).dim(1)) + "], got " +
           shape_str(c.in(2).shape()));
}

template <bool Softmax>
void loss_run(KernelContext& c) {
  loss_validate<Softmax>(c);
  const Tensor& x = c.in(0);
  const Tensor& target = c.in(1);
  const Reduction red = reduction_of(c);
  const bool has_ignore = find_attr(c.node, "ignore_index") != nullptr;
  const int64_t ignore = attr_int(c.node, "ignore_index", 0);
  const int64_t n = x.dim(0), cls = x.dim(1);
  int64_t d = 1;
  for (int i = 2; i < x.rank(); ++i) d *= x.dim(i);
  const int64_t n_items = target.numel();
  std::vector<double> xs = x.to_doubles();
  const auto t = target.to_int64s();
  const std::vector<double> w = c.has(2) ? c.in(2).to_doubles() : std::vector<double>();
  if (Softmax) {  // log_softmax over the class axis
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < d; ++b) {
        double* p = xs.data() + a * cls * d + b;
        double mx = -INFINITY;
        for (int64_t k = 0; k < cls; ++k) mx = std::isnan(p[k * d]) || p[k * d] > mx ? p[k * d] : mx;
        double s = 0.0;
        for (int64_t k = 0; k < cls; ++k) s += std::exp(p[k * d] - mx);
        const double ls = std::log(s);
        for (int64_t k = 0; k < cls; ++k) p[k * d] = p[k * d] - mx - ls;
      }
  }
  std::vector<double> loss(n_items, 0.0);
  double sum = 0.0, weight_sum = 0.0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < d; ++b) {
      const int64_t i = a * d + b, k = t[i];
      if (has_ignore && k == ignore) continue;
      if (k < 0 || k >= cls)
        c.fail("input '" + std::string(Softmax ? "labels" : "target") + "': class index " + std::to_string(k) +
               " is outside [0, " + std::to_string(cls) + ")");
      const double wk = w.empty() ? 1.0 : w[k];
      loss[i] = -xs[(a * cls + k) * d + b] * wk;
      sum += loss[i];
      weight_sum += wk;
    }
  Tensor out;
  if (red == Reduction::kNone) {
    out = Tensor::uninitialized(x.dtype(), target.shape());
  } else {
    out = Tensor::uninitialized(x.dtype(), {});
    loss.assign(1, red == Reduction::kSum ? sum : sum / weight_sum);
  }
  dispatch<RealTypes>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* q = out.data<T>();
    for (size_t i = 0; i < loss.size(); ++i) q[i] = from_compute<T>(static_cast<Compute<T>>(loss[i]));
  });
  c.outputs[0] = std::move(out);
  if (Softmax && wants_output(c, 1) && c.outputs.size() > 1) {
    Tensor lp = Tensor::uninitialized(x.dtype(), x.shape());
    dispatch<RealTypes>(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* q = lp.data<T>();
      for (size_t i = 0; i < xs.size(); ++i) q[i] = from_compute<T>(static_cast<Compute<T>>(xs[i]));
    });
    c.outputs[1] = std::move(lp);
  }
}

}  // namespace

void register_loss_ops(OpRegistry& r) {
  r.add("", "SoftmaxCrossEntropyLoss", {12, 13}, OpDef{loss_run<true>, nullptr, loss_validate<true>});
  r.add("", "NegativeLogLikelihoodLoss", {12, 13, 22}, OpDef{loss_run<false>, nullptr, loss_validate<false>});
}

}  // namespace qtool
