// SPDX-License-Identifier: Apache-2.0
// Integer convolutions: ConvInteger (10) and QLinearConv (10), uint8 / int8 inputs and weights,
// per-tensor or per-output-channel weight zero points and scales, int32 accumulation (wrapping as
// int32 arithmetic does), padding that contributes nothing (the input's zero point).
// QLinearConv requantizes as onnxruntime's MLAS does, bit for bit: scale = x_scale * w_scale[m] /
// y_scale in float32, y = saturate(round_half_even(float(acc + bias) * scale) + y_zero_point)
// (onnxruntime qlinearconv.cc + mlas requantize; ONNX spec for the rest).
//   fast: int8 weights with zero weight zero points through oneDNN's integer convolution on CPUs
//         with VNNI (s32 accumulators, exact), requantized by the same float32 code as the
//         reference.
#include <cmath>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/conv_dnnl.h"
#include "runtime/kernels/conv_pool_common.h"
#include "runtime/kernels/qdq_common.h"
#include "runtime/kernels/quant_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

bool is_q8(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

// Input indices of the two ops.
struct QConvInputs {
  int x, w, x_zp, w_zp, x_scale = -1, w_scale = -1, y_scale = -1, y_zp = -1, bias = -1;
  bool linear = false;
};
constexpr QConvInputs kConvInteger{0, 1, 2, 3};
constexpr QConvInputs kQLinearConv{0, 3, 2, 5, 1, 4, 6, 7, 8, true};

// A scalar (or one-element) quantization parameter.
void check_scalar(const KernelContext& c, int i, const char* name) {
  if (!c.has(i)) return;
  const Tensor& t = c.in(i);
  if (t.numel() != 1 || t.rank() > 1)
    c.fail(std::string("input ") + name + " must be a scalar (per-tensor), got " + shape_str(t.shape()));
}
// Per tensor (one value) or per output channel (1-D of m values).
void check_per_channel(const KernelContext& c, int i, int64_t m, const char* name) {
  if (!c.has(i)) return;
  const Tensor& t = c.in(i);
  const bool ok = (t.numel() == 1 && t.rank() <= 1) || (t.rank() == 1 && (m < 0 || t.dim(0) == m));
  if (!ok)
    c.fail(std::string("input ") + name + " must be a scalar or a 1-D tensor of " +
           (m >= 0 ? std::to_string(m) : std::string("M")) + " values, got " + shape_str(t.shape()));
}

ConvGeom qconv_checked(const KernelContext& c, const QConvInputs& q) {
  ConvGeom g = conv_geom(c, q.x, q.w);
  if (c.has(q.x) && !is_q8(c.in(q.x).dtype())) c.fail_dtype(q.x, c.in(q.x).dtype());
  if (c.has(q.w) && !is_q8(c.in(q.w).dtype())) c.fail_dtype(q.w, c.in(q.w).dtype());
  const int64_t m = c.has(q.w) ? g.cout : -1;
  check_scalar(c, q.x_zp, "x_zero_point");
  check_per_channel(c, q.w_zp, m, "w_zero_point");
  if (c.has(q.x_zp) && c.has(q.x) && c.in(q.x_zp).dtype() != c.in(q.x).dtype())
    c.fail("input x_zero_point has type " + dtype_name(c.in(q.x_zp).dtype()) + ", x has " +
           dtype_name(c.in(q.x).dtype()));
  if (c.has(q.w_zp) && c.has(q.w) && c.in(q.w_zp).dtype() != c.in(q.w).dtype())
    c.fail("input w_zero_point has type " + dtype_name(c.in(q.w_zp).dtype()) + ", w has " +
           dtype_name(c.in(q.w).dtype()));
  if (!q.linear) return g;
  for (int i : {q.x_scale, q.w_scale, q.y_scale})
    if (c.has(i) && c.in(i).dtype() != DType::kFloat) c.fail_dtype(i, c.in(i).dtype());
  check_scalar(c, q.x_scale, "x_scale");
  check_scalar(c, q.y_scale, "y_scale");
  check_scalar(c, q.y_zp, "y_zero_point");
  check_per_channel(c, q.w_scale, m, "w_scale");
  if (c.has(q.y_zp) && !is_q8(c.in(q.y_zp).dtype())) c.fail_dtype(q.y_zp, c.in(q.y_zp).dtype());
  check_channel_vector(c, q.bias, m, "B");
  if (c.has(q.bias) && c.in(q.bias).dtype() != DType::kInt32) c.fail_dtype(q.bias, c.in(q.bias).dtype());
  return g;
}

void validate_conv_integer(KernelContext& c) { qconv_checked(c, kConvInteger); }
void validate_qlinear_conv(KernelContext& c) { qconv_checked(c, kQLinearConv); }

// Zero points as int32 per output channel (size 1 = per tensor).
std::vector<int32_t> zero_points(const KernelContext& c, int i) {
  if (!c.has(i)) return {0};
  std::vector<int32_t> z;
  for (auto v : c.in(i).to_int64s()) z.push_back(static_cast<int32_t>(v));
  return z;
}

// acc[n, m, o] = sum (x - x_zp) * (w - w_zp[m]) over each window, wrapped to int32.
template <typename TX, typename TW>
void integer_conv(const Tensor& x, const Tensor& w, int32_t x_zp, const std::vector<int32_t>& w_zp, const ConvGeom& g,
                  int32_t* acc) {
  const WindowIter it(g.axes);
  const int64_t in_sp = it.in_size(), out_sp = it.out_size(), k_sp = it.kernel_size();
  const int64_t cin_g = g.cin / g.group, cout_g = g.cout / g.group;
  const TX* px = x.data<TX>();
  const TW* pw = w.data<TW>();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.cout; ++oc) {
      const int64_t grp = oc / cout_g;
      const TX* xb = px + (n * g.cin + grp * cin_g) * in_sp;
      const TW* wb = pw + oc * cin_g * k_sp;
      const int64_t wz = w_zp.size() == 1 ? w_zp[0] : w_zp[oc];
      int32_t* out = acc + (n * g.cout + oc) * out_sp;
      it.for_each_output([&](int64_t o, const int64_t* coord) {
        int64_t sum = 0;  // |term| <= 255 * 255: no int64 overflow for any real kernel
        it.for_each_tap(coord, [&](int64_t io, int64_t ko) {
          for (int64_t ic = 0; ic < cin_g; ++ic)
            sum += (static_cast<int64_t>(xb[ic * in_sp + io]) - x_zp) * (static_cast<int64_t>(wb[ic * k_sp + ko]) - wz);
        });
        out[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
      });
    }
}

void integer_conv_dispatch(const KernelContext& c, const QConvInputs& q, const ConvGeom& g, int32_t* acc) {
  const Tensor x = to_plain(c.in(q.x));
  const Tensor& w = c.in(q.w);
  const int32_t x_zp = zero_points(c, q.x_zp)[0];
  const auto w_zp = zero_points(c, q.w_zp);
  c.dispatch_or_fail<TypeList<int8_t, uint8_t>>(q.x, x.dtype(), [&](auto tx) {
    using TX = typename decltype(tx)::type;
    c.dispatch_or_fail<TypeList<int8_t, uint8_t>>(q.w, w.dtype(), [&](auto tw) {
      using TW = typename decltype(tw)::type;
      integer_conv<TX, TW>(x, w, x_zp, w_zp, g, acc);
    });
  });
}

void conv_integer(KernelContext& c) {
  const ConvGeom g = qconv_checked(c, kConvInteger);
  Tensor y = Tensor::uninitialized(DType::kInt32, g.out_shape);
  integer_conv_dispatch(c, kConvInteger, g, y.data<int32_t>());
  c.outputs[0] = std::move(y);
}

// MLAS requantization: float(acc + bias) * scale, clamped to the output range shifted by the zero
// point, rounded half to even, plus the zero point.
template <typename TY>
void requantize(const int32_t* acc, const ConvGeom& g, const int32_t* bias, const std::vector<float>& scales,
                int32_t y_zp, TY* y) {
  const int64_t out_sp = shape_numel(g.out_shape) / std::max<int64_t>(1, g.n * g.cout);
  const float lo = static_cast<float>(std::numeric_limits<TY>::min() - y_zp);
  const float hi = static_cast<float>(std::numeric_limits<TY>::max() - y_zp);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t m = 0; m < g.cout; ++m) {
      const float scale = scales.size() == 1 ? scales[0] : scales[m];
      const uint32_t b = bias ? static_cast<uint32_t>(bias[m]) : 0u;
      const int64_t base = (n * g.cout + m) * out_sp;
      for (int64_t o = 0; o < out_sp; ++o) {
        const int32_t a = static_cast<int32_t>(static_cast<uint32_t>(acc[base + o]) + b);  // int32 wrap
        y[base + o] = static_cast<TY>(round_saturate_f(static_cast<float>(a) * scale, lo, hi, y_zp));
      }
    }
}

void qlinear_finish(KernelContext& c, const ConvGeom& g, const int32_t* acc) {
  const QConvInputs& q = kQLinearConv;
  const float x_scale = c.in(q.x_scale).to_floats()[0];
  const float y_scale = c.in(q.y_scale).to_floats()[0];
  std::vector<float> scales;
  for (float ws : c.in(q.w_scale).to_floats()) scales.push_back(x_scale * ws / y_scale);
  const DType ty = c.has(q.y_zp) ? c.in(q.y_zp).dtype() : c.in(q.x).dtype();
  const int32_t y_zp = c.has(q.y_zp) ? static_cast<int32_t>(c.in(q.y_zp).to_int64s()[0]) : 0;
  const int32_t* bias = c.has(q.bias) ? c.in(q.bias).data<int32_t>() : nullptr;
  Tensor y = Tensor::uninitialized(ty, g.out_shape);
  c.dispatch_or_fail<TypeList<int8_t, uint8_t>>(q.y_zp, ty, [&](auto tag) {
    using TY = typename decltype(tag)::type;
    requantize<TY>(acc, g, bias, scales, y_zp, y.data<TY>());
  });
  c.outputs[0] = std::move(y);
}

void qlinear_conv(KernelContext& c) {
  const ConvGeom g = qconv_checked(c, kQLinearConv);
  std::vector<int32_t> acc(static_cast<size_t>(shape_numel(g.out_shape)));
  integer_conv_dispatch(c, kQLinearConv, g, acc.data());
  qlinear_finish(c, g, acc.data());
}

// ---- oneDNN integer convolution (s8 weights, zero weight zero points) ----

struct QConvCache {
  Shape x_shape;
  DType x_dtype = DType::kUndefined;
  int32_t x_zp = 0;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  dnnl::memory w_mem;
  const void* w_src = nullptr;
  bool unsupported = false;
};

using qdq::has_vnni;

// Fills acc (plain [N, M, ...] int32) with oneDNN; false when the configuration is not covered.
bool integer_conv_dnnl(KernelContext& c, const QConvInputs& q, const ConvGeom& g, Tensor& acc) {
  const Tensor& x = c.in(q.x);
  const Tensor& w = c.in(q.w);
  const int sp = x.rank() - 2;
  if (!has_vnni() || w.dtype() != DType::kInt8 || x.layout() || sp < 1 || sp > 3 || x.numel() == 0 || w.numel() == 0 ||
      acc.numel() == 0)
    return false;
  for (int32_t z : zero_points(c, q.w_zp))
    if (z != 0) return false;
  const int32_t x_zp = zero_points(c, q.x_zp)[0];
  const DnnlConvDims dd = dnnl_conv_dims(g, w.shape());
  const Shape& wdims = dd.weights;
  using dt = dnnl::memory::data_type;
  auto dims = [](const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); };
  auto strides = [](const Shape& s) {
    dnnl::memory::dims r(s.size());
    int64_t k = 1;
    for (size_t i = s.size(); i-- > 0;) {
      r[i] = k;
      k *= s[i];
    }
    return r;
  };
  const dt x_dt = x.dtype() == DType::kUInt8 ? dt::u8 : dt::s8;
  auto& ctx = DnnlContext::get();
  try {
    std::shared_ptr<void> local;
    auto& slot = c.state ? *c.state : local;
    auto* cache = static_cast<QConvCache*>(slot.get());
    const bool same = cache && cache->x_shape == x.shape() && cache->x_dtype == x.dtype() && cache->x_zp == x_zp;
    if (same && cache->unsupported) return false;
    if (!same) {
      auto fresh = std::make_shared<QConvCache>();
      fresh->x_shape = x.shape();
      fresh->x_dtype = x.dtype();
      fresh->x_zp = x_zp;
      fresh->unsupported = true;
      slot = fresh;
      dnnl::convolution_forward::desc d(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
          dnnl::memory::desc(dims(x.shape()), x_dt, strides(x.shape())),
          dnnl::memory::desc(dims(wdims), dt::s8, dnnl::memory::format_tag::any), dnnl::memory::desc(),
          dnnl::memory::desc(dims(g.out_shape), dt::s32, strides(g.out_shape)), dd.strides, dd.dilates, dd.pad_l, dd.pad_r);
      dnnl::primitive_attr attr;
      if (x_zp != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {x_zp});
      fresh->pd = dnnl::convolution_forward::primitive_desc(d, attr, ctx.engine);
      fresh->prim = dnnl::convolution_forward(fresh->pd);
      fresh->unsupported = false;
      cache = fresh.get();
    }
    if (!c.is_constant(q.w) || cache->w_src != w.raw()) {
      const dnnl::memory::desc plain_w(dims(wdims), dt::s8, strides(wdims));
      dnnl::memory src_w(plain_w, ctx.engine, const_cast<void*>(w.raw()));
      cache->w_mem = dnnl::memory(cache->pd.weights_desc(), ctx.engine);
      dnnl::reorder(src_w, cache->w_mem).execute(ctx.stream, src_w, cache->w_mem);
      cache->w_src = c.is_constant(q.w) ? w.raw() : nullptr;
    }
    dnnl::memory src(cache->pd.src_desc(), ctx.engine, const_cast<void*>(x.raw()));
    dnnl::memory dst(cache->pd.dst_desc(), ctx.engine, acc.raw());
    cache->prim.execute(ctx.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, cache->w_mem}, {DNNL_ARG_DST, dst}});
    ctx.stream.wait();
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

bool conv_integer_fast(KernelContext& c) {
  const ConvGeom g = qconv_checked(c, kConvInteger);
  Tensor y = Tensor::uninitialized(DType::kInt32, g.out_shape);
  if (!integer_conv_dnnl(c, kConvInteger, g, y)) return false;
  c.outputs[0] = std::move(y);
  return true;
}

bool qlinear_conv_fast(KernelContext& c) {
  const ConvGeom g = qconv_checked(c, kQLinearConv);
  Tensor acc = Tensor::uninitialized(DType::kInt32, g.out_shape);
  if (!integer_conv_dnnl(c, kQLinearConv, g, acc)) return false;
  qlinear_finish(c, g, acc.data<int32_t>());
  return true;
}

}  // namespace

void register_qconv_ops(OpRegistry& r) {
  r.add("", "ConvInteger", {10}, OpDef{conv_integer, conv_integer_fast, validate_conv_integer});
  r.add("", "QLinearConv", {10}, OpDef{qlinear_conv, qlinear_conv_fast, validate_qlinear_conv});
}

}  // namespace qtool
