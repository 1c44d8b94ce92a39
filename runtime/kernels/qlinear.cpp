// SPDX-License-Identifier: Apache-2.0
// onnxruntime's quantized elementwise contrib ops (com.microsoft 1, docs/ContribOperators.md),
// as onnxruntime quantizes ("QOperator" format) models with them:
//   QLinearAdd:  C = (A_scale (A - A_zp) + B_scale (B - B_zp)) / C_scale + C_zp, numpy broadcasting,
//                computed as MLAS does: (A_scale / C_scale) (A - A_zp) + (B_scale / C_scale) (B - B_zp)
//                + C_zp in float32, rounded half to even, saturated.
//   QLinearMul:  C = (A - A_zp)(B - B_zp) * (A_scale B_scale / C_scale) + C_zp (float32, as MLAS).
//   QLinearSigmoid / QLinearLeakyRelu: y = quantize(f(dequantize(x))) (onnxruntime tabulates the 256
//                values; sigmoid here is 1 / (1 + exp(-x)) in float32, MLAS uses its own approximation).
//   QLinearConcat: inputs (Y_scale, Y_zp, then (tensor, scale, zp) per operand), each operand
//                requantized to Y's parameters (copied when they are equal), concatenated on `axis`.
//   (QLinearGlobalAveragePool / QLinearAveragePool belong to the pool family: qpool.cpp.)
//   QLinearSoftmax: y = quantize(softmax(dequantize(x))) along `axis` (opset < 13: the input coerced
//                to 2-D at `axis`, as Softmax-1/11).
// Scales are float32 scalars, zero points scalars of the data type (uint8 or int8); quantization is
// y = saturate(round_half_even(v / y_scale) + y_zp).
#include <algorithm>
#include <cmath>

#include "runtime/kernels/quant_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

IntRange range_of(DType t) {
  IntRange r;
  quant_int_range(t, &r);
  return r;
}

int32_t int_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kUInt8 ? static_cast<int32_t>(static_cast<const uint8_t*>(t.raw())[i])
                                    : static_cast<int32_t>(static_cast<const int8_t*>(t.raw())[i]);
}

void put(Tensor& t, int64_t i, int32_t v) {
  if (t.dtype() == DType::kUInt8) static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(v);
  else static_cast<int8_t*>(t.raw())[i] = static_cast<int8_t>(v);
}

// Scalar quantization parameters (scale float32, zero point of the data type, 0 when absent).
struct QParam {
  float scale = 1.f;
  int32_t zp = 0;
};

QParam qparam(const KernelContext& c, int scale_index, int zp_index, DType data) {
  const Tensor& s = c.in(scale_index);
  if (s.dtype() != DType::kFloat) c.fail_dtype(scale_index, s.dtype());
  if (s.numel() != 1) c.fail("input #" + std::to_string(scale_index) + " (a scale) must be a scalar, got " + shape_str(s.shape()));
  QParam p;
  p.scale = s.data<float>()[0];
  if (zp_index >= 0 && c.has(zp_index)) {
    const Tensor& z = c.in(zp_index);
    if (z.dtype() != data) c.fail("input #" + std::to_string(zp_index) + " (a zero point) must have the data's type " + dtype_name(data));
    if (z.numel() != 1) c.fail("input #" + std::to_string(zp_index) + " (a zero point) must be a scalar, got " + shape_str(z.shape()));
    p.zp = int_at(z, 0);
  }
  return p;
}

// y = saturate(round_half_even(v / q.scale) + q.zp) (QuantizeLinear's division).
int32_t quantize_value(float v, const QParam& q, const IntRange& r) {
  return round_saturate_f(v / q.scale, static_cast<float>(r.lo - q.zp), static_cast<float>(r.hi - q.zp), q.zp);
}

float dequantize_value(int32_t x, const QParam& q) { return static_cast<float>(x - q.zp) * q.scale; }

void check_data(const KernelContext& c, int i) {
  if (c.has(i) && !is_8bit(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
}

// ------------------------------------------------------------------ QLinearAdd / QLinearMul

// numpy broadcast of two shapes; fail()s when they do not broadcast.
Shape broadcast_of(const KernelContext& c, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) c.fail("shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  shape_numel(out);
  return out;
}

// Offset of each output element into an operand of shape `in` broadcast to `out`.
std::vector<int64_t> broadcast_index(const Shape& in, const Shape& out) {
  const size_t r = out.size();
  std::vector<int64_t> stride(r, 0);
  int64_t s = 1;
  for (size_t i = r; i-- > 0;) {
    const size_t k = i + in.size();
    if (k >= r) {
      const int64_t d = in[k - r];
      stride[i] = d == 1 ? 0 : s;
      s *= d;
    }
  }
  const int64_t n = shape_numel(out);
  std::vector<int64_t> idx(r, 0), res(static_cast<size_t>(n));
  int64_t off = 0;
  for (int64_t e = 0; e < n; ++e) {
    res[e] = off;
    for (size_t i = r; i-- > 0;) {
      off += stride[i];
      if (++idx[i] < out[i]) break;
      off -= stride[i] * out[i];
      idx[i] = 0;
    }
  }
  return res;
}

void validate_binary(KernelContext& c) {
  check_data(c, 0);
  check_data(c, 3);
  if (c.has(0) && c.has(3)) {
    if (c.in(0).dtype() != c.in(3).dtype()) c.fail("A and B differ in type");
    const DType t = c.in(0).dtype();
    if (c.has(1)) qparam(c, 1, 2, t);
    if (c.has(4)) qparam(c, 4, 5, t);
    if (c.has(6)) qparam(c, 6, 7, t);
    broadcast_of(c, c.in(0).shape(), c.in(3).shape());
  }
}

template <bool kAdd>
void qlinear_binary(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(3);
  const DType t = a.dtype();
  const QParam qa = qparam(c, 1, 2, t), qb = qparam(c, 4, 5, t), qc = qparam(c, 6, 7, t);
  const IntRange r = range_of(t);
  const Shape so = broadcast_of(c, a.shape(), b.shape());
  Tensor y = Tensor::uninitialized(t, so);
  const auto ia = broadcast_index(a.shape(), so), ib = broadcast_index(b.shape(), so);
  const float lz = static_cast<float>(r.lo - qc.zp), hz = static_cast<float>(r.hi - qc.zp);
  const float ra = qa.scale / qc.scale, rb = qb.scale / qc.scale, m = qa.scale * qb.scale / qc.scale;
  for (size_t i = 0; i < ia.size(); ++i) {
    const float x = static_cast<float>(int_at(a, ia[i]) - qa.zp), z = static_cast<float>(int_at(b, ib[i]) - qb.zp);
    const float v = kAdd ? ra * x + rb * z : x * z * m;
    put(y, static_cast<int64_t>(i), round_saturate_f(v, lz, hz, qc.zp));
  }
  c.outputs[0] = std::move(y);
}

// ------------------------------------------------------------------ QLinearSigmoid / QLinearLeakyRelu

void validate_unary(KernelContext& c) {
  check_data(c, 0);
  if (c.has(0)) {
    if (c.has(1)) qparam(c, 1, 2, c.in(0).dtype());
    if (c.has(3)) qparam(c, 3, 4, c.in(0).dtype());
  }
}

template <typename F>
void qlinear_unary(KernelContext& c, F f) {
  const Tensor& x = c.in(0);
  const DType t = x.dtype();
  const QParam qx = qparam(c, 1, 2, t), qy = qparam(c, 3, 4, t);
  const IntRange r = range_of(t);
  int32_t table[256];  // every input value once, as onnxruntime's lookup table
  for (int32_t v = r.lo; v <= r.hi; ++v) table[v - r.lo] = quantize_value(f(dequantize_value(v, qx)), qy, r);
  Tensor y = Tensor::uninitialized(t, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) put(y, i, table[int_at(x, i) - r.lo]);
  c.outputs[0] = std::move(y);
}

void qlinear_sigmoid(KernelContext& c) {
  qlinear_unary(c, [](float v) { return 1.f / (1.f + std::exp(-v)); });
}

void qlinear_leaky_relu(KernelContext& c) {
  const float alpha = attr_float(c.node, "alpha", 0.01f);
  qlinear_unary(c, [alpha](float v) { return v >= 0.f ? v : v * alpha; });
}

// ------------------------------------------------------------------ QLinearConcat

void validate_concat(KernelContext& c) {
  if (!find_attr(c.node, "axis")) c.fail("attribute 'axis' is required");
  if (c.num_inputs() < 5 || (c.num_inputs() - 2) % 3 != 0)
    c.fail("takes Y_scale, Y_zero_point and (tensor, scale, zero point) triples, got " + std::to_string(c.num_inputs()) + " inputs");
  for (int i = 0; i < c.num_inputs(); ++i)
    if (!c.has(i)) return;
  const DType t = c.in(1).dtype();
  if (!is_8bit(t)) c.fail_dtype(1, t);
  qparam(c, 0, 1, t);
  const Tensor& first = c.in(2);
  const int rank = first.rank();
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), rank, c.node);
  for (int i = 2; i < c.num_inputs(); i += 3) {
    const Tensor& x = c.in(i);
    if (x.dtype() != t) c.fail("input #" + std::to_string(i) + " has type " + dtype_name(x.dtype()) + ", Y has " + dtype_name(t));
    qparam(c, i + 1, i + 2, t);
    if (x.rank() != rank) c.fail("inputs differ in rank");
    for (int d = 0; d < rank; ++d)
      if (d != axis && x.dim(d) != first.dim(d))
        c.fail("inputs " + shape_str(first.shape()) + " and " + shape_str(x.shape()) + " differ outside axis " + std::to_string(axis));
  }
}

void qlinear_concat(KernelContext& c) {
  validate_concat(c);
  const DType t = c.in(1).dtype();
  const QParam qy = qparam(c, 0, 1, t);
  const IntRange r = range_of(t);
  const Tensor& first = c.in(2);
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), first.rank(), c.node);
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (int i = 2; i < c.num_inputs(); i += 3) out_shape[axis] += c.in(i).dim(axis);
  Tensor y = Tensor::uninitialized(t, out_shape);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= out_shape[d];
  for (int d = axis + 1; d < first.rank(); ++d) inner *= out_shape[d];
  const int64_t out_row = out_shape[axis] * inner;
  int64_t col = 0;
  for (int i = 2; i < c.num_inputs(); i += 3) {
    const Tensor& x = c.in(i);
    const QParam qx = qparam(c, i + 1, i + 2, t);
    const bool same = qx.scale == qy.scale && qx.zp == qy.zp;
    int32_t table[256];
    for (int32_t v = r.lo; v <= r.hi; ++v) table[v - r.lo] = same ? v : quantize_value(dequantize_value(v, qx), qy, r);
    const int64_t row = x.dim(axis) * inner;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < row; ++k) put(y, o * out_row + col + k, table[int_at(x, o * row + k) - r.lo]);
    col += row;
  }
  c.outputs[0] = std::move(y);
}

// ------------------------------------------------------------------ QLinearSoftmax

void validate_softmax(KernelContext& c) {
  check_data(c, 0);
  if (!find_attr(c.node, "opset")) c.fail("attribute 'opset' is required");
  if (c.has(0)) {
    normalize_axis(attr_int(c.node, "axis", attr_int(c.node, "opset", 13) >= 13 ? -1 : 1), std::max(c.in(0).rank(), 1), c.node);
    if (c.has(1)) qparam(c, 1, 2, c.in(0).dtype());
    if (c.has(3)) qparam(c, 3, 4, c.in(0).dtype());
  }
}

void qlinear_softmax(KernelContext& c) {
  const Tensor& x = c.in(0);
  const DType t = x.dtype();
  const QParam qx = qparam(c, 1, 2, t), qy = qparam(c, 3, 4, t);
  const IntRange r = range_of(t);
  const int64_t opset = attr_int(c.node, "opset", 13);
  const int rank = std::max(x.rank(), 1);
  const int axis = normalize_axis(attr_int(c.node, "axis", opset >= 13 ? -1 : 1), rank, c.node);
  // rows of `len` elements `stride` apart: one axis (13+) or all axes from `axis` on (< 13)
  int64_t outer = 1, len = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  if (opset >= 13) {
    len = x.rank() ? x.dim(axis) : 1;
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  } else {
    for (int d = axis; d < x.rank(); ++d) len *= x.dim(d);
  }
  Tensor y = Tensor::uninitialized(t, x.shape());
  std::vector<float> row(static_cast<size_t>(len));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      float mx = -INFINITY;
      for (int64_t k = 0; k < len; ++k) {
        row[k] = dequantize_value(int_at(x, (o * len + k) * inner + in), qx);
        mx = std::max(mx, row[k]);
      }
      float sum = 0.f;
      for (int64_t k = 0; k < len; ++k) sum += (row[k] = std::exp(row[k] - mx));
      for (int64_t k = 0; k < len; ++k) put(y, (o * len + k) * inner + in, quantize_value(row[k] / sum, qy, r));
    }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_qlinear_ops(OpRegistry& r) {
  const std::string ms = "com.microsoft";
  r.add(ms, "QLinearAdd", {1}, OpDef{qlinear_binary<true>, nullptr, validate_binary});
  r.add(ms, "QLinearMul", {1}, OpDef{qlinear_binary<false>, nullptr, validate_binary});
  r.add(ms, "QLinearSigmoid", {1}, OpDef{qlinear_sigmoid, nullptr, validate_unary});
  r.add(ms, "QLinearLeakyRelu", {1}, OpDef{qlinear_leaky_relu, nullptr, validate_unary});
  r.add(ms, "QLinearConcat", {1}, OpDef{qlinear_concat, nullptr, validate_concat});
  r.add(ms, "QLinearSoftmax", {1}, OpDef{qlinear_softmax, nullptr, validate_softmax});
}

}  // namespace qtool
