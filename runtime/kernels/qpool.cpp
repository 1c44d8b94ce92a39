// SPDX-License-Identifier: Apache-2.0
// com.microsoft QLinearAveragePool and QLinearGlobalAveragePool (version 1, as onnxruntime's
// quantization tools write them), uint8 / int8, channels_last or not, bit for bit as onnxruntime:
//   QLinearGlobalAveragePool (and QLinearAveragePool whose kernel covers the unpadded image):
//     integer sum minus x_zero_point * image_size, times x_scale / (y_scale * image_size) in float32,
//     rounded half to even, plus y_zero_point, saturated (mlas qlgavgpool).
//   QLinearAveragePool otherwise: x dequantized to float32 (x_scale * (x - x_zero_point)), summed
//     in float32 in row-major window order, divided by the window's tap count (the whole kernel
//     with count_include_pad), then saturate(nearbyint(v / y_scale + y_zero_point))
//     (onnxruntime contrib_ops/cpu/quantization/qlinear_pool.cc).
#include <cmath>

#include "runtime/kernels/conv_pool_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

struct QPoolParams {
  float x_scale = 1.f, y_scale = 1.f;
  int32_t x_zp = 0, y_zp = 0;
  bool channels_last = false;
};

void check_q_scalar(const KernelContext& c, int i, const char* name, bool is_scale) {
  if (!c.has(i)) return;
  const Tensor& t = c.in(i);
  if (t.numel() != 1 || t.rank() > 1)
    c.fail(std::string("input ") + name + " must be a scalar or a 1-element tensor, got " + shape_str(t.shape()));
  if (is_scale && t.dtype() != DType::kFloat) c.fail_dtype(i, t.dtype());
  if (!is_scale && c.has(0) && t.dtype() != c.in(0).dtype())
    c.fail(std::string("input ") + name + " has type " + dtype_name(t.dtype()) + ", X has " +
           dtype_name(c.in(0).dtype()));
}

QPoolParams qpool_params(const KernelContext& c) {
  if (c.has(0) && c.in(0).dtype() != DType::kUInt8 && c.in(0).dtype() != DType::kInt8) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(0) && c.in(0).rank() < 3)
    c.fail("input X must have rank >= 3, got " + shape_str(c.in(0).shape()));
  check_q_scalar(c, 1, "x_scale", true);
  check_q_scalar(c, 2, "x_zero_point", false);
  check_q_scalar(c, 3, "y_scale", true);
  check_q_scalar(c, 4, "y_zero_point", false);
  QPoolParams p;
  p.channels_last = attr_int(c.node, "channels_last", 0) != 0;
  if (c.has(1)) p.x_scale = c.in(1).to_floats()[0];
  if (c.has(3)) p.y_scale = c.in(3).to_floats()[0];
  if (c.has(2)) p.x_zp = static_cast<int32_t>(c.in(2).to_int64s()[0]);
  if (c.has(4)) p.y_zp = static_cast<int32_t>(c.in(4).to_int64s()[0]);
  return p;
}

// NHWC <-> NCHW for byte tensors.
Tensor to_channels_first(const Tensor& x) {
  const int r = x.rank();
  const int64_t n = x.dim(0), ch = x.dim(r - 1), img = n * ch != 0 ? x.numel() / (n * ch) : 0;
  Shape s{n, ch};
  for (int i = 1; i < r - 1; ++i) s.push_back(x.dim(i));
  Tensor y = Tensor::uninitialized(x.dtype(), s);
  const auto* px = static_cast<const uint8_t*>(x.raw());
  auto* py = static_cast<uint8_t*>(y.raw());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < img; ++i)
      for (int64_t c = 0; c < ch; ++c) py[(b * ch + c) * img + i] = px[(b * img + i) * ch + c];
  return y;
}
Tensor to_channels_last(const Tensor& x) {
  const int r = x.rank();
  const int64_t n = x.dim(0), ch = x.dim(1), img = n * ch != 0 ? x.numel() / (n * ch) : 0;
  Shape s{n};
  for (int i = 2; i < r; ++i) s.push_back(x.dim(i));
  s.push_back(ch);
  Tensor y = Tensor::uninitialized(x.dtype(), s);
  const auto* px = static_cast<const uint8_t*>(x.raw());
  auto* py = static_cast<uint8_t*>(y.raw());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t c = 0; c < ch; ++c)
      for (int64_t i = 0; i < img; ++i) py[(b * img + i) * ch + c] = px[(b * ch + c) * img + i];
  return y;
}

template <typename T>
void global_avg_typed(const KernelContext& c, const QPoolParams& p, const Tensor& x, Tensor& y) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t img = planes ? x.numel() / planes : 0;
  if (img >= 0x1000000) c.fail("input X: an image of " + std::to_string(img) + " values is too large (>= 2^24)");
  const float scale = p.x_scale / (p.y_scale * static_cast<float>(img));
  if (!(scale >= 0x1.0p-32f && scale < 256.0f))
    c.fail("inputs x_scale / (y_scale * image size) = " + std::to_string(scale) + " is outside [2^-32, 256)");
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const float lo = static_cast<float>(std::numeric_limits<T>::min() - p.y_zp);
  const float hi = static_cast<float>(std::numeric_limits<T>::max() - p.y_zp);
  for (int64_t i = 0; i < planes; ++i) {
    int32_t acc = -p.x_zp * static_cast<int32_t>(img);
    for (int64_t j = 0; j < img; ++j) acc += px[i * img + j];
    float v = static_cast<float>(acc) * scale;
    v = std::min(std::max(v, lo), hi);
    py[i] = static_cast<T>(static_cast<int32_t>(std::nearbyint(v)) + p.y_zp);
  }
}

void global_avg(const KernelContext& c, const QPoolParams& p, const Tensor& x, Tensor& y) {
  c.dispatch_or_fail<TypeList<uint8_t, int8_t>>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    global_avg_typed<T>(c, p, x, y);
  });
}

void validate_qglobal(KernelContext& c) { qpool_params(c); }

void qlinear_global_average_pool(KernelContext& c) {
  const QPoolParams p = qpool_params(c);
  const Tensor x = p.channels_last ? to_channels_first(c.in(0)) : c.in(0);
  Shape s{x.dim(0), x.dim(1)};
  for (int i = 2; i < x.rank(); ++i) s.push_back(1);
  Tensor y = Tensor::uninitialized(x.dtype(), s);
  global_avg(c, p, x, y);
  c.outputs[0] = p.channels_last ? to_channels_last(y) : y;
}

struct QAvgGeom {
  SpatialAttrs a;
  std::vector<Axis> axes;
  bool include_pad = false;
  Shape out_shape;  // channels first
};

QAvgGeom qavg_checked(const KernelContext& c, const QPoolParams& p) {
  QAvgGeom g;
  SpatialOptions opt;
  opt.has_dilations = false;
  opt.kernel_required = true;
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  g.a = read_spatial_attrs(c, x ? x->rank() - 2 : -1, nullptr, opt);
  g.include_pad = attr_int(c.node, "count_include_pad", 0) != 0;
  if (!x) return g;
  Shape xs = x->shape();
  if (p.channels_last) {
    xs = {x->dim(0), x->dim(x->rank() - 1)};
    for (int i = 1; i < x->rank() - 1; ++i) xs.push_back(x->dim(i));
  }
  g.axes = pool_axes(c, g.a, xs, attr_int(c.node, "ceil_mode", 0) != 0);
  g.out_shape = {xs[0], xs[1]};
  for (const auto& ax : g.axes) g.out_shape.push_back(ax.out);
  return g;
}

void validate_qavg(KernelContext& c) { qavg_checked(c, qpool_params(c)); }

template <typename T>
void qavg_typed(const QPoolParams& p, const QAvgGeom& g, const Tensor& x, Tensor& y) {
  const WindowIter it(g.axes);
  const int64_t in_sp = it.in_size(), out_sp = it.out_size(), k_sp = it.kernel_size();
  const int64_t planes = x.dim(0) * x.dim(1);
  const T* px = x.data<T>();
  T* py = y.data<T>();
  std::vector<float> deq(static_cast<size_t>(in_sp));
  for (int64_t nc = 0; nc < planes; ++nc) {
    for (int64_t i = 0; i < in_sp; ++i) deq[i] = p.x_scale * static_cast<float>(static_cast<int32_t>(px[nc * in_sp + i]) - p.x_zp);
    it.for_each_output([&](int64_t o, const int64_t* coord) {
      float sum = 0.f;
      it.for_each_tap(coord, [&](int64_t io, int64_t) { sum += deq[io]; });
      sum /= static_cast<float>(g.include_pad ? k_sp : it.valid_taps(coord));
      const int32_t q = static_cast<int32_t>(std::nearbyint(sum / p.y_scale + static_cast<float>(p.y_zp)));
      py[nc * out_sp + o] = static_cast<T>(std::min<int32_t>(std::max<int32_t>(q, std::numeric_limits<T>::min()),
                                                             std::numeric_limits<T>::max()));
    });
  }
}

void qlinear_average_pool(KernelContext& c) {
  const QPoolParams p = qpool_params(c);
  const QAvgGeom g = qavg_checked(c, p);
  const Tensor x = p.channels_last ? to_channels_first(c.in(0)) : c.in(0);
  Tensor y = Tensor::uninitialized(x.dtype(), g.out_shape);
  bool global = true;  // onnxruntime's shortcut: the kernel covers the unpadded image
  for (int i = 0; i < g.a.sp; ++i)
    global = global && g.a.kernel[i] == x.dim(2 + i) && g.axes[i].pad_b == 0 && g.axes[i].pad_e == 0;
  if (global) {
    global_avg(c, p, x, y);
  } else {
    c.dispatch_or_fail<TypeList<uint8_t, int8_t>>(0, x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      qavg_typed<T>(p, g, x, y);
    });
  }
  c.outputs[0] = p.channels_last ? to_channels_last(y) : y;
}

}  // namespace

void register_qpool_ops(OpRegistry& r) {
  r.add("com.microsoft", "QLinearGlobalAveragePool", {1}, OpDef{qlinear_global_average_pool, nullptr, validate_qglobal});
  r.add("com.microsoft", "QLinearAveragePool", {1}, OpDef{qlinear_average_pool, nullptr, validate_qavg});
}

}  // namespace qtool
