// SPDX-License-Identifier: Apache-2.0
// qtool.QDQMatMul (internal op, since 1): what the executor runs for a QDQ MatMul or Gemm with
// constant int8 weights
//   DequantizeLinear(x_q) -> MatMul / Gemm(DequantizeLinear(w_q), [DequantizeLinear(bias int32)])
//   [-> QuantizeLinear]
// after the compile-time rewrite in runtime/qdq_matmul_fusion.cpp (never written to a file).
// Inputs: 0 x (uint8/int8 [..., K]), 1 x_scale (float scalar), 2 x_zero_point (scalar, x's type),
// 3 w (int8 [K, N], or [N, K] with trans_b = 1; zero point 0), 4 w_scale (float scalar or [N]),
// 5 bias (int32 [N], optional; its scale is x_scale * w_scale), 6 y_scale (float scalar, optional),
// 7 y_zero_point (uint8/int8 scalar, optional). Attributes trans_b (0/1), gemm (0/1: x must be 2-D).
// Output [..., N] (every row of x times w): with y_scale, y = saturate(round_half_even(
// float(acc + bias) * (x_scale * w_scale[n] / y_scale)) + y_zero_point), onnxruntime's
// QLinearMatMul / QGemm requantization (the multiplier in float32, zero point added after
// rounding); without, y = float(acc + bias) * (x_scale * w_scale[n]), the float MatMul of the
// dequantized tensors. acc = sum_k (x - x_zero_point) * w in int32.
//   reference: plain loops.
//   fast: oneDNN's int8 matmul for the int32 accumulators (u8/s8 rows with their zero point, s8
//         weights reordered once) on CPUs with VNNI (exact int32 accumulation), then the
//         reference's requantization, so both kernels give the same bits whatever oneDNN kernel
//         (row count, threads) computed the accumulators. Without VNNI the accumulators come
//         from oneDNN's float32 matmul of x - x_zero_point and the integer weights, exact under a
//         bound checked when the primitive is made (as QDQConv's).
#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "core/parallel.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/qdq_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

enum : int { kX = 0, kXScale, kXZp, kW, kWScale, kBias, kYScale, kYZp };

bool is_q8(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

struct Dims {
  int64_t rows = 0, K = 0, N = 0;
  Shape out;
};

Dims checked(const KernelContext& c) {
  if (!c.has(kX) || !c.has(kW)) c.fail("x and w are required");
  const Tensor& x = c.in(kX);
  const Tensor& w = c.in(kW);
  if (!is_q8(x.dtype())) c.fail_dtype(kX, x.dtype());
  if (w.dtype() != DType::kInt8) c.fail_dtype(kW, w.dtype());
  if (x.rank() < 1) c.fail("x must have at least one axis");
  if (attr_int(c.node, "gemm", 0) != 0 && x.rank() != 2) c.fail("Gemm's x must be 2-D, got " + shape_str(x.shape()));
  if (w.rank() != 2) c.fail("w must be 2-D, got " + shape_str(w.shape()));
  for (int i : {kXScale, kXZp, kYScale, kYZp})
    if (c.has(i) && c.in(i).numel() != 1) c.fail("quantization parameter #" + std::to_string(i) + " must be a scalar");
  if (!c.has(kXScale) || !c.has(kXZp)) c.fail("x_scale and x_zero_point are required");
  if (c.in(kXZp).dtype() != x.dtype()) c.fail_dtype(kXZp, c.in(kXZp).dtype());
  if (c.has(kYScale) != c.has(kYZp)) c.fail("y_scale and y_zero_point come together");
  if (c.has(kYZp) && !is_q8(c.in(kYZp).dtype())) c.fail_dtype(kYZp, c.in(kYZp).dtype());
  const bool tb = attr_int(c.node, "trans_b", 0) != 0;
  Dims d;
  d.K = tb ? w.dim(1) : w.dim(0);
  d.N = tb ? w.dim(0) : w.dim(1);
  if (x.dim(-1) != d.K)
    c.fail("x " + shape_str(x.shape()) + " and w " + shape_str(w.shape()) + " do not multiply");
  d.rows = d.K == 0 ? 0 : x.numel() / d.K;
  d.out = Shape(x.shape().begin(), x.shape().end() - 1);
  d.out.push_back(d.N);
  if (!c.has(kWScale)) c.fail("w_scale is required");
  const Tensor& s = c.in(kWScale);
  if (s.dtype() != DType::kFloat) c.fail_dtype(kWScale, s.dtype());
  if (!(s.numel() == 1 || (s.rank() == 1 && s.dim(0) == d.N)))
    c.fail("w_scale must be a scalar or [N], got " + shape_str(s.shape()));
  if (c.has(kBias)) {
    const Tensor& b = c.in(kBias);
    if (b.dtype() != DType::kInt32) c.fail_dtype(kBias, b.dtype());
    if (b.rank() != 1 || b.dim(0) != d.N) c.fail("bias must be [N], got " + shape_str(b.shape()));
  }
  return d;
}

void validate(KernelContext& c) { checked(c); }

using qdq::dnnl_type;
using qdq::has_vnni;
using qdq::scalar_int;

std::vector<float> multipliers(const KernelContext& c, int64_t n) { return qdq::multipliers(c, kXScale, kWScale, kYScale, n); }

template <typename TX>
void accumulate(const TX* x, const int8_t* w, bool tb, int32_t x_zp, const Dims& d, int32_t* acc) {
  for (int64_t r = 0; r < d.rows; ++r)
    for (int64_t j = 0; j < d.N; ++j) {
      int64_t sum = 0;
      for (int64_t k = 0; k < d.K; ++k)
        sum += (static_cast<int64_t>(x[r * d.K + k]) - x_zp) * w[tb ? j * d.K + k : k * d.N + j];
      acc[r * d.N + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
    }
}

// The output from the int32 accumulators acc [rows, N] (both kernels: one requantization).
Tensor requantize(const KernelContext& c, const Dims& d, const int32_t* acc) {
  const auto mult = multipliers(c, d.N);
  const int32_t* bias = c.has(kBias) ? c.in(kBias).data<int32_t>() : nullptr;
  auto value = [&](int64_t r, int64_t j) { return qdq::requantized(acc[r * d.N + j], bias ? bias[j] : 0, mult[j]); };
  if (!c.has(kYScale)) {
    Tensor y = Tensor::uninitialized(DType::kFloat, d.out);
    float* py = y.data<float>();
    for (int64_t r = 0; r < d.rows; ++r)
      for (int64_t j = 0; j < d.N; ++j) py[r * d.N + j] = value(r, j);
    return y;
  }
  const int32_t y_zp = scalar_int(c, kYZp);
  const DType ty = c.in(kYZp).dtype();
  Tensor y = Tensor::uninitialized(ty, d.out);
  auto run = [&](auto* py) {
    using TY = std::remove_pointer_t<decltype(py)>;
    for (int64_t r = 0; r < d.rows; ++r)
      for (int64_t j = 0; j < d.N; ++j) py[r * d.N + j] = qdq::quantized<TY>(value(r, j), y_zp);
  };
  if (ty == DType::kUInt8) run(y.data<uint8_t>());
  else run(y.data<int8_t>());
  return y;
}

void reference(KernelContext& c) {
  const Dims d = checked(c);
  const Tensor& x = c.in(kX);
  const bool tb = attr_int(c.node, "trans_b", 0) != 0;
  std::vector<int32_t> acc(static_cast<size_t>(d.rows * d.N));
  const int32_t x_zp = scalar_int(c, kXZp);
  if (x.dtype() == DType::kUInt8) accumulate(x.data<uint8_t>(), c.in(kW).data<int8_t>(), tb, x_zp, d, acc.data());
  else accumulate(x.data<int8_t>(), c.in(kW).data<int8_t>(), tb, x_zp, d, acc.data());
  c.outputs[0] = requantize(c, d, acc.data());
}

// ---- oneDNN int8 matmul ----

struct Cache {
  Shape x_shape;
  Dims d;
  double work = 0;
  dnnl::matmul prim;
  dnnl::memory x_mem, w_mem, dst_mem;  // x and dst rebound to each run's buffers
  std::unordered_map<int, dnnl::memory> args;
  bool unsupported = false;
  // Without VNNI, for weights whose K pairs may saturate int16 (qdq::float_sums_exact): float32
  // x - x_zero_point and sums, owned here, exact under the bound checked when the primitive is made.
  bool f32 = false;
  int32_t x_zp = 0;
};

bool fast(KernelContext& c) {
  // Parameters and weights are cached with the primitive: graph constants (the rewrite only fuses
  // those) or a one-off run (no cache).
  for (int i : {kXScale, kXZp, kW, kWScale, kBias, kYScale, kYZp})
    if (c.has(i) && ((c.state && !c.is_constant(i)) || c.in(i).layout())) return false;
  const Tensor& x = c.in(kX);
  if (x.layout()) return false;
  auto& ctx = DnnlContext::get();
  using dt = dnnl::memory::data_type;
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<Cache*>(slot.get());
  if (cache && cache->x_shape == x.shape() && cache->unsupported) return false;
  try {
    if (!cache || cache->x_shape != x.shape()) {
      const Dims d = checked(c);
      if (d.rows == 0 || d.K == 0 || d.N == 0) return false;
      auto fresh = std::make_shared<Cache>();
      fresh->x_shape = x.shape();
      fresh->d = d;
      fresh->work = 2.0 * static_cast<double>(d.rows) * static_cast<double>(d.K) * static_cast<double>(d.N);
      fresh->unsupported = true;  // until the primitive exists
      slot = fresh;
      const SerialScope serial(fresh->work);
      const bool tb = attr_int(c.node, "trans_b", 0) != 0;
      const int32_t x_zp = scalar_int(c, kXZp);
      // Without VNNI the integer kernel is exact only for weights whose K pairs fit int16
      // (qdq::pairs_fit_int16: qtool's own files) and an implementation with that pair order;
      // otherwise float32 sums of x - x_zero_point.
      const Tensor& w = c.in(kW);
      const int8_t* pw = w.data<int8_t>();
      const bool pairs_only = !has_vnni();
      fresh->f32 = pairs_only && !(tb ? qdq::pairs_fit_int16(pw, d.N, d.K, 1) : qdq::pairs_fit_int16(pw, 1, d.K, d.N));
      fresh->x_zp = x_zp;
      auto make = [&](bool f32) {
        const dt x_dt = f32 ? dt::f32 : dnnl_type(x.dtype()), w_dt = f32 ? dt::f32 : dt::s8;
        const dnnl::memory::desc x_md({d.rows, d.K}, x_dt, dnnl::memory::dims{d.K, 1});
        const dnnl::memory::desc w_any({d.K, d.N}, w_dt, dnnl::memory::format_tag::any);
        // the int32 accumulators only (exact): bias, scales, rounding and zero point are the
        // reference's own requantization, so the result does not depend on oneDNN's order of
        // operations (which differs between its kernels, i.e. with the row count and threads)
        const dnnl::memory::desc acc_md({d.rows, d.N}, f32 ? dt::f32 : dt::s32, dnnl::memory::dims{d.N, 1});
        dnnl::primitive_attr attr;
        if (f32) attr.set_fpmath_mode(dnnl::fpmath_mode::strict);
        else if (x_zp != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {x_zp});
        return dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, w_any, acc_md), attr, ctx.engine);
      };
      dnnl::matmul::primitive_desc pd = make(fresh->f32);
      if (!fresh->f32 && pairs_only && !qdq::pairs_order_known(pd.impl_info_str(), false)) {
        fresh->f32 = true;
        pd = make(true);
      }
      std::vector<float> wf;
      if (fresh->f32) {  // exact while max|x - x_zp| * max_j sum_k |w[k, j]| < 2^24
        std::vector<double> col(static_cast<size_t>(d.N), 0.0);
        for (int64_t k = 0; k < d.K; ++k)
          for (int64_t j = 0; j < d.N; ++j) col[j] += std::abs(static_cast<int>(pw[tb ? j * d.K + k : k * d.N + j]));
        const double widest = *std::max_element(col.begin(), col.end());
        if (!qdq::float_sums_exact(x.dtype(), x_zp, widest)) return false;
        wf.resize(static_cast<size_t>(w.numel()));
        for (int64_t k = 0; k < w.numel(); ++k) wf[k] = static_cast<float>(pw[k]);
      }
      const dt w_dt = fresh->f32 ? dt::f32 : dt::s8;
      const dnnl::memory::desc w_plain({d.K, d.N}, w_dt, tb ? dnnl::memory::dims{1, d.K} : dnnl::memory::dims{d.N, 1});
      const dnnl::memory::desc x_md = pd.src_desc(), acc_md = pd.dst_desc();
      fresh->prim = dnnl::matmul(pd);
      // weights reordered once (constant)
      dnnl::memory plain_w(w_plain, ctx.engine, fresh->f32 ? static_cast<void*>(wf.data()) : const_cast<void*>(w.raw()));
      fresh->w_mem = dnnl::memory(pd.weights_desc(), ctx.engine);
      dnnl::reorder(plain_w, fresh->w_mem).execute(ctx.stream, plain_w, fresh->w_mem);
      // float32 source and sums are owned by the cache; the integer kernel reads and writes in place
      fresh->x_mem = fresh->f32 ? dnnl::memory(x_md, ctx.engine) : dnnl::memory(x_md, ctx.engine, nullptr);
      fresh->dst_mem = fresh->f32 ? dnnl::memory(acc_md, ctx.engine) : dnnl::memory(acc_md, ctx.engine, nullptr);
      fresh->args = {{DNNL_ARG_SRC, fresh->x_mem}, {DNNL_ARG_WEIGHTS, fresh->w_mem}, {DNNL_ARG_DST, fresh->dst_mem}};
      ctx.stream.wait();
      fresh->unsupported = false;
      cache = fresh.get();
    }
    const SerialScope serial(cache->work);
    Tensor acc = Tensor::uninitialized(DType::kInt32, {cache->d.rows, cache->d.N});
    if (cache->f32) {
      qdq::shifted_codes(x, cache->x_zp, static_cast<float*>(cache->x_mem.get_data_handle()));
      cache->prim.execute(ctx.stream, cache->args);
      ctx.stream.wait();
      qdq::sums_to_int32(static_cast<const float*>(cache->dst_mem.get_data_handle()), acc.numel(), acc.data<int32_t>());
    } else {
      cache->x_mem.set_data_handle(const_cast<void*>(x.raw()));
      cache->dst_mem.set_data_handle(acc.raw());
      cache->prim.execute(ctx.stream, cache->args);
      ctx.stream.wait();
    }
    c.outputs[0] = requantize(c, cache->d, acc.data<int32_t>());
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

}  // namespace

void register_qdq_matmul_ops(OpRegistry& r) {
  r.add("qtool", "QDQMatMul", {1}, OpDef{reference, fast, validate, /*layout_aware=*/false, /*foldable=*/true});
}

}  // namespace qtool
