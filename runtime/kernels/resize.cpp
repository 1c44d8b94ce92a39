// SPDX-License-Identifier: Apache-2.0
// Resize (ai.onnx 10, 11, 13, 18, 19) and Upsample (7, 9, 10).
//
// Follows the ONNX spec and its reference implementation (onnx/reference/ops/op_resize.py):
// separable interpolation, one axis at a time, in double precision; for every output coordinate
// along an axis the source coordinate x_original comes from coordinate_transformation_mode
// (half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
// tf_half_pixel_for_nn, tf_crop_and_resize), and the taps/weights from the mode:
//  - nearest: one tap chosen by nearest_mode (round_prefer_floor/ceil, floor, ceil);
//  - linear: [1 - r, r]; cubic: Keys' kernel with cubic_coeff_a (Keys 1981, IEEE TASSP 29(6));
//  - antialias (18+): the linear/cubic kernel stretched by 1/scale when downscaling, normalised;
//  - exclude_outside: taps outside the input get weight 0, the rest renormalised;
//  - taps outside the input read the edge value; tf_crop_and_resize writes extrapolation_value
//    where x_original falls outside [0, length - 1].
// As in the reference, the output extent is floor(scale * length) (scales) or `sizes` (with
// keep_aspect_ratio_policy), and align_corners / pytorch_half_pixel / half_pixel_symmetric use the
// fractional output width scale * length (onnxruntime uses the integer length, as the spec's text). Integer outputs are rounded half to even and saturated, float outputs
// saturated to the type's finite range (numpy_helper.saturate_cast). Nearest mode copies elements
// (exact for every dtype, int64 included).
//
// Resize-10, Upsample: coordinates are "asymmetric" and the nearest pixel is onnxruntime's
// opset < 11 rule (truncate x_original, or ceil it along axes that shrink); Upsample's scales are
// >= 1 (an attribute at 7, an input at 9 and 10).
//
// Fast kernel: float32 nearest / linear resizing of the last two axes only (NCHW and friends),
// without antialias, exclude_outside or tf_crop_and_resize: per-axis tap tables, OpenMP over rows.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

enum class InterpMode { kNearest, kLinear, kCubic };
enum class CoordMode {
  kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttrs {
  InterpMode mode = InterpMode::kNearest;
  CoordMode coord = CoordMode::kAsymmetric;
  NearestMode nearest = NearestMode::kSimple;
  AspectPolicy policy = AspectPolicy::kStretch;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0.0;
  std::vector<int64_t> axes;  // as given (empty: every axis)
  bool is_upsample = false;
};

// Per output position along one axis: what the output is made of.
enum TapFlag : uint8_t { kTapNormal = 0, kTapExtrapolate = 1, kTapZero = 2 };

struct AxisTaps {
  int64_t in = 0, out = 0;
  int taps = 0;               // taps per output position
  std::vector<int64_t> idx;   // out * taps, clamped to [0, in)
  std::vector<double> w;      // out * taps
  std::vector<uint8_t> flag;  // out
};

struct ResizePlan {
  Shape out_shape;
  std::vector<double> scale;        // per axis (1 for untouched axes)
  std::vector<int> order;           // axes to resample, in processing order (identity axes dropped)
  std::vector<double> roi_start, roi_end;  // per axis (tf_crop_and_resize)
  std::vector<AxisTaps> taps;       // per axis, filled for the axes in `order`
};

ResizeAttrs parse_attrs(const KernelContext& c) {
  ResizeAttrs a;
  const auto& n = c.node;
  a.is_upsample = n.op_type() == "Upsample";
  const bool v11 = !a.is_upsample && c.version >= 11;
  const std::string mode = attr_string(n, "mode", "nearest");
  if (mode == "nearest") a.mode = InterpMode::kNearest;
  else if (mode == "linear") a.mode = InterpMode::kLinear;
  else if (mode == "cubic" && v11) a.mode = InterpMode::kCubic;
  else c.fail("attribute 'mode': '" + mode + "' is not one of nearest, linear" + (v11 ? ", cubic" : ""));
  if (!v11) return a;  // Resize-10 / Upsample: asymmetric, nearest as onnxruntime's opset < 11

  const std::string ctm = attr_string(n, "coordinate_transformation_mode", "half_pixel");
  if (ctm == "half_pixel") a.coord = CoordMode::kHalfPixel;
  else if (ctm == "half_pixel_symmetric" && c.version >= 19) a.coord = CoordMode::kHalfPixelSymmetric;
  else if (ctm == "pytorch_half_pixel") a.coord = CoordMode::kPytorchHalfPixel;
  else if (ctm == "align_corners") a.coord = CoordMode::kAlignCorners;
  else if (ctm == "asymmetric") a.coord = CoordMode::kAsymmetric;
  // Removed from the spec at 13; onnxruntime still runs it, and models in the wild use it.
  else if (ctm == "tf_half_pixel_for_nn") a.coord = CoordMode::kTfHalfPixelForNn;
  else if (ctm == "tf_crop_and_resize") a.coord = CoordMode::kTfCropAndResize;
  else c.fail("attribute 'coordinate_transformation_mode': '" + ctm + "' is not supported at Resize-" +
              std::to_string(c.version));

  const std::string nm = attr_string(n, "nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor") a.nearest = NearestMode::kRoundPreferFloor;
  else if (nm == "round_prefer_ceil") a.nearest = NearestMode::kRoundPreferCeil;
  else if (nm == "floor") a.nearest = NearestMode::kFloor;
  else if (nm == "ceil") a.nearest = NearestMode::kCeil;
  else c.fail("attribute 'nearest_mode': '" + nm + "' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil");

  a.cubic_a = attr_float(n, "cubic_coeff_a", -0.75f);
  if (!std::isfinite(a.cubic_a)) c.fail("attribute 'cubic_coeff_a' must be finite");
  const int64_t ex = attr_int(n, "exclude_outside", 0);
  if (ex != 0 && ex != 1) c.fail("attribute 'exclude_outside' must be 0 or 1, got " + std::to_string(ex));
  a.exclude_outside = ex == 1;
  a.extrapolation_value = attr_float(n, "extrapolation_value", 0.f);
  if (c.version >= 18) {
    const int64_t aa = attr_int(n, "antialias", 0);
    if (aa != 0 && aa != 1) c.fail("attribute 'antialias' must be 0 or 1, got " + std::to_string(aa));
    a.antialias = aa == 1 && a.mode != InterpMode::kNearest;  // antialias filters linear / cubic only
    a.axes = attr_ints(n, "axes");
    const std::string kp = attr_string(n, "keep_aspect_ratio_policy", "stretch");
    if (kp == "stretch") a.policy = AspectPolicy::kStretch;
    else if (kp == "not_larger") a.policy = AspectPolicy::kNotLarger;
    else if (kp == "not_smaller") a.policy = AspectPolicy::kNotSmaller;
    else c.fail("attribute 'keep_aspect_ratio_policy': '" + kp + "' is not one of stretch, not_larger, not_smaller");
  }
  return a;
}

// Input positions of roi, scales and sizes for this op version (-1: none).
struct InputSlots {
  int roi = -1, scales = -1, sizes = -1;
};
InputSlots input_slots(const KernelContext& c, const ResizeAttrs& a) {
  if (a.is_upsample) return {-1, c.version >= 9 ? 1 : -1, -1};
  if (c.version < 11) return {-1, 1, -1};
  return {1, 2, 3};
}

bool given_nonempty(const KernelContext& c, int i) { return i >= 0 && c.has(i) && c.in(i).numel() > 0; }

// Source coordinate of output position y along an axis (the spec's formulas, as the reference
// evaluates them: out_w is the fractional output width scale * in).
double source_coordinate(CoordMode m, double y, double scale, int64_t in, int64_t out, double roi0, double roi1) {
  const double out_w = scale * static_cast<double>(in);
  switch (m) {
    case CoordMode::kHalfPixel: return (y + 0.5) / scale - 0.5;
    case CoordMode::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out) / out_w;
      const double center = static_cast<double>(in) / 2;
      const double offset = center * (1 - adjustment);
      return offset + (y + 0.5) / scale - 0.5;
    }
    // The reference tests the fractional width and maps a width of 1 to -0.5 (the spec's text
    // says 0 for an integer length of 1; onnxruntime follows the text). The reference is what
    // the conformance data holds, and for linear without antialias both give the edge value.
    case CoordMode::kPytorchHalfPixel: return out_w == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
    case CoordMode::kAlignCorners: return out_w == 1 ? 0.0 : y * static_cast<double>(in - 1) / (out_w - 1);
    case CoordMode::kAsymmetric: return y / scale;
    case CoordMode::kTfHalfPixelForNn: return (y + 0.5) / scale;
    case CoordMode::kTfCropAndResize: {
      double x = out_w == 1 ? (roi1 - roi0) * static_cast<double>(in - 1) / 2
                            : y * (roi1 - roi0) * static_cast<double>(in - 1) / (out_w - 1);
      return x + roi0 * static_cast<double>(in - 1);
    }
  }
  return 0.0;
}

double keys_cubic(double x, double A) {
  x = std::fabs(x);
  const double x2 = x * x, x3 = x2 * x;
  if (x <= 1) return (A + 2) * x3 - (A + 3) * x2 + 1;
  if (x < 2) return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
  return 0.0;
}

// Taps and weights of one axis (reference: _interpolate_1d_along_axis).
AxisTaps make_axis_taps(const ResizeAttrs& a, int64_t in, int64_t out, double scale, double roi0, double roi1) {
  AxisTaps t;
  t.in = in;
  t.out = out;
  t.flag.assign(out, kTapNormal);
  const double lim = 1e15;  // keeps floor() results representable; such coordinates clamp anyway
  if (a.mode == InterpMode::kNearest) {
    t.taps = 1;
    t.idx.resize(out);
    t.w.assign(out, 1.0);
    for (int64_t y = 0; y < out; ++y) {
      double x = source_coordinate(a.coord, static_cast<double>(y), scale, in, out, roi0, roi1);
      if (a.coord == CoordMode::kTfCropAndResize && (x < 0 || x > static_cast<double>(in - 1))) t.flag[y] = kTapExtrapolate;
      x = std::clamp(x, -lim, lim);
      int64_t i;
      const double fl = std::floor(x);
      if (a.nearest == NearestMode::kSimple) {
        i = static_cast<int64_t>(scale < 1 ? std::ceil(x) : std::trunc(x));
      } else if (x == fl) {
        i = static_cast<int64_t>(x);
      } else {
        const double r = x - fl;
        bool up = false;
        switch (a.nearest) {
          case NearestMode::kRoundPreferFloor: up = r > 0.5; break;
          case NearestMode::kRoundPreferCeil: up = r >= 0.5; break;
          case NearestMode::kFloor: up = false; break;
          case NearestMode::kCeil: up = true; break;
          case NearestMode::kSimple: break;
        }
        i = static_cast<int64_t>(fl) + (up ? 1 : 0);
      }
      if (a.exclude_outside && (i < 0 || i >= in) && t.flag[y] == kTapNormal) t.flag[y] = kTapZero;
      t.idx[y] = std::clamp<int64_t>(i, 0, in - 1);
    }
    return t;
  }
  // Kernel width (fixed per axis).
  const double s = std::min(scale, 1.0);
  int n = 0;
  int64_t start_off = 0;  // first tap relative to the coordinate's base, antialias only
  if (!a.antialias) {
    n = a.mode == InterpMode::kLinear ? 2 : 4;
  } else if (a.mode == InterpMode::kLinear) {
    start_off = static_cast<int64_t>(std::floor(-1 / s)) + 1;
    n = static_cast<int>(2 - 2 * start_off);
  } else {
    start_off = static_cast<int64_t>(std::floor(-2 / s)) + 1;
    n = static_cast<int>(2 - 2 * start_off);
  }
  t.taps = n;
  t.idx.resize(static_cast<size_t>(out) * n);
  t.w.resize(static_cast<size_t>(out) * n);
  std::vector<double> coef(n);
  const double A = a.cubic_a;
  for (int64_t y = 0; y < out; ++y) {
    double x = source_coordinate(a.coord, static_cast<double>(y), scale, in, out, roi0, roi1);
    if (a.coord == CoordMode::kTfCropAndResize && (x < 0 || x > static_cast<double>(in - 1))) t.flag[y] = kTapExtrapolate;
    x = std::clamp(x, -lim, lim);
    const double fl = std::floor(x);
    const bool integral = x == fl;
    // The reference prefers the pixel left of x: an integral x is base + 1 with ratio 1.
    const int64_t base = static_cast<int64_t>(fl) - (integral ? 1 : 0);
    const double r = integral ? 1.0 : x - fl;
    if (!a.antialias) {
      if (a.mode == InterpMode::kLinear) {
        coef[0] = 1 - r;
        coef[1] = r;
      } else {
        coef[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
        coef[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
        coef[2] = ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1;
        coef[3] = ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A;
      }
    } else {
      double sum = 0;
      for (int k = 0; k < n; ++k) {
        const double arg = (static_cast<double>(start_off + k) - r) * s;
        coef[k] = a.mode == InterpMode::kLinear ? std::clamp(1 - std::fabs(arg), 0.0, 1.0) : keys_cubic(arg, A);
        sum += coef[k];
      }
      for (int k = 0; k < n; ++k) coef[k] /= sum;
    }
    const int64_t first = base - n / 2 + 1;
    if (a.exclude_outside) {
      double sum = 0;
      for (int k = 0; k < n; ++k) {
        const int64_t i = first + k;
        if (i < 0 || i >= in) coef[k] = 0;
        sum += coef[k];
      }
      if (sum == 0) sum = 1;
      for (int k = 0; k < n; ++k) coef[k] /= sum;
    }
    for (int k = 0; k < n; ++k) {
      t.idx[y * n + k] = std::clamp<int64_t>(first + k, 0, in - 1);
      t.w[y * n + k] = coef[k];
    }
  }
  return t;
}

// Checks the inputs and computes the output shape (and, with `with_taps`, the tap tables).
ResizePlan make_plan(const KernelContext& c, const ResizeAttrs& a, bool with_taps) {
  const Tensor& x = c.in(0);
  const int r = x.rank();
  const Shape& in = x.shape();
  std::vector<int> axes;
  if (!a.axes.empty()) {
    std::set<int> seen;
    for (int64_t v : a.axes) {
      if (v < -r || v >= r) c.fail("attribute 'axes': axis " + std::to_string(v) + " is out of range for rank " + std::to_string(r));
      const int ax = static_cast<int>(v < 0 ? v + r : v);
      if (!seen.insert(ax).second) c.fail("attribute 'axes': axis " + std::to_string(v) + " is repeated");
      axes.push_back(ax);
    }
  } else {
    for (int i = 0; i < r; ++i) axes.push_back(i);
  }
  const size_t na = axes.size();
  const InputSlots slots = input_slots(c, a);

  std::vector<double> scales_in;
  std::vector<int64_t> sizes_in;
  bool have_scales = false, have_sizes = false;
  if (a.is_upsample && c.version < 9) {
    const auto* attr = find_attr(c.node, "scales");
    if (!attr) c.fail("attribute 'scales' is required");
    for (float f : attr_floats(c.node, "scales")) scales_in.push_back(f);
    have_scales = true;
  } else {
    if (given_nonempty(c, slots.scales)) {
      const Tensor& s = c.in(slots.scales);
      if (!dtype_is_float(s.dtype())) c.fail("input 'scales' must be float, got " + dtype_name(s.dtype()));
      if (s.rank() != 1) c.fail("input 'scales' must be 1-D, got shape " + shape_str(s.shape()));
      scales_in = s.to_doubles();
      have_scales = true;
    }
    if (given_nonempty(c, slots.sizes)) {
      const Tensor& s = c.in(slots.sizes);
      if (!dtype_is_integer(s.dtype())) c.fail("input 'sizes' must be int64, got " + dtype_name(s.dtype()));
      if (s.rank() != 1) c.fail("input 'sizes' must be 1-D, got shape " + shape_str(s.shape()));
      sizes_in = s.to_int64s();
      have_sizes = true;
    }
  }
  if (have_scales && have_sizes) c.fail("only one of inputs 'scales' and 'sizes' may be given (the other empty or omitted)");
  if (!have_scales && !have_sizes) {
    if (slots.scales >= 0 && !c.has(slots.scales) && slots.sizes < 0) c.fail("input 'scales' is required");
    c.fail("one of inputs 'scales' and 'sizes' must be given (non-empty)");
  }

  ResizePlan p;
  p.out_shape = in;
  p.scale.assign(r, 1.0);
  p.roi_start.assign(r, 0.0);
  p.roi_end.assign(r, 1.0);
  const std::string what = have_scales ? "scales" : "sizes";
  const size_t got = have_scales ? scales_in.size() : sizes_in.size();
  if (got != na)
    c.fail("input '" + what + "' has " + std::to_string(got) + " values, expected " + std::to_string(na) +
           (a.axes.empty() ? " (the rank of X)" : " (the length of 'axes')"));
  constexpr double kMaxExtent = 9.0e15;  // far above anything allocatable, below int64 overflow
  if (have_scales) {
    for (size_t i = 0; i < na; ++i) {
      const double s = scales_in[i];
      const int ax = axes[i];
      if (!(s > 0) || !std::isfinite(s)) c.fail("input 'scales': value " + std::to_string(s) + " must be finite and > 0");
      if (a.is_upsample && s < 1) c.fail("input 'scales': Upsample scales must be >= 1, got " + std::to_string(s));
      const double o = std::floor(s * static_cast<double>(in[ax]));
      if (o > kMaxExtent) c.fail("input 'scales': output extent along axis " + std::to_string(ax) + " is too large");
      p.scale[ax] = s;
      p.out_shape[ax] = static_cast<int64_t>(o);
    }
  } else {
    for (size_t i = 0; i < na; ++i) {
      const int ax = axes[i];
      if (sizes_in[i] < 0) c.fail("input 'sizes': value " + std::to_string(sizes_in[i]) + " is negative");
      if (in[ax] == 0 && sizes_in[i] != 0)
        c.fail("input 'sizes': axis " + std::to_string(ax) + " has extent 0 and cannot be resized to " +
               std::to_string(sizes_in[i]));
    }
    if (a.policy == AspectPolicy::kStretch) {
      for (size_t i = 0; i < na; ++i) {
        const int ax = axes[i];
        p.out_shape[ax] = sizes_in[i];
        p.scale[ax] = in[ax] == 0 ? 1.0 : static_cast<double>(sizes_in[i]) / static_cast<double>(in[ax]);
      }
    } else {
      double s = a.policy == AspectPolicy::kNotLarger ? std::numeric_limits<double>::infinity() : 0.0;
      bool any = false;
      for (size_t i = 0; i < na; ++i) {
        const int ax = axes[i];
        if (in[ax] == 0) continue;
        const double v = static_cast<double>(sizes_in[i]) / static_cast<double>(in[ax]);
        s = a.policy == AspectPolicy::kNotLarger ? std::min(s, v) : std::max(s, v);
        any = true;
      }
      if (!any) s = 1.0;
      if (!(s > 0)) c.fail("input 'sizes': keep_aspect_ratio_policy gives the scale 0");
      for (size_t i = 0; i < na; ++i) {
        const int ax = axes[i];
        const double o = std::floor(s * static_cast<double>(in[ax]) + 0.5);
        if (o > kMaxExtent) c.fail("input 'sizes': output extent along axis " + std::to_string(ax) + " is too large");
        p.out_shape[ax] = static_cast<int64_t>(o);
        p.scale[ax] = s;
      }
    }
  }
  const int64_t out_numel = shape_numel(p.out_shape);  // throws on overflow

  if (a.coord == CoordMode::kTfCropAndResize) {
    if (slots.roi < 0 || !given_nonempty(c, slots.roi))
      c.fail("input 'roi' is required with coordinate_transformation_mode tf_crop_and_resize");
    const Tensor& roi = c.in(slots.roi);
    if (!dtype_is_float(roi.dtype())) c.fail("input 'roi' must be float, got " + dtype_name(roi.dtype()));
    const auto v = roi.to_doubles();
    if (v.size() != 2 * na)
      c.fail("input 'roi' has " + std::to_string(v.size()) + " values, expected " + std::to_string(2 * na));
    for (size_t i = 0; i < na; ++i) {
      if (!std::isfinite(v[i]) || !std::isfinite(v[na + i])) c.fail("input 'roi': values must be finite");
      p.roi_start[axes[i]] = v[i];
      p.roi_end[axes[i]] = v[na + i];
    }
  }

  auto isclose = [](double u, double v) { return std::fabs(u - v) <= 1e-9 * std::max(std::fabs(u), std::fabs(v)); };
  for (int ax : axes) {
    const bool identity = isclose(p.scale[ax], 1.0) && p.out_shape[ax] == in[ax] &&
                          (a.coord != CoordMode::kTfCropAndResize ||
                           (std::fabs(p.roi_start[ax]) <= 1e-9 && isclose(p.roi_end[ax], 1.0)));
    if (!identity) p.order.push_back(ax);
  }
  if (with_taps) {  // (tables are never larger than the output, which is allocated next)
    p.taps.resize(r);
    if (out_numel == 0) p.order.clear();
    for (int ax : p.order)
      p.taps[ax] = make_axis_taps(a, in[ax], p.out_shape[ax], p.scale[ax], p.roi_start[ax], p.roi_end[ax]);
  }
  return p;
}

// double -> T as numpy_helper.saturate_cast: integers round half to even and saturate, floats
// saturate to the finite range (NaN stays NaN), bool rounds and clamps to {0, 1}.
template <typename T>
T saturate_from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (std::isnan(v)) return false;
    return std::nearbyint(v) >= 1;
  } else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    v = std::nearbyint(v);
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (v <= lo) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>) {
    if (std::isnan(v)) return T(static_cast<float>(v));
    const double hi = static_cast<double>(static_cast<float>(std::numeric_limits<T>::max()));
    v = std::clamp(v, -hi, hi);
    // double -> float -> 16 bits can round twice; pick the nearer neighbour (ties to even).
    T h(static_cast<float>(v));
    const double hv = static_cast<double>(static_cast<float>(h));
    if (hv == v) return h;
    uint16_t bits;
    std::memcpy(&bits, &h, 2);
    const bool away = (v > hv) == (hv >= 0 && !std::signbit(hv));  // the neighbour farther from zero
    uint16_t nb = hv == 0 ? static_cast<uint16_t>((v > 0 ? 0x0000 : 0x8000) | 1)
                          : static_cast<uint16_t>(away ? bits + 1 : bits - 1);
    T other;
    std::memcpy(static_cast<void*>(&other), &nb, 2);
    const double ov = static_cast<double>(static_cast<float>(other));
    if (!std::isfinite(ov)) return h;
    const double d1 = std::fabs(v - hv), d2 = std::fabs(v - ov);
    return d2 < d1 || (d2 == d1 && (nb & 1) == 0) ? other : h;
  } else {
    if (std::isnan(v)) return static_cast<T>(v);
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    return static_cast<T>(std::clamp(v, -hi, hi));
  }
}

using ResizeTypes = decltype(NumericTypes{} + TypeList<bool>{});

// Nearest: a gather with one source index per output coordinate and axis.
template <typename T>
Tensor resize_nearest(const Tensor& x, const ResizePlan& p, double extrapolation_value) {
  const int r = x.rank();
  Tensor y = Tensor::uninitialized(x.dtype(), p.out_shape);
  const int64_t total = y.numel();
  if (total == 0) return y;
  std::vector<int64_t> in_stride(r, 1);
  for (int d = r - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * x.dim(d + 1);
  // Source offset per axis and output coordinate; flags with the axis' rank in processing order.
  std::vector<std::vector<int64_t>> off(r);
  std::vector<std::vector<uint8_t>> flag(r);
  std::vector<int> rank_in_order(r, -1);
  for (size_t k = 0; k < p.order.size(); ++k) rank_in_order[p.order[k]] = static_cast<int>(k);
  bool any_flag = false;
  for (int d = 0; d < r; ++d) {
    const int64_t o = p.out_shape[d];
    off[d].resize(o);
    flag[d].assign(o, kTapNormal);
    if (rank_in_order[d] < 0) {
      for (int64_t i = 0; i < o; ++i) off[d][i] = i * in_stride[d];
    } else {
      const AxisTaps& t = p.taps[d];
      for (int64_t i = 0; i < o; ++i) {
        off[d][i] = t.idx[i] * in_stride[d];
        flag[d][i] = t.flag[i];
        any_flag = any_flag || t.flag[i] != kTapNormal;
      }
    }
  }
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  const T extrap = saturate_from_double<T>(extrapolation_value);
  const T zero = saturate_from_double<T>(0.0);
  const int64_t inner = p.out_shape[r - 1];
  const int64_t rows = total / inner;
  std::vector<int64_t> idx(r, 0);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t base = 0;
    int best = -1;  // processing rank of the last flagged outer axis
    uint8_t best_flag = kTapNormal;
    for (int d = 0; d < r - 1; ++d) {
      base += off[d][idx[d]];
      if (any_flag && flag[d][idx[d]] != kTapNormal && rank_in_order[d] > best) {
        best = rank_in_order[d];
        best_flag = flag[d][idx[d]];
      }
    }
    T* out_row = dst + row * inner;
    const int64_t* last = off[r - 1].data();
    if (!any_flag) {
      for (int64_t i = 0; i < inner; ++i) out_row[i] = src[base + last[i]];
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        uint8_t f = best_flag;
        if (flag[r - 1][i] != kTapNormal && rank_in_order[r - 1] > best) f = flag[r - 1][i];
        out_row[i] = f == kTapNormal ? src[base + last[i]] : (f == kTapExtrapolate ? extrap : zero);
      }
    }
    for (int d = r - 2; d >= 0; --d) {
      if (++idx[d] < p.out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return y;
}

// Linear / cubic: separable passes in double over the axes in processing order.
template <typename T>
Tensor resize_interpolate(const Tensor& x, const ResizePlan& p, double extrapolation_value) {
  Shape cur = x.shape();
  std::vector<double> buf;
  {
    const T* s = x.data<T>();
    const int64_t n = x.numel();
    buf.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, bool>) buf[i] = s[i] ? 1.0 : 0.0;
      else buf[i] = static_cast<double>(to_compute(s[i]));
    }
  }
  for (int ax : p.order) {
    const AxisTaps& t = p.taps[ax];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; ++d) outer *= cur[d];
    for (size_t d = ax + 1; d < cur.size(); ++d) inner *= cur[d];
    Shape next = cur;
    next[ax] = t.out;
    std::vector<double> nb(static_cast<size_t>(shape_numel(next)), 0.0);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < t.out; ++j) {
        double* d = nb.data() + (o * t.out + j) * inner;
        if (t.flag[j] == kTapExtrapolate) {
          std::fill(d, d + inner, extrapolation_value);
          continue;
        }
        for (int k = 0; k < t.taps; ++k) {
          const double w = t.w[j * t.taps + k];
          if (w == 0) continue;
          const double* s = buf.data() + (o * t.in + t.idx[j * t.taps + k]) * inner;
          for (int64_t i = 0; i < inner; ++i) d[i] += w * s[i];
        }
      }
    buf.swap(nb);
    cur = next;
  }
  Tensor y = Tensor::uninitialized(x.dtype(), p.out_shape);
  T* dst = y.data<T>();
  for (size_t i = 0; i < buf.size(); ++i) dst[i] = saturate_from_double<T>(buf[i]);
  return y;
}

void resize_validate(KernelContext& c) {
  const ResizeAttrs a = parse_attrs(c);
  if (!c.has(0)) return;
  const InputSlots s = input_slots(c, a);
  // Without every input that shapes the output, only the attributes can be checked.
  for (int i : {s.roi, s.scales, s.sizes})
    if (i >= 0 && i < static_cast<int>(c.node.input_size()) && !c.node.input(i).empty() && !c.has(i)) return;
  make_plan(c, a, false);
}

void resize_run(KernelContext& c) {
  const ResizeAttrs a = parse_attrs(c);
  const Tensor& x = c.in(0);
  const ResizePlan p = make_plan(c, a, true);
  if (!dispatch<ResizeTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  if (shape_numel(p.out_shape) == 0) {
    c.outputs[0] = Tensor(x.dtype(), p.out_shape);
    return;
  }
  c.dispatch_or_fail<ResizeTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (a.mode == InterpMode::kNearest) c.outputs[0] = resize_nearest<T>(x, p, a.extrapolation_value);
    else c.outputs[0] = resize_interpolate<T>(x, p, a.extrapolation_value);
  });
}

// float32, nearest or 2-tap linear over the last two axes (the others untouched).
bool resize_fast(KernelContext& c) {
  const ResizeAttrs a = parse_attrs(c);
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.rank() < 2 || a.mode == InterpMode::kCubic || a.antialias ||
      a.exclude_outside || a.coord == CoordMode::kTfCropAndResize)
    return false;
  const ResizePlan p = make_plan(c, a, true);
  const int r = x.rank();
  for (int ax : p.order)
    if (ax < r - 2) return false;
  const int64_t H = x.dim(r - 2), W = x.dim(r - 1), OH = p.out_shape[r - 2], OW = p.out_shape[r - 1];
  int64_t planes = 1;
  for (int d = 0; d < r - 2; ++d) planes *= x.dim(d);
  Tensor y = Tensor::uninitialized(DType::kFloat, p.out_shape);
  if (y.numel() == 0) {
    c.outputs[0] = std::move(y);
    return true;
  }
  // Tap tables of both axes, the identity ones included.
  const int taps = a.mode == InterpMode::kNearest ? 1 : 2;
  auto table = [&](int ax, int64_t in, int64_t out, std::vector<int64_t>& idx, std::vector<float>& w) {
    idx.resize(out * taps);
    w.resize(out * taps);
    const bool resized = std::find(p.order.begin(), p.order.end(), ax) != p.order.end();
    for (int64_t j = 0; j < out; ++j)
      for (int k = 0; k < taps; ++k) {
        idx[j * taps + k] = resized ? p.taps[ax].idx[j * taps + k] : j;
        w[j * taps + k] = resized ? static_cast<float>(p.taps[ax].w[j * taps + k]) : (k == 0 ? 1.f : 0.f);
      }
  };
  std::vector<int64_t> iy, ix;
  std::vector<float> wy, wx;
  table(r - 2, H, OH, iy, wy);
  table(r - 1, W, OW, ix, wx);
  const float* src = x.data<float>();
  float* dst = y.data<float>();
  const int64_t rows = planes * OH;
  if (taps == 1) {
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t pl = row / OH, oy = row % OH;
      const float* s = src + (pl * H + iy[oy]) * W;
      float* d = dst + row * OW;
      for (int64_t ox = 0; ox < OW; ++ox) d[ox] = s[ix[ox]];
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t pl = row / OH, oy = row % OH;
      const float* s0 = src + (pl * H + iy[2 * oy]) * W;
      const float* s1 = src + (pl * H + iy[2 * oy + 1]) * W;
      const float w0 = wy[2 * oy], w1 = wy[2 * oy + 1];
      float* d = dst + row * OW;
      for (int64_t ox = 0; ox < OW; ++ox) {
        const int64_t i0 = ix[2 * ox], i1 = ix[2 * ox + 1];
        const float a0 = wx[2 * ox], a1 = wx[2 * ox + 1];
        d[ox] = w0 * (a0 * s0[i0] + a1 * s0[i1]) + w1 * (a0 * s1[i0] + a1 * s1[i1]);
      }
    }
  }
  c.outputs[0] = std::move(y);
  return true;
}

}  // namespace

void register_resize_ops(OpRegistry& r) {
  OpDef def{resize_run, resize_fast, resize_validate};
  r.add("", "Resize", {10, 11, 13, 18, 19}, def);
  // Upsample-10 is deprecated in the spec (Resize replaces it) but still listed at opset 10+.
  r.add("", "Upsample", {7, 9, 10}, def);
}

}  // namespace qtool
