// SPDX-License-Identifier: Apache-2.0
// Spatial sampling: GridSample (ai.onnx 16, 20, 22) and AffineGrid (20), the two halves of a
// spatial transformer (Jaderberg et al. 2015, arXiv:1506.02025), with torch.nn.functional's
// grid_sample / affine_grid semantics as the ONNX spec and its reference implementation
// (onnx/reference/ops/op_grid_sample.py, op_affine_grid.py) define them.
//
// GridSample: grid[n, o1..or, :] holds normalised coordinates listed innermost axis first; each is
// mapped to a pixel coordinate (align_corners: -1/1 are the centres of the corner pixels, else
// their outer edges), rounded half to even for "nearest", moved inside by padding_mode ("border"
// clamps, "reflection" reflects off the borders until inside), then sampled with 1, 2 or 4 taps
// per axis (nearest, N-linear, N-cubic with Keys' a = -0.75); taps outside the input read 0
// ("zeros"), the edge ("border") or the reflected pixel ("reflection"). Coordinates are computed in
// float (in double for double grids), as the reference does, weights and sums in double; integer
// outputs are converted as Cast does (truncation, saturated). Version 16 takes 4-D inputs and the
// mode names bilinear/bicubic; 20 and later any rank and linear/cubic.
//
// AffineGrid: the base grid of the output size (align_corners as above) in homogeneous
// coordinates times theta (N x 2 x 3 or N x 3 x 4), computed in double.
#include <cmath>
#include <limits>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

enum class SampleMode { kNearest, kLinear, kCubic };
enum class PaddingMode { kZeros, kBorder, kReflection };

struct GridSampleAttrs {
  SampleMode mode = SampleMode::kLinear;
  PaddingMode padding = PaddingMode::kZeros;
  bool align_corners = false;
};

GridSampleAttrs grid_sample_attrs(const KernelContext& c) {
  GridSampleAttrs a;
  const bool v16 = c.version < 20;
  const std::string mode = attr_string(c.node, "mode", v16 ? "bilinear" : "linear");
  if (mode == "nearest") a.mode = SampleMode::kNearest;
  else if (mode == (v16 ? "bilinear" : "linear")) a.mode = SampleMode::kLinear;
  else if (mode == (v16 ? "bicubic" : "cubic")) a.mode = SampleMode::kCubic;
  else c.fail("attribute 'mode': '" + mode + "' is not one of " + (v16 ? "bilinear, nearest, bicubic" : "linear, nearest, cubic") +
              " at GridSample-" + std::to_string(c.version));
  const std::string pad = attr_string(c.node, "padding_mode", "zeros");
  if (pad == "zeros") a.padding = PaddingMode::kZeros;
  else if (pad == "border") a.padding = PaddingMode::kBorder;
  else if (pad == "reflection") a.padding = PaddingMode::kReflection;
  else c.fail("attribute 'padding_mode': '" + pad + "' is not one of zeros, border, reflection");
  const int64_t ac = attr_int(c.node, "align_corners", 0);
  if (ac != 0 && ac != 1) c.fail("attribute 'align_corners' must be 0 or 1, got " + std::to_string(ac));
  a.align_corners = ac == 1;
  return a;
}

void grid_sample_validate(KernelContext& c) {
  grid_sample_attrs(c);
  if (!c.has(0) || !c.has(1)) return;
  const Tensor& x = c.in(0);
  const Tensor& g = c.in(1);
  if (c.version < 20 && x.rank() != 4) c.fail("input X must be 4-D (N, C, H, W) at GridSample-16, got " + shape_str(x.shape()));
  if (x.rank() < 3) c.fail("input X must have rank >= 3 (N, C, D1, ...), got " + shape_str(x.shape()));
  const int r = x.rank() - 2;
  if (r > 8) c.fail("input X has " + std::to_string(r) + " spatial axes; GridSample supports up to 8");
  if (g.rank() != r + 2) c.fail("input grid must have rank " + std::to_string(r + 2) + ", got " + shape_str(g.shape()));
  if (g.dim(-1) != r)
    c.fail("input grid's last extent must be " + std::to_string(r) + " (the spatial rank), got " + shape_str(g.shape()));
  if (g.dim(0) != x.dim(0))
    c.fail("batch sizes of X " + shape_str(x.shape()) + " and grid " + shape_str(g.shape()) + " differ");
  if (!dtype_is_float(g.dtype())) c.fail("input grid must be float, got " + dtype_name(g.dtype()));
}

// Reflects x off [lo, hi] until it is inside (the reference's _gs_reflect), in double.
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (!(range > 0)) return lo;
  if (!std::isfinite(x)) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const double n = std::floor(dx / range);
    const double r = dx - n * range;
    return std::fmod(n, 2.0) == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const double n = std::floor(dx / range);
    const double r = dx - n * range;
    return std::fmod(n, 2.0) == 0 ? hi - r : lo + r;
  }
  return x;
}

void cubic_coeffs(double x, double* c) {
  const double A = -0.75;
  x = std::fabs(x);
  c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((A * (2 - x) - 5 * A) * (2 - x) + 8 * A) * (2 - x) - 4 * A;
}

// Compute type -> T as Cast does: floats round to nearest, integers truncate (saturated), bool != 0.
template <typename T>
T cast_from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    v = std::trunc(v);
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (v <= lo) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return from_compute<T>(static_cast<Compute<T>>(v));
  }
}

template <typename T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, bool>) return v ? 1.0 : 0.0;
  else return static_cast<double>(to_compute(v));
}

template <typename T, typename G>
void grid_sample_impl(KernelContext& c, const GridSampleAttrs& a) {
  using GC = Compute<G>;  // float, or double for double grids
  const Tensor& x = c.in(0);
  const Tensor& g = c.in(1);
  const int r = x.rank() - 2;
  const int64_t N = x.dim(0), C = x.dim(1);
  Shape out_shape{N, C};
  int64_t positions = 1;
  for (int i = 0; i < r; ++i) {
    out_shape.push_back(g.dim(1 + i));
    positions *= g.dim(1 + i);
  }
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  if (y.numel() == 0) {
    c.outputs[0] = std::move(y);
    return;
  }
  std::vector<int64_t> dims(r), stride(r);
  int64_t plane = 1;
  for (int i = r - 1; i >= 0; --i) {
    dims[i] = x.dim(2 + i);
    stride[i] = plane;
    plane *= dims[i];
  }
  if (plane == 0) {  // nothing to sample from: every location is outside
    T* o = y.data<T>();
    for (int64_t i = 0; i < y.numel(); ++i) o[i] = cast_from_double<T>(0.0);
    c.outputs[0] = std::move(y);
    return;
  }
  const int taps = a.mode == SampleMode::kNearest ? 1 : a.mode == SampleMode::kLinear ? 2 : 4;
  // Per axis: tap offsets (-1: reads 0) and weights.
  std::vector<int64_t> tap_off(static_cast<size_t>(r) * taps);
  std::vector<double> tap_w(static_cast<size_t>(r) * taps);
  int64_t combos = 1;
  for (int i = 0; i < r; ++i) combos *= taps;
  const T* src = x.data<T>();
  const G* grid = g.data<G>();
  T* dst = y.data<T>();

  // Index of an integer tap position along axis i, or -1 for "reads zero".
  auto tap_index = [&](int i, int64_t k) -> int64_t {
    const int64_t d = dims[i];
    if (a.padding == PaddingMode::kZeros) return k >= 0 && k < d ? k : -1;
    if (a.padding == PaddingMode::kBorder) return std::clamp<int64_t>(k, 0, d - 1);
    const double lo = a.align_corners ? 0.0 : -0.5, hi = a.align_corners ? d - 1.0 : d - 0.5;
    const int64_t m = static_cast<int64_t>(reflect(static_cast<double>(k), lo, hi));
    return std::clamp<int64_t>(m, 0, d - 1);
  };
  const double lim = 1e12;  // keeps floor() of far-out coordinates representable
  std::vector<int> digit(r);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < positions; ++p) {
      const G* gp = grid + (n * positions + p) * r;
      bool nan = false;
      for (int i = 0; i < r; ++i) {
        const int64_t d = dims[i];
        const GC gn = to_compute(gp[r - 1 - i]);  // innermost axis first
        GC xc = a.align_corners ? (gn + GC(1)) / GC(2) * GC(d - 1) : ((gn + GC(1)) * GC(d) - GC(1)) / GC(2);
        if (a.mode == SampleMode::kNearest) xc = std::nearbyint(xc);
        double xv = static_cast<double>(xc);
        if (std::isnan(xv)) {  // the position reads 0 (below); no tap is computed from it
          nan = true;           // (a NaN cast to int64 is undefined: UBSan in the unit tests)
          xv = 0.0;
        }
        const double lo = a.align_corners ? 0.0 : -0.5, hi = a.align_corners ? d - 1.0 : d - 0.5;
        if (xv < lo || xv > hi) {
          if (a.padding == PaddingMode::kBorder) xv = std::clamp(xv, 0.0, static_cast<double>(d - 1));
          else if (a.padding == PaddingMode::kReflection) xv = static_cast<double>(static_cast<GC>(reflect(xv, lo, hi)));
        }
        xv = std::clamp(xv, -lim, lim);
        int64_t* off = &tap_off[static_cast<size_t>(i) * taps];
        double* w = &tap_w[static_cast<size_t>(i) * taps];
        if (a.mode == SampleMode::kNearest) {
          off[0] = tap_index(i, static_cast<int64_t>(xv));  // already integral; int32 cast in the reference
          w[0] = 1.0;
        } else {
          const double x0 = std::floor(xv);
          const double f = xv - x0;
          const int64_t k0 = static_cast<int64_t>(x0);
          if (a.mode == SampleMode::kLinear) {
            off[0] = tap_index(i, k0);
            off[1] = tap_index(i, k0 + 1);
            w[0] = 1 - f;
            w[1] = f;
          } else {
            for (int t = 0; t < 4; ++t) off[t] = tap_index(i, k0 - 1 + t);
            cubic_coeffs(f, w);
          }
        }
      }
      for (int64_t ch = 0; ch < C; ++ch) {
        T* out = dst + (n * C + ch) * positions + p;
        if (nan) {
          *out = cast_from_double<T>(0.0);
          continue;
        }
        const T* xp = src + (n * C + ch) * plane;
        double acc = 0;
        std::fill(digit.begin(), digit.end(), 0);
        for (int64_t k = 0; k < combos; ++k) {
          double w = 1;
          int64_t off = 0;
          bool zero = false;
          for (int i = 0; i < r; ++i) {
            const int64_t o = tap_off[static_cast<size_t>(i) * taps + digit[i]];
            if (o < 0) {
              zero = true;
              break;
            }
            w *= tap_w[static_cast<size_t>(i) * taps + digit[i]];
            off += o * stride[i];
          }
          if (!zero && w != 0) acc += w * to_double(xp[off]);
          for (int i = r - 1; i >= 0; --i) {
            if (++digit[i] < taps) break;
            digit[i] = 0;
          }
        }
        *out = cast_from_double<T>(acc);
      }
    }
  }
  c.outputs[0] = std::move(y);
}

using SampleTypes = decltype(NumericTypes{} + TypeList<bool>{});

void grid_sample(KernelContext& c) {
  const GridSampleAttrs a = grid_sample_attrs(c);
  grid_sample_validate(c);
  const Tensor& x = c.in(0);
  const Tensor& g = c.in(1);
  c.dispatch_or_fail<SampleTypes>(0, x.dtype(), [&](auto xt) {
    using T = typename decltype(xt)::type;
    c.dispatch_or_fail<FloatTypes>(1, g.dtype(), [&](auto gt) {
      using G = typename decltype(gt)::type;
      grid_sample_impl<T, G>(c, a);
    });
  });
}

// ---- AffineGrid ----

void affine_grid_validate(KernelContext& c) {
  const int64_t ac = attr_int(c.node, "align_corners", 0);
  if (ac != 0 && ac != 1) c.fail("attribute 'align_corners' must be 0 or 1, got " + std::to_string(ac));
  if (!c.has(1)) return;
  const Tensor& size = c.in(1);
  if (size.rank() != 1 || (size.numel() != 4 && size.numel() != 5))
    c.fail("input 'size' must hold 4 values (N, C, H, W) or 5 (N, C, D, H, W), got shape " + shape_str(size.shape()));
  if (!dtype_is_integer(size.dtype())) c.fail("input 'size' must be int64, got " + dtype_name(size.dtype()));
  const auto s = size.to_int64s();
  for (int64_t v : s)
    if (v < 0) c.fail("input 'size' has a negative extent: " + std::to_string(v));
  if (!c.has(0)) return;
  const Tensor& theta = c.in(0);
  const int nd = static_cast<int>(s.size()) - 2;
  if (theta.rank() != 3 || theta.dim(1) != nd || theta.dim(2) != nd + 1)
    c.fail("input 'theta' must have shape (N, " + std::to_string(nd) + ", " + std::to_string(nd + 1) + ") for size " +
           shape_str(s) + ", got " + shape_str(theta.shape()));
  if (theta.dim(0) != s[0])
    c.fail("input 'theta' has " + std::to_string(theta.dim(0)) + " matrices for a batch of " + std::to_string(s[0]));
}

// Base coordinates along an axis of `n` points (torch.linspace(-1, 1, n), scaled by (n-1)/n when
// not align_corners), as the reference's arange builds them.
std::vector<double> base_coords(int64_t n, bool align_corners) {
  std::vector<double> v(n);
  if (align_corners) {
    if (n == 1) {
      v[0] = -1.0;  // torch.linspace(-1, 1, 1)
      return v;
    }
    const double step = 2.0 / static_cast<double>(n - 1);
    for (int64_t i = 0; i < n; ++i) v[i] = -1.0 + static_cast<double>(i) * step;
  } else {
    const double step = 2.0 / static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) v[i] = (-1.0 + step / 2) + static_cast<double>(i) * step;
  }
  return v;
}

void affine_grid(KernelContext& c) {
  affine_grid_validate(c);
  const Tensor& theta = c.in(0);
  const bool align = attr_int(c.node, "align_corners", 0) == 1;
  const auto s = c.in(1).to_int64s();
  const int nd = static_cast<int>(s.size()) - 2;
  const int64_t N = s[0];
  const int64_t D = nd == 3 ? s[2] : 1, H = s[nd == 3 ? 3 : 2], W = s[nd == 3 ? 4 : 3];
  Shape out_shape{N};
  if (nd == 3) out_shape.push_back(D);
  out_shape.push_back(H);
  out_shape.push_back(W);
  out_shape.push_back(nd);
  shape_numel(out_shape);
  const auto th = theta.to_doubles();
  const auto zs = base_coords(D, align), ys = base_coords(H, align), xs = base_coords(W, align);
  c.dispatch_or_fail<FloatTypes>(0, theta.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor y = Tensor::uninitialized(theta.dtype(), out_shape);
    T* o = y.data<T>();
    const int cols = nd + 1;
    for (int64_t n = 0; n < N; ++n) {
      const double* m = th.data() + n * nd * cols;
      for (int64_t d = 0; d < D; ++d)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w) {
            // homogeneous point [x, y, (z,) 1]
            const double pt[4] = {xs[w], ys[h], nd == 3 ? zs[d] : 1.0, 1.0};
            for (int k = 0; k < nd; ++k) {
              double acc = 0;
              for (int j = 0; j < cols; ++j) acc += m[k * cols + j] * pt[j];
              *o++ = from_compute<T>(static_cast<Compute<T>>(acc));
            }
          }
    }
    c.outputs[0] = std::move(y);
  });
}

}  // namespace

void register_spatial_ops(OpRegistry& r) {
  r.add("", "GridSample", {16, 20, 22}, OpDef{grid_sample, nullptr, grid_sample_validate});
  r.add("", "AffineGrid", {20}, OpDef{affine_grid, nullptr, affine_grid_validate});
}

}  // namespace qtool
