// Conv (1-3 spatial dims, grouped and depthwise) through oneDNN convolution_forward.
// ONNX Conv-11 semantics: pads [x1_begin, x2_begin, ..., x1_end, ...], dilations, strides, group,
// auto_pad NOTSET | SAME_UPPER | SAME_LOWER | VALID.
#include "runtime/kernels/dnnl_util.h"
#include "runtime/op_registry.h"

namespace qtool {

DnnlContext& DnnlContext::get() {
  static DnnlContext ctx;
  return ctx;
}

dnnl::memory::desc plain_desc(const Shape& dims) {
  dnnl::memory::dims d(dims.begin(), dims.end()), strides(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = s;
    s *= dims[i];
  }
  return dnnl::memory::desc(d, dnnl::memory::data_type::f32, strides);
}

dnnl::memory wrap(const dnnl::memory::desc& d, const Tensor& t) {
  return dnnl::memory(d, DnnlContext::get().engine, const_cast<void*>(t.raw()));
}

namespace {

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
  Tensor y(DType::kFloat, out_shape);
  auto& ctx = DnnlContext::get();
  Shape wdims = w.shape();
  if (group > 1) {
    wdims = {group, cout / group};
    for (int i = 1; i < w.rank(); ++i) wdims.push_back(w.dim(i));
  }
  auto src_md = plain_desc(x.shape()), w_md = plain_desc(wdims), dst_md = plain_desc(out_shape);
  Tensor bias;
  if (c.has(2)) bias = c.in(2);
  auto b_md = c.has(2) ? plain_desc({cout}) : dnnl::memory::desc();
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
                                     w_md, b_md, dst_md, st, dl, pl, pr);
  dnnl::convolution_forward::primitive_desc pd(d, ctx.engine);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(src_md, x)},
                                             {DNNL_ARG_WEIGHTS, wrap(w_md, w)},
                                             {DNNL_ARG_DST, wrap(dst_md, y)}};
  if (c.has(2)) args[DNNL_ARG_BIAS] = wrap(b_md, bias);
  dnnl::convolution_forward(pd).execute(ctx.stream, args);
  ctx.stream.wait();
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_conv_ops(OpRegistry& r) { r.add("Conv", conv); }

}  // namespace qtool
