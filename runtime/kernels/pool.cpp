// MaxPool / AveragePool through oneDNN pooling (ceil_mode, dilations, count_include_pad, auto_pad);
// GlobalAveragePool / GlobalMaxPool as plain loops.
#include <cmath>

#include "runtime/dnnl_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

void pool(KernelContext& c, bool is_max) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat) c.fail("expects float32 input");
  if (c.outputs.size() > 1 && !c.node.output(1).empty()) c.fail("the Indices output is not supported");
  const int sp = x.rank() - 2;
  if (sp < 1 || sp > 3) c.fail("unsupported input rank " + std::to_string(x.rank()));
  auto kernel = attr_ints(c.node, "kernel_shape");
  if (static_cast<int>(kernel.size()) != sp) c.fail("kernel_shape must have " + std::to_string(sp) + " values");
  auto strides = attr_ints(c.node, "strides", std::vector<int64_t>(sp, 1));
  auto dil = attr_ints(c.node, "dilations", std::vector<int64_t>(sp, 1));
  auto pads = attr_ints(c.node, "pads", std::vector<int64_t>(2 * sp, 0));
  const bool ceil_mode = attr_int(c.node, "ceil_mode", 0);
  const bool include_pad = attr_int(c.node, "count_include_pad", 0);
  const std::string auto_pad = attr_string(c.node, "auto_pad", "NOTSET");
  Shape out_shape{x.dim(0), x.dim(1)};
  dnnl::memory::dims pl(sp), pr(sp), st(sp), dl(sp), ks(kernel.begin(), kernel.end());
  for (int i = 0; i < sp; ++i) {
    const int64_t in = x.dim(2 + i), ek = (kernel[i] - 1) * dil[i] + 1;
    int64_t b = pads[i], e = pads[i + sp], out;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out = (in + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + ek - in);
      b = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      e = total - b;
    } else {
      if (auto_pad == "VALID") b = e = 0;
      double q = static_cast<double>(in + b + e - ek) / strides[i];
      out = static_cast<int64_t>(ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
      if (ceil_mode && (out - 1) * strides[i] >= in + b) --out;  // last window must start inside
    }
    // oneDNN needs the right padding that makes its floor formula give `out`.
    e = (out - 1) * strides[i] + ek - in - b;
    out_shape.push_back(out);
    pl[i] = b; pr[i] = e; st[i] = strides[i]; dl[i] = dil[i] - 1;
  }
  Tensor y = Tensor::uninitialized(DType::kFloat, out_shape);
  auto& ctx = DnnlContext::get();
  auto src_md = plain_desc(x.shape()), dst_md = plain_desc(out_shape);
  auto algo = is_max ? dnnl::algorithm::pooling_max
                     : (include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                    : dnnl::algorithm::pooling_avg_exclude_padding);
  dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, algo, src_md, dst_md, st, ks, dl, pl, pr);
  dnnl::pooling_v2_forward::primitive_desc pd(d, ctx.engine);
  dnnl::pooling_v2_forward(pd).execute(ctx.stream, {{DNNL_ARG_SRC, wrap(src_md, x)}, {DNNL_ARG_DST, wrap(dst_md, y)}});
  ctx.stream.wait();
  c.outputs[0] = std::move(y);
}

void max_pool(KernelContext& c) { pool(c, true); }
void average_pool(KernelContext& c) { pool(c, false); }

void global_pool(KernelContext& c, bool is_max) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.rank() < 3) c.fail("expects a float32 N x C x ... input");
  Shape out_shape{x.dim(0), x.dim(1)};
  int64_t inner = 1;
  for (int i = 2; i < x.rank(); ++i) {
    out_shape.push_back(1);
    inner *= x.dim(i);
  }
  Tensor y = Tensor::uninitialized(DType::kFloat, out_shape);
  const float* p = x.data<float>();
  float* o = y.data<float>();
  for (int64_t nc = 0; nc < x.dim(0) * x.dim(1); ++nc) {
    const float* q = p + nc * inner;
    double acc = is_max ? -INFINITY : 0.0;
    for (int64_t i = 0; i < inner; ++i) acc = is_max ? std::max<double>(acc, q[i]) : acc + q[i];
    o[nc] = static_cast<float>(is_max ? acc : acc / inner);
  }
  c.outputs[0] = std::move(y);
}

void global_average_pool(KernelContext& c) { global_pool(c, false); }
void global_max_pool(KernelContext& c) { global_pool(c, true); }

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add("MaxPool", {1, 8, 10, 11, 12, 22}, max_pool);
  r.add("AveragePool", {7, 10, 11, 19, 22}, average_pool);
  r.add("GlobalAveragePool", {1, 22}, global_average_pool);
  r.add("GlobalMaxPool", {1, 22}, global_max_pool);
}

}  // namespace qtool
