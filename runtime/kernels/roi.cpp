// SPDX-License-Identifier: Apache-2.0
// Region-of-interest pooling: RoiAlign (10, 16, 22; Mask R-CNN, He et al. 2017 arXiv:1703.06870) and
// MaxRoiPool (1, 22; Fast R-CNN's RoI max pooling, Girshick 2015).
// RoiAlign follows onnx/reference/ops/op_roi_align.py (= onnxruntime's roi_align.cc): bilinear samples
// on a roi_bin_grid per bin (sampling_ratio, or adaptive ceil(roi extent / output extent) when 0),
// averaged ('avg') or the largest weighted corner ('max'); coordinate_transformation_mode
// half_pixel shifts ROI coordinates by -0.5 (the default from 16; version 10 never shifts and
// forces malformed ROIs to 1x1). MaxRoiPool follows Caffe's ROIPooling as onnxruntime does: ROI
// corners rounded, bins [floor(i * bin), ceil((i + 1) * bin)) clipped to the image, empty bins 0.
#include <cmath>

#include "runtime/kernels/conv_pool_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

// Adaptive sampling grids beyond this many points per bin mean absurd ROI coordinates.
constexpr int64_t kMaxSamplesPerBin = int64_t{1} << 24;
constexpr int64_t kMaxSamples = int64_t{1} << 28;  // per ROI

struct RoiAlignAttrs {
  int64_t out_h = 1, out_w = 1, sampling_ratio = 0;
  float spatial_scale = 1.f;
  bool max_mode = false, half_pixel = false;
};

RoiAlignAttrs roi_align_checked(const KernelContext& c) {
  RoiAlignAttrs a;
  a.out_h = attr_int(c.node, "output_height", 1);
  a.out_w = attr_int(c.node, "output_width", 1);
  if (a.out_h <= 0) c.fail("attribute 'output_height': must be positive, got " + std::to_string(a.out_h));
  if (a.out_w <= 0) c.fail("attribute 'output_width': must be positive, got " + std::to_string(a.out_w));
  a.sampling_ratio = attr_int(c.node, "sampling_ratio", 0);
  if (a.sampling_ratio < 0 || a.sampling_ratio > 4096)
    c.fail("attribute 'sampling_ratio': must be in [0, 4096], got " + std::to_string(a.sampling_ratio));
  a.spatial_scale = attr_float(c.node, "spatial_scale", 1.f);
  const std::string mode = attr_string(c.node, "mode", "avg");
  if (mode != "avg" && mode != "max") c.fail("attribute 'mode': must be 'avg' or 'max', got '" + mode + "'");
  a.max_mode = mode == "max";
  if (c.version >= 16) {
    const std::string ctm = attr_string(c.node, "coordinate_transformation_mode", "half_pixel");
    if (ctm != "half_pixel" && ctm != "output_half_pixel")
      c.fail("attribute 'coordinate_transformation_mode': must be 'half_pixel' or 'output_half_pixel', got '" + ctm +
             "'");
    a.half_pixel = ctm == "half_pixel";
  }
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  if (x) {
    if (x->rank() != 4) c.fail("input X must have rank 4 (N, C, H, W), got " + shape_str(x->shape()));
    if (!dispatch<FloatTypes>(x->dtype(), [](auto) {})) c.fail_dtype(0, x->dtype());
  }
  if (c.has(1)) {
    const Tensor& r = c.in(1);
    if (r.rank() != 2 || r.dim(1) != 4) c.fail("input rois must have shape (num_rois, 4), got " + shape_str(r.shape()));
    if (x && r.dtype() != x->dtype())
      c.fail("input rois has type " + dtype_name(r.dtype()) + ", X has " + dtype_name(x->dtype()));
  }
  if (c.has(2)) {
    const Tensor& b = c.in(2);
    if (b.dtype() != DType::kInt64) c.fail_dtype(2, b.dtype());
    if (b.rank() != 1) c.fail("input batch_indices must be 1-D, got " + shape_str(b.shape()));
    if (c.has(1) && b.dim(0) != c.in(1).dim(0))
      c.fail("input batch_indices has " + std::to_string(b.dim(0)) + " entries, rois has " +
             std::to_string(c.in(1).dim(0)));
  }
  return a;
}

void validate_roi_align(KernelContext& c) { roi_align_checked(c); }

struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

template <typename T>
void roi_align_typed(const KernelContext& c, const RoiAlignAttrs& a, const Tensor& x, const Tensor& rois,
                     const Tensor& batch, Tensor& y) {
  const int64_t n_img = x.dim(0), ch = x.dim(1), height = x.dim(2), width = x.dim(3);
  const int64_t num_rois = rois.dim(0);
  const T* px = x.data<T>();
  const T* pr = rois.data<T>();
  const int64_t* pb = batch.data<int64_t>();
  T* py = y.data<T>();
  std::vector<Sample> samples;
  for (int64_t r = 0; r < num_rois; ++r) {
    const int64_t img = pb[r];
    if (img < 0 || img >= n_img)
      c.fail("input batch_indices: entry " + std::to_string(r) + " is " + std::to_string(img) + ", X has " +
             std::to_string(n_img) + " images");
    const double offset = a.half_pixel ? 0.5 : 0.0;
    double box[4];
    for (int i = 0; i < 4; ++i) {
      box[i] = static_cast<double>(to_compute(pr[r * 4 + i])) * a.spatial_scale - offset;
      if (!std::isfinite(box[i])) c.fail("input rois: ROI " + std::to_string(r) + " has a non-finite coordinate");
    }
    const double start_w = box[0], start_h = box[1];
    double roi_w = box[2] - box[0], roi_h = box[3] - box[1];
    if (!a.half_pixel) {  // malformed ROIs become 1x1
      roi_w = std::max(roi_w, 1.0);
      roi_h = std::max(roi_h, 1.0);
    }
    const double bin_h = roi_h / static_cast<double>(a.out_h), bin_w = roi_w / static_cast<double>(a.out_w);
    const double gh = a.sampling_ratio > 0 ? a.sampling_ratio : std::ceil(roi_h / static_cast<double>(a.out_h));
    const double gw = a.sampling_ratio > 0 ? a.sampling_ratio : std::ceil(roi_w / static_cast<double>(a.out_w));
    if (gh * gw > static_cast<double>(kMaxSamplesPerBin) ||
        gh * gw * static_cast<double>(a.out_h) * static_cast<double>(a.out_w) > static_cast<double>(kMaxSamples))
      c.fail("input rois: ROI " + std::to_string(r) + " needs " + std::to_string(gh * gw) +
             " samples per bin (coordinates out of any image's range, or too many bins)");
    const int64_t grid_h = static_cast<int64_t>(std::max(gh, 0.0)), grid_w = static_cast<int64_t>(std::max(gw, 0.0));
    const double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
    // bilinear weights per (bin, sample), shared by every channel
    samples.assign(static_cast<size_t>(a.out_h * a.out_w * grid_h * grid_w), Sample{});
    size_t s = 0;
    for (int64_t ph = 0; ph < a.out_h; ++ph)
      for (int64_t pw = 0; pw < a.out_w; ++pw)
        for (int64_t iy = 0; iy < grid_h; ++iy) {
          const double yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / static_cast<double>(grid_h);
          for (int64_t ix = 0; ix < grid_w; ++ix, ++s) {
            double xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / static_cast<double>(grid_w);
            double yv = yy;
            if (yv < -1.0 || yv > height || xx < -1.0 || xx > width) continue;  // zero weights
            yv = std::max(yv, 0.0);
            xx = std::max(xx, 0.0);
            int64_t y_lo = static_cast<int64_t>(yv), x_lo = static_cast<int64_t>(xx), y_hi, x_hi;
            if (y_lo >= height - 1) {
              y_hi = y_lo = height - 1;
              yv = static_cast<double>(y_lo);
            } else {
              y_hi = y_lo + 1;
            }
            if (x_lo >= width - 1) {
              x_hi = x_lo = width - 1;
              xx = static_cast<double>(x_lo);
            } else {
              x_hi = x_lo + 1;
            }
            const double ly = yv - y_lo, lx = xx - x_lo, hy = 1.0 - ly, hx = 1.0 - lx;
            Sample& sm = samples[s];
            sm.pos[0] = y_lo * width + x_lo;
            sm.pos[1] = y_lo * width + x_hi;
            sm.pos[2] = y_hi * width + x_lo;
            sm.pos[3] = y_hi * width + x_hi;
            sm.w[0] = hy * hx;
            sm.w[1] = hy * lx;
            sm.w[2] = ly * hx;
            sm.w[3] = ly * lx;
          }
        }
    const int64_t per_bin = grid_h * grid_w;
    for (int64_t cc = 0; cc < ch; ++cc) {
      const T* xb = px + (img * ch + cc) * height * width;
      T* yb = py + (r * ch + cc) * a.out_h * a.out_w;
      for (int64_t bin = 0; bin < a.out_h * a.out_w; ++bin) {
        const Sample* sb = samples.data() + bin * per_bin;
        double out = 0.0;
        bool first = true;
        for (int64_t k = 0; k < per_bin; ++k) {
          const Sample& sm = sb[k];
          double v[4];
          for (int q = 0; q < 4; ++q) v[q] = sm.w[q] * static_cast<double>(to_compute(xb[sm.pos[q]]));
          if (!a.max_mode) {
            out += v[0] + v[1] + v[2] + v[3];
          } else {
            const double m = std::max(std::max(v[0], v[1]), std::max(v[2], v[3]));
            out = first ? m : std::max(out, m);
            first = false;
          }
        }
        if (!a.max_mode) out /= count;
        yb[bin] = from_compute<T>(static_cast<Compute<T>>(out));
      }
    }
  }
}

void roi_align(KernelContext& c) {
  const RoiAlignAttrs a = roi_align_checked(c);
  const Tensor& x = c.in(0);
  const Tensor& rois = c.in(1);
  const Tensor& batch = c.in(2);
  if (x.dim(2) == 0 || x.dim(3) == 0) {
    if (rois.dim(0) > 0) c.fail("input X has an empty spatial extent " + shape_str(x.shape()));
  }
  Tensor y = Tensor::uninitialized(x.dtype(), {rois.dim(0), x.dim(1), a.out_h, a.out_w});
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    roi_align_typed<T>(c, a, x, rois, batch, y);
  });
  c.outputs[0] = std::move(y);
}

// ---- MaxRoiPool ----

std::vector<int64_t> roi_pool_shape(const KernelContext& c) {
  if (!find_attr(c.node, "pooled_shape")) c.fail("attribute 'pooled_shape' is required");
  auto ps = attr_ints(c.node, "pooled_shape");
  if (ps.size() != 2 || ps[0] <= 0 || ps[1] <= 0)
    c.fail("attribute 'pooled_shape': must be two positive values (height, width), got " + ints_str(ps));
  return ps;
}

void validate_max_roi_pool(KernelContext& c) {
  roi_pool_shape(c);
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  if (x) {
    if (x->rank() != 4) c.fail("input X must have rank 4 (N, C, H, W), got " + shape_str(x->shape()));
    if (!dispatch<FloatTypes>(x->dtype(), [](auto) {})) c.fail_dtype(0, x->dtype());
  }
  if (c.has(1)) {
    const Tensor& r = c.in(1);
    if (r.rank() != 2 || r.dim(1) != 5)
      c.fail("input rois must have shape (num_rois, 5) [batch_id, x1, y1, x2, y2], got " + shape_str(r.shape()));
    if (x && r.dtype() != x->dtype())
      c.fail("input rois has type " + dtype_name(r.dtype()) + ", X has " + dtype_name(x->dtype()));
  }
}

template <typename T>
void max_roi_pool_typed(const KernelContext& c, const std::vector<int64_t>& ps, float scale, const Tensor& x,
                        const Tensor& rois, Tensor& y) {
  const int64_t n_img = x.dim(0), ch = x.dim(1), height = x.dim(2), width = x.dim(3);
  const T* px = x.data<T>();
  const T* pr = rois.data<T>();
  T* py = y.data<T>();
  const double limit = 1e15;
  for (int64_t r = 0; r < rois.dim(0); ++r) {
    double v[5];
    for (int i = 0; i < 5; ++i) {
      v[i] = static_cast<double>(to_compute(pr[r * 5 + i]));
      if (!std::isfinite(v[i]) || std::fabs(v[i] * (i ? scale : 1.0)) > limit)
        c.fail("input rois: ROI " + std::to_string(r) + " has a non-finite or out-of-range value");
    }
    const int64_t img = static_cast<int64_t>(v[0]);
    if (img < 0 || img >= n_img)
      c.fail("input rois: ROI " + std::to_string(r) + " names batch " + std::to_string(img) + ", X has " +
             std::to_string(n_img) + " images");
    const int64_t x1 = std::llround(v[1] * scale), y1 = std::llround(v[2] * scale);
    const int64_t x2 = std::llround(v[3] * scale), y2 = std::llround(v[4] * scale);
    const int64_t roi_h = std::max<int64_t>(y2 - y1 + 1, 1), roi_w = std::max<int64_t>(x2 - x1 + 1, 1);
    const double bin_h = static_cast<double>(roi_h) / static_cast<double>(ps[0]);
    const double bin_w = static_cast<double>(roi_w) / static_cast<double>(ps[1]);
    for (int64_t cc = 0; cc < ch; ++cc) {
      const T* xb = px + (img * ch + cc) * height * width;
      T* yb = py + (r * ch + cc) * ps[0] * ps[1];
      for (int64_t ph = 0; ph < ps[0]; ++ph) {
        const int64_t hs = std::min(std::max<int64_t>(static_cast<int64_t>(std::floor(ph * bin_h)) + y1, 0), height);
        const int64_t he = std::min(std::max<int64_t>(static_cast<int64_t>(std::ceil((ph + 1) * bin_h)) + y1, 0), height);
        for (int64_t pw = 0; pw < ps[1]; ++pw) {
          const int64_t ws = std::min(std::max<int64_t>(static_cast<int64_t>(std::floor(pw * bin_w)) + x1, 0), width);
          const int64_t we = std::min(std::max<int64_t>(static_cast<int64_t>(std::ceil((pw + 1) * bin_w)) + x1, 0), width);
          double m = 0.0;
          if (he > hs && we > ws) {
            m = -INFINITY;
            for (int64_t h = hs; h < he; ++h)
              for (int64_t w = ws; w < we; ++w) m = std::max(m, static_cast<double>(to_compute(xb[h * width + w])));
          }
          yb[ph * ps[1] + pw] = from_compute<T>(static_cast<Compute<T>>(m));
        }
      }
    }
  }
}

void max_roi_pool(KernelContext& c) {
  validate_max_roi_pool(c);
  const auto ps = roi_pool_shape(c);
  const float scale = attr_float(c.node, "spatial_scale", 1.f);
  const Tensor& x = c.in(0);
  const Tensor& rois = c.in(1);
  Tensor y = Tensor::uninitialized(x.dtype(), {rois.dim(0), x.dim(1), ps[0], ps[1]});
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_roi_pool_typed<T>(c, ps, scale, x, rois, y);
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_roi_ops(OpRegistry& r) {
  r.add("", "RoiAlign", {10, 16, 22}, OpDef{roi_align, nullptr, validate_roi_align});
  r.add("", "MaxRoiPool", {1, 22}, OpDef{max_roi_pool, nullptr, validate_max_roi_pool});
}

}  // namespace qtool
