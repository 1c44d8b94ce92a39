// SPDX-License-Identifier: Apache-2.0
// qtool.QDQConv (internal op, since 1): what the executor runs for a QDQ convolution
//   DequantizeLinear(x_q) -> Conv(DequantizeLinear(w_q per channel), DequantizeLinear(bias int32))
//   [-> Relu] [-> QuantizeLinear]
// after the compile-time rewrite in runtime/qdq_fusion.cpp (never written to a file).
// Inputs: 0 x (uint8/int8 N x C x D...), 1 x_scale (float scalar), 2 x_zero_point (scalar, x's
// type), 3 w (int8 M x C/group x k..., zero point 0), 4 w_scale (float scalar or [M]),
// 5 bias (int32 [M], optional; its scale is x_scale * w_scale), 6 y_scale (float scalar,
// optional), 7 y_zero_point (uint8/int8 scalar, optional), 8 sum (float of the output's shape,
// optional; float output only: a residual added before relu). Attributes: Conv's, plus relu (0/1).
// Output: with y_scale, y = saturate(round_half_even(float(acc + bias) * (x_scale * w_scale[m] /
// y_scale)) + y_zero_point), then max(y, y_zero_point) with relu: onnxruntime's QLinearConv
// (MLAS requantization, scale computed in float32 as onnxruntime does) and, with relu,
// QuantizeLinear(Relu(.)) of the same value. Without y_scale, y = float(acc + bias) *
// (x_scale * w_scale[m]) (float32) [+ sum], then max(y, 0) with relu: the float Conv of the dequantized
// tensors. acc = sum (x - x_zero_point) * w over each window in int32.
//   reference: plain loops.
//   fast: oneDNN's int8 convolution (u8/s8 source, s8 weights reordered once, int32 accumulation,
//         per-channel output scales, relu / round / +zero point as post-ops so the tie rounding
//         is that of the reference), on CPUs with VNNI (exact int32 accumulation), and without
//         VNNI when no pair of adjacent input channels' weights at one kernel position sums to
//         more than 128 codes (qdq::pairs_fit_int16: qtool's own files; an int8 source runs as
//         uint8 codes x + 128 with zero point + 128); oneDNN
//         picks the layouts (nhwc / blocked), which pass between layout-aware readers. Otherwise
//         without VNNI: oneDNN's float32 convolution of the integer values, exact under a bound
//         checked per shape (fast_exact_f32), plain layouts.
#include <cmath>
#include <limits>
#include <unordered_map>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/conv_dnnl.h"
#include "runtime/kernels/conv_pool_common.h"
#include "runtime/kernels/qdq_common.h"
#include "runtime/kernels/quant_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

enum : int { kX = 0, kXScale, kXZp, kW, kWScale, kBias, kYScale, kYZp, kSum };

bool is_q8(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

ConvGeom checked(const KernelContext& c) {
  ConvGeom g = conv_geom(c, kX, kW);
  if (c.has(kX) && !is_q8(c.in(kX).dtype())) c.fail_dtype(kX, c.in(kX).dtype());
  if (c.has(kW) && c.in(kW).dtype() != DType::kInt8) c.fail_dtype(kW, c.in(kW).dtype());
  for (int i : {kXScale, kXZp, kYScale, kYZp})
    if (c.has(i) && c.in(i).numel() != 1) c.fail("quantization parameter #" + std::to_string(i) + " must be a scalar");
  if (!c.has(kXScale) || !c.has(kXZp)) c.fail("x_scale and x_zero_point are required");
  if (c.has(kX) && c.in(kXZp).dtype() != c.in(kX).dtype()) c.fail_dtype(kXZp, c.in(kXZp).dtype());
  if (c.has(kYScale) != c.has(kYZp)) c.fail("y_scale and y_zero_point come together");
  if (c.has(kYZp) && !is_q8(c.in(kYZp).dtype())) c.fail_dtype(kYZp, c.in(kYZp).dtype());
  if (c.has(kBias) && c.in(kBias).dtype() != DType::kInt32) c.fail_dtype(kBias, c.in(kBias).dtype());
  if (c.has(kSum)) {
    if (c.has(kYScale)) c.fail("input sum needs a float output (no y_scale)");
    if (c.in(kSum).dtype() != DType::kFloat) c.fail_dtype(kSum, c.in(kSum).dtype());
    if (g.known && c.in(kSum).shape() != g.out_shape)
      c.fail("input sum " + shape_str(c.in(kSum).shape()) + " must have the output's shape " + shape_str(g.out_shape));
  }
  const int64_t m = c.has(kW) ? g.cout : -1;
  check_channel_vector(c, kBias, m, "bias");
  if (c.has(kWScale)) {
    const Tensor& s = c.in(kWScale);
    if (!(s.numel() == 1 || (s.rank() == 1 && (m < 0 || s.dim(0) == m))))
      c.fail("w_scale must be a scalar or [M], got " + shape_str(s.shape()));
  } else {
    c.fail("w_scale is required");
  }
  return g;
}

void validate(KernelContext& c) { checked(c); }

using qdq::dnnl_type;
using qdq::has_vnni;
using qdq::scalar_int;

std::vector<float> multipliers(const KernelContext& c, int64_t cout) {
  return qdq::multipliers(c, kXScale, kWScale, kYScale, cout);
}

template <typename TX>
void accumulate(const Tensor& x, const Tensor& w, int32_t x_zp, const ConvGeom& g, int32_t* acc) {
  const WindowIter it(g.axes);
  const int64_t in_sp = it.in_size(), out_sp = it.out_size(), k_sp = it.kernel_size();
  const int64_t cin_g = g.cin / g.group, cout_g = g.cout / g.group;
  const TX* px = x.data<TX>();
  const int8_t* pw = w.data<int8_t>();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.cout; ++oc) {
      const int64_t grp = oc / cout_g;
      const TX* xb = px + (n * g.cin + grp * cin_g) * in_sp;
      const int8_t* wb = pw + oc * cin_g * k_sp;
      int32_t* out = acc + (n * g.cout + oc) * out_sp;
      it.for_each_output([&](int64_t o, const int64_t* coord) {
        int64_t sum = 0;
        it.for_each_tap(coord, [&](int64_t io, int64_t ko) {
          for (int64_t ic = 0; ic < cin_g; ++ic)
            sum += (static_cast<int64_t>(xb[ic * in_sp + io]) - x_zp) * static_cast<int64_t>(wb[ic * k_sp + ko]);
        });
        out[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
      });
    }
}

// The output from int32 accumulators (plain N x M x spatial order): bias, requantization, relu, sum.
void finish(KernelContext& c, const ConvGeom& g, const std::vector<int32_t>& acc) {
  const auto mult = multipliers(c, g.cout);
  const int32_t* bias = c.has(kBias) ? c.in(kBias).data<int32_t>() : nullptr;
  const bool relu = attr_int(c.node, "relu", 0) != 0;
  const int64_t out_sp = g.n * g.cout != 0 ? static_cast<int64_t>(acc.size()) / (g.n * g.cout) : 0;
  auto value = [&](int64_t m, int64_t k) { return qdq::requantized(acc[k], bias ? bias[m] : 0, mult[m]); };
  if (!c.has(kYScale)) {
    Tensor y = Tensor::uninitialized(DType::kFloat, g.out_shape);
    float* py = y.data<float>();
    const Tensor z = c.has(kSum) ? to_plain(c.in(kSum)) : Tensor();
    const float* pz = c.has(kSum) ? z.data<float>() : nullptr;
    const int64_t planes = g.n * g.cout;
#pragma omp parallel for schedule(static) if (planes > 1 && static_cast<int64_t>(acc.size()) >= (int64_t{1} << 15))
    for (int64_t nm = 0; nm < planes; ++nm)
      for (int64_t o = 0; o < out_sp; ++o) {
        const int64_t m = nm % g.cout, k = nm * out_sp + o;
        const float v = pz ? value(m, k) + pz[k] : value(m, k);
        py[k] = relu ? std::max(v, 0.f) : v;
      }
    c.outputs[0] = std::move(y);
    return;
  }
  const int32_t y_zp = scalar_int(c, kYZp);
  const DType ty = c.in(kYZp).dtype();
  Tensor y = Tensor::uninitialized(ty, g.out_shape);
  auto run = [&](auto* py) {
    using TY = std::remove_pointer_t<decltype(py)>;
    const int64_t planes = g.n * g.cout;
#pragma omp parallel for schedule(static) if (planes > 1 && static_cast<int64_t>(acc.size()) >= (int64_t{1} << 15))
    for (int64_t nm = 0; nm < planes; ++nm) {
      // one plane: its multiplier, bias and clamp bounds hoisted (relu: the zero point is the floor)
      const int64_t m = nm % g.cout;
      const float mul = mult[m];
      const int32_t b = bias ? bias[m] : 0;
      const float lo = static_cast<float>((relu ? y_zp : std::numeric_limits<TY>::min()) - y_zp);
      const float hi = static_cast<float>(std::numeric_limits<TY>::max() - y_zp);
      const int32_t* pa = acc.data() + nm * out_sp;
      TY* out = py + nm * out_sp;
      for (int64_t o = 0; o < out_sp; ++o)
        out[o] = static_cast<TY>(round_saturate_f(qdq::requantized(pa[o], b, mul), lo, hi, y_zp));
    }
  };
  if (ty == DType::kUInt8) run(y.data<uint8_t>());
  else run(y.data<int8_t>());
  c.outputs[0] = std::move(y);
}

void reference(KernelContext& c) {
  const ConvGeom g = checked(c);
  const Tensor x = to_plain(c.in(kX));
  const Tensor& w = c.in(kW);
  const int32_t x_zp = scalar_int(c, kXZp);
  std::vector<int32_t> acc(static_cast<size_t>(shape_numel(g.out_shape)));
  if (x.dtype() == DType::kUInt8) accumulate<uint8_t>(x, w, x_zp, g, acc.data());
  else accumulate<int8_t>(x, w, x_zp, g, acc.data());
  finish(c, g, acc);
}

// ---- CPUs without VNNI: the accumulators from oneDNN's float32 convolution ----
// oneDNN's int8 kernels there multiply byte pairs with vpmaddubsw, whose int16 sums saturate, so
// the accumulators come from a float32 convolution of x - x_zero_point with the integer weights.
// That is exact while every partial sum stays below 2^24 in magnitude, which
// max|x - x_zp| * max_m sum|w_m| < 2^24 guarantees in any summation order (checked once per
// shape; otherwise the reference runs); the strict fpmath mode keeps oneDNN from bf16 / tf32.

struct ExactF32Cache {
  Shape x_shape;
  bool unsupported = true;
  ConvGeom g;  // checked geometry of x_shape
  dnnl::convolution_forward prim;
  dnnl::memory src, w_mem, dst;  // plain float32 source and accumulators; weights in the primitive's layout
  dnnl::memory src_blk, dst_blk;  // the primitive's own source / destination layouts, when not plain
  std::unordered_map<int, dnnl::memory> args;
};

bool fast_exact_f32(KernelContext& c, std::shared_ptr<void>& slot) {
  const Tensor x = to_plain(c.in(kX));
  const Tensor& w = c.in(kW);
  auto& ctx = DnnlContext::get();
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  auto dims = [](const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); };
  const int32_t x_zp = scalar_int(c, kXZp);
  try {
    auto* cache = static_cast<ExactF32Cache*>(slot.get());
    if (!cache || cache->x_shape != x.shape()) {
      auto fresh = std::make_shared<ExactF32Cache>();
      fresh->x_shape = x.shape();
      slot = fresh;
      cache = fresh.get();
      const int sp = x.rank() - 2;
      const ConvGeom g = checked(c);
      if (sp < 1 || sp > 3 || x.numel() == 0 || w.numel() == 0 || shape_numel(g.out_shape) == 0) return false;
      const int64_t per_m = w.numel() / g.cout;
      double widest = 0;
      for (int64_t m = 0; m < g.cout; ++m) {
        double s = 0;
        for (int64_t k = 0; k < per_m; ++k) s += std::abs(static_cast<int>(w.data<int8_t>()[m * per_m + k]));
        widest = std::max(widest, s);
      }
      if (!qdq::float_sums_exact(x.dtype(), x_zp, widest)) return false;
      const DnnlConvDims dd = dnnl_conv_dims(g, w.shape());
      dnnl::convolution_forward::desc d(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
          dnnl::memory::desc(dims(x.shape()), dt::f32, tag::any), dnnl::memory::desc(dims(dd.weights), dt::f32, tag::any),
          dnnl::memory::desc(dims(g.out_shape), dt::f32, tag::any), dd.strides, dd.dilates, dd.pad_l, dd.pad_r);
      dnnl::primitive_attr attr;
      attr.set_fpmath_mode(dnnl::fpmath_mode::strict);
      const dnnl::convolution_forward::primitive_desc pd(d, attr, ctx.engine);
      fresh->prim = dnnl::convolution_forward(pd);
      std::vector<float> wf(static_cast<size_t>(w.numel()));
      for (int64_t k = 0; k < w.numel(); ++k) wf[k] = static_cast<float>(w.data<int8_t>()[k]);
      dnnl::memory plain_w(plain_desc(dd.weights, dt::f32), ctx.engine, wf.data());
      fresh->w_mem = dnnl::memory(pd.weights_desc(), ctx.engine);
      dnnl::reorder(plain_w, fresh->w_mem).execute(ctx.stream, plain_w, fresh->w_mem);
      ctx.stream.wait();
      // oneDNN's direct kernels want blocked layouts (nChw8c on AVX2): plain in, reorders around
      fresh->src = dnnl::memory(plain_desc(x.shape(), dt::f32), ctx.engine);
      fresh->dst = dnnl::memory(plain_desc(g.out_shape, dt::f32), ctx.engine);
      if (pd.src_desc() != fresh->src.get_desc()) fresh->src_blk = dnnl::memory(pd.src_desc(), ctx.engine);
      if (pd.dst_desc() != fresh->dst.get_desc()) fresh->dst_blk = dnnl::memory(pd.dst_desc(), ctx.engine);
      fresh->args = {{DNNL_ARG_SRC, fresh->src_blk ? fresh->src_blk : fresh->src},
                     {DNNL_ARG_WEIGHTS, fresh->w_mem},
                     {DNNL_ARG_DST, fresh->dst_blk ? fresh->dst_blk : fresh->dst}};
      fresh->g = g;
      fresh->unsupported = false;
    }
    if (cache->unsupported) return false;
    qdq::shifted_codes(x, x_zp, static_cast<float*>(cache->src.get_data_handle()));
    if (cache->src_blk) reorder_into(cache->src, cache->src_blk);
    cache->prim.execute(ctx.stream, cache->args);
    if (cache->dst_blk) reorder_into(cache->dst_blk, cache->dst);
    ctx.stream.wait();
    std::vector<int32_t> acc(static_cast<size_t>(shape_numel(cache->g.out_shape)));
    qdq::sums_to_int32(static_cast<const float*>(cache->dst.get_data_handle()), static_cast<int64_t>(acc.size()),
                       acc.data());
    finish(c, cache->g, acc);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

// ---- oneDNN int8 convolution ----

struct Cache {
  Shape x_shape;
  std::shared_ptr<const Layout> x_layout;  // the input's layout object (identity: no descriptor compare)
  dnnl::memory::desc x_md;        // the input's layout this primitive was made for
  Shape out_shape;                // checked geometry's output shape
  dnnl::memory x_mem, dst_mem;    // rebound to each run's buffers (set_data_handle)
  std::shared_ptr<const Layout> dst_layout;  // the primitive's output layout when not plain
  bool plain_out = true;
  std::unordered_map<int, dnnl::memory> args;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  dnnl::memory src_mem;           // the input reordered to the primitive's layout (if needed)
  bool flip = false;  // int8 source run as uint8 codes x ^ 0x80 = x + 128 (zero point + 128), owned by x_mem
  dnnl::memory w_mem, b_mem;      // weights in the primitive's layout, bias
  dnnl::memory::desc plain_dst;   // plain layout of the output
  DType y_type = DType::kFloat;
  bool unsupported = false;
};

// pairs_only: a CPU without VNNI and weights checked by qdq::pairs_fit_int16; the primitive is
// used only when its implementation pairs input channels (qdq::pairs_order_known). oneDNN would run
// an int8 source there with halved weights, so it gets uint8 codes x + 128 with zero point + 128:
// the same x - x_zero_point, exactly.
bool fast_int8(KernelContext& c, std::shared_ptr<void>& slot, bool pairs_only) {
  const Tensor& x = c.in(kX);
  const Tensor& w = c.in(kW);
  auto& ctx = DnnlContext::get();
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  auto dims = [](const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); };
  try {
    auto* cache = static_cast<Cache*>(slot.get());
    // Repeated runs on the same input shape and layout object take everything from the cache (the
    // parameters are graph constants; the executor validated the inputs when shapes changed).
    bool same = cache && !cache->unsupported && cache->x_shape == x.shape() && cache->x_layout == x.shared_layout();
    if (!same) {
      const int sp = x.rank() - 2;
      const ConvGeom g = checked(c);
      if (sp < 1 || sp > 3 || x.numel() == 0 || w.numel() == 0 || shape_numel(g.out_shape) == 0) return false;
      const dnnl::memory::desc x_md = x.layout() ? desc_of(x) : plain_desc(x.shape(), dnnl_type(x.dtype()));
      same = cache && cache->x_shape == x.shape() && cache->x_md == x_md;
      if (same && cache->unsupported) return false;
      if (same) {
        cache->x_layout = x.shared_layout();  // the same layout, described by another object
      } else {
        auto fresh = std::make_shared<Cache>();
        fresh->x_shape = x.shape();
        fresh->x_md = x_md;
        fresh->unsupported = true;  // until the primitive exists
        fresh->flip = pairs_only && x.dtype() == DType::kInt8;
        dnnl::memory::desc in_md = x_md;  // what the primitive reads: x, or x + 128 as uint8
        if (fresh->flip) in_md.data.data_type = dnnl_u8;
        slot = fresh;
        const DnnlConvDims dd = dnnl_conv_dims(g, w.shape());
        const Shape& wdims = dd.weights;
        const bool quantized = c.has(kYScale);
        fresh->y_type = quantized ? c.in(kYZp).dtype() : DType::kFloat;
        const dt y_dt = dnnl_type(fresh->y_type);
        fresh->plain_dst = plain_desc(g.out_shape, y_dt);
        const dnnl::memory::desc b_md = c.has(kBias) ? plain_desc({g.cout}, dt::s32) : dnnl::memory::desc();
        dnnl::convolution_forward::desc d(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
            dnnl::memory::desc(dims(x.shape()), fresh->flip ? dt::u8 : dnnl_type(x.dtype()), tag::any),
            dnnl::memory::desc(dims(wdims), dt::s8, tag::any), b_md, dnnl::memory::desc(dims(g.out_shape), y_dt, tag::any),
            dd.strides, dd.dilates, dd.pad_l, dd.pad_r);
        dnnl::primitive_attr attr;
        const auto mult = multipliers(c, g.cout);
        const bool per_channel = c.in(kWScale).numel() > 1;
        attr.set_output_scales(per_channel ? 2 : 0, per_channel ? mult : std::vector<float>{mult[0]});
        const int32_t x_zp = scalar_int(c, kXZp) + (fresh->flip ? 128 : 0);
        if (x_zp != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {x_zp});
        dnnl::post_ops ops;
        if (c.has(kSum)) ops.append_sum(1.f);
        if (attr_int(c.node, "relu", 0) != 0) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        if (quantized) {
          // round half to even before the zero point is added (MLAS order; oneDNN's own dst zero
          // point would be added before rounding and move ties when it is odd)
          ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f);
          const int32_t y_zp = scalar_int(c, kYZp);
          if (y_zp != 0) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f, static_cast<float>(y_zp));
        }
        if (ops.len() > 0) attr.set_post_ops(ops);
        fresh->pd = dnnl::convolution_forward::primitive_desc(d, attr, ctx.engine);
        if (pairs_only && !qdq::pairs_order_known(fresh->pd.impl_info_str(), true)) return false;
        fresh->prim = dnnl::convolution_forward(fresh->pd);
        if (fresh->pd.src_desc() != in_md) fresh->src_mem = dnnl::memory(fresh->pd.src_desc(), ctx.engine);
        // weights reordered once (constant)
        dnnl::memory plain_w(plain_desc(wdims, dt::s8), ctx.engine, const_cast<void*>(w.raw()));
        fresh->w_mem = dnnl::memory(fresh->pd.weights_desc(), ctx.engine);
        dnnl::reorder(plain_w, fresh->w_mem).execute(ctx.stream, plain_w, fresh->w_mem);
        if (c.has(kBias)) {
          fresh->b_mem = dnnl::memory(b_md, ctx.engine);
          std::memcpy(fresh->b_mem.get_data_handle(), c.in(kBias).raw(), static_cast<size_t>(g.cout) * 4);
        }
        ctx.stream.wait();
        fresh->out_shape = g.out_shape;
        fresh->x_layout = x.shared_layout();
        fresh->x_mem = fresh->flip ? dnnl::memory(in_md, ctx.engine) : dnnl::memory(x_md, ctx.engine, nullptr);
        const auto dst_md = fresh->pd.dst_desc();
        fresh->plain_out = dst_md == fresh->plain_dst;
        if (!fresh->plain_out) fresh->dst_layout = std::make_shared<DnnlLayout>(dst_md);
        fresh->dst_mem = dnnl::memory(dst_md, ctx.engine, nullptr);
        fresh->args = {{DNNL_ARG_SRC, fresh->src_mem ? fresh->src_mem : fresh->x_mem},
                       {DNNL_ARG_WEIGHTS, fresh->w_mem},
                       {DNNL_ARG_DST, fresh->dst_mem}};
        if (fresh->b_mem) fresh->args[DNNL_ARG_BIAS] = fresh->b_mem;
        fresh->unsupported = false;
        cache = fresh.get();
      }
    }
    if (cache->flip) {  // padding bytes (0) become 128: the zero point, as oneDNN's own padding
      const auto* in = static_cast<const uint8_t*>(x.raw());
      auto* out = static_cast<uint8_t*>(cache->x_mem.get_data_handle());
      const int64_t n = static_cast<int64_t>(cache->x_md.get_size());
#pragma omp parallel for schedule(static) if (n >= (int64_t{1} << 18))
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] ^ 0x80;
    } else {
      cache->x_mem.set_data_handle(const_cast<void*>(x.raw()));
    }
    if (cache->src_mem) reorder_into(cache->x_mem, cache->src_mem);
    const bool plain = cache->plain_out;
    Tensor y = plain ? Tensor::uninitialized(cache->y_type, cache->out_shape)
                     : Tensor::with_layout(cache->y_type, cache->out_shape, cache->dst_layout);
    cache->dst_mem.set_data_handle(y.raw());
    if (c.has(kSum)) {  // the sum post-op adds what dst holds: the summand in the output's layout
      const Tensor& z = c.in(kSum);
      copy_into(z, desc_of(z), cache->dst_mem);
    }
    cache->prim.execute(ctx.stream, cache->args);
    ctx.stream.wait();
    c.outputs[0] = plain || c.allow_layout_output ? std::move(y) : to_plain(y);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

// Without VNNI: which kernel a node takes, decided once from its constant weights; each kernel
// keeps its own cache.
struct Route {
  bool pairs_fit = false;  // qdq::pairs_fit_int16 over input-channel pairs of each position
  std::shared_ptr<void> int8, f32;
};

bool fast(KernelContext& c) {
  // Parameters and weights are cached with the primitive: graph constants (the rewrite only fuses
  // those) or a one-off run (no cache).
  if (c.has(kSum) && c.in(kSum).dtype() != DType::kFloat) return false;
  for (int i : {kXScale, kXZp, kW, kWScale, kBias, kYScale, kYZp})
    if (c.has(i) && ((c.state && !c.is_constant(i)) || c.in(i).layout())) return false;
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  if (has_vnni()) return fast_int8(c, slot, false);
  auto* route = static_cast<Route*>(slot.get());
  if (!route) {
    auto fresh = std::make_shared<Route>();
    const Tensor& w = c.in(kW);
    if (w.dtype() == DType::kInt8 && w.rank() >= 3 && w.dim(0) > 0) {
      const int64_t per_m = w.numel() / w.dim(0);
      fresh->pairs_fit = qdq::pairs_fit_int16(w.data<int8_t>(), w.dim(0), w.dim(1), per_m / std::max<int64_t>(w.dim(1), 1));
    }
    slot = fresh;
    route = fresh.get();
  }
  if (route->pairs_fit && fast_int8(c, route->int8, true)) return true;
  return fast_exact_f32(c, route->f32);
}

}  // namespace

void register_qdq_conv_ops(OpRegistry& r) {
  r.add("qtool", "QDQConv", {1}, OpDef{reference, fast, validate, /*layout_aware=*/true, /*foldable=*/true});
}

}  // namespace qtool
