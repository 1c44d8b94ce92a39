// SPDX-License-Identifier: Apache-2.0
#include "quant/quantized_weight.h"

#include "core/error.h"

namespace qtool {

WeightLayout WeightLayout::of(const Shape& shape, int out_axis) {
  WeightLayout l;
  l.shape = shape;
  l.out_axis = out_axis;
  if (out_axis == 0 && shape.size() >= 2) {
    l.in_axis = 1;
    l.rows = shape[0];
    l.in = shape[1];
    for (size_t d = 2; d < shape.size(); ++d) l.positions *= shape[d];
  } else if (out_axis == 1 && shape.size() == 2) {
    l.in_axis = 0;
    l.rows = shape[1];
    l.in = shape[0];
  } else {
    throw Error("weight of shape " + shape_str(shape) + " with output axis " + std::to_string(out_axis) +
                " cannot be quantized per channel/group");
  }
  return l;
}

Shape QuantizedWeight::param_shape() const {
  if (!group_size) return {layout.rows};
  Shape s = layout.shape;
  s[layout.in_axis] = blocks();
  return s;
}

int64_t QuantizedWeight::param_index(int64_t r, int64_t i, int64_t p) const {
  if (!group_size) return r;
  const int64_t b = i / group_size;
  return layout.out_axis == 0 ? (r * blocks() + b) * layout.positions + p : b * layout.rows + r;
}

Tensor QuantizedWeight::dequantized() const {
  Tensor w(DType::kFloat, layout.shape);
  const int32_t* c = codes.data<int32_t>();
  const float* s = scale.data<float>();
  const float* z = zero.data<float>();
  float* out = w.data<float>();
  for (int64_t r = 0; r < layout.rows; ++r)
    for (int64_t i = 0; i < layout.in; ++i)
      for (int64_t p = 0; p < layout.positions; ++p) {
        const int64_t k = layout.flat(r, i, p), g = param_index(r, i, p);
        out[k] = (static_cast<float>(c[k]) - z[g]) * s[g];
      }
  return w;
}

QuantizedWeight make_quantized_weight(const Tensor& w, int out_axis, std::shared_ptr<const WeightFormat> format,
                                      int64_t group_size) {
  if (w.dtype() != DType::kFloat) throw Error("weights must be float32 to quantize, got " + dtype_name(w.dtype()));
  QuantizedWeight q;
  q.format = std::move(format);
  q.layout = WeightLayout::of(w.shape(), out_axis);
  q.group_size = group_size >= q.layout.in ? 0 : group_size;  // one block covering the axis = per channel
  q.codes = Tensor(DType::kInt32, w.shape());
  q.scale = Tensor(DType::kFloat, q.param_shape());
  q.zero = Tensor(DType::kFloat, q.param_shape());
  return q;
}

QuantizedWeight quantize_rtn(const Tensor& w, int out_axis, std::shared_ptr<const WeightFormat> format,
                             int64_t group_size) {
  QuantizedWeight q = make_quantized_weight(w, out_axis, std::move(format), group_size);
  const auto& l = q.layout;
  const float* src = w.data<float>();
  int32_t* codes = q.codes.data<int32_t>();
  float* scale = q.scale.data<float>();
  float* zero = q.zero.data<float>();
  const int64_t g = q.group_size ? q.group_size : l.in;
  std::vector<float> vals;
  std::vector<int64_t> idx;
  for (int64_t r = 0; r < l.rows; ++r)
    for (int64_t b = 0; b < q.blocks(); ++b)
      for (int64_t p = 0; p < (q.group_size ? l.positions : 1); ++p) {
        // one group: row r, input channels [b*g, (b+1)*g), position p (all positions when per channel)
        vals.clear();
        idx.clear();
        for (int64_t i = b * g; i < std::min(l.in, (b + 1) * g); ++i)
          for (int64_t pp = q.group_size ? p : 0; pp < (q.group_size ? p + 1 : l.positions); ++pp) {
            idx.push_back(l.flat(r, i, pp));
            vals.push_back(src[idx.back()]);
          }
        const GroupParams gp = q.format->fit(vals.data(), static_cast<int64_t>(vals.size()));
        const int64_t k = q.param_index(r, b * g, p);
        scale[k] = gp.scale;
        zero[k] = gp.zero;
        for (size_t j = 0; j < idx.size(); ++j) codes[idx[j]] = q.format->encode(vals[j], gp);
      }
  return q;
}

}  // namespace qtool
