// SPDX-License-Identifier: Apache-2.0
// Elementwise kernels: binary arithmetic with broadcasting, unary activations, Cast, Identity.
#include <cmath>

#include <type_traits>

#include "runtime/broadcast.h"
#include "runtime/op_registry.h"

namespace qtool {

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out_shape) {
  const size_t r = out_shape.size(), off = r - in.size();
  std::vector<int64_t> st(r, 0);
  int64_t s = 1;
  for (size_t i = in.size(); i-- > 0;) {
    st[i + off] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return st;
}

namespace {

template <typename F>
void binary_op(KernelContext& ctx, F f) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != b.dtype())
    ctx.fail("input types differ: " + dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype()));
  Shape so = broadcast_shape(a.shape(), b.shape());
  Tensor out = Tensor::uninitialized(a.dtype(), so);
  switch (a.dtype()) {
    case DType::kFloat:
      broadcast_binary(a.data<float>(), a.shape(), b.data<float>(), b.shape(), out.data<float>(), so,
                       [&](float x, float y) { return f(x, y); });
      break;
    case DType::kInt64:
      broadcast_binary(a.data<int64_t>(), a.shape(), b.data<int64_t>(), b.shape(), out.data<int64_t>(), so,
                       [&](int64_t x, int64_t y) { return static_cast<int64_t>(f(x, y)); });
      break;
    case DType::kInt32:
      broadcast_binary(a.data<int32_t>(), a.shape(), b.data<int32_t>(), b.shape(), out.data<int32_t>(), so,
                       [&](int32_t x, int32_t y) { return static_cast<int32_t>(f(x, y)); });
      break;
    default: ctx.fail("unsupported type " + dtype_name(a.dtype()));
  }
  ctx.outputs[0] = std::move(out);
}

void add(KernelContext& c) { binary_op(c, [](auto x, auto y) { return x + y; }); }
void sub(KernelContext& c) { binary_op(c, [](auto x, auto y) { return x - y; }); }
void mul(KernelContext& c) { binary_op(c, [](auto x, auto y) { return x * y; }); }
void div_(KernelContext& c) {
  if (c.in(0).dtype() == DType::kFloat) return binary_op(c, [](auto x, auto y) { return x / y; });
  binary_op(c, [](auto x, auto y) { return y == 0 ? decltype(x)(0) : x / y; });
}
// Mod-10: integers follow the divisor's sign (Python %) unless fmod = 1 (C fmod, required for floats).
void mod_(KernelContext& c) {
  const bool fmod = attr_int(c.node, "fmod", 0) != 0;
  if (c.in(0).dtype() == DType::kFloat) {
    if (!fmod) c.fail("float inputs need fmod = 1");
    return binary_op(c, [](auto x, auto y) { return std::fmod(x, y); });
  }
  binary_op(c, [fmod](auto x, auto y) -> decltype(x) {
    if (y == 0) return 0;
    decltype(x) r;
    if constexpr (std::is_integral_v<decltype(x)>) r = x % y;
    else r = std::fmod(x, y);
    if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
  });
}
void pow_(KernelContext& c) {
  Value e = c.in(1).dtype() == c.in(0).dtype() ? c.in(1) : c.in(1).cast(c.in(0).dtype());
  const Value* saved = c.inputs[1];
  c.inputs[1] = &e;
  binary_op(c, [](auto x, auto y) { return std::pow(x, y); });
  c.inputs[1] = saved;
}

template <typename F>
void unary_float(KernelContext& ctx, F f) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::kFloat) ctx.fail("expects float32 input, got " + dtype_name(x.dtype()));
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = out.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = f(p[i]);
  ctx.outputs[0] = std::move(out);
}

void relu(KernelContext& c) { unary_float(c, [](float v) { return v > 0.f ? v : 0.f; }); }
void leaky_relu(KernelContext& c) {
  float a = attr_float(c.node, "alpha", 0.01f);
  unary_float(c, [a](float v) { return v >= 0.f ? v : a * v; });
}
void sigmoid(KernelContext& c) { unary_float(c, [](float v) { return 1.f / (1.f + std::exp(-v)); }); }
void tanh_(KernelContext& c) { unary_float(c, [](float v) { return std::tanh(v); }); }
void exp_(KernelContext& c) { unary_float(c, [](float v) { return std::exp(v); }); }
void log_(KernelContext& c) { unary_float(c, [](float v) { return std::log(v); }); }
void sqrt_(KernelContext& c) { unary_float(c, [](float v) { return std::sqrt(v); }); }
void abs_(KernelContext& c) { unary_float(c, [](float v) { return std::fabs(v); }); }
void neg(KernelContext& c) { unary_float(c, [](float v) { return -v; }); }
void erf_(KernelContext& c) { unary_float(c, [](float v) { return std::erf(v); }); }
void reciprocal(KernelContext& c) { unary_float(c, [](float v) { return 1.f / v; }); }
void hard_sigmoid(KernelContext& c) {
  float a = attr_float(c.node, "alpha", 0.2f), b = attr_float(c.node, "beta", 0.5f);
  unary_float(c, [a, b](float v) { return std::max(0.f, std::min(1.f, a * v + b)); });
}
void hard_swish(KernelContext& c) {
  unary_float(c, [](float v) { return v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f)); });
}
void clip(KernelContext& c) {
  float lo = -INFINITY, hi = INFINITY;
  if (c.opset < 11) {
    lo = attr_float(c.node, "min", lo);
    hi = attr_float(c.node, "max", hi);
  } else {
    if (c.has(1)) lo = c.in(1).to_floats().at(0);
    if (c.has(2)) hi = c.in(2).to_floats().at(0);
  }
  unary_float(c, [lo, hi](float v) { return std::min(hi, std::max(lo, v)); });
}

void identity(KernelContext& c) {
  c.outputs[0] = c.in(0);
  if (c.outputs.size() > 1) {  // Dropout's optional mask output: all true in inference
    Tensor mask(DType::kBool, c.in(0).shape());
    std::fill_n(mask.data<bool>(), mask.numel(), true);
    c.outputs[1] = mask;
  }
}

void cast(KernelContext& c) {
  auto to = static_cast<DType>(attr_int(c.node, "to", 1));
  c.outputs[0] = c.in(0).dtype() == to ? c.in(0) : c.in(0).cast(to);
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  r.add("Add", {7, 13, 14}, add);
  r.add("Sub", {7, 13, 14}, sub);
  r.add("Mul", {7, 13, 14}, mul);
  r.add("Div", {7, 13, 14}, div_);
  r.add("Pow", {7, 12, 13, 15}, pow_);
  r.add("Mod", {10, 13, 28}, mod_);
  r.add("Relu", {6, 13, 14}, relu);
  r.add("LeakyRelu", {6, 16}, leaky_relu);
  r.add("Sigmoid", {6, 13}, sigmoid);
  r.add("Tanh", {6, 13}, tanh_);
  r.add("Exp", {6, 13}, exp_);
  r.add("Log", {6, 13}, log_);
  r.add("Sqrt", {6, 13}, sqrt_);
  r.add("Abs", {6, 13}, abs_);
  r.add("Neg", {6, 13}, neg);
  r.add("Erf", {9, 13}, erf_);
  r.add("Reciprocal", {6, 13}, reciprocal);
  r.add("HardSigmoid", {6, 22}, hard_sigmoid);
  r.add("HardSwish", {14, 22}, hard_swish);
  r.add("Clip", {6, 11, 12, 13}, clip);
  r.add("Identity", {1, 13, 14, 16, 19, 21, 23, 24, 25}, identity);
  r.add("Dropout", {7, 10, 12, 13, 22}, identity);
  r.add("Cast", {6, 9, 13, 19, 21, 23, 24, 25, 28}, cast);
}

}  // namespace qtool
