// Conv (1-3 spatial dims, grouped and depthwise) through oneDNN convolution_forward.
// ONNX Conv-11 semantics: pads [x1_begin, x2_begin, ..., x1_end, ...], dilations, strides, group,
// auto_pad NOTSET | SAME_UPPER | SAME_LOWER | VALID.
#include "runtime/dnnl_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

struct ConvCache {
  Shape x_shape;
  dnnl::memory::desc x_md;                  // layout of the input this primitive was made for
  dnnl::memory::desc dst_md, w_md;          // plain layouts of output and weights
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  dnnl::memory src_mem;                     // input reordered to the primitive's layout (if needed)
  dnnl::memory w_mem;                       // weights in the primitive's layout
  const void* w_src = nullptr;              // constant weight buffer w_mem was made from
};

void conv(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  if (x.dtype() != DType::kFloat || w.dtype() != DType::kFloat) c.fail("expects float32 input and weight");
  const int sp = x.rank() - 2;
  if (sp < 1 || sp > 3 || w.rank() != x.rank()) c.fail("unsupported input rank " + std::to_string(x.rank()));
  const int64_t group = attr_int(c.node, "group", 1);
  const int64_t n = x.dim(0), cin = x.dim(1), cout = w.dim(0);
  if (w.dim(1) * group != cin)
    c.fail("weight " + shape_str(w.shape()) + " with group " + std::to_string(group) + " does not match input " +
           shape_str(x.shape()));
  auto strides = attr_ints(c.node, "strides", std::vector<int64_t>(sp, 1));
  auto dil = attr_ints(c.node, "dilations", std::vector<int64_t>(sp, 1));
  auto pads = attr_ints(c.node, "pads", std::vector<int64_t>(2 * sp, 0));
  const std::string auto_pad = attr_string(c.node, "auto_pad", "NOTSET");
  Shape out_shape{n, cout};
  dnnl::memory::dims pl(sp), pr(sp), st(sp), dl(sp);
  for (int i = 0; i < sp; ++i) {
    const int64_t in = x.dim(2 + i), k = w.dim(2 + i), ek = (k - 1) * dil[i] + 1;
    int64_t b = pads[i], e = pads[i + sp];
    if (auto_pad == "VALID") b = e = 0;
    else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + ek - in);
      b = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      e = total - b;
    }
    out_shape.push_back((in + b + e - ek) / strides[i] + 1);
    pl[i] = b; pr[i] = e; st[i] = strides[i]; dl[i] = dil[i] - 1;
  }
  Shape wdims = w.shape();
  if (group > 1) {
    wdims = {group, cout / group};
    for (int i = 1; i < w.rank(); ++i) wdims.push_back(w.dim(i));
  }
  // One primitive per (input shape, input layout). When the input arrives in a blocked layout or
  // the output may leave in one (every reader is a convolution), oneDNN picks the layouts
  // (format_tag::any): its blocked jit kernels are several times faster, and chains of
  // convolutions then pass blocked tensors without reorders. Otherwise the primitive reads and
  // writes plain NCHW, which avoids two reorders around a single convolution.
  auto& ctx = DnnlContext::get();
  const dnnl::memory::desc x_md = desc_of(x);
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<ConvCache*>(slot.get());
  if (!cache || cache->x_shape != x.shape() || cache->x_md != x_md) {
    auto fresh = std::make_shared<ConvCache>();
    fresh->x_shape = x.shape();
    fresh->x_md = x_md;
    fresh->dst_md = plain_desc(out_shape);
    fresh->w_md = plain_desc(wdims);
    auto any = [](const Shape& s) {
      return dnnl::memory::desc(dnnl::memory::dims(s.begin(), s.end()), dnnl::memory::data_type::f32,
                                dnnl::memory::format_tag::any);
    };
    const bool blocked = x.layout() != nullptr || c.allow_layout_output;
    auto b_md = c.has(2) ? plain_desc({cout}) : dnnl::memory::desc();
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                       blocked ? any(x.shape()) : x_md, any(wdims), b_md,
                                       blocked ? any(out_shape) : fresh->dst_md, st, dl, pl, pr);
    dnnl::primitive_attr attr;
    if (c.activation.kind != FusedActivation::kNone) {
      dnnl::post_ops ops;
      switch (c.activation.kind) {
        case FusedActivation::kRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
        case FusedActivation::kLeakyRelu:
          ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, c.activation.alpha, 0.f);
          break;
        case FusedActivation::kClip:
          ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, c.activation.alpha, c.activation.beta);
          break;
        default: break;
      }
      attr.set_post_ops(ops);
    }
    fresh->pd = dnnl::convolution_forward::primitive_desc(d, attr, ctx.engine);
    fresh->prim = dnnl::convolution_forward(fresh->pd);
    if (fresh->pd.src_desc() != x_md) fresh->src_mem = dnnl::memory(fresh->pd.src_desc(), ctx.engine);
    slot = fresh;
    cache = fresh.get();
  }
  // Weights in the primitive's layout: reused while the (constant) weight buffer is the same.
  if (!c.is_constant(1) || cache->w_src != w.raw()) {
    if (cache->pd.weights_desc() != cache->w_md) {
      cache->w_mem = dnnl::memory(cache->pd.weights_desc(), ctx.engine);
      dnnl::memory plain_w = wrap(cache->w_md, w);
      dnnl::reorder(plain_w, cache->w_mem).execute(ctx.stream, plain_w, cache->w_mem);
    } else {
      cache->w_mem = wrap(cache->w_md, w);
    }
    cache->w_src = c.is_constant(1) ? w.raw() : nullptr;
  }
  dnnl::memory src = wrap(x_md, x);
  if (cache->src_mem) dnnl::reorder(src, cache->src_mem).execute(ctx.stream, src, cache->src_mem);
  const auto dst_md = cache->pd.dst_desc();
  const bool keep_layout = dst_md != cache->dst_md && c.allow_layout_output;
  Tensor y = dst_md == cache->dst_md ? Tensor::uninitialized(DType::kFloat, out_shape)
                                     : make_dnnl_tensor(out_shape, dst_md);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cache->src_mem ? cache->src_mem : src},
                                             {DNNL_ARG_WEIGHTS, cache->w_mem},
                                             {DNNL_ARG_DST, wrap(dst_md, y)}};
  Tensor bias;
  if (c.has(2)) {
    bias = c.in(2);
    if (bias.dtype() != DType::kFloat || bias.numel() != cout)
      c.fail("bias must be float32 with " + std::to_string(cout) + " values");
    args[DNNL_ARG_BIAS] = wrap(plain_desc({cout}), bias);
  }
  cache->prim.execute(ctx.stream, args);
  ctx.stream.wait();
  c.outputs[0] = dst_md == cache->dst_md || keep_layout ? std::move(y) : to_plain(y);
}

}  // namespace

void register_conv_ops(OpRegistry& r) { r.add("", "Conv", {1, 11, 22}, OpDef{conv, nullptr, nullptr, true}); }

}  // namespace qtool
