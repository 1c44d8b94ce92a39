// SPDX-License-Identifier: Apache-2.0
// ConvTranspose (1, 11, 22) and Col2Im (18): the scatter ("transposed") side of convolution.
// ConvTranspose follows the ONNX spec: output extent (in - 1) * stride + output_padding +
// ((k - 1) * dilation + 1) - pads; an explicit output_shape (or auto_pad SAME_*, which asks for
// in * stride) derives the pads from total = max(0, (in - 1) * stride + output_padding + ek - out),
// split with the larger half at the end for SAME_UPPER and at the beginning otherwise (onnxruntime's
// rule for every version; ConvTranspose-1's text had the halves swapped). W is [C, M/group, k...].
//   reference: scatter loops over float32/64, float16, bfloat16 (accumulating in double).
//   fast:      float32 with 1-3 spatial axes through oneDNN deconvolution_forward (cached primitive,
//              weights reordered once, blocked layouts between layout-aware readers).
// Col2Im (PyTorch's fold, onnx/reference/ops/op_col2im.py): N-d, every dtype but string.
#include <complex>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/conv_pool_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

struct DeconvGeom {
  bool known = false;
  SpatialAttrs a;
  std::vector<Axis> axes;  // in = input extent, out = output extent, pads as applied
  int64_t group = 1, n = 0, cin = 0, cout = 0;
  Shape out_shape;
};

DeconvGeom deconv_checked(const KernelContext& c) {
  DeconvGeom g;
  g.group = attr_int(c.node, "group", 1);
  if (g.group <= 0) c.fail("attribute 'group': must be positive, got " + std::to_string(g.group));
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  const Tensor* w = c.has(1) ? &c.in(1) : nullptr;
  for (int i : {0, 1, 2})
    if (c.has(i) && !dispatch<FloatTypes>(c.in(i).dtype(), [](auto) {})) c.fail_dtype(i, c.in(i).dtype());
  if (x && w && x->dtype() != w->dtype())
    c.fail("input W has type " + dtype_name(w->dtype()) + ", X has " + dtype_name(x->dtype()));
  if (x && c.has(2) && c.in(2).dtype() != x->dtype())
    c.fail("input B has type " + dtype_name(c.in(2).dtype()) + ", X has " + dtype_name(x->dtype()));
  if (x && x->rank() < 3) c.fail("input X must have rank >= 3 (N x C x D1 ...), got " + shape_str(x->shape()));
  if (w && w->rank() < 3) c.fail("input W must have rank >= 3 (C x M/group x k1 ...), got " + shape_str(w->shape()));
  if (x && w && x->rank() != w->rank())
    c.fail("input W " + shape_str(w->shape()) + " must have the rank of X " + shape_str(x->shape()));
  const int sp = x ? x->rank() - 2 : (w ? w->rank() - 2 : -1);
  std::vector<int64_t> wk;
  if (w) wk = weight_kernel(*w);
  g.a = read_spatial_attrs(c, sp, w ? &wk : nullptr, SpatialOptions{});
  if (sp < 0) return g;
  auto out_pad = attr_ints(c.node, "output_padding", std::vector<int64_t>(sp, 0));
  if (static_cast<int>(out_pad.size()) != sp)
    c.fail("attribute 'output_padding': " + ints_str(out_pad) + " has " + std::to_string(out_pad.size()) +
           " values, the input has " + std::to_string(sp) + " spatial axes");
  for (int i = 0; i < sp; ++i)
    if (out_pad[i] < 0 || out_pad[i] >= std::max(g.a.strides[i], g.a.dilations[i]))
      c.fail("attribute 'output_padding': " + ints_str(out_pad) + " must be >= 0 and less than max(stride, dilation) " +
             "along each axis (strides " + ints_str(g.a.strides) + ", dilations " + ints_str(g.a.dilations) + ")");
  auto out_attr = attr_ints(c.node, "output_shape");
  const bool has_out = find_attr(c.node, "output_shape") != nullptr;
  if (has_out) {
    if (static_cast<int>(out_attr.size()) == sp + 2) out_attr.erase(out_attr.begin(), out_attr.begin() + 2);
    if (static_cast<int>(out_attr.size()) != sp)
      c.fail("attribute 'output_shape': " + ints_str(attr_ints(c.node, "output_shape")) + " must have " +
             std::to_string(sp) + " values (the spatial extents)");
    for (auto v : out_attr)
      if (v <= 0) c.fail("attribute 'output_shape': extents must be positive, got " + ints_str(out_attr));
  }
  if (w) {
    g.cout = w->dim(1) * g.group;
    if (x && w->dim(0) != x->dim(1))
      c.fail("input W " + shape_str(w->shape()) + " must have X's " + std::to_string(x->dim(1)) +
             " input channels in its first axis");
    check_channel_vector(c, 2, g.cout, "B");
  }
  if (x && x->dim(1) % g.group != 0)
    c.fail("attribute 'group': " + std::to_string(g.group) + " does not divide X's " + std::to_string(x->dim(1)) +
           " channels");
  if (!x || !w) return g;
  g.n = x->dim(0);
  g.cin = x->dim(1);
  g.axes.resize(sp);
  g.out_shape = {g.n, g.cout};
  for (int i = 0; i < sp; ++i) {
    Axis& ax = g.axes[i];
    ax.in = x->dim(2 + i);
    ax.k = g.a.kernel[i];
    ax.stride = g.a.strides[i];
    ax.dil = g.a.dilations[i];
    const int64_t natural =  // before pads
        checked_mul(c, ax.in - 1, ax.stride, "attribute 'strides': the output extent") + out_pad[i] + ax.ek();
    const bool same = g.a.auto_pad == AutoPad::kSameUpper || g.a.auto_pad == AutoPad::kSameLower;
    if (has_out || same) {
      const int64_t target = has_out ? out_attr[i] : checked_mul(c, ax.in, ax.stride, "attribute 'strides': the output extent");
      const int64_t total = std::max<int64_t>(0, natural - target);
      ax.pad_b = g.a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      ax.pad_e = total - ax.pad_b;
      ax.out = has_out ? target : natural - total;
    } else {
      if (g.a.auto_pad != AutoPad::kValid) {
        ax.pad_b = g.a.pads[i];
        ax.pad_e = g.a.pads[i + sp];
      }
      ax.out = natural - ax.pad_b - ax.pad_e;
    }
    if (ax.out <= 0)
      c.fail("attribute 'pads': " + ints_str(g.a.pads) + " leave an output extent of " + std::to_string(ax.out) +
             " along spatial axis " + std::to_string(i));
    g.out_shape.push_back(ax.out);
  }
  shape_numel(g.out_shape);
  g.known = true;
  return g;
}

void validate_conv_transpose(KernelContext& c) { deconv_checked(c); }

// The scatter as a window iteration: each input position is a "window" over the output.
WindowIter scatter_iter(const std::vector<Axis>& axes) {
  std::vector<Axis> s(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    s[i] = axes[i];
    s[i].in = axes[i].out;
    s[i].out = axes[i].in;
  }
  return WindowIter(std::move(s));
}

template <typename T>
void conv_transpose_typed(const Tensor& x, const Tensor& w, const Tensor* b, const DeconvGeom& g, Tensor& y) {
  const WindowIter it = scatter_iter(g.axes);
  const int64_t x_sp = it.out_size(), y_sp = it.in_size(), k_sp = it.kernel_size();
  const int64_t cin_g = g.cin / g.group, cout_g = g.cout / g.group;
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  T* py = y.data<T>();
  std::vector<double> acc(static_cast<size_t>(y_sp));
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.group; ++grp)
      for (int64_t o = 0; o < cout_g; ++o) {
        const int64_t oc = grp * cout_g + o;
        std::fill(acc.begin(), acc.end(), b ? static_cast<double>(to_compute(b->data<T>()[oc])) : 0.0);
        for (int64_t ic = 0; ic < cin_g; ++ic) {
          const int64_t c_in = grp * cin_g + ic;
          const T* xb = px + (n * g.cin + c_in) * x_sp;
          const T* wb = pw + (c_in * cout_g + o) * k_sp;
          it.for_each_output([&](int64_t i, const int64_t* coord) {
            const double xv = static_cast<double>(to_compute(xb[i]));
            it.for_each_tap(coord, [&](int64_t yo, int64_t ko) { acc[yo] += xv * static_cast<double>(to_compute(wb[ko])); });
          });
        }
        T* yb = py + (n * g.cout + oc) * y_sp;
        for (int64_t i = 0; i < y_sp; ++i) yb[i] = from_compute<T>(static_cast<Compute<T>>(acc[i]));
      }
}

void conv_transpose(KernelContext& c) {
  const DeconvGeom g = deconv_checked(c);
  const Tensor x = to_plain(c.in(0)), w = to_plain(c.in(1));
  const Tensor b = c.has(2) ? to_plain(c.in(2)) : Tensor();
  Tensor y = Tensor::uninitialized(x.dtype(), g.out_shape);
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_transpose_typed<T>(x, w, b.empty() ? nullptr : &b, g, y);
  });
  c.outputs[0] = std::move(y);
}

// ---- oneDNN deconvolution ----

struct DeconvCache {
  Shape x_shape;
  dnnl::memory::desc x_md, dst_md;
  dnnl::deconvolution_forward::primitive_desc pd;
  dnnl::deconvolution_forward prim;
  dnnl::memory src_mem, w_mem;
  const void* w_src = nullptr;
  bool unsupported = false;
};

bool conv_transpose_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  if (x.dtype() != DType::kFloat || w.dtype() != DType::kFloat) return false;
  if (w.layout() || (c.has(2) && c.in(2).layout())) return false;  // only X may arrive blocked
  const DeconvGeom g = deconv_checked(c);
  const int sp = x.rank() - 2;
  if (sp < 1 || sp > 3 || x.numel() == 0 || w.numel() == 0 || shape_numel(g.out_shape) == 0) return false;
  dnnl::memory::dims pl(sp), pr(sp), st(sp), dl(sp);
  for (int i = 0; i < sp; ++i) {
    const Axis& a = g.axes[i];
    pl[i] = a.pad_b;
    pr[i] = (a.in - 1) * a.stride + a.ek() - a.pad_b - a.out;  // negative when output_padding adds rows
    if (pr[i] < 0) return false;  // oneDNN wants the output covered by the scatter
    st[i] = a.stride;
    dl[i] = a.dil - 1;
  }
  // W [G * ICg, OCg, k...] as oneDNN's {G, OCg, ICg, k...} (or {OC, IC, k...}) with strides
  const int64_t icg = g.cin / g.group, ocg = g.cout / g.group, k_sp = w.numel() / std::max<int64_t>(1, g.cin * ocg);
  dnnl::memory::dims wd, ws;
  if (g.group > 1) wd = {g.group, ocg, icg}, ws = {icg * ocg * k_sp, k_sp, ocg * k_sp};
  else wd = {ocg, icg}, ws = {k_sp, ocg * k_sp};
  {
    int64_t s = 1;
    dnnl::memory::dims ks(sp);
    for (int i = sp - 1; i >= 0; --i) {
      ks[i] = s;
      s *= w.dim(2 + i);
    }
    for (int i = 0; i < sp; ++i) {
      wd.push_back(w.dim(2 + i));
      ws.push_back(ks[i]);
    }
  }
  auto& ctx = DnnlContext::get();
  try {
    const dnnl::memory::desc x_md = desc_of(x);
    std::shared_ptr<void> local;
    auto& slot = c.state ? *c.state : local;
    auto* cache = static_cast<DeconvCache*>(slot.get());
    if (cache && cache->unsupported && cache->x_shape == x.shape() && cache->x_md == x_md) return false;
    const dnnl::memory::desc w_plain(wd, dnnl::memory::data_type::f32, ws);
    if (!cache || cache->x_shape != x.shape() || cache->x_md != x_md) {
      auto fresh = std::make_shared<DeconvCache>();
      fresh->x_shape = x.shape();
      fresh->x_md = x_md;
      fresh->unsupported = true;
      slot = fresh;
      fresh->dst_md = plain_desc(g.out_shape);
      auto any = [](const dnnl::memory::dims& d) {
        return dnnl::memory::desc(d, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
      };
      const bool blocked = x.layout() != nullptr || c.allow_layout_output;
      auto b_md = c.has(2) ? plain_desc({g.cout}) : dnnl::memory::desc();
      dnnl::deconvolution_forward::desc d(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
          blocked ? any(dnnl::memory::dims(x.shape().begin(), x.shape().end())) : x_md, any(wd), b_md,
          blocked ? any(dnnl::memory::dims(g.out_shape.begin(), g.out_shape.end())) : fresh->dst_md, st, dl, pl, pr);
      fresh->pd = dnnl::deconvolution_forward::primitive_desc(d, ctx.engine);
      fresh->prim = dnnl::deconvolution_forward(fresh->pd);
      if (fresh->pd.src_desc() != x_md) fresh->src_mem = dnnl::memory(fresh->pd.src_desc(), ctx.engine);
      fresh->unsupported = false;
      cache = fresh.get();
    }
    if (!c.is_constant(1) || cache->w_src != w.raw()) {
      cache->w_mem = dnnl::memory(cache->pd.weights_desc(), ctx.engine);
      dnnl::memory plain_w = wrap(w_plain, w);
      dnnl::reorder(plain_w, cache->w_mem).execute(ctx.stream, plain_w, cache->w_mem);
      cache->w_src = c.is_constant(1) ? w.raw() : nullptr;
    }
    dnnl::memory src = wrap(x_md, x);
    if (cache->src_mem) reorder_into(src, cache->src_mem);
    const auto dst_md = cache->pd.dst_desc();
    const bool plain_dst = dst_md == cache->dst_md;
    Tensor y = plain_dst ? Tensor::uninitialized(DType::kFloat, g.out_shape) : make_dnnl_tensor(g.out_shape, dst_md);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cache->src_mem ? cache->src_mem : src},
                                               {DNNL_ARG_WEIGHTS, cache->w_mem},
                                               {DNNL_ARG_DST, wrap(dst_md, y)}};
    if (c.has(2)) args[DNNL_ARG_BIAS] = wrap(plain_desc({g.cout}), c.in(2));
    cache->prim.execute(ctx.stream, args);
    ctx.stream.wait();
    c.outputs[0] = plain_dst || c.allow_layout_output ? std::move(y) : to_plain(y);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

// ---- Col2Im ----

struct Col2ImGeom {
  bool known = false;
  std::vector<Axis> axes;  // in = image extent, k = block extent, out = number of blocks
  int64_t n = 0, channels = 0;
  Shape out_shape;
};

Col2ImGeom col2im_checked(const KernelContext& c) {
  Col2ImGeom g;
  std::vector<int64_t> image, block;
  for (int i : {1, 2}) {
    if (!c.has(i)) continue;
    const Tensor& t = c.in(i);
    if (t.dtype() != DType::kInt64 || t.rank() != 1 || t.dim(0) < 1)
      c.fail(std::string("input ") + (i == 1 ? "image_shape" : "block_shape") +
             " must be a non-empty 1-D int64 tensor, got " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    (i == 1 ? image : block) = t.to_int64s();
  }
  if (!image.empty() && !block.empty() && image.size() != block.size())
    c.fail("inputs image_shape " + ints_str(image) + " and block_shape " + ints_str(block) + " differ in length");
  const int sp = !image.empty() ? static_cast<int>(image.size()) : (!block.empty() ? static_cast<int>(block.size()) : -1);
  for (auto v : block)
    if (v <= 0) c.fail("input block_shape: extents must be positive, got " + ints_str(block));
  for (auto v : image)
    if (v <= 0) c.fail("input image_shape: extents must be positive, got " + ints_str(image));
  SpatialOptions opt;
  opt.has_auto_pad = false;
  for (auto v : image) check_extent(c, v, "input image_shape: extent");
  const SpatialAttrs a = read_spatial_attrs(c, sp, block.empty() ? nullptr : &block, opt);
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  if (x) {
    if (x->dtype() == DType::kString) c.fail_dtype(0, x->dtype());
    if (x->rank() != 3) c.fail("input must have rank 3 [N, C * prod(block_shape), L], got " + shape_str(x->shape()));
  }
  if (!x || image.empty() || block.empty()) return g;
  int64_t k_sp = 1, blocks = 1;
  g.axes.resize(sp);
  for (int i = 0; i < sp; ++i) {
    Axis& ax = g.axes[i];
    ax.in = image[i];
    ax.k = block[i];
    ax.stride = a.strides[i];
    ax.dil = a.dilations[i];
    ax.pad_b = a.pads[i];
    ax.pad_e = a.pads[i + sp];
    const int64_t span = ax.in + ax.pad_b + ax.pad_e - ax.ek();
    if (span < 0)
      c.fail("input block_shape: the dilated block " + std::to_string(ax.ek()) + " exceeds the padded image extent " +
             std::to_string(ax.in + ax.pad_b + ax.pad_e) + " along axis " + std::to_string(i));
    ax.out = span / ax.stride + 1;
    if (k_sp > kMaxExtent / ax.k || blocks > kMaxExtent / ax.out) c.fail("input block_shape: too many blocks");
    k_sp = k_sp * ax.k;
    blocks = blocks * ax.out;
  }
  if (x->dim(1) % k_sp != 0)
    c.fail("input's axis 1 (" + std::to_string(x->dim(1)) + ") must be a multiple of prod(block_shape) = " +
           std::to_string(k_sp));
  if (x->dim(2) != blocks)
    c.fail("input's axis 2 (" + std::to_string(x->dim(2)) + ") must equal the number of blocks " +
           std::to_string(blocks) + " that image_shape " + ints_str(image) + ", block_shape " + ints_str(block) +
           ", pads, strides and dilations give");
  g.n = x->dim(0);
  g.channels = x->dim(1) / k_sp;
  g.out_shape = {g.n, g.channels};
  for (auto v : image) g.out_shape.push_back(v);
  shape_numel(g.out_shape);
  g.known = true;
  return g;
}

void validate_col2im(KernelContext& c) { col2im_checked(c); }

template <typename T>
void col2im_typed(const Tensor& x, const Col2ImGeom& g, Tensor& y) {
  const WindowIter it(g.axes);
  const int64_t img = it.in_size(), k_sp = it.kernel_size(), blocks = it.out_size();
  const T* px = x.data<T>();
  T* py = y.data<T>();
  // accumulator: double for floats, modular uint64 for integers, OR for bool, complex<double>
  using Acc = std::conditional_t<
      std::is_same_v<T, bool>, bool,
      std::conditional_t<std::is_same_v<T, Complex64> || std::is_same_v<T, Complex128>, std::complex<double>,
                         std::conditional_t<std::is_integral_v<T>, uint64_t, double>>>;
  std::vector<Acc> acc(static_cast<size_t>(img));
  for (int64_t nc = 0; nc < g.n * g.channels; ++nc) {
    std::fill(acc.begin(), acc.end(), Acc{});
    const T* xb = px + nc * k_sp * blocks;
    it.for_each_output([&](int64_t l, const int64_t* coord) {
      it.for_each_tap(coord, [&](int64_t io, int64_t ko) {
        const T v = xb[ko * blocks + l];
        if constexpr (std::is_same_v<T, bool>) acc[io] = acc[io] || v;
        else if constexpr (std::is_same_v<Acc, std::complex<double>>) acc[io] += std::complex<double>(v.re, v.im);
        else if constexpr (std::is_integral_v<T>) acc[io] += static_cast<uint64_t>(static_cast<int64_t>(v));
        else acc[io] += static_cast<double>(to_compute(v));
      });
    });
    T* yb = py + nc * img;
    for (int64_t i = 0; i < img; ++i) {
      if constexpr (std::is_same_v<T, bool>) yb[i] = acc[i];
      else if constexpr (std::is_same_v<Acc, std::complex<double>>) {
        yb[i].re = static_cast<decltype(yb[i].re)>(acc[i].real());
        yb[i].im = static_cast<decltype(yb[i].im)>(acc[i].imag());
      } else if constexpr (std::is_integral_v<T>) yb[i] = static_cast<T>(acc[i]);
      else yb[i] = from_compute<T>(static_cast<Compute<T>>(acc[i]));
    }
  }
}

void col2im(KernelContext& c) {
  const Col2ImGeom g = col2im_checked(c);
  if (!g.known) c.fail("inputs image_shape and block_shape are required");
  const Tensor& x = c.in(0);
  Tensor y = Tensor::uninitialized(x.dtype(), g.out_shape);
  using Col2ImTypes = decltype(NumericTypes{} + TypeList<bool, Complex64, Complex128>{});
  c.dispatch_or_fail<Col2ImTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    col2im_typed<T>(x, g, y);
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_conv_transpose_ops(OpRegistry& r) {
  r.add("", "ConvTranspose", {1, 11, 22}, OpDef{conv_transpose, conv_transpose_fast, validate_conv_transpose, true});
  r.add("", "Col2Im", {18}, OpDef{col2im, nullptr, validate_col2im});
}

}  // namespace qtool
