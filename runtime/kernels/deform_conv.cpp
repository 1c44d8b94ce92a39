// SPDX-License-Identifier: Apache-2.0
// DeformConv (19, 22; deformable convolution, Dai et al. 2017 arXiv:1703.06211 and Zhu et al. 2018
// arXiv:1811.11168) for any number of spatial axes, and CausalConvWithState (27; the stateful
// causal depthwise 1-D convolution of Mamba / Gated DeltaNet).
// DeformConv: every kernel tap samples X at its regular position plus a learned offset with
// N-linear interpolation, neighbours outside the input counting as zero (GridSample with zeros
// padding and align_corners, as onnx/reference/ops/op_deform_conv.py), times the optional mask.
// Offsets are laid out [N, offset_group, k1..kn, n, o1..on], the mask [N, offset_group, k1..kn, o1..].
// CausalConvWithState follows onnx/reference/ops/op_causal_conv_with_state.py: the input is
// prefixed with past_state (or zeros), convolved depthwise without padding, optionally passed
// through SiLU, and the last k - 1 positions of the prefixed input become present_state.
#include <cmath>

#include "runtime/kernels/conv_pool_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace convpool;

struct DeformGeom {
  ConvGeom conv;
  int64_t offset_group = 1;
};

DeformGeom deform_checked(const KernelContext& c) {
  DeformGeom g;
  g.conv = conv_geom(c, 0, 1, /*has_auto_pad=*/false);
  for (int i : {0, 1, 2, 3, 4})
    if (c.has(i) && !dispatch<FloatTypes>(c.in(i).dtype(), [](auto) {})) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {1, 2, 3, 4})
    if (c.has(i) && c.has(0) && c.in(i).dtype() != c.in(0).dtype())
      c.fail("input #" + std::to_string(i) + " has type " + dtype_name(c.in(i).dtype()) + ", X has " +
             dtype_name(c.in(0).dtype()));
  g.offset_group = attr_int(c.node, "offset_group", 1);
  if (g.offset_group <= 0) c.fail("attribute 'offset_group': must be positive, got " + std::to_string(g.offset_group));
  if (c.has(0) && c.in(0).rank() >= 2 && c.in(0).dim(1) % g.offset_group != 0)
    c.fail("attribute 'offset_group': " + std::to_string(g.offset_group) + " does not divide X's " +
           std::to_string(c.in(0).dim(1)) + " channels");
  check_channel_vector(c, 3, c.has(1) ? g.conv.cout : -1, "B");
  if (!g.conv.known) return g;
  const int sp = g.conv.a.sp;
  int64_t k_sp = 1;
  for (auto k : g.conv.a.kernel) k_sp *= k;
  Shape want_offset{g.conv.n, g.offset_group * k_sp * sp}, want_mask{g.conv.n, g.offset_group * k_sp};
  for (int i = 0; i < sp; ++i) {
    want_offset.push_back(g.conv.out_shape[2 + i]);
    want_mask.push_back(g.conv.out_shape[2 + i]);
  }
  if (c.has(2) && c.in(2).shape() != want_offset)
    c.fail("input offset " + shape_str(c.in(2).shape()) + " must have shape " + shape_str(want_offset) +
           " (N, offset_group * prod(kernel) * spatial rank, output extents)");
  if (!c.has(2)) c.fail("input offset is required");
  if (c.has(4) && c.in(4).shape() != want_mask)
    c.fail("input mask " + shape_str(c.in(4).shape()) + " must have shape " + shape_str(want_mask));
  return g;
}

void validate_deform_conv(KernelContext& c) { deform_checked(c); }

template <typename T>
void deform_conv_typed(const Tensor& x, const Tensor& w, const Tensor& offset, const Tensor* b, const Tensor* mask,
                       const DeformGeom& dg, Tensor& y) {
  const ConvGeom& g = dg.conv;
  const int sp = g.a.sp;
  const WindowIter it(g.axes);
  const int64_t in_sp = it.in_size(), out_sp = it.out_size(), k_sp = it.kernel_size();
  const int64_t cin_g = g.cin / g.group, cout_g = g.cout / g.group, c_per_og = g.cin / dg.offset_group;
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  const T* po = offset.data<T>();
  const T* pm = mask ? mask->data<T>() : nullptr;
  T* py = y.data<T>();
  std::vector<int64_t> in_stride(sp, 1), kcoord(sp);
  for (int d = sp - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * g.axes[d + 1].in;
  // deformable im2col of one image: col[c][k][o] = mask * sample(x[c], position of tap k at o)
  std::vector<double> col(static_cast<size_t>(g.cin * k_sp * out_sp));
  std::vector<double> pos(sp);
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t og = 0; og < dg.offset_group; ++og) {
      it.for_each_output([&](int64_t o, const int64_t* coord) {
        std::fill(kcoord.begin(), kcoord.end(), 0);
        for (int64_t k = 0; k < k_sp; ++k) {
          bool finite = true, inside = true;
          for (int d = 0; d < sp; ++d) {
            const Axis& a = g.axes[d];
            const int64_t ch = ((og * k_sp + k) * sp + d);
            const double off = static_cast<double>(to_compute(po[(n * dg.offset_group * k_sp * sp + ch) * out_sp + o]));
            pos[d] = static_cast<double>(coord[d] * a.stride - a.pad_b + kcoord[d] * a.dil) + off;
            if (!std::isfinite(pos[d])) finite = false;
            else if (pos[d] <= -1.0 || pos[d] >= static_cast<double>(a.in)) inside = false;
          }
          const double m = pm ? static_cast<double>(to_compute(pm[((n * dg.offset_group + og) * k_sp + k) * out_sp + o])) : 1.0;
          for (int64_t ci = og * c_per_og; ci < (og + 1) * c_per_og; ++ci) {
            double v = 0.0;
            if (!finite) v = NAN;
            else if (inside) {
              const T* xc = px + (n * g.cin + ci) * in_sp;
              for (int corner = 0; corner < (1 << sp); ++corner) {  // N-linear interpolation
                double wgt = 1.0;
                int64_t off = 0;
                bool ok = true;
                for (int d = 0; d < sp && ok; ++d) {
                  const double fl = std::floor(pos[d]);
                  const int64_t idx = static_cast<int64_t>(fl) + ((corner >> d) & 1);
                  const double frac = pos[d] - fl;
                  wgt *= ((corner >> d) & 1) ? frac : 1.0 - frac;
                  if (idx < 0 || idx >= g.axes[d].in) ok = false;
                  off += idx * in_stride[d];
                }
                if (ok && wgt != 0.0) v += wgt * static_cast<double>(to_compute(xc[off]));
              }
            }
            col[(ci * k_sp + k) * out_sp + o] = v * m;
          }
          for (int d = sp - 1; d >= 0; --d) {  // next kernel tap
            if (++kcoord[d] < g.axes[d].k) break;
            kcoord[d] = 0;
          }
        }
      });
    }
    for (int64_t oc = 0; oc < g.cout; ++oc) {
      const int64_t grp = oc / cout_g;
      const double bias = b ? static_cast<double>(to_compute(b->data<T>()[oc])) : 0.0;
      T* yb = py + (n * g.cout + oc) * out_sp;
      for (int64_t o = 0; o < out_sp; ++o) {
        double acc = bias;
        for (int64_t ic = 0; ic < cin_g; ++ic) {
          const double* cb = col.data() + (grp * cin_g + ic) * k_sp * out_sp;
          const T* wb = pw + (oc * cin_g + ic) * k_sp;
          for (int64_t k = 0; k < k_sp; ++k) acc += static_cast<double>(to_compute(wb[k])) * cb[k * out_sp + o];
        }
        yb[o] = from_compute<T>(static_cast<Compute<T>>(acc));
      }
    }
  }
}

void deform_conv(KernelContext& c) {
  const DeformGeom g = deform_checked(c);
  const Tensor& x = c.in(0);
  Tensor y = Tensor::uninitialized(x.dtype(), g.conv.out_shape);
  shape_numel({g.conv.cin, shape_numel(g.conv.out_shape) / std::max<int64_t>(1, g.conv.n * g.conv.cout), 8});
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    deform_conv_typed<T>(x, c.in(1), c.in(2), c.has(3) ? &c.in(3) : nullptr, c.has(4) ? &c.in(4) : nullptr, g, y);
  });
  c.outputs[0] = std::move(y);
}

// ---- CausalConvWithState ----

bool causal_silu(const KernelContext& c) {
  const std::string a = attr_string(c.node, "activation", "none");
  if (a == "none") return false;
  if (a == "silu" || a == "swish") return true;
  c.fail("attribute 'activation': unknown value '" + a + "' (none, silu or swish)");
}

void validate_causal_conv(KernelContext& c) {
  causal_silu(c);
  for (int i : {0, 1, 2, 3})
    if (c.has(i) && !dispatch<FloatTypes>(c.in(i).dtype(), [](auto) {})) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {1, 2, 3})
    if (c.has(i) && c.has(0) && c.in(i).dtype() != c.in(0).dtype())
      c.fail("input #" + std::to_string(i) + " has type " + dtype_name(c.in(i).dtype()) + ", input has " +
             dtype_name(c.in(0).dtype()));
  const Tensor* x = c.has(0) ? &c.in(0) : nullptr;
  const Tensor* w = c.has(1) ? &c.in(1) : nullptr;
  if (x && x->rank() != 3) c.fail("input must have rank 3 (batch, channels, length), got " + shape_str(x->shape()));
  if (w && (w->rank() != 3 || w->dim(1) != 1 || w->dim(2) < 1))
    c.fail("input weight must have shape (channels, 1, k) with k >= 1, got " + shape_str(w->shape()));
  if (x && w && w->dim(0) != x->dim(1))
    c.fail("input weight " + shape_str(w->shape()) + " must have the input's " + std::to_string(x->dim(1)) +
           " channels");
  check_channel_vector(c, 2, x ? x->dim(1) : (w ? w->dim(0) : -1), "bias");
  if (c.has(3) && x && w) {
    const Shape want{x->dim(0), x->dim(1), w->dim(2) - 1};
    if (c.in(3).shape() != want)
      c.fail("input past_state " + shape_str(c.in(3).shape()) + " must have shape " + shape_str(want));
  }
}

template <typename T>
void causal_conv_typed(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor* past, bool silu, Tensor& y,
                       Tensor& state) {
  const int64_t batch = x.dim(0), ch = x.dim(1), len = x.dim(2), k = w.dim(2), hist = k - 1;
  const T* px = x.data<T>();
  const T* pw = w.data<T>();
  T* py = y.data<T>();
  T* ps = state.data<T>();
  std::vector<T> padded(static_cast<size_t>(len + hist));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < ch; ++c) {
      const int64_t row = n * ch + c;
      for (int64_t i = 0; i < hist; ++i) padded[i] = past ? past->data<T>()[row * hist + i] : from_compute<T>(0.0f);
      for (int64_t i = 0; i < len; ++i) padded[hist + i] = px[row * len + i];
      const double bias = b ? static_cast<double>(to_compute(b->data<T>()[c])) : 0.0;
      for (int64_t t = 0; t < len; ++t) {
        double acc = bias;
        for (int64_t j = 0; j < k; ++j)
          acc += static_cast<double>(to_compute(padded[t + j])) * static_cast<double>(to_compute(pw[c * k + j]));
        T v = from_compute<T>(static_cast<Compute<T>>(acc));
        if (silu) {  // in float32 on the value rounded to T, as the reference
          const float f = static_cast<float>(to_compute(v));
          v = from_compute<T>(static_cast<Compute<T>>(f * (1.0f / (1.0f + std::exp(-f)))));
        }
        py[row * len + t] = v;
      }
      for (int64_t i = 0; i < hist; ++i) ps[row * hist + i] = padded[len + i];
    }
}

void causal_conv(KernelContext& c) {
  validate_causal_conv(c);
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  if (x.rank() != 3) c.fail("input must have rank 3");
  const bool silu = causal_silu(c);
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  Tensor state = Tensor::uninitialized(x.dtype(), {x.dim(0), x.dim(1), w.dim(2) - 1});
  c.dispatch_or_fail<FloatTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    causal_conv_typed<T>(x, w, c.has(2) ? &c.in(2) : nullptr, c.has(3) ? &c.in(3) : nullptr, silu, y, state);
  });
  c.outputs[0] = std::move(y);
  if (c.outputs.size() > 1) c.outputs[1] = std::move(state);
}

}  // namespace

void register_deform_conv_ops(OpRegistry& r) {
  r.add("", "DeformConv", {19, 22}, OpDef{deform_conv, nullptr, validate_deform_conv});
  r.add("", "CausalConvWithState", {27}, OpDef{causal_conv, nullptr, validate_causal_conv});
}

}  // namespace qtool
