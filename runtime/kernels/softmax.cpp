// SPDX-License-Identifier: Apache-2.0
// Softmax, LogSoftmax and Hardmax (ONNX opsets 1..28).
//
// Before opset 13 the input is coerced to 2-D at `axis` (default 1): [prod(dims[:axis]),
// prod(dims[axis:])], and the op runs along the second dimension; from 13 it runs along the one
// axis `axis` (default -1). Softmax and LogSoftmax subtract the maximum first (numerically stable;
// LogSoftmax = (x - max) - log(sum(exp(x - max)))), computed in double for every float type.
// Hardmax puts 1 at the first maximum (numpy argmax: the first NaN counts as the maximum).
// Follows the ONNX spec and onnx/reference/ops/op_softmax.py, op_log_softmax.py, op_hardmax.py.
// Fast kernel: float32 Softmax / LogSoftmax through oneDNN's softmax / logsoftmax primitives (inputs
// holding NaN or +inf take the reference, which propagates them as numpy).
#include <Eigen/Core>

#include <cmath>
#include <memory>

#include "core/parallel.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

enum class Mode { kSoftmax, kLogSoftmax, kHardmax };

// The op as [outer, n, inner] with the softmax along n.
struct Geometry {
  int64_t outer = 1, n = 1, inner = 1;
};

Geometry geometry(const KernelContext& c, const Tensor& x) {
  const int r = x.rank();
  const bool coerce_2d = c.version < 13;
  const int axis = checked_axis(c, attr_int(c.node, "axis", coerce_2d ? 1 : -1), r);
  Geometry g;
  for (int i = 0; i < axis; ++i) g.outer *= x.dim(i);
  if (coerce_2d) {
    for (int i = axis; i < r; ++i) g.n *= x.dim(i);
  } else {
    g.n = x.dim(axis);
    for (int i = axis + 1; i < r; ++i) g.inner *= x.dim(i);
  }
  return g;
}

template <typename T>
void softmax_typed(const T* px, T* py, const Geometry& g, Mode mode) {
  std::vector<double> row(g.n);
  for (int64_t a = 0; a < g.outer; ++a)
    for (int64_t b = 0; b < g.inner; ++b) {
      const int64_t base = a * g.n * g.inner + b;
      for (int64_t i = 0; i < g.n; ++i) row[i] = static_cast<double>(to_compute(px[base + i * g.inner]));
      if (mode == Mode::kHardmax) {
        int64_t best = 0;
        for (int64_t i = 1; i < g.n; ++i)
          if (!std::isnan(row[best]) && (std::isnan(row[i]) || row[i] > row[best])) best = i;
        for (int64_t i = 0; i < g.n; ++i)
          py[base + i * g.inner] = from_compute<T>(static_cast<Compute<T>>(i == best ? 1.0 : 0.0));
        continue;
      }
      // The maximum as numpy's max: NaN if any element is NaN.
      double mx = -INFINITY;
      for (int64_t i = 0; i < g.n; ++i) {
        if (std::isnan(row[i])) {
          mx = row[i];
          break;
        }
        if (row[i] > mx) mx = row[i];
      }
      double sum = 0.0;
      for (int64_t i = 0; i < g.n; ++i) sum += std::exp(row[i] - mx);
      const double log_sum = std::log(sum);
      for (int64_t i = 0; i < g.n; ++i) {
        const double d = row[i] - mx;
        const double v = mode == Mode::kLogSoftmax ? d - log_sum : std::exp(d) / sum;
        py[base + i * g.inner] = from_compute<T>(static_cast<Compute<T>>(v));
      }
    }
}

template <Mode M>
void softmax_validate(KernelContext& c) {
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const Tensor& x = c.in(0);
  if (!dispatch<RealTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  geometry(c, x);
}

template <Mode M>
void softmax_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Geometry g = geometry(c, x);
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  c.dispatch_or_fail<RealTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_typed<T>(x.data<T>(), y.data<T>(), g, M);
  });
  c.outputs[0] = std::move(y);
}

// A oneDNN (log)softmax primitive for one geometry.
struct SoftmaxCache {
  int64_t outer = -1, n = -1, inner = -1;
  dnnl::memory::desc md;
  dnnl::primitive prim;
};

template <Mode M>
bool softmax_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.layout() || x.numel() == 0) return false;
  // oneDNN does not propagate NaN / +inf through the row as numpy does: such inputs take the
  // reference (-inf, the masking value, is fine).
  if (!(Eigen::Map<const Eigen::ArrayXf>(x.data<float>(), x.numel()) < INFINITY).all()) return false;
  const Geometry g = geometry(c, x);
  const SerialScope serial(16.0 * static_cast<double>(x.numel()));  // ~16 operations per element (exp)
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<SoftmaxCache*>(slot.get());
  auto& ctx = DnnlContext::get();
  if (!cache || cache->outer != g.outer || cache->n != g.n || cache->inner != g.inner) {
    auto fresh = std::make_shared<SoftmaxCache>();
    fresh->outer = g.outer;
    fresh->n = g.n;
    fresh->inner = g.inner;
    fresh->md = plain_desc(g.inner == 1 ? Shape{g.outer, g.n} : Shape{g.outer, g.n, g.inner});
    if (M == Mode::kSoftmax) {
      dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, fresh->md, 1);
      fresh->prim = dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(d, ctx.engine));
    } else {
      dnnl::logsoftmax_forward::desc d(dnnl::prop_kind::forward_inference, fresh->md, 1);
      fresh->prim = dnnl::logsoftmax_forward(dnnl::logsoftmax_forward::primitive_desc(d, ctx.engine));
    }
    slot = fresh;
    cache = fresh.get();
  }
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  cache->prim.execute(ctx.stream, {{DNNL_ARG_SRC, wrap(cache->md, x)}, {DNNL_ARG_DST, wrap(cache->md, y)}});
  ctx.stream.wait();
  c.outputs[0] = std::move(y);
  return true;
}

template <Mode M>
OpDef softmax_def() {
  OpDef d{softmax_run<M>};
  d.validate = softmax_validate<M>;
  if constexpr (M != Mode::kHardmax) d.fast = softmax_fast<M>;
  return d;
}

}  // namespace

void register_softmax_ops(OpRegistry& r) {
  r.add("", "Softmax", {1, 11, 13}, softmax_def<Mode::kSoftmax>());
  r.add("", "LogSoftmax", {1, 11, 13}, softmax_def<Mode::kLogSoftmax>());
  r.add("", "Hardmax", {1, 11, 13}, softmax_def<Mode::kHardmax>());
}

}  // namespace qtool
