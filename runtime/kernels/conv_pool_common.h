// SPDX-License-Identifier: Apache-2.0
// Shared attribute and geometry logic of the convolution and pooling family (conv.cpp,
// conv_transpose.cpp, qconv.cpp, deform_conv.cpp, pool.cpp): reading and checking kernel_shape /
// strides / dilations / pads / auto_pad against the spatial rank, the output-extent rules of the
// ONNX spec (Conv, ConvTranspose, MaxPool / AveragePool / LpPool with ceil_mode and the "last window
// must start inside the input or the left padding" rule), and a direct N-d window iterator the
// reference kernels share. Follows the ONNX operator docs (onnx/defs/nn/defs.cc) and onnx's Python
// reference (onnx/reference/ops/op_conv.py, op_pool_common.py).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace qtool::convpool {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// Floor division (Python's //) for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

inline std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

inline AutoPad read_auto_pad(const KernelContext& c) {
  const std::string s = attr_string(c.node, "auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  c.fail("attribute 'auto_pad': unknown value '" + s + "' (NOTSET, SAME_UPPER, SAME_LOWER or VALID)");
}

// kernel_shape, strides, dilations, pads of a node with `sp` spatial axes, defaults filled in.
struct SpatialAttrs {
  int sp = 0;
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: [x1_begin, ..., x1_end, ...]
  AutoPad auto_pad = AutoPad::kNotSet;
};

struct SpatialOptions {
  bool has_dilations = true;
  bool has_auto_pad = true;
  bool kernel_required = false;  // pooling: kernel_shape is a required attribute
};

// Reads and checks the spatial attributes for `sp` spatial axes (sp < 0: unknown, taken from
// kernel_shape when present). `w_kernel`: the kernel extents from W (nullptr when W is unknown or
// the op has none); kernel_shape, when given, must equal them.
inline SpatialAttrs read_spatial_attrs(const KernelContext& c, int sp, const std::vector<int64_t>* w_kernel,
                                       SpatialOptions opt) {
  SpatialAttrs a;
  const auto* ks = find_attr(c.node, "kernel_shape");
  a.kernel = attr_ints(c.node, "kernel_shape");
  if (opt.kernel_required && !ks) c.fail("attribute 'kernel_shape' is required");
  if (sp < 0) sp = ks ? static_cast<int>(a.kernel.size()) : (w_kernel ? static_cast<int>(w_kernel->size()) : -1);
  if (sp < 0) {  // nothing tells the rank yet: check what does not depend on it
    for (auto v : attr_ints(c.node, "strides"))
      if (v <= 0) c.fail("attribute 'strides': values must be positive, got " + ints_str(attr_ints(c.node, "strides")));
    return a;
  }
  a.sp = sp;
  const std::string rank = std::to_string(sp);
  if (ks) {
    if (static_cast<int>(a.kernel.size()) != sp)
      c.fail("attribute 'kernel_shape': " + ints_str(a.kernel) + " has " + std::to_string(a.kernel.size()) +
             " values, the input has " + rank + " spatial axes");
    for (auto v : a.kernel)
      if (v <= 0) c.fail("attribute 'kernel_shape': values must be positive, got " + ints_str(a.kernel));
    if (w_kernel && *w_kernel != a.kernel)
      c.fail("attribute 'kernel_shape': " + ints_str(a.kernel) + " does not match the weight's kernel " +
             ints_str(*w_kernel));
  } else if (w_kernel) {
    a.kernel = *w_kernel;
  }
  a.strides = attr_ints(c.node, "strides", std::vector<int64_t>(sp, 1));
  if (static_cast<int>(a.strides.size()) != sp)
    c.fail("attribute 'strides': " + ints_str(a.strides) + " has " + std::to_string(a.strides.size()) +
           " values, the input has " + rank + " spatial axes");
  for (auto v : a.strides)
    if (v <= 0) c.fail("attribute 'strides': values must be positive, got " + ints_str(a.strides));
  a.dilations = opt.has_dilations ? attr_ints(c.node, "dilations", std::vector<int64_t>(sp, 1))
                                  : std::vector<int64_t>(sp, 1);
  if (static_cast<int>(a.dilations.size()) != sp)
    c.fail("attribute 'dilations': " + ints_str(a.dilations) + " has " + std::to_string(a.dilations.size()) +
           " values, the input has " + rank + " spatial axes");
  for (auto v : a.dilations)
    if (v <= 0) c.fail("attribute 'dilations': values must be positive, got " + ints_str(a.dilations));
  a.pads = attr_ints(c.node, "pads", std::vector<int64_t>(2 * sp, 0));
  if (static_cast<int>(a.pads.size()) != 2 * sp)
    c.fail("attribute 'pads': " + ints_str(a.pads) + " has " + std::to_string(a.pads.size()) + " values, expected " +
           std::to_string(2 * sp) + " (begin and end of " + rank + " spatial axes)");
  for (auto v : a.pads)
    if (v < 0) c.fail("attribute 'pads': values must be non-negative, got " + ints_str(a.pads));
  if (opt.has_auto_pad) a.auto_pad = read_auto_pad(c);
  // extents far beyond any tensor would overflow the geometry arithmetic below
  const int64_t big = int64_t{1} << 40;  // kMaxExtent
  for (int i = 0; i < sp; ++i) {
    if (!a.kernel.empty() && (a.kernel[i] > big || a.dilations[i] > big || a.kernel[i] * a.dilations[i] > big))
      c.fail("attribute 'kernel_shape': the dilated kernel " + ints_str(a.kernel) + " is too large");
    if (a.strides[i] > big) c.fail("attribute 'strides': " + ints_str(a.strides) + " is too large");
    if (a.pads[i] > big || a.pads[i + sp] > big) c.fail("attribute 'pads': " + ints_str(a.pads) + " is too large");
  }
  return a;
}

// Spatial extents beyond this are refused before any arithmetic on them (no tensor has them).
constexpr int64_t kMaxExtent = int64_t{1} << 40;

// Fails unless 0 <= v <= kMaxExtent.
inline void check_extent(const KernelContext& c, int64_t v, const std::string& what) {
  if (v < 0 || v > kMaxExtent) c.fail(what + " " + std::to_string(v) + " is out of range [0, 2^40]");
}

// a * b for the extent arithmetic of the scatter ops (ConvTranspose, MaxUnpool): an InputError
// naming `what` instead of an overflow; the result stays below 2^62 so small sums cannot overflow.
inline int64_t checked_mul(const KernelContext& c, int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 62) || r < -(int64_t{1} << 62))
    c.fail(what + ": " + std::to_string(a) + " * " + std::to_string(b) + " is too large");
  return r;
}

// One spatial axis of a sliding-window op: input extent, kernel, stride, dilation, the padding
// actually applied at each end, and the output extent.
struct Axis {
  int64_t in = 0, k = 1, stride = 1, dil = 1, pad_b = 0, pad_e = 0, out = 0;
  int64_t ek() const { return (k - 1) * dil + 1; }  // dilated kernel extent
};

// Explicit padding may grow a channel's spatial volume at most this much (or up to
// kMinPaddedVolume positions, for small inputs): pads of 2^31 on an 8 x 8 input would ask for a
// 96 GB output from a model of a hundred bytes. Real models pad by a few pixels (YOLO's SPP pools
// a 2 x 2 map with pads 6: 196 positions).
constexpr int64_t kMaxPaddingGrowth = 64;
constexpr int64_t kMinPaddedVolume = int64_t{1} << 24;

// Fails (naming 'pads', the input and the output extents) when the explicitly padded spatial
// volume prod(in + pad_b + pad_e) exceeds max(kMaxPaddingGrowth x prod(in), kMinPaddedVolume).
// Every extent is <= 2^40 (read_spatial_attrs, check_extent) and the volumes are compared in long
// double, so nothing overflows on the way.
inline void check_padded_volume(const KernelContext& c, const std::vector<Axis>& axes, const Shape& x) {
  long double in = 1, padded = 1;
  for (const auto& ax : axes) {
    in *= static_cast<long double>(ax.in);
    padded *= static_cast<long double>(ax.in) + static_cast<long double>(ax.pad_b) + static_cast<long double>(ax.pad_e);
  }
  const long double limit = std::max<long double>(in * kMaxPaddingGrowth, static_cast<long double>(kMinPaddedVolume));
  if (padded <= limit) return;
  std::vector<int64_t> pads, out;
  for (const auto& ax : axes) pads.push_back(ax.pad_b);
  for (const auto& ax : axes) pads.push_back(ax.pad_e);
  for (const auto& ax : axes) out.push_back(ax.out);
  c.fail("attribute 'pads': " + ints_str(pads) + " pads the input " + ints_str(x) + " to " +
         std::to_string(static_cast<unsigned long long>(std::min<long double>(padded, 1e19L))) + " positions per channel, more than " +
         std::to_string(kMaxPaddingGrowth) + " times its own (output spatial extents would be " + ints_str(out) + ")");
}

// Conv / ConvInteger / QLinearConv / DeformConv output geometry: out = floor((in + pads - ek) / s) + 1,
// SAME_*: out = ceil(in / s) with the padding split (the odd one at the end for SAME_UPPER).
inline std::vector<Axis> conv_axes(const KernelContext& c, const SpatialAttrs& a, const Shape& x) {
  std::vector<Axis> axes(a.sp);
  for (int i = 0; i < a.sp; ++i) {
    Axis& ax = axes[i];
    ax.in = x[2 + i];
    ax.k = a.kernel[i];
    ax.stride = a.strides[i];
    ax.dil = a.dilations[i];
    ax.pad_b = a.pads[i];
    ax.pad_e = a.pads[i + a.sp];
    if (a.auto_pad == AutoPad::kValid) {
      ax.pad_b = ax.pad_e = 0;
    } else if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      const int64_t out = ceil_div(ax.in, ax.stride);
      const int64_t total = std::max<int64_t>(0, (out - 1) * ax.stride + ax.ek() - ax.in);
      ax.pad_b = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      ax.pad_e = total - ax.pad_b;
    }
    const int64_t span = ax.in + ax.pad_b + ax.pad_e - ax.ek();
    if (span < 0)
      c.fail("attribute 'kernel_shape': the dilated kernel extent " + std::to_string(ax.ek()) + " of spatial axis " +
             std::to_string(i) + " exceeds the padded input extent " + std::to_string(ax.in + ax.pad_b + ax.pad_e) +
             " (output extent would be <= 0)");
    ax.out = span / ax.stride + 1;
  }
  if (a.auto_pad == AutoPad::kNotSet) check_padded_volume(c, axes, x);
  return axes;
}

// Pooling output geometry (MaxPool, AveragePool, LpPool): explicit pads with floor or ceil
// (ceil_mode: a window starting beyond the input and its left padding is dropped); auto_pad as in
// the spec (ceil_mode does not change the SAME / VALID extents).
inline std::vector<Axis> pool_axes(const KernelContext& c, const SpatialAttrs& a, const Shape& x, bool ceil_mode) {
  std::vector<Axis> axes(a.sp);
  for (int i = 0; i < a.sp; ++i) {
    Axis& ax = axes[i];
    ax.in = x[2 + i];
    ax.k = a.kernel[i];
    ax.stride = a.strides[i];
    ax.dil = a.dilations[i];
    ax.pad_b = a.pads[i];
    ax.pad_e = a.pads[i + a.sp];
    if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      ax.out = ceil_div(ax.in, ax.stride);
      const int64_t total = std::max<int64_t>(0, (ax.out - 1) * ax.stride + ax.ek() - ax.in);
      ax.pad_b = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      ax.pad_e = total - ax.pad_b;
    } else {
      if (a.auto_pad == AutoPad::kValid) ax.pad_b = ax.pad_e = 0;
      const int64_t span = ax.in + ax.pad_b + ax.pad_e - ax.ek();
      if (span < 0)
        c.fail("attribute 'kernel_shape': the dilated kernel extent " + std::to_string(ax.ek()) + " of spatial axis " +
               std::to_string(i) + " exceeds the padded input extent " + std::to_string(ax.in + ax.pad_b + ax.pad_e) +
               " (output extent would be <= 0)");
      ax.out = (ceil_mode ? ceil_div(span, ax.stride) : span / ax.stride) + 1;
      if (ceil_mode && (ax.out - 1) * ax.stride >= ax.in + ax.pad_b) --ax.out;
    }
    if (ax.out <= 0)
      c.fail("attribute 'kernel_shape': output extent of spatial axis " + std::to_string(i) + " would be " +
             std::to_string(ax.out));
  }
  if (a.auto_pad == AutoPad::kNotSet) check_padded_volume(c, axes, x);
  return axes;
}

// Per output coordinate of one axis: where its window starts in input coordinates and the range
// [lo, hi) of kernel taps that fall inside the input.
struct AxisTaps {
  std::vector<int64_t> start, lo, hi;
};
inline AxisTaps axis_taps(const Axis& ax) {
  AxisTaps t;
  t.start.resize(ax.out);
  t.lo.resize(ax.out);
  t.hi.resize(ax.out);
  for (int64_t o = 0; o < ax.out; ++o) {
    const int64_t s = o * ax.stride - ax.pad_b;
    t.start[o] = s;
    t.lo[o] = s >= 0 ? 0 : std::min(ax.k, ceil_div(-s, ax.dil));
    t.hi[o] = s >= ax.in ? 0 : std::min(ax.k, floor_div(ax.in - 1 - s, ax.dil) + 1);
    if (t.hi[o] < t.lo[o]) t.hi[o] = t.lo[o];
  }
  return t;
}

// Direct N-d sliding-window iteration shared by the reference kernels. For every output position
// (row-major over the spatial axes) `begin(out_index)` is called, then `tap(in_offset, k_offset)`
// for each kernel tap inside the input (in_offset: row-major offset in one input channel, k_offset:
// row-major offset in the kernel), then `end(out_index, coords)`.
class WindowIter {
 public:
  explicit WindowIter(std::vector<Axis> axes) : axes_(std::move(axes)) {
    const int sp = static_cast<int>(axes_.size());
    in_stride_.assign(sp, 1);
    k_stride_.assign(sp, 1);
    for (int i = sp - 2; i >= 0; --i) {
      in_stride_[i] = in_stride_[i + 1] * axes_[i + 1].in;
      k_stride_[i] = k_stride_[i + 1] * axes_[i + 1].k;
    }
    for (const auto& a : axes_) taps_.push_back(axis_taps(a));
  }
  const std::vector<Axis>& axes() const { return axes_; }
  int64_t out_size() const {
    int64_t n = 1;
    for (const auto& a : axes_) n *= a.out;
    return n;
  }
  int64_t in_size() const {
    int64_t n = 1;
    for (const auto& a : axes_) n *= a.in;
    return n;
  }
  int64_t kernel_size() const {
    int64_t n = 1;
    for (const auto& a : axes_) n *= a.k;
    return n;
  }
  const AxisTaps& taps(int axis) const { return taps_[axis]; }

  // Calls f(out_index, coords) for every output position.
  template <typename F>
  void for_each_output(F&& f) const {
    const int sp = static_cast<int>(axes_.size());
    std::vector<int64_t> coord(sp, 0);
    const int64_t total = out_size();
    for (int64_t idx = 0; idx < total; ++idx) {
      f(idx, coord.data());
      for (int d = sp - 1; d >= 0; --d) {
        if (++coord[d] < axes_[d].out) break;
        coord[d] = 0;
      }
    }
  }
  // Calls tap(in_offset, k_offset) for every kernel tap of output position `coord` inside the input.
  template <typename F>
  void for_each_tap(const int64_t* coord, F&& tap) const {
    taps_rec(0, coord, 0, 0, tap);
  }
  // Number of taps inside the input.
  int64_t valid_taps(const int64_t* coord) const {
    int64_t n = 1;
    for (size_t d = 0; d < axes_.size(); ++d) n *= taps_[d].hi[coord[d]] - taps_[d].lo[coord[d]];
    return n;
  }
  // Number of taps inside the padded input [-pad_b, in + pad_e) (AveragePool count_include_pad).
  int64_t padded_taps(const int64_t* coord) const {
    int64_t n = 1;
    for (size_t d = 0; d < axes_.size(); ++d) {
      const Axis& a = axes_[d];
      const int64_t s = taps_[d].start[coord[d]];
      const int64_t limit = a.in + a.pad_e;  // first excluded coordinate
      n *= s >= limit ? 0 : std::min(a.k, floor_div(limit - 1 - s, a.dil) + 1);
    }
    return n;
  }

 private:
  template <typename F>
  void taps_rec(size_t d, const int64_t* coord, int64_t in_off, int64_t k_off, F& tap) const {
    const Axis& a = axes_[d];
    const AxisTaps& t = taps_[d];
    const int64_t o = coord[d];
    const int64_t s = t.start[o];
    if (d + 1 == axes_.size()) {
      for (int64_t k = t.lo[o]; k < t.hi[o]; ++k) tap(in_off + s + k * a.dil, k_off + k);
      return;
    }
    for (int64_t k = t.lo[o]; k < t.hi[o]; ++k)
      taps_rec(d + 1, coord, in_off + (s + k * a.dil) * in_stride_[d], k_off + k * k_stride_[d], tap);
  }

  std::vector<Axis> axes_;
  std::vector<int64_t> in_stride_, k_stride_;
  std::vector<AxisTaps> taps_;
};

// The kernel's spatial extents from a weight shape [M, C/group, k1, ...].
inline std::vector<int64_t> weight_kernel(const Tensor& w) {
  return std::vector<int64_t>(w.shape().begin() + std::min<int>(2, w.rank()), w.shape().end());
}

}  // namespace qtool::convpool

namespace qtool::convpool {

// Geometry of a Conv-like node (Conv, FusedConv, ConvInteger, QLinearConv, DeformConv): X [N, C, D1..],
// W [M, C/group, k1..]. Checks every attribute and whatever inputs are known (validators run with
// unknown inputs too); `known` is true when X and W were both given and the output shape is set.
struct ConvGeom {
  bool known = false;
  SpatialAttrs a;
  std::vector<Axis> axes;
  int64_t group = 1, n = 0, cin = 0, cout = 0;
  Shape out_shape;
};

inline ConvGeom conv_geom(const KernelContext& c, int xi, int wi, bool has_auto_pad = true) {
  ConvGeom g;
  g.group = attr_int(c.node, "group", 1);
  if (g.group <= 0) c.fail("attribute 'group': must be positive, got " + std::to_string(g.group));
  const Tensor* x = c.has(xi) ? &c.in(xi) : nullptr;
  const Tensor* w = c.has(wi) ? &c.in(wi) : nullptr;
  if (x && x->rank() < 3) c.fail("input X must have rank >= 3 (N x C x D1 ...), got " + shape_str(x->shape()));
  if (w && w->rank() < 3) c.fail("input W must have rank >= 3 (M x C/group x k1 ...), got " + shape_str(w->shape()));
  if (x && w && x->rank() != w->rank())
    c.fail("input W " + shape_str(w->shape()) + " must have the rank of X " + shape_str(x->shape()));
  const int sp = x ? x->rank() - 2 : (w ? w->rank() - 2 : -1);
  std::vector<int64_t> wk;
  if (w) wk = weight_kernel(*w);
  SpatialOptions opt;
  opt.has_auto_pad = has_auto_pad;
  g.a = read_spatial_attrs(c, sp, w ? &wk : nullptr, opt);
  if (w) {
    g.cout = w->dim(0);
    if (g.cout % g.group != 0)
      c.fail("attribute 'group': " + std::to_string(g.group) + " does not divide the " + std::to_string(g.cout) +
             " output channels of W " + shape_str(w->shape()));
  }
  if (!x || !w) return g;
  g.n = x->dim(0);
  g.cin = x->dim(1);
  if (w->dim(1) * g.group != g.cin)
    c.fail("attribute 'group': X has " + std::to_string(g.cin) + " channels, W " + shape_str(w->shape()) +
           " with group " + std::to_string(g.group) + " expects " + std::to_string(w->dim(1) * g.group));
  g.axes = conv_axes(c, g.a, x->shape());
  g.out_shape = {g.n, g.cout};
  for (const auto& ax : g.axes) g.out_shape.push_back(ax.out);
  shape_numel(g.out_shape);  // throws on overflow
  g.known = true;
  return g;
}

// An optional per-output-channel vector input (bias): rank 1 with `m` values.
inline void check_channel_vector(const KernelContext& c, int i, int64_t m, const char* what) {
  if (!c.has(i)) return;
  const Tensor& b = c.in(i);
  if (b.rank() != 1 || (m >= 0 && b.dim(0) != m))
    c.fail(std::string("input ") + what + " must be a 1-D tensor of " + (m >= 0 ? std::to_string(m) : "M") +
           " values, got " + shape_str(b.shape()));
}

}  // namespace qtool::convpool
