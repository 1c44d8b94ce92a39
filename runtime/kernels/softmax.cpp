// SPDX-License-Identifier: Apache-2.0
// Softmax, LogSoftmax and Hardmax (ONNX opsets 1..28).
//
// Before opset 13 the input is coerced to 2-D at `axis` (default 1): [prod(dims[:axis]),
// prod(dims[axis:])], and the op runs along the second dimension; from 13 it runs along the one
// axis `axis` (default -1). Softmax and LogSoftmax subtract the maximum first (numerically stable;
// LogSoftmax = (x - max) - log(sum(exp(x - max)))), computed in double for every float type.
// Hardmax puts 1 at the first maximum (numpy argmax: the first NaN counts as the maximum).
// Follows the ONNX spec and onnx/reference/ops/op_softmax.py, op_log_softmax.py, op_hardmax.py.
// Fast kernel: float32 Softmax / LogSoftmax computed in float with Eigen's vectorized exp, in
// units of whole rows or column strips spread over OpenMP threads (inputs holding NaN or +inf take
// the reference, which propagates them as numpy). oneDNN 2.6's softmax primitive ran one row at a
// time (63 ns per 2-element row) and its reference kernel for an inner extent (32 ms for a
// [1, 21, 128, 128] softmax over channels).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

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

// Float32 (log)softmax along n of [outer, n, inner], in float, in three passes: d = x - max
// (per row), e = exp(d) (oneDNN's vectorized exp over the whole tensor, one primitive per step), then y = e / sum(e) or
// d - log(sum(e)). The rows are cut into units of about kUnit floats spread over OpenMP threads:
// runs of whole rows when inner == 1 (small n, e.g. UltraFace's 4420 rows of 2 scores, pays no
// per-row call), else column strips of each [n, inner] block (a softmax over the 21 channels of a
// 128 x 128 segmentation reads each channel row contiguously). The caller sends inputs without NaN
// or +inf (those take the reference); a -inf mask gives exp = 0 as in numpy.
constexpr int64_t kUnit = 4096;

struct Units {
  int64_t rows = 1, width = 1, strips = 1, count = 1;  // inner == 1: rows per unit; else strip width
};

Units units_of(const Geometry& g) {
  Units u;
  if (g.inner == 1) {
    u.rows = std::max<int64_t>(1, kUnit / g.n);
    u.count = (g.outer + u.rows - 1) / u.rows;
  } else {
    u.width = std::min(g.inner, std::max<int64_t>(16, kUnit / g.n));
    u.strips = (g.inner + u.width - 1) / u.width;
    u.count = g.outer * u.strips;
  }
  return u;
}

// f(offset, w) over every unit, in parallel: with inner == 1 the unit is rows [r0, r1)
// (f(r0 * n, r1 - r0) walks n-element rows); else columns [c0, c0 + w) of one [n, inner] block.
template <typename F>
void for_each_unit(const Geometry& g, const Units& u, F&& f) {
#pragma omp parallel for schedule(static) if (u.count > 1 && g.outer * g.n * g.inner >= (int64_t{1} << 15))
  for (int64_t k = 0; k < u.count; ++k) {
    if (g.inner == 1) {
      const int64_t r0 = k * u.rows;
      f(r0 * g.n, std::min(g.outer, r0 + u.rows) - r0);
    } else {
      const int64_t a = k / u.strips, c0 = (k % u.strips) * u.width;
      f(a * g.n * g.inner + c0, std::min(u.width, g.inner - c0));
    }
  }
}

// oneDNN's exp over n floats, the primitive kept in the step's state (made again when n changes):
// made per call it cost ~6 us, more than a small attention softmax takes.
struct ExpCache {
  int64_t n = -1;
  bool serial = false;  // made inside a SerialScope (core/parallel.h)
  dnnl::memory::desc md;
  dnnl::eltwise_forward prim;
};

void exp_f32(const float* x, float* y, int64_t n, std::shared_ptr<void>* state) {
  std::shared_ptr<void> local;
  auto& slot = state ? *state : local;
  auto* cache = static_cast<ExpCache*>(slot.get());
  auto& dc = DnnlContext::get();
  const bool serial = SerialScope::small(16.0 * static_cast<double>(n));
  if (!cache || cache->n != n || cache->serial != serial) {
    auto fresh = std::make_shared<ExpCache>();
    fresh->n = n;
    fresh->serial = serial;
    fresh->md = dnnl::memory::desc({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::x);
    const dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_exp, fresh->md,
                                        0.f, 0.f);
    fresh->prim = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, dc.engine));
    slot = fresh;
    cache = fresh.get();
  }
  dnnl::memory src(cache->md, dc.engine, const_cast<float*>(x)), dst(cache->md, dc.engine, y);
  cache->prim.execute(dc.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  dc.stream.wait();
}

void softmax_f32(const float* x, float* y, const Geometry& g, bool log_softmax, std::shared_ptr<void>* state) {
  using Arr = Eigen::Map<Eigen::ArrayXXf, 0, Eigen::OuterStride<>>;
  using CArr = Eigen::Map<const Eigen::ArrayXXf, 0, Eigen::OuterStride<>>;
  const Units u = units_of(g);
  const int64_t n = g.n, inner = g.inner, numel = g.outer * n * inner;
  // A unit as a column-major array whose rows are the softmax rows: [n, rows] with stride n when
  // inner == 1 (softmax down each column), [w, n] with stride inner otherwise (along each row).
  const bool rows = inner == 1;
  auto view = [&](auto* base, int64_t off, int64_t w) {
    using A = std::conditional_t<std::is_const_v<std::remove_pointer_t<decltype(base)>>, CArr, Arr>;
    return rows ? A(base + off, n, w, Eigen::OuterStride<>(n)) : A(base + off, w, n, Eigen::OuterStride<>(inner));
  };
  // Short rows (n < 16): plain loops; Eigen's per-column reductions cost ~10 ns per 2-element row.
  const bool short_rows = rows && n < 16;
  for_each_unit(g, u, [&](int64_t off, int64_t w) {
    if (short_rows) {
      for (int64_t r = 0; r < w; ++r) {
        const float* xr = x + off + r * n;
        float* yr = y + off + r * n;
        float m = xr[0];
        for (int64_t i = 1; i < n; ++i) m = xr[i] > m ? xr[i] : m;
        for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - m;
      }
      return;
    }
    auto xb = view(x, off, w);
    auto yb = view(y, off, w);
    if (rows) yb = xb.rowwise() - xb.colwise().maxCoeff();
    else yb = xb.colwise() - xb.rowwise().maxCoeff();
  });
  std::vector<float> e_buf(log_softmax ? static_cast<size_t>(numel) : 0);
  float* e = log_softmax ? e_buf.data() : y;
  exp_f32(y, e, numel, state);
  for_each_unit(g, u, [&](int64_t off, int64_t w) {
    if (short_rows) {
      for (int64_t r = 0; r < w; ++r) {
        const float* er = e + off + r * n;
        float* yr = y + off + r * n;
        float sum = 0.f;
        for (int64_t i = 0; i < n; ++i) sum += er[i];
        if (log_softmax) {
          const float l = std::log(sum);
          for (int64_t i = 0; i < n; ++i) yr[i] -= l;
        } else {
          for (int64_t i = 0; i < n; ++i) yr[i] /= sum;
        }
      }
      return;
    }
    auto eb = view(static_cast<const float*>(e), off, w);
    auto yb = view(y, off, w);
    if (rows) {
      if (log_softmax) yb.rowwise() -= eb.colwise().sum().log();
      else yb.rowwise() /= eb.colwise().sum();
    } else {
      if (log_softmax) yb.colwise() -= eb.rowwise().sum().log();
      else yb.colwise() /= eb.rowwise().sum();
    }
  });
}

template <Mode M>
bool softmax_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.layout() || x.numel() == 0) return false;
  // NaN / +inf must spread over their row as numpy does: such inputs take the reference (-inf,
  // the masking value, is handled here).
  if (!(Eigen::Map<const Eigen::ArrayXf>(x.data<float>(), x.numel()) < INFINITY).all()) return false;
  const Geometry g = geometry(c, x);
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  const SerialScope serial(16.0 * static_cast<double>(x.numel()));  // ~16 operations per element (exp)
  softmax_f32(x.data<float>(), y.data<float>(), g, M == Mode::kLogSoftmax, c.state);
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
