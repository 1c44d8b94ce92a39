// SPDX-License-Identifier: Apache-2.0
// QuantizeLinear / DequantizeLinear (ONNX opset 10 per-tensor, opset 13 per-axis).
//   Q:  y = saturate(round_half_even(x / scale) + zero_point), uint8 (default) or int8
//   DQ: y = (x - zero_point) * scale for x in uint8 / int8 / int32 / uint4 / int4
// Per-axis: scale and zero_point are 1-D with x.shape[axis] values (axis default 1).
// Blocked (DQ opset 21, block_size B > 0): scale/zero_point have x's rank with ceil(dim/B) along axis.
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

struct AxisLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};

AxisLayout layout_for(KernelContext& c, const Tensor& x, const Tensor& scale) {
  AxisLayout l;
  if (scale.numel() == 1) {
    l.inner = x.numel();
    return l;
  }
  const int axis = normalize_axis(attr_int(c.node, "axis", 1), x.rank(), c.node);
  if (scale.rank() != 1 || scale.dim(0) != x.dim(axis))
    c.fail("scale " + shape_str(scale.shape()) + " does not match axis " + std::to_string(axis) + " of input " +
           shape_str(x.shape()));
  for (int i = 0; i < axis; ++i) l.outer *= x.dim(i);
  l.channels = x.dim(axis);
  for (int i = axis + 1; i < x.rank(); ++i) l.inner *= x.dim(i);
  return l;
}

template <typename Q>
void quantize_to(const float* x, const AxisLayout& l, const std::vector<float>& scale, const std::vector<int64_t>& zp,
                 Q* y) {
  constexpr double lo = std::numeric_limits<Q>::min(), hi = std::numeric_limits<Q>::max();
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t ch = 0; ch < l.channels; ++ch) {
      const float s = scale[ch];
      const double z = static_cast<double>(zp[ch]);
      const int64_t base = (o * l.channels + ch) * l.inner;
      for (int64_t i = 0; i < l.inner; ++i) {
        double v = std::nearbyint(static_cast<double>(x[base + i] / s)) + z;
        y[base + i] = static_cast<Q>(std::min(hi, std::max(lo, v)));
      }
    }
}

void quantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  if (x.dtype() != DType::kFloat) c.fail("expects float32 input");
  DType out_type = c.has(2) ? c.in(2).dtype() : DType::kUInt8;
  AxisLayout l = layout_for(c, x, scale);
  auto s = scale.to_floats();
  std::vector<int64_t> zp = c.has(2) ? c.in(2).to_int64s() : std::vector<int64_t>(s.size(), 0);
  if (zp.size() != s.size()) c.fail("zero_point and scale have different sizes");
  Tensor y = Tensor::uninitialized(out_type, x.shape());
  if (out_type == DType::kUInt8) quantize_to(x.data<float>(), l, s, zp, y.data<uint8_t>());
  else if (out_type == DType::kInt8) quantize_to(x.data<float>(), l, s, zp, y.data<int8_t>());
  else c.fail("unsupported output type " + dtype_name(out_type));
  c.outputs[0] = std::move(y);
}

// Blocked layout (opset 21 block_size): scale has x's rank, with ceil(x.dim(axis) / block) entries
// along axis; element (o, ch, i) uses scale (o, ch / block, i). Per-axis is block = 1 with inner
// scale extent 1; per-tensor is one channel.
struct ScaleIndex {
  int64_t outer = 1, channels = 1, inner = 1, block = 1, scale_inner = 0;  // scale_inner 0: no inner index
  int64_t operator()(int64_t o, int64_t ch, int64_t i) const {
    const int64_t nb = (channels + block - 1) / block;
    return scale_inner ? (o * nb + ch / block) * inner + i : ch / block;
  }
};

template <typename Q>
void dequantize_from(const Q* x, const ScaleIndex& l, const std::vector<float>& scale, const std::vector<int64_t>& zp,
                     float* y) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t ch = 0; ch < l.channels; ++ch) {
      const int64_t base = (o * l.channels + ch) * l.inner;
      if (!l.scale_inner) {
        const int64_t k = l(o, ch, 0);
        const float s = scale[k];
        const int64_t z = zp[k];
        for (int64_t i = 0; i < l.inner; ++i) y[base + i] = static_cast<float>(static_cast<int64_t>(x[base + i]) - z) * s;
      } else {
        for (int64_t i = 0; i < l.inner; ++i) {
          const int64_t k = l(o, ch, i);
          y[base + i] = static_cast<float>(static_cast<int64_t>(x[base + i]) - zp[k]) * scale[k];
        }
      }
    }
}

void dequantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  const int64_t block = attr_int(c.node, "block_size", 0);
  ScaleIndex l;
  if (block > 0) {
    const int axis = normalize_axis(attr_int(c.node, "axis", 1), x.rank(), c.node);
    bool ok = scale.rank() == x.rank();
    for (int d = 0; ok && d < x.rank(); ++d)
      ok = d == axis ? scale.dim(d) == (x.dim(d) + block - 1) / block : scale.dim(d) == x.dim(d);
    if (!ok)
      c.fail("blocked scale " + shape_str(scale.shape()) + " does not match input " + shape_str(x.shape()) +
             " with axis " + std::to_string(axis) + " and block_size " + std::to_string(block));
    for (int i = 0; i < axis; ++i) l.outer *= x.dim(i);
    l.channels = x.dim(axis);
    for (int i = axis + 1; i < x.rank(); ++i) l.inner *= x.dim(i);
    l.block = block;
    l.scale_inner = 1;
  } else {
    AxisLayout a = layout_for(c, x, scale);
    l.outer = a.outer;
    l.channels = a.channels;
    l.inner = a.inner;
  }
  auto s = scale.to_floats();
  std::vector<int64_t> zp = c.has(2) ? c.in(2).to_int64s() : std::vector<int64_t>(s.size(), 0);
  if (zp.size() != s.size()) c.fail("zero_point and scale have different sizes");
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  switch (x.dtype()) {
    case DType::kUInt8: case DType::kUInt4:
      dequantize_from(static_cast<const uint8_t*>(x.raw()), l, s, zp, y.data<float>());
      break;
    case DType::kInt8: case DType::kInt4:
      dequantize_from(static_cast<const int8_t*>(x.raw()), l, s, zp, y.data<float>());
      break;
    case DType::kInt32: dequantize_from(x.data<int32_t>(), l, s, zp, y.data<float>()); break;
    default: c.fail("unsupported input type " + dtype_name(x.dtype()));
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_quantize_ops(OpRegistry& r) {
  r.add("QuantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, quantize_linear);
  r.add("DequantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, dequantize_linear);
}

}  // namespace qtool
