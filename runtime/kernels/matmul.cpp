// SPDX-License-Identifier: Apache-2.0
// MatMul (numpy semantics, batched with broadcasting) and Gemm through oneDNN matmul.
#include "runtime/broadcast.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/matmul.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

// dst[b] = a[b] x w[b] with a: [..., M, K], w: [..., K, N] (same rank, batch extents equal or 1).
void dnnl_matmul(const Tensor& a, const Shape& as, dnnl::memory::dims a_strides, const Tensor& w, const Shape& ws,
                 dnnl::memory::dims w_strides, Tensor& dst) {
  auto& ctx = DnnlContext::get();
  dnnl::memory::desc a_md(dnnl::memory::dims(as.begin(), as.end()), dnnl::memory::data_type::f32, a_strides);
  dnnl::memory::desc w_md(dnnl::memory::dims(ws.begin(), ws.end()), dnnl::memory::data_type::f32, w_strides);
  auto d_md = plain_desc(dst.shape());
  dnnl::matmul::desc d(a_md, w_md, d_md);
  dnnl::matmul::primitive_desc pd(d, ctx.engine);
  dnnl::matmul(pd).execute(ctx.stream, {{DNNL_ARG_SRC, wrap(a_md, a)}, {DNNL_ARG_WEIGHTS, wrap(w_md, w)},
                                        {DNNL_ARG_DST, wrap(d_md, dst)}});
  ctx.stream.wait();
}

dnnl::memory::dims dense_strides(const Shape& s) {
  dnnl::memory::dims st(s.size());
  int64_t v = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = v;
    v *= s[i];
  }
  return st;
}

}  // namespace

Tensor matmul_f32(KernelContext& c, const Tensor& a, const Tensor& b) {
  if (a.dtype() != DType::kFloat || b.dtype() != DType::kFloat) c.fail("expects float32 inputs");
  Shape sa = a.shape(), sb = b.shape();
  const bool a1 = sa.size() == 1, b1 = sb.size() == 1;
  if (a1) sa.insert(sa.begin(), 1);
  if (b1) sb.push_back(1);
  if (sa.back() != sb[sb.size() - 2])
    c.fail("inner dimensions differ: " + shape_str(a.shape()) + " x " + shape_str(b.shape()));
  const size_t r = std::max(sa.size(), sb.size());
  while (sa.size() < r) sa.insert(sa.begin(), 1);
  while (sb.size() < r) sb.insert(sb.begin(), 1);
  Shape so(r);
  for (size_t i = 0; i + 2 < r; ++i) {
    if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1)
      c.fail("batch dimensions cannot broadcast: " + shape_str(a.shape()) + " x " + shape_str(b.shape()));
    so[i] = std::max(sa[i], sb[i]);
  }
  so[r - 2] = sa[r - 2];
  so[r - 1] = sb[r - 1];
  Tensor y = Tensor::uninitialized(DType::kFloat, so);
  if (y.numel() > 0) dnnl_matmul(a, sa, dense_strides(sa), b, sb, dense_strides(sb), y);
  Shape final_shape;
  for (size_t i = 0; i + 2 < r; ++i) final_shape.push_back(so[i]);
  if (!a1) final_shape.push_back(so[r - 2]);
  if (!b1) final_shape.push_back(so[r - 1]);
  return y.reshaped(final_shape);
}

namespace {

void matmul(KernelContext& c) { c.outputs[0] = matmul_f32(c, c.in(0), c.in(1)); }

void gemm(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  if (a.dtype() != DType::kFloat || b.dtype() != DType::kFloat) c.fail("expects float32 inputs");
  if (a.rank() != 2 || b.rank() != 2) c.fail("expects 2-D inputs, got " + shape_str(a.shape()) + " and " + shape_str(b.shape()));
  const bool ta = attr_int(c.node, "transA", 0), tb = attr_int(c.node, "transB", 0);
  const float alpha = attr_float(c.node, "alpha", 1.f), beta = attr_float(c.node, "beta", 1.f);
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb) c.fail("inner dimensions differ: " + shape_str(a.shape()) + " x " + shape_str(b.shape()));
  Tensor y = Tensor::uninitialized(DType::kFloat, {m, n});
  dnnl_matmul(a, {m, k}, ta ? dnnl::memory::dims{1, m} : dnnl::memory::dims{k, 1}, b, {k, n},
              tb ? dnnl::memory::dims{1, k} : dnnl::memory::dims{n, 1}, y);
  float* o = y.data<float>();
  if (alpha != 1.f)
    for (int64_t i = 0; i < m * n; ++i) o[i] *= alpha;
  if (c.has(2) && beta != 0.f) {
    const Tensor& bias = c.in(2);
    if (bias.dtype() != DType::kFloat) c.fail("expects a float32 C input");
    Shape so{m, n};
    broadcast_shape(bias.shape(), so);
    Tensor sum(DType::kFloat, so);
    broadcast_binary(o, so, bias.data<float>(), bias.shape(), sum.data<float>(), so,
                     [beta](float x, float cc) { return x + beta * cc; });
    y = sum;
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_matmul_ops(OpRegistry& r) {
  r.add("MatMul", {1, 9, 13}, matmul);
  r.add("Gemm", {7, 9, 11, 13}, gemm);
}

}  // namespace qtool
