// SPDX-License-Identifier: Apache-2.0
// Conv (ai.onnx 1, 11, 22) and com.microsoft FusedConv (Conv + activation + optional sum input Z, as
// onnxruntime's ConvActivationFusion writes it). A Conv step may also carry an input 3 (Z) and an
// activation that runtime/fusion.cpp moved into it from a following Add and Relu / LeakyRelu / Clip:
// y = activation(conv(X, W) + B + Z), Z broadcast as Add does.
//   reference: direct N-d loops over float32/64, float16, bfloat16 (accumulating in double), groups,
//              strides, dilations, pads, auto_pad NOTSET | SAME_UPPER | SAME_LOWER | VALID
//              (ONNX Conv spec; onnx/reference/ops/op_conv.py).
//   fast:      float32 with 1-3 spatial axes through oneDNN convolution_forward: cached primitive,
//              weights reordered once, blocked layouts (nChw16c ...) between layout-aware readers,
//              activation (and Z) as oneDNN post-ops; kernel taps that only ever read padding cut
//              off (live_taps); float16 / bfloat16 through the same kernel on float32 copies.
//              Anything oneDNN refuses falls back to the reference.
#include <optional>
#include <unordered_map>

#include "core/parallel.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/conv_dnnl.h"
#include "runtime/kernels/conv_pool_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

// The activation applied to a convolution's output: the executor's fused one (Conv) or FusedConv's
// `activation` attribute.
struct ConvActivation {
  enum Kind { kNone, kRelu, kLeakyRelu, kClip, kTanh, kSigmoid, kHardSigmoid, kHardSwish, kSwish } kind = kNone;
  float alpha = 0.f, beta = 0.f;
};

ConvActivation activation_of(const KernelContext& c) {
  ConvActivation a;
  if (c.node.domain() != "com.microsoft") {
    switch (c.activation.kind) {
      case FusedActivation::kRelu: a.kind = ConvActivation::kRelu; break;
      case FusedActivation::kLeakyRelu: a.kind = ConvActivation::kLeakyRelu; break;
      case FusedActivation::kClip: a.kind = ConvActivation::kClip; break;
      case FusedActivation::kTanh: a.kind = ConvActivation::kTanh; break;
      case FusedActivation::kSigmoid: a.kind = ConvActivation::kSigmoid; break;
      case FusedActivation::kHardSigmoid: a.kind = ConvActivation::kHardSigmoid; break;
      case FusedActivation::kHardSwish: a.kind = ConvActivation::kHardSwish; break;
      case FusedActivation::kSwish: a.kind = ConvActivation::kSwish; break;
      default: break;
    }
    a.alpha = c.activation.alpha;
    a.beta = c.activation.beta;
    return a;
  }
  const std::string name = attr_string(c.node, "activation", "");
  const auto params = attr_floats(c.node, "activation_params");
  auto need = [&](size_t n) {
    if (params.size() != n)
      c.fail("attribute 'activation_params': activation " + name + " takes " + std::to_string(n) + " values, got " +
             std::to_string(params.size()));
  };
  if (name.empty() || name == "Identity") return a;
  if (name == "Relu") a.kind = ConvActivation::kRelu;
  else if (name == "Tanh") a.kind = ConvActivation::kTanh;
  else if (name == "Sigmoid") a.kind = ConvActivation::kSigmoid;
  else if (name == "LeakyRelu") {
    need(1);
    a.kind = ConvActivation::kLeakyRelu;
    a.alpha = params[0];
  } else if (name == "Clip") {
    need(2);
    a.kind = ConvActivation::kClip;
    a.alpha = params[0];
    a.beta = params[1];
  } else if (name == "HardSigmoid") {
    need(2);
    a.kind = ConvActivation::kHardSigmoid;
    a.alpha = params[0];
    a.beta = params[1];
  } else {
    c.fail("attribute 'activation': unsupported value '" + name +
           "' (Identity, Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid)");
  }
  return a;
}

inline double apply_activation(const ConvActivation& a, double v) {
  switch (a.kind) {
    case ConvActivation::kNone: return v;
    case ConvActivation::kRelu: return v > 0 ? v : 0.0;
    case ConvActivation::kLeakyRelu: return v >= 0 ? v : v * a.alpha;
    case ConvActivation::kClip: return std::min<double>(std::max<double>(v, a.alpha), a.beta);
    case ConvActivation::kTanh: return std::tanh(v);
    case ConvActivation::kSigmoid: return 1.0 / (1.0 + std::exp(-v));
    case ConvActivation::kHardSigmoid: return std::min(1.0, std::max(0.0, a.alpha * v + a.beta));
    case ConvActivation::kHardSwish: return v * std::min(1.0, std::max(0.0, v / 6.0 + 0.5));
    case ConvActivation::kSwish: return v / (1.0 + std::exp(-static_cast<double>(a.alpha) * v));
  }
  return v;
}

// Multidirectional (numpy) broadcast of the convolution output and Z: the shape of their sum.
Shape sum_shape(const KernelContext& c, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape s(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t x = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const int64_t y = i + b.size() >= r ? b[i + b.size() - r] : 1;
    if (x != y && x != 1 && y != 1)
      c.fail("input Z " + shape_str(b) + " does not broadcast with the convolution output " + shape_str(a));
    s[i] = x == 1 ? y : x;
  }
  return s;
}

// Checks attributes and known inputs of Conv / FusedConv (X, W, B, and Z).
ConvGeom conv_checked(const KernelContext& c) {
  ConvGeom g = conv_geom(c, 0, 1);
  for (int i : {0, 1, 2, 3})
    if (c.has(i) && !dtype_is_float(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(1) && c.in(0).dtype() != c.in(1).dtype())
    c.fail("input W has type " + dtype_name(c.in(1).dtype()) + ", X has " + dtype_name(c.in(0).dtype()));
  check_channel_vector(c, 2, c.has(1) ? g.cout : -1, "B");
  if (c.has(2) && c.has(0) && c.in(2).dtype() != c.in(0).dtype())
    c.fail("input B has type " + dtype_name(c.in(2).dtype()) + ", X has " + dtype_name(c.in(0).dtype()));
  if (c.node.domain() == "com.microsoft") activation_of(c);
  if (c.has(3)) {  // FusedConv's Z, or the other summand of an Add the executor fused into a Conv
    const Tensor& z = c.in(3);
    if (c.has(0) && z.dtype() != c.in(0).dtype())
      c.fail("input Z has type " + dtype_name(z.dtype()) + ", X has " + dtype_name(c.in(0).dtype()));
    if (g.known && c.node.domain() == "com.microsoft" && z.shape() != g.out_shape)
      c.fail("input Z " + shape_str(z.shape()) + " must have the output shape " + shape_str(g.out_shape));
    if (g.known) sum_shape(c, g.out_shape, z.shape());
  }
  return g;
}

void validate_conv(KernelContext& c) { conv_checked(c); }

// y = act(conv + b + z), z (when given) of y's shape.
template <typename T>
void conv_reference_typed(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor* z, const ConvGeom& g,
                          const ConvActivation& act, Tensor& y) {
  const WindowIter it(g.axes);
  const int64_t in_sp = it.in_size(), out_sp = it.out_size(), k_sp = it.kernel_size();
  const int64_t cin_g = g.cin / g.group, cout_g = g.group ? g.cout / g.group : 0;
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  const T* pb = b ? b->data<T>() : nullptr;
  const T* pz = z ? z->data<T>() : nullptr;
  T* py = y.data<T>();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.cout; ++oc) {
      const int64_t grp = oc / cout_g;
      const T* xb = px + (n * g.cin + grp * cin_g) * in_sp;
      const T* wb = pw + oc * cin_g * k_sp;
      const double bias = pb ? static_cast<double>(to_compute(pb[oc])) : 0.0;
      const int64_t ybase = (n * g.cout + oc) * out_sp;
      it.for_each_output([&](int64_t o, const int64_t* coord) {
        double acc = 0.0;
        it.for_each_tap(coord, [&](int64_t io, int64_t ko) {
          for (int64_t ic = 0; ic < cin_g; ++ic)
            acc += static_cast<double>(to_compute(xb[ic * in_sp + io])) *
                   static_cast<double>(to_compute(wb[ic * k_sp + ko]));
        });
        acc += bias;
        if (pz) acc += static_cast<double>(to_compute(pz[ybase + o]));
        py[ybase + o] = from_compute<T>(static_cast<Compute<T>>(apply_activation(act, acc)));
      });
    }
}

// Row-major offsets into `from` for every element of `to` (numpy broadcasting, to >= from).
std::vector<int64_t> broadcast_offsets(const Shape& from, const Shape& to) {
  const size_t r = to.size();
  std::vector<int64_t> stride(r, 0);
  int64_t s = 1;
  for (size_t i = from.size(); i-- > 0;) {
    const size_t d = i + r - from.size();
    stride[d] = from[i] == 1 ? 0 : s;
    s *= from[i];
  }
  std::vector<int64_t> off(static_cast<size_t>(shape_numel(to)));
  std::vector<int64_t> coord(r, 0);
  int64_t cur = 0;
  for (size_t k = 0; k < off.size(); ++k) {
    off[k] = cur;
    for (size_t d = r; d-- > 0;) {
      cur += stride[d];
      if (++coord[d] < to[d]) break;
      cur -= stride[d] * to[d];
      coord[d] = 0;
    }
  }
  return off;
}

template <typename T>
void add_broadcast_activate(const Tensor& a, const Tensor& z, const ConvActivation& act, Tensor& y) {
  const auto ia = broadcast_offsets(a.shape(), y.shape()), iz = broadcast_offsets(z.shape(), y.shape());
  const T* pa = a.data<T>();
  const T* pz = z.data<T>();
  T* py = y.data<T>();
  for (size_t k = 0; k < ia.size(); ++k)
    py[k] = from_compute<T>(static_cast<Compute<T>>(
        apply_activation(act, static_cast<double>(to_compute(pa[ia[k]])) + static_cast<double>(to_compute(pz[iz[k]])))));
}

void conv_reference(KernelContext& c) {
  const ConvGeom g = conv_checked(c);
  // a layout-aware kernel may receive blocked tensors: the loops read plain ones
  const Tensor x = to_plain(c.in(0)), w = to_plain(c.in(1));
  const Tensor b = c.has(2) ? to_plain(c.in(2)) : Tensor();
  const Tensor z = c.has(3) ? to_plain(c.in(3)) : Tensor();
  const ConvActivation act = activation_of(c);
  const bool direct = z.empty() || z.shape() == g.out_shape;
  Tensor y = Tensor::uninitialized(x.dtype(), g.out_shape);
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (direct) {
      conv_reference_typed<T>(x, w, b.empty() ? nullptr : &b, z.empty() ? nullptr : &z, g, act, y);
      return;
    }
    conv_reference_typed<T>(x, w, b.empty() ? nullptr : &b, nullptr, g, ConvActivation{}, y);
    Tensor sum = Tensor::uninitialized(x.dtype(), sum_shape(c, g.out_shape, z.shape()));
    add_broadcast_activate<T>(y, z, act, sum);
    y = std::move(sum);
  });
  c.outputs[0] = std::move(y);
}

// ---- oneDNN fast path ----

struct ConvCache {
  // what the primitive was made for: input shape and layout, the other inputs' shapes
  Shape x_shape, w_shape, b_shape, z_shape;
  bool has_b = false, has_z = false;
  std::shared_ptr<const Layout> x_layout;   // the input's layout object (identity: no descriptor compare)
  dnnl::memory::desc x_md;                  // layout of the input this primitive was made for
  dnnl::memory::desc dst_md, w_md;          // plain layouts of output and weights
  ConvGeom g;                               // checked geometry (conv_checked) for these shapes
  double work = 0;                          // floating-point operations per run (SerialScope)
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  dnnl::memory src_mem;                     // input reordered to the primitive's layout (if needed)
  dnnl::reorder src_reorder;                // x -> src_mem
  dnnl::memory x_mem, b_mem, dst_mem;       // the run's buffers, rebound with set_data_handle
  bool plain_dst = true;
  std::shared_ptr<const Layout> dst_layout;  // the primitive's output layout, shared by every run's output
  std::unordered_map<int, dnnl::memory> args;
  dnnl::memory w_mem;                       // weights in the primitive's layout
  const void* w_src = nullptr;              // constant weight buffer w_mem was made from
  std::optional<Tensor> w_cut;              // weights the primitive takes instead of W: the live taps
                                            // only (live_taps), or block_diagonal's dense form
  bool unsupported = false;                 // oneDNN refused this configuration: use the reference

  // This entry serves input x (and the node's other inputs) as they are now.
  bool made_for(const KernelContext& c, const Tensor& x) {
    if (unsupported || x.shape() != x_shape || c.in(1).shape() != w_shape || c.has(2) != has_b || c.has(3) != has_z)
      return false;
    if ((has_b && c.in(2).shape() != b_shape) || (has_z && c.in(3).shape() != z_shape)) return false;
    if (x.shared_layout() == x_layout) return true;
    if (!x.layout() || !x_layout || desc_of(x) != x_md) return false;
    x_layout = x.shared_layout();  // the same layout, described by another object
    return true;
  }
};

bool append_post_op(dnnl::post_ops& ops, const ConvActivation& a) {
  switch (a.kind) {
    case ConvActivation::kNone: return true;
    case ConvActivation::kRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); return true;
    case ConvActivation::kLeakyRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, a.alpha, 0.f); return true;
    case ConvActivation::kClip: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, a.alpha, a.beta); return true;
    case ConvActivation::kTanh: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_tanh, 0.f, 0.f); return true;
    case ConvActivation::kSigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); return true;
    case ConvActivation::kHardSigmoid:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, a.alpha, a.beta);
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 1.f);
      return true;
    // oneDNN 2.x: x * relu6(x + 3) / 6, ONNX HardSwish exactly (its alpha and beta are ignored)
    case ConvActivation::kHardSwish: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_hardswish, 0.f, 0.f); return true;
    case ConvActivation::kSwish: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, a.alpha, 0.f); return true;
  }
  return false;
}

// Kernel taps that read only padding, for every output position (DeepLab's atrous convolutions:
// dilation 24 or 36 on a 16 x 16 map leaves the centre tap alone), contribute nothing: the
// convolution equals one with those taps cut off and the padding shortened by as much. Returns the
// weights with only the live taps (w [M, C/group, k...] float32), and sets the shortened pads in dd,
// or nothing when every tap can be reached (or cutting would need a negative pad).
std::optional<Tensor> live_taps(const Tensor& w, const ConvGeom& g, DnnlConvDims& dd) {
  const size_t sp = g.axes.size();
  std::vector<int64_t> first(sp), last(sp);
  bool cut = false;
  for (size_t i = 0; i < sp; ++i) {
    const Axis& a = g.axes[i];
    auto live = [&](int64_t k) {  // some output o reads input o * stride + k * dil - pad_b inside [0, in)
      const int64_t lo = k * a.dil - a.pad_b, hi = (a.out - 1) * a.stride + lo;
      return hi >= 0 && lo < a.in;
    };
    first[i] = 0;
    while (first[i] < a.k && !live(first[i])) ++first[i];
    last[i] = a.k - 1;
    while (last[i] >= first[i] && !live(last[i])) --last[i];
    if (first[i] > last[i]) return std::nullopt;  // nothing live: leave it to oneDNN as it is
    if (a.pad_b - first[i] * a.dil < 0 || a.pad_e - (a.k - 1 - last[i]) * a.dil < 0) return std::nullopt;
    cut |= first[i] > 0 || last[i] < a.k - 1;
  }
  if (!cut) return std::nullopt;
  Shape ts = w.shape();
  for (size_t i = 0; i < sp; ++i) ts[2 + i] = last[i] - first[i] + 1;
  Tensor t = Tensor::uninitialized(DType::kFloat, ts);
  const float* src = w.data<float>();
  float* dst = t.data<float>();
  const int64_t planes = w.dim(0) * w.dim(1);
  const int64_t k0 = sp > 0 ? w.dim(2) : 1, k1 = sp > 1 ? w.dim(3) : 1, k2 = sp > 2 ? w.dim(4) : 1;
  const int64_t t0 = sp > 0 ? ts[2] : 1, t1 = sp > 1 ? ts[3] : 1, t2 = sp > 2 ? ts[4] : 1;
  const int64_t f0 = sp > 0 ? first[0] : 0, f1 = sp > 1 ? first[1] : 0, f2 = sp > 2 ? first[2] : 0;
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t a = 0; a < t0; ++a)
      for (int64_t b = 0; b < t1; ++b)
        for (int64_t e = 0; e < t2; ++e)
          *dst++ = src[((p * k0 + a + f0) * k1 + b + f1) * k2 + e + f2];
  dd = dnnl_conv_dims(g, ts);
  for (size_t i = 0; i < sp; ++i) {
    dd.pad_l[i] = g.axes[i].pad_b - first[i] * g.axes[i].dil;
    dd.pad_r[i] = g.axes[i].pad_e - (g.axes[i].k - 1 - last[i]) * g.axes[i].dil;
  }
  return t;
}

// A grouped convolution (2..8 groups, not depthwise) as one dense convolution whose weights are
// zero between groups ([M, C, k...], block-diagonal): oneDNN 2.6 runs groups of channel counts that
// are not a multiple of its block (ShuffleNet's 4 groups of 34 channels) with im2col + GEMM at a few
// GFLOPS, and its direct kernels on the dense form are faster despite the group-fold more work.
Tensor block_diagonal(const Tensor& w, int64_t group) {
  const int64_t m = w.dim(0), cin_g = w.dim(1), cout_g = m / group, k = w.numel() / (m * cin_g);
  Shape ds = w.shape();
  ds[1] = cin_g * group;
  Tensor d(DType::kFloat, ds);  // zero-filled
  const float* src = w.data<float>();
  float* dst = d.data<float>();
  for (int64_t o = 0; o < m; ++o) {
    const int64_t c0 = (o / cout_g) * cin_g;
    std::copy(src + o * cin_g * k, src + (o + 1) * cin_g * k, dst + (o * ds[1] + c0) * k);
  }
  return d;
}

bool conv_fast_f32(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  if (x.dtype() != DType::kFloat || w.dtype() != DType::kFloat) return false;
  if (w.layout() || (c.has(2) && c.in(2).layout())) return false;  // only X may arrive blocked
  auto& ctx = DnnlContext::get();
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<ConvCache*>(slot.get());
  // Repeated runs with the same shapes and input layout take everything from the cache: the
  // checked geometry, the primitive, the memory objects (rebound to this run's buffers) and the
  // output layout. The executor validated the inputs (conv_checked) when their shapes changed.
  // A convolution of little work runs on this thread alone (made and executed: SerialScope).
  std::optional<SerialScope> serial;
  if (!cache || !cache->made_for(c, x)) {
    const ConvGeom g = conv_checked(c);
    const int sp = x.rank() - 2;
    if (sp < 1 || sp > 3 || shape_numel(g.out_shape) == 0 || x.numel() == 0 || w.numel() == 0) return false;
    const double work = 2.0 * static_cast<double>(shape_numel(g.out_shape)) * static_cast<double>(w.numel()) /
                        static_cast<double>(std::max<int64_t>(1, g.cout));
    serial.emplace(work);
    const Tensor* z = c.has(3) ? &c.in(3) : nullptr;
    if (z && z->shape() != g.out_shape) return false;  // a broadcast sum: the reference does it
    const dnnl::memory::desc x_md = desc_of(x);
    if (cache && cache->unsupported && cache->x_shape == x.shape() && cache->x_md == x_md) return false;
    const ConvActivation act = activation_of(c);
    const int64_t cout = g.cout;
    DnnlConvDims dd = dnnl_conv_dims(g, w.shape());
    // constant weights only: the cut copy is made once, with the primitive
    std::optional<Tensor> cut = c.is_constant(1) ? live_taps(w, g, dd) : std::nullopt;
    const Shape& wdims = dd.weights;
    // One primitive per (input shape, input layout). When the input arrives in a blocked layout or
    // the output may leave in one (every reader is layout-aware), oneDNN picks the layouts
    // (format_tag::any): its blocked jit kernels are several times faster, and chains of
    // convolutions then pass blocked tensors without reorders. Otherwise the primitive reads and
    // writes plain NCHW, which avoids two reorders around a single convolution.
    auto fresh = std::make_shared<ConvCache>();
    fresh->x_shape = x.shape();
    fresh->x_md = x_md;
    fresh->unsupported = true;  // until the primitive exists
    slot = fresh;
    try {
      fresh->dst_md = plain_desc(g.out_shape);
      fresh->w_md = plain_desc(wdims);
      auto any = [](const Shape& s) {
        return dnnl::memory::desc(dnnl::memory::dims(s.begin(), s.end()), dnnl::memory::data_type::f32,
                                  dnnl::memory::format_tag::any);
      };
      const bool blocked = x.layout() != nullptr || c.allow_layout_output;
      auto b_md = c.has(2) ? plain_desc({cout}) : dnnl::memory::desc();
      dnnl::primitive_attr attr;
      dnnl::post_ops ops;
      if (z) ops.append_sum(1.f);
      append_post_op(ops, act);
      if (ops.len() > 0) attr.set_post_ops(ops);
      auto make_pd = [&](bool any_layout) {
        const dnnl::convolution_forward::desc d(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, any_layout ? any(x.shape()) : x_md,
            any(wdims), b_md, any_layout ? any(g.out_shape) : fresh->dst_md, dd.strides, dd.dilates, dd.pad_l,
            dd.pad_r);
        return dnnl::convolution_forward::primitive_desc(d, attr, ctx.engine);
      };
      fresh->pd = make_pd(blocked);
      // On plain NCHW oneDNN may only have its im2col + GEMM kernel, several times slower than the
      // direct (brgconv / jit) kernels on their own layouts: then reorder in and out instead.
      if (!blocked && std::string(fresh->pd.impl_info_str()).find("gemm") != std::string::npos) {
        auto direct = make_pd(true);
        if (std::string(direct.impl_info_str()).find("gemm") == std::string::npos) fresh->pd = direct;
      }
      // grouped, oneDNN's GEMM kernel: the dense block-diagonal form if a direct kernel takes it
      if (!cut && c.is_constant(1) && g.group > 1 && g.group <= 8 && g.group != g.cin &&
          std::string(fresh->pd.impl_info_str()).find("gemm") != std::string::npos) {
        ConvGeom dense = g;
        dense.group = 1;
        const Tensor dw = block_diagonal(w, g.group);
        const DnnlConvDims ddd = dnnl_conv_dims(dense, dw.shape());
        const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                                dnnl::algorithm::convolution_direct, any(x.shape()), any(dw.shape()),
                                                b_md, any(g.out_shape), ddd.strides, ddd.dilates, ddd.pad_l, ddd.pad_r);
        const dnnl::convolution_forward::primitive_desc pd(d, attr, ctx.engine);
        if (std::string(pd.impl_info_str()).find("gemm") == std::string::npos) {
          fresh->pd = pd;
          fresh->w_md = plain_desc(dw.shape());
          cut = dw;
        }
      }
      fresh->prim = dnnl::convolution_forward(fresh->pd);
      fresh->x_mem = dnnl::memory(x_md, ctx.engine, nullptr);
      if (fresh->pd.src_desc() != x_md) {
        fresh->src_mem = dnnl::memory(fresh->pd.src_desc(), ctx.engine);
        fresh->src_reorder = dnnl::reorder(fresh->x_mem, fresh->src_mem);
      }
      const auto dst_md = fresh->pd.dst_desc();
      fresh->plain_dst = dst_md == fresh->dst_md;
      if (!fresh->plain_dst) fresh->dst_layout = std::make_shared<DnnlLayout>(dst_md);
      fresh->dst_mem = dnnl::memory(dst_md, ctx.engine, nullptr);
      fresh->args = {{DNNL_ARG_SRC, fresh->src_mem ? fresh->src_mem : fresh->x_mem}, {DNNL_ARG_DST, fresh->dst_mem}};
      if (c.has(2)) {
        fresh->b_mem = dnnl::memory(b_md, ctx.engine, nullptr);
        fresh->args[DNNL_ARG_BIAS] = fresh->b_mem;
      }
    } catch (const dnnl::error&) {
      return false;  // the cache entry stays marked unsupported for this input
    }
    fresh->g = g;
    fresh->work = work;
    fresh->w_cut = std::move(cut);
    fresh->w_shape = w.shape();
    fresh->has_b = c.has(2);
    if (fresh->has_b) fresh->b_shape = c.in(2).shape();
    fresh->has_z = z != nullptr;
    if (z) fresh->z_shape = z->shape();
    fresh->x_layout = x.shared_layout();
    fresh->unsupported = false;
    cache = fresh.get();
  }
  if (!serial) serial.emplace(cache->work);
  const Shape& out_shape = cache->g.out_shape;
  try {
    // Weights in the primitive's layout: reused while the (constant) weight buffer is the same.
    if (!c.is_constant(1) || cache->w_src != w.raw()) {
      const Tensor& wk = cache->w_cut ? *cache->w_cut : w;  // the live taps' weights (same constant)
      if (cache->pd.weights_desc() != cache->w_md) {
        cache->w_mem = dnnl::memory(cache->pd.weights_desc(), ctx.engine);
        dnnl::memory plain_w = wrap(cache->w_md, wk);
        dnnl::reorder(plain_w, cache->w_mem).execute(ctx.stream, plain_w, cache->w_mem);
      } else {
        cache->w_mem = wrap(cache->w_md, wk);
      }
      cache->w_src = c.is_constant(1) ? w.raw() : nullptr;
      cache->args[DNNL_ARG_WEIGHTS] = cache->w_mem;
    }
    cache->x_mem.set_data_handle(const_cast<void*>(x.raw()));
    if (cache->src_reorder) {
      const SerialScope copy(static_cast<double>(x.numel()));
      cache->src_reorder.execute(ctx.stream, cache->x_mem, cache->src_mem);
    }
    const bool keep_layout = !cache->plain_dst && c.allow_layout_output;
    // The sum post-op adds what dst holds: Z (plain or blocked) in the primitive's output layout.
    // A Z read last here, unshared and already in that layout is written over in place (a
    // ResNet's residual operand); otherwise it is copied into a fresh output.
    const Tensor* z = cache->has_z ? &c.in(3) : nullptr;
    const bool z_in_place = z && c.is_last_read(3) && z->storage_unshared() && z->dtype() == DType::kFloat &&
                            (cache->plain_dst ? !z->layout() : (z->layout() && desc_of(*z) == cache->pd.dst_desc()));
    Tensor y = z_in_place           ? *z
               : cache->plain_dst ? Tensor::uninitialized(DType::kFloat, out_shape)
                                  : Tensor::with_layout(DType::kFloat, out_shape, cache->dst_layout);
    cache->dst_mem.set_data_handle(y.raw());
    if (z && !z_in_place) copy_into(*z, desc_of(*z), cache->dst_mem);
    if (cache->has_b) cache->b_mem.set_data_handle(const_cast<void*>(c.in(2).raw()));
    cache->prim.execute(ctx.stream, cache->args);
    ctx.stream.wait();
    c.outputs[0] = cache->plain_dst || keep_layout ? std::move(y) : to_plain(y);
  } catch (const dnnl::error&) {
    cache->unsupported = true;
    return false;
  }
  return true;
}

// float16 / bfloat16: the same oneDNN convolution on float32 copies (weights converted once),
// rounded back; what onnxruntime does on CPUs without half-precision kernels.
struct HalfConvState {
  Tensor w, b;                  // float32 copies of constant weights and bias
  const void* w_src = nullptr;
  const void* b_src = nullptr;
  std::shared_ptr<void> inner;  // the float32 kernel's cache
};

bool conv_fast(KernelContext& c) {
  const DType t = c.in(0).dtype();
  if (t == DType::kFloat) return conv_fast_f32(c);
  if (t != DType::kFloat16 && t != DType::kBFloat16) return false;
  conv_checked(c);
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  if (!slot) slot = std::make_shared<HalfConvState>();
  auto* st = static_cast<HalfConvState*>(slot.get());
  auto cached = [&](int i, Tensor& keep, const void*& src) {
    const Tensor& v = c.in(i);
    if (!c.is_constant(i)) return v.cast(DType::kFloat);
    if (src != v.raw()) {
      keep = v.cast(DType::kFloat);
      src = v.raw();
    }
    return keep;
  };
  std::vector<Value> in(4);
  in[0] = to_plain(c.in(0)).cast(DType::kFloat);
  in[1] = cached(1, st->w, st->w_src);
  if (c.has(2)) in[2] = cached(2, st->b, st->b_src);
  if (c.has(3)) in[3] = to_plain(c.in(3)).cast(DType::kFloat);
  KernelContext f(c.node, c.opset, c.version);
  for (int i = 0; i < 4; ++i) {
    f.inputs.push_back(in[i].present() ? &in[i] : nullptr);
    f.constant.push_back(c.is_constant(i) && i != 0 && i != 3);
  }
  f.outputs.resize(c.outputs.size());
  f.state = &st->inner;
  f.activation = c.activation;
  if (!conv_fast_f32(f)) return false;
  c.outputs[0] = to_plain(f.outputs[0].tensor()).cast(t);
  return true;
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  OpDef conv{conv_reference, conv_fast, validate_conv, true};
  r.add("", "Conv", {1, 11, 22}, conv);
  r.add("com.microsoft", "FusedConv", {1}, conv);
}

}  // namespace qtool
