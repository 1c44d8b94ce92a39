// SPDX-License-Identifier: Apache-2.0
// Pooling: MaxPool (1, 8, 10, 11, 12, 22; Indices output, storage_order, int8/uint8 from 12),
// AveragePool (7, 10, 11, 19, 22; count_include_pad), LpPool (2, 11, 18, 22), GlobalAveragePool,
// GlobalMaxPool (1, 22), GlobalLpPool (2, 22), MaxUnpool (9, 11, 22).
//   reference: direct N-d loops (conv_pool_common.h) over every allowed dtype, computing in double;
//              ceil_mode with the spec's rule that a window starting beyond the input and its left
//              padding is dropped; dilations where the version has them; count_include_pad counts
//              the taps inside the explicitly padded input (onnx/reference/ops/op_pool_common.py).
//   fast:      float32 MaxPool / AveragePool with 1-3 spatial axes through oneDNN pooling_v2 (also
//              reading and writing blocked layouts between convolutions), GlobalAveragePool /
//              GlobalMaxPool on float32 as plain loops or oneDNN pooling for blocked inputs.
#include <cmath>
#include <limits>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/conv_pool_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

enum class PoolKind { kMax, kAvg, kLp };

// The attributes each version of an op defines.
struct PoolVersion {
  bool dilations = false, ceil_mode = false, count_include_pad = false, storage_order = false;
};

PoolVersion pool_version(const KernelContext& c, PoolKind kind) {
  PoolVersion v;
  switch (kind) {
    case PoolKind::kMax:
      v.storage_order = c.version >= 8;
      v.ceil_mode = v.dilations = c.version >= 10;
      break;
    case PoolKind::kAvg:
      v.count_include_pad = c.version >= 7;
      v.ceil_mode = c.version >= 10;
      v.dilations = c.version >= 19;
      break;
    case PoolKind::kLp: v.ceil_mode = v.dilations = c.version >= 18; break;
  }
  return v;
}

struct PoolGeom {
  bool known = false;
  SpatialAttrs a;
  std::vector<Axis> axes;
  bool ceil_mode = false, count_include_pad = false;
  int64_t storage_order = 0;
  double p = 2;
  Shape out_shape;
};

bool wants_indices(const KernelContext& c) { return c.node.output_size() > 1 && !c.node.output(1).empty(); }

PoolGeom pool_checked(const KernelContext& c, PoolKind kind) {
  PoolGeom g;
  const PoolVersion v = pool_version(c, kind);
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  if (x) {
    if (x->rank() < 3) c.fail("input X must have rank >= 3 (N x C x D1 ...), got " + shape_str(x->shape()));
    const DType t = x->dtype();
    const bool ok = dtype_is_float(t) ? (t == DType::kFloat || t == DType::kDouble || t == DType::kFloat16 ||
                                         t == DType::kBFloat16)
                                      : (kind == PoolKind::kMax && c.version >= 12 &&
                                         (t == DType::kInt8 || t == DType::kUInt8));
    if (!ok) c.fail_dtype(0, t);
  }
  SpatialOptions opt;
  opt.has_dilations = v.dilations;
  opt.kernel_required = true;
  g.a = read_spatial_attrs(c, x ? x->rank() - 2 : -1, nullptr, opt);
  if (v.ceil_mode) g.ceil_mode = attr_int(c.node, "ceil_mode", 0) != 0;
  if (v.count_include_pad) g.count_include_pad = attr_int(c.node, "count_include_pad", 0) != 0;
  if (v.storage_order) {
    g.storage_order = attr_int(c.node, "storage_order", 0);
    if (g.storage_order != 0 && g.storage_order != 1)
      c.fail("attribute 'storage_order': must be 0 (row major) or 1 (column major), got " +
             std::to_string(g.storage_order));
  }
  if (kind == PoolKind::kMax && wants_indices(c) && c.version < 8)
    c.fail("MaxPool-" + std::to_string(c.version) + " has one output (Indices came with opset 8)");
  if (kind == PoolKind::kLp) {
    g.p = attr_int(c.node, "p", 2);
    if (g.p <= 0) c.fail("attribute 'p': must be positive, got " + std::to_string(static_cast<int64_t>(g.p)));
  }
  if (!x) return g;
  g.axes = pool_axes(c, g.a, x->shape(), g.ceil_mode);
  g.out_shape = {x->dim(0), x->dim(1)};
  for (const auto& ax : g.axes) g.out_shape.push_back(ax.out);
  shape_numel(g.out_shape);
  g.known = true;
  return g;
}

void validate_max_pool(KernelContext& c) { pool_checked(c, PoolKind::kMax); }
void validate_average_pool(KernelContext& c) { pool_checked(c, PoolKind::kAvg); }
void validate_lp_pool(KernelContext& c) { pool_checked(c, PoolKind::kLp); }

// Row-major spatial offset -> column-major one (MaxPool storage_order = 1).
int64_t column_major(int64_t off, const std::vector<Axis>& axes) {
  const int sp = static_cast<int>(axes.size());
  std::vector<int64_t> coord(sp);
  for (int d = sp - 1; d >= 0; --d) {
    coord[d] = off % axes[d].in;
    off /= axes[d].in;
  }
  int64_t r = 0, stride = 1;
  for (int d = 0; d < sp; ++d) {
    r += coord[d] * stride;
    stride *= axes[d].in;
  }
  return r;
}

template <typename T>
void pool_reference_typed(PoolKind kind, const Tensor& x, const PoolGeom& g, Tensor& y, Tensor* indices) {
  const WindowIter it(g.axes);
  const int64_t in_sp = it.in_size(), out_sp = it.out_size();
  const int64_t planes = x.dim(0) * x.dim(1);
  const T* px = x.data<T>();
  T* py = y.data<T>();
  int64_t* pi = indices ? indices->data<int64_t>() : nullptr;
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* xb = px + nc * in_sp;
    const int64_t ybase = nc * out_sp;
    it.for_each_output([&](int64_t o, const int64_t* coord) {
      if (kind == PoolKind::kMax) {
        // NaN never wins unless every tap is NaN; a window without taps gives the lowest value
        using C = Compute<T>;
        C best = std::numeric_limits<C>::lowest();
        int64_t where = -1;
        bool any = false, all_nan = true;
        it.for_each_tap(coord, [&](int64_t io, int64_t) {
          const C v = to_compute(xb[io]);
          any = true;
          if constexpr (std::is_floating_point_v<C>) {
            if (std::isnan(v)) return;
          }
          if (all_nan || v > best) {
            best = v;
            where = io;
          }
          all_nan = false;
        });
        if constexpr (std::is_floating_point_v<C>) {
          if (any && all_nan) best = std::numeric_limits<C>::quiet_NaN();
        }
        py[ybase + o] = from_compute<T>(best);
        if (pi) {
          if (where < 0) pi[ybase + o] = -1;
          else pi[ybase + o] = nc * in_sp + (g.storage_order ? column_major(where, g.axes) : where);
        }
        return;
      }
      double acc = 0.0;
      if (kind == PoolKind::kAvg) {
        it.for_each_tap(coord, [&](int64_t io, int64_t) { acc += static_cast<double>(to_compute(xb[io])); });
        const int64_t count = g.count_include_pad ? it.padded_taps(coord) : it.valid_taps(coord);
        acc /= static_cast<double>(count);
      } else {
        it.for_each_tap(coord, [&](int64_t io, int64_t) {
          acc += std::pow(std::fabs(static_cast<double>(to_compute(xb[io]))), g.p);
        });
        acc = std::pow(acc, 1.0 / g.p);
      }
      py[ybase + o] = from_compute<T>(static_cast<Compute<T>>(acc));
    });
  }
}

using PoolTypes = decltype(FloatTypes{} + TypeList<int8_t, uint8_t>{});

void pool_reference(KernelContext& c, PoolKind kind) {
  const PoolGeom g = pool_checked(c, kind);
  const Tensor x = to_plain(c.in(0));
  Tensor y = Tensor::uninitialized(x.dtype(), g.out_shape);
  Tensor indices;
  const bool with_indices = kind == PoolKind::kMax && wants_indices(c);
  if (with_indices) indices = Tensor::uninitialized(DType::kInt64, g.out_shape);
  c.dispatch_or_fail<PoolTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    pool_reference_typed<T>(kind, x, g, y, with_indices ? &indices : nullptr);
  });
  c.outputs[0] = std::move(y);
  if (with_indices) c.outputs[1] = std::move(indices);
}

void max_pool(KernelContext& c) { pool_reference(c, PoolKind::kMax); }
void average_pool(KernelContext& c) { pool_reference(c, PoolKind::kAvg); }
void lp_pool(KernelContext& c) { pool_reference(c, PoolKind::kLp); }

// ---- oneDNN pooling ----

struct PoolCache {
  Shape x_shape;
  dnnl::memory::desc x_md, dst_plain_md;
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
  bool unsupported = false;
};

// Runs oneDNN pooling of `x` (plain or blocked) with the given windows; false when oneDNN refuses.
bool dnnl_pool(KernelContext& c, const Tensor& x, dnnl::algorithm algo, const std::vector<Axis>& axes,
               const Shape& out_shape) {
  const int sp = static_cast<int>(axes.size());
  dnnl::memory::dims pl(sp), pr(sp), st(sp), dl(sp), ks(sp);
  for (int i = 0; i < sp; ++i) {
    const Axis& a = axes[i];
    pl[i] = a.pad_b;
    // oneDNN's floor formula must give `out`: the right padding covers the last window exactly
    pr[i] = (a.out - 1) * a.stride + a.ek() - a.in - a.pad_b;
    st[i] = a.stride;
    dl[i] = a.dil - 1;
    ks[i] = a.k;
  }
  auto& ctx = DnnlContext::get();
  try {
    const dnnl::memory::desc x_md = desc_of(x);
    std::shared_ptr<void> local;
    auto& slot = c.state ? *c.state : local;
    auto* cache = static_cast<PoolCache*>(slot.get());
    if (cache && cache->unsupported && cache->x_shape == x.shape() && cache->x_md == x_md) return false;
    if (!cache || cache->x_shape != x.shape() || cache->x_md != x_md) {
      auto fresh = std::make_shared<PoolCache>();
      fresh->x_shape = x.shape();
      fresh->x_md = x_md;
      fresh->unsupported = true;
      slot = fresh;
      fresh->dst_plain_md = plain_desc(out_shape);
      // a blocked input gives a blocked output of the same format (format_tag::any)
      const auto dst_md = x.layout() ? dnnl::memory::desc(dnnl::memory::dims(out_shape.begin(), out_shape.end()),
                                                          dnnl::memory::data_type::f32, dnnl::memory::format_tag::any)
                                     : fresh->dst_plain_md;
      dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, algo, x_md, dst_md, st, ks, dl, pl, pr);
      fresh->pd = dnnl::pooling_v2_forward::primitive_desc(d, ctx.engine);
      fresh->prim = dnnl::pooling_v2_forward(fresh->pd);
      fresh->unsupported = false;
      cache = fresh.get();
    }
    const auto dst_md = cache->pd.dst_desc();
    const bool plain_dst = dst_md == cache->dst_plain_md;
    Tensor y = plain_dst ? Tensor::uninitialized(DType::kFloat, out_shape) : make_dnnl_tensor(out_shape, dst_md);
    cache->prim.execute(ctx.stream, {{DNNL_ARG_SRC, wrap(x_md, x)}, {DNNL_ARG_DST, wrap(dst_md, y)}});
    ctx.stream.wait();
    c.outputs[0] = plain_dst || c.allow_layout_output ? std::move(y) : to_plain(y);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

bool pool_fast(KernelContext& c, PoolKind kind) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || kind == PoolKind::kLp) return false;
  if (kind == PoolKind::kMax && wants_indices(c)) return false;
  const PoolGeom g = pool_checked(c, kind);
  const int sp = x.rank() - 2;
  if (sp < 1 || sp > 3 || x.numel() == 0) return false;
  for (const auto& a : g.axes) {
    // oneDNN divides by the whole kernel when padding counts; the spec counts only the taps
    // inside the explicitly padded input, which differs when a ceil_mode window runs past it
    if (kind == PoolKind::kAvg && g.count_include_pad && (a.out - 1) * a.stride + a.ek() > a.in + a.pad_b + a.pad_e)
      return false;
    // a window entirely in the padding has no value to take (the reference defines it)
    if (a.pad_b >= a.ek() || a.pad_e >= a.ek()) return false;
  }
  const auto algo = kind == PoolKind::kMax ? dnnl::algorithm::pooling_max
                                           : (g.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                                  : dnnl::algorithm::pooling_avg_exclude_padding);
  return dnnl_pool(c, x, algo, g.axes, g.out_shape);
}

bool max_pool_fast(KernelContext& c) { return pool_fast(c, PoolKind::kMax); }
bool average_pool_fast(KernelContext& c) { return pool_fast(c, PoolKind::kAvg); }

// ---- global pooling ----

void validate_global(KernelContext& c) {
  if (find_attr(c.node, "p") && attr_int(c.node, "p", 2) <= 0)
    c.fail("attribute 'p': must be positive, got " + std::to_string(attr_int(c.node, "p", 2)));
  if (!c.has(0)) return;
  const Tensor& x = c.in(0);
  if (x.rank() < 2) c.fail("input X must have rank >= 2 (N x C x D1 ...), got " + shape_str(x.shape()));
  if (!dtype_is_float(x.dtype()) || !dispatch<FloatTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
}

template <typename T>
void global_pool_typed(PoolKind kind, double p, const Tensor& x, Tensor& y) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t inner = planes ? x.numel() / planes : 0;
  const T* px = x.data<T>();
  T* py = y.data<T>();
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* q = px + nc * inner;
    double r;
    if (kind == PoolKind::kMax) {
      r = -INFINITY;
      bool all_nan = inner > 0;
      for (int64_t i = 0; i < inner; ++i) {
        const double v = static_cast<double>(to_compute(q[i]));
        if (std::isnan(v)) continue;
        all_nan = false;
        r = std::max(r, v);
      }
      if (all_nan) r = NAN;
    } else if (kind == PoolKind::kAvg) {
      double acc = 0.0;
      for (int64_t i = 0; i < inner; ++i) acc += static_cast<double>(to_compute(q[i]));
      r = acc / static_cast<double>(inner);
    } else {
      double acc = 0.0;
      for (int64_t i = 0; i < inner; ++i) acc += std::pow(std::fabs(static_cast<double>(to_compute(q[i]))), p);
      r = std::pow(acc, 1.0 / p);
    }
    py[nc] = from_compute<T>(static_cast<Compute<T>>(r));
  }
}

Shape global_out_shape(const Tensor& x) {
  Shape s{x.dim(0), x.dim(1)};
  for (int i = 2; i < x.rank(); ++i) s.push_back(1);
  return s;
}

void global_pool(KernelContext& c, PoolKind kind) {
  validate_global(c);
  const Tensor x = to_plain(c.in(0));
  const double p = kind == PoolKind::kLp ? static_cast<double>(attr_int(c.node, "p", 2)) : 2.0;
  Tensor y = Tensor::uninitialized(x.dtype(), global_out_shape(x));
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    global_pool_typed<T>(kind, p, x, y);
  });
  c.outputs[0] = std::move(y);
}

void global_average_pool(KernelContext& c) { global_pool(c, PoolKind::kAvg); }
void global_max_pool(KernelContext& c) { global_pool(c, PoolKind::kMax); }
void global_lp_pool(KernelContext& c) { global_pool(c, PoolKind::kLp); }

// Sum of n float32 values in double: eight independent accumulators (one AVX-512 / AVX2 register
// in the vector clones, so no reassociation is needed), then the tail. Differs from a serial sum
// only by double rounding, far below the float32 result's.
__attribute__((target_clones("avx512f", "avx2", "default"))) double sum_as_double(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[i + k]);
  double s = 0;
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  for (double a : acc) s += a;
  return s;
}

// float32: a blocked input goes through oneDNN pooling over the whole spatial extent; a plain one
// through the float loop (memory bound either way), planes split across the OpenMP threads.
bool global_pool_fast(KernelContext& c, PoolKind kind) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.rank() < 3 || x.numel() == 0) return false;
  if (x.layout()) {
    const int sp = x.rank() - 2;
    if (sp > 3) return false;
    std::vector<Axis> axes(sp);
    for (int i = 0; i < sp; ++i) {
      axes[i].in = axes[i].k = x.dim(2 + i);
      axes[i].out = 1;
    }
    return dnnl_pool(c, x, kind == PoolKind::kMax ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding,
                     axes, global_out_shape(x));
  }
  const int64_t planes = x.dim(0) * x.dim(1), inner = x.numel() / planes;
  Tensor y = Tensor::uninitialized(DType::kFloat, global_out_shape(x));
  const float* p = x.data<float>();
  float* o = y.data<float>();
#pragma omp parallel for schedule(static) if (x.numel() >= (int64_t{1} << 16) && planes > 1)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* q = p + nc * inner;
    if (kind == PoolKind::kMax) {
      float m = q[0];
      bool nan = std::isnan(m);
      for (int64_t i = 1; i < inner; ++i) {
        if (std::isnan(q[i])) continue;
        if (nan || q[i] > m) m = q[i];
        nan = false;
      }
      o[nc] = m;
    } else {
      o[nc] = static_cast<float>(sum_as_double(q, inner) / static_cast<double>(inner));
    }
  }
  c.outputs[0] = std::move(y);
  return true;
}

bool global_average_pool_fast(KernelContext& c) { return global_pool_fast(c, PoolKind::kAvg); }
bool global_max_pool_fast(KernelContext& c) { return global_pool_fast(c, PoolKind::kMax); }

// ---- MaxUnpool ----
// Y (zeros) of the shape MaxPool's input had: inferred (in - 1) * stride - pads + kernel per axis, or
// the output_shape input. Indices address the inferred shape (row-major, N and C included); with an
// output_shape the inferred block sits at its start (onnx/reference/ops/op_max_unpool.py).

struct UnpoolGeom {
  bool known = false;
  Shape inferred, out;
};

UnpoolGeom unpool_checked(const KernelContext& c) {
  UnpoolGeom g;
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  if (x) {
    if (x->rank() < 3) c.fail("input X must have rank >= 3 (N x C x D1 ...), got " + shape_str(x->shape()));
    if (!dispatch<FloatTypes>(x->dtype(), [](auto) {})) c.fail_dtype(0, x->dtype());
  }
  SpatialOptions opt;
  opt.has_dilations = false;
  opt.has_auto_pad = false;
  opt.kernel_required = true;
  const SpatialAttrs a = read_spatial_attrs(c, x ? x->rank() - 2 : -1, nullptr, opt);
  if (c.has(1)) {
    if (c.in(1).dtype() != DType::kInt64) c.fail_dtype(1, c.in(1).dtype());
    if (x && c.in(1).shape() != x->shape())
      c.fail("input I " + shape_str(c.in(1).shape()) + " must have the shape of X " + shape_str(x->shape()));
  }
  if (!x) return g;
  g.inferred = {x->dim(0), x->dim(1)};
  for (int i = 0; i < a.sp; ++i) {
    const int64_t d = checked_mul(c, x->dim(2 + i) - 1, a.strides[i], "attribute 'strides': the unpooled extent") -
                      (a.pads[i] + a.pads[i + a.sp]) + a.kernel[i];
    if (d <= 0 && x->dim(2 + i) > 0)
      c.fail("attribute 'pads': the unpooled extent of spatial axis " + std::to_string(i) + " would be " +
             std::to_string(d));
    g.inferred.push_back(std::max<int64_t>(d, 0));
  }
  shape_numel(g.inferred);
  g.out = g.inferred;
  if (c.has(2)) {
    const Tensor& s = c.in(2);
    if (s.dtype() != DType::kInt64 || s.rank() != 1 || s.dim(0) != x->rank())
      c.fail("input output_shape must be a 1-D int64 tensor of " + std::to_string(x->rank()) + " values, got " +
             dtype_name(s.dtype()) + " " + shape_str(s.shape()));
    g.out = s.to_int64s();
    for (int i = 0; i < x->rank(); ++i)
      if (g.out[i] < 0) c.fail("input output_shape: negative extent in " + ints_str(g.out));
    if (g.out[0] != x->dim(0) || g.out[1] != x->dim(1))
      c.fail("input output_shape " + ints_str(g.out) + " must keep X's batch and channel extents " +
             shape_str(x->shape()));
    shape_numel(g.out);
  }
  g.known = true;
  return g;
}

void validate_max_unpool(KernelContext& c) { unpool_checked(c); }

template <typename T>
void max_unpool_typed(const KernelContext& c, const Tensor& x, const Tensor& ind, const UnpoolGeom& g, Tensor& y) {
  const int64_t total = shape_numel(g.inferred);
  const int rank = static_cast<int>(g.out.size());
  const T* px = x.data<T>();
  const int64_t* pi = ind.data<int64_t>();
  T* py = y.data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t at = pi[i];
    if (at < 0 || at >= total)
      c.fail("input I: index " + std::to_string(at) + " is outside the unpooled tensor " + shape_str(g.inferred));
    // inferred coordinates -> output offset (dropped when outside a smaller output_shape)
    int64_t off = 0, stride = 1;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t cd = at % g.inferred[d];
      at /= g.inferred[d];
      if (cd >= g.out[d]) inside = false;
      off += cd * stride;
      stride *= g.out[d];
    }
    if (inside) py[off] = px[i];
  }
}

void max_unpool(KernelContext& c) {
  const UnpoolGeom g = unpool_checked(c);
  const Tensor& x = c.in(0);
  const Tensor& ind = c.in(1);
  Tensor y(x.dtype(), g.out);  // zeros
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_unpool_typed<T>(c, x, ind, g, y);
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add("", "MaxPool", {1, 8, 10, 11, 12, 22}, OpDef{max_pool, max_pool_fast, validate_max_pool, true});
  r.add("", "AveragePool", {7, 10, 11, 19, 22}, OpDef{average_pool, average_pool_fast, validate_average_pool, true});
  r.add("", "LpPool", {2, 11, 18, 22}, OpDef{lp_pool, nullptr, validate_lp_pool});
  r.add("", "GlobalAveragePool", {1, 22}, OpDef{global_average_pool, global_average_pool_fast, validate_global, true});
  r.add("", "GlobalMaxPool", {1, 22}, OpDef{global_max_pool, global_max_pool_fast, validate_global, true});
  r.add("", "GlobalLpPool", {2, 22}, OpDef{global_lp_pool, nullptr, validate_global});
  r.add("", "MaxUnpool", {9, 11, 22}, OpDef{max_unpool, nullptr, validate_max_unpool});
}

}  // namespace qtool
