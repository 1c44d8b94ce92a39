// BatchNormalization (inference form), Softmax / LogSoftmax (opset < 13: 2-D coercion at `axis`;
// opset >= 13: one axis), LayerNormalization (opset 17).
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

void batch_norm(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.rank() < 2) c.fail("expects a float32 N x C x ... input");
  const int64_t n = x.dim(0), ch = x.dim(1), inner = x.numel() / std::max<int64_t>(1, n * ch);
  auto scale = c.in(1).to_floats(), bias = c.in(2).to_floats(), mean = c.in(3).to_floats(), var = c.in(4).to_floats();
  if (static_cast<int64_t>(scale.size()) != ch || bias.size() != scale.size() || mean.size() != scale.size() ||
      var.size() != scale.size())
    c.fail("parameters must have " + std::to_string(ch) + " values");
  const float eps = attr_float(c.node, "epsilon", 1e-5f);
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = y.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < ch; ++k) {
      const float a = scale[k] / std::sqrt(var[k] + eps), sh = bias[k] - a * mean[k];
      const int64_t off = (b * ch + k) * inner;
      for (int64_t i = 0; i < inner; ++i) o[off + i] = a * p[off + i] + sh;
    }
  c.outputs[0] = std::move(y);
}

void softmax_impl(KernelContext& c, bool log_out) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat) c.fail("expects float32 input");
  const int r = x.rank();
  const int axis = normalize_axis(attr_int(c.node, "axis", c.opset < 13 ? 1 : -1), r, c.node);
  // Softmax over [outer, n, inner]: opset < 13 flattens all dims from axis into n.
  int64_t outer = 1, n = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  if (c.opset < 13) {
    for (int i = axis; i < r; ++i) n *= x.dim(i);
  } else {
    n = x.dim(axis);
    for (int i = axis + 1; i < r; ++i) inner *= x.dim(i);
  }
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = y.data<float>();
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t b = 0; b < inner; ++b) {
      const int64_t base = a * n * inner + b;
      float mx = -INFINITY;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, p[base + i * inner]);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(p[base + i * inner] - mx);
      const float ls = static_cast<float>(std::log(sum));
      for (int64_t i = 0; i < n; ++i) {
        float v = p[base + i * inner] - mx;
        o[base + i * inner] = log_out ? v - ls : static_cast<float>(std::exp(v) / sum);
      }
    }
  c.outputs[0] = std::move(y);
}

void softmax(KernelContext& c) { softmax_impl(c, false); }
void log_softmax(KernelContext& c) { softmax_impl(c, true); }

void layer_norm(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat) c.fail("expects float32 input");
  const int axis = normalize_axis(attr_int(c.node, "axis", -1), x.rank(), c.node);
  const float eps = attr_float(c.node, "epsilon", 1e-5f);
  int64_t outer = 1, n = 1;
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int i = axis; i < x.rank(); ++i) n *= x.dim(i);
  auto scale = c.in(1).to_floats();
  std::vector<float> bias = c.has(2) ? c.in(2).to_floats() : std::vector<float>(n, 0.f);
  if (static_cast<int64_t>(scale.size()) != n || static_cast<int64_t>(bias.size()) != n)
    c.fail("scale and bias must have " + std::to_string(n) + " values");
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = y.data<float>();
  for (int64_t a = 0; a < outer; ++a) {
    const float* q = p + a * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += q[i];
    mean /= n;
    for (int64_t i = 0; i < n; ++i) var += (q[i] - mean) * (q[i] - mean);
    const double inv = 1.0 / std::sqrt(var / n + eps);
    for (int64_t i = 0; i < n; ++i) o[a * n + i] = static_cast<float>((q[i] - mean) * inv) * scale[i] + bias[i];
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  r.add("BatchNormalization", {7, 9, 14, 15}, batch_norm);
  r.add("Softmax", {1, 11, 13}, softmax);
  r.add("LogSoftmax", {1, 11, 13}, log_softmax);
  r.add("LayerNormalization", {17}, layer_norm);
}

}  // namespace qtool
