// SPDX-License-Identifier: Apache-2.0
// Channel / spatial normalizations of the ONNX default domain (opsets 7..28):
// BatchNormalization (7, 9, 14, 15), InstanceNormalization (6, 22), GroupNormalization (18, 21),
// LRN (1, 13), LpNormalization (1, 22), MeanVarianceNormalization (9, 13).
//
// Follows the ONNX spec and onnx's numpy reference / test generators (onnx/reference/ops,
// onnx/backend/test/case/node):
// - BatchNormalization: inference y = scale * (x - mean) / sqrt(var + epsilon) + B per channel.
//   Training (7/9: when more outputs than Y are requested; 14/15: training_mode = 1) normalizes
//   with the batch statistics (population variance over every axis but the channel) and returns
//   running_mean = mean * momentum + batch_mean * (1 - momentum) (likewise running_var); 7/9 also
//   return saved_mean / saved_var (the batch statistics). Version 7's spatial = 0 takes parameters
//   of shape (C x D1 x ... x Dn), statistics over N only. 15: scale/B and mean/var types may differ.
// - InstanceNormalization: statistics per (n, c) over the spatial axes.
// - GroupNormalization: statistics per (n, group of C / num_groups channels); 18 takes scale/bias
//   per group, 21 per channel. The affine step runs in the input type, as in the spec's function.
// - LRN: y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2),
//   c + ceil((size-1)/2)]) ^ beta.
// - LpNormalization: x / ||x||_p along `axis` (p 1 or 2); a zero norm gives 0.
// - MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes` (default [0, 2, 3]).
// Statistics are computed in double for every float type. Fast kernels (float32): inference
// BatchNormalization and InstanceNormalization as vectorized per-channel loops; BatchNormalization
// is layout-aware (an input in a runtime layout goes through oneDNN's batch normalization); LRN of
// an odd size through oneDNN's LRN, on the input's layout.
#include <Eigen/Core>

#include <cmath>
#include <memory>

#include "core/parallel.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

// ---- shared ----------------------------------------------------------------------------------

void require_real(const KernelContext& c, int i) {
  if (c.has(i) && c.value(i).is_tensor() && !dispatch<RealTypes>(c.in(i).dtype(), [](auto) {}))
    c.fail_dtype(i, c.in(i).dtype());
}

// A tensor of float type `t` from double values (rounded once).
Tensor real_tensor(DType t, const Shape& s, const std::vector<double>& v) {
  Tensor out = Tensor::uninitialized(t, s);
  dispatch<RealTypes>(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = from_compute<T>(static_cast<Compute<T>>(v[i]));
  });
  return out;
}

// Fails unless input i (when known) has exactly `n` elements.
void require_numel(const KernelContext& c, int i, int64_t n, const std::string& name) {
  if (c.has(i) && c.value(i).is_tensor() && c.in(i).numel() != n)
    c.fail("input '" + name + "' must have " + std::to_string(n) + " elements, got shape " +
           shape_str(c.in(i).shape()));
}

// N, C and D (product of the spatial extents) of an N x C x D1 x ... input.
struct NCD {
  int64_t n = 1, c = 1, d = 1;
};

NCD ncd_of(const KernelContext& c, const Tensor& x, int min_rank) {
  if (x.rank() < min_rank)
    c.fail("input 'X' must have rank >= " + std::to_string(min_rank) + " (N x C x ...), got shape " +
           shape_str(x.shape()));
  NCD g;
  g.n = x.dim(0);
  g.c = x.dim(1);
  for (int i = 2; i < x.rank(); ++i) g.d *= x.dim(i);
  return g;
}

// Per (n, group): mean and 1/sqrt(var + eps) over `len` contiguous values (two passes, double).
template <typename T>
void mean_inv_std(const T* p, int64_t len, double eps, double& mean, double& inv) {
  double s = 0.0;
  for (int64_t i = 0; i < len; ++i) s += static_cast<double>(to_compute(p[i]));
  mean = len ? s / static_cast<double>(len) : 0.0;
  double v = 0.0;
  for (int64_t i = 0; i < len; ++i) {
    const double d = static_cast<double>(to_compute(p[i])) - mean;
    v += d * d;
  }
  v = len ? v / static_cast<double>(len) : 0.0;
  inv = 1.0 / std::sqrt(v + eps);
}

// x viewed as [N, C, D]; statistics per (n, group of C / G channels); y = scale[c] * xhat + bias[c].
// staged: xhat is rounded to T and the affine step runs in T's arithmetic (the spec's function
// body for GroupNormalization); otherwise one rounding at the end.
template <typename T>
void group_normalize(const T* px, T* py, const NCD& g, int64_t groups, const std::vector<double>& scale,
                     const std::vector<double>& bias, double eps, bool staged) {
  if (groups <= 0) return;  // no channels
  const int64_t cpg = g.c / groups, len = cpg * g.d;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < groups; ++k) {
      const int64_t off = (n * g.c + k * cpg) * g.d;
      double mean, inv;
      mean_inv_std(px + off, len, eps, mean, inv);
      for (int64_t ch = 0; ch < cpg; ++ch) {
        const int64_t cc = k * cpg + ch;
        const T* q = px + off + ch * g.d;
        T* o = py + off + ch * g.d;
        if (staged) {
          const auto s = to_compute(from_compute<T>(static_cast<Compute<T>>(scale[cc])));
          const auto b = to_compute(from_compute<T>(static_cast<Compute<T>>(bias[cc])));
          for (int64_t i = 0; i < g.d; ++i) {
            const auto xh = to_compute(from_compute<T>(
                static_cast<Compute<T>>((static_cast<double>(to_compute(q[i])) - mean) * inv)));
            o[i] = from_compute<T>(to_compute(from_compute<T>(xh * s)) + b);
          }
        } else {
          for (int64_t i = 0; i < g.d; ++i)
            o[i] = from_compute<T>(static_cast<Compute<T>>(
                scale[cc] * (static_cast<double>(to_compute(q[i])) - mean) * inv + bias[cc]));
        }
      }
    }
}

// ---- BatchNormalization ----------------------------------------------------------------------

bool bn_training(const KernelContext& c) {
  if (c.version >= 14) return attr_int(c.node, "training_mode", 0) != 0;
  for (int k = 1; k < c.node.output_size(); ++k)
    if (wants_output(c, k)) return true;
  return false;
}

// Number of values per parameter input: C, or C x D1 x ... for version 7's spatial = 0.
int64_t bn_param_count(const KernelContext& c, const NCD& g) {
  const bool spatial = c.version >= 9 || attr_int(c.node, "spatial", 1) != 0;
  return spatial ? g.c : g.c * g.d;
}

void batch_norm_validate(KernelContext& c) {
  attr_float(c.node, "epsilon", 1e-5f);
  attr_float(c.node, "momentum", 0.9f);
  if (c.version >= 14) {
    const int64_t tm = attr_int(c.node, "training_mode", 0);
    if (tm != 0 && tm != 1) c.fail("attribute 'training_mode' must be 0 or 1, got " + std::to_string(tm));
  }
  for (int i = 0; i < 5; ++i) require_real(c, i);
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const NCD g = ncd_of(c, c.in(0), 2);
  const int64_t p = bn_param_count(c, g);
  const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i < 5; ++i) require_numel(c, i, p, names[i]);
}

void batch_norm_run(KernelContext& c) {
  for (int i = 0; i < 5; ++i) require_real(c, i);
  const Tensor& x = c.in(0);
  const NCD g = ncd_of(c, x, 2);
  const int64_t np = bn_param_count(c, g);
  const bool per_channel = np == g.c;
  const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  std::vector<std::vector<double>> prm(5);
  for (int i = 1; i < 5; ++i) {
    const Tensor& t = c.in(i);
    if (t.numel() != np)
      c.fail("input '" + std::string(names[i]) + "' must have " + std::to_string(np) + " elements, got shape " +
             shape_str(t.shape()));
    prm[i] = t.to_doubles();
  }
  const double eps = attr_float(c.node, "epsilon", 1e-5f);
  const double momentum = attr_float(c.node, "momentum", 0.9f);
  const bool training = bn_training(c);
  std::vector<double> mean = prm[3], var = prm[4];
  // parameter index of element (n, ch, i)
  auto pidx = [&](int64_t ch, int64_t i) { return per_channel ? ch : ch * g.d + i; };
  std::vector<double> bmean(np, 0.0), bvar(np, 0.0);
  if (training) {
    const auto xs = x.to_doubles();
    std::vector<double> cnt(np, 0.0);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t ch = 0; ch < g.c; ++ch)
        for (int64_t i = 0; i < g.d; ++i) {
          const int64_t k = pidx(ch, i);
          bmean[k] += xs[(n * g.c + ch) * g.d + i];
          cnt[k] += 1.0;
        }
    for (int64_t k = 0; k < np; ++k) bmean[k] = cnt[k] ? bmean[k] / cnt[k] : 0.0;
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t ch = 0; ch < g.c; ++ch)
        for (int64_t i = 0; i < g.d; ++i) {
          const int64_t k = pidx(ch, i);
          const double d = xs[(n * g.c + ch) * g.d + i] - bmean[k];
          bvar[k] += d * d;
        }
    for (int64_t k = 0; k < np; ++k) bvar[k] = cnt[k] ? bvar[k] / cnt[k] : 0.0;
    mean = bmean;
    var = bvar;
  }
  // y = a * x + b with a = scale / sqrt(var + eps), b = B - a * mean (double)
  std::vector<double> a(np), b(np);
  for (int64_t k = 0; k < np; ++k) {
    a[k] = prm[1][k] / std::sqrt(var[k] + eps);
    b[k] = prm[2][k] - a[k] * mean[k];
  }
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  dispatch<RealTypes>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t ch = 0; ch < g.c; ++ch)
        for (int64_t i = 0; i < g.d; ++i) {
          const int64_t k = pidx(ch, i), e = (n * g.c + ch) * g.d + i;
          py[e] = from_compute<T>(static_cast<Compute<T>>(a[k] * static_cast<double>(to_compute(px[e])) + b[k]));
        }
  });
  c.outputs[0] = std::move(y);
  if (!training) return;
  std::vector<double> run_mean(np), run_var(np);
  for (int64_t k = 0; k < np; ++k) {
    run_mean[k] = prm[3][k] * momentum + bmean[k] * (1.0 - momentum);
    run_var[k] = prm[4][k] * momentum + bvar[k] * (1.0 - momentum);
  }
  const Tensor& in_mean = c.in(3);
  const Tensor& in_var = c.in(4);
  if (wants_output(c, 1)) c.outputs[1] = real_tensor(in_mean.dtype(), in_mean.shape(), run_mean);
  if (wants_output(c, 2)) c.outputs[2] = real_tensor(in_var.dtype(), in_var.shape(), run_var);
  if (c.version < 14) {
    if (wants_output(c, 3)) c.outputs[3] = real_tensor(x.dtype(), in_mean.shape(), bmean);
    if (wants_output(c, 4)) c.outputs[4] = real_tensor(x.dtype(), in_var.shape(), bvar);
  }
}

// float32 inference with per-channel parameters: y = a[c] * x + b[c].
// x in a runtime layout (after a Concat of convolution outputs, DenseNet's pre-activation BN):
// oneDNN's batch normalization with the given statistics reads and writes that layout. false:
// not that case or refused.
bool batch_norm_layout(KernelContext& c, const NCD& g) {
  const Tensor& x = c.in(0);
  const double eps = attr_float(c.node, "epsilon", 1e-5f);
  auto& ctx = DnnlContext::get();
  try {
    const auto md = desc_of(x);
    using flags = dnnl::normalization_flags;
    const dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, md, static_cast<float>(eps),
                                                    flags::use_global_stats | flags::use_scale | flags::use_shift);
    const dnnl::batch_normalization_forward::primitive_desc pd(d, ctx.engine);
    Tensor y = make_dnnl_tensor(x.shape(), md);
    const auto pmd = plain_desc({g.c});
    std::vector<Tensor> params;  // scale, shift, mean, variance as float32
    for (int i = 1; i < 5; ++i) params.push_back(c.in(i).dtype() == DType::kFloat ? to_plain(c.in(i)) : c.in(i).cast(DType::kFloat));
    dnnl::batch_normalization_forward(pd).execute(ctx.stream, {{DNNL_ARG_SRC, wrap(md, x)},
                                                               {DNNL_ARG_DST, wrap(md, y)},
                                                               {DNNL_ARG_SCALE, wrap(pmd, params[0])},
                                                               {DNNL_ARG_SHIFT, wrap(pmd, params[1])},
                                                               {DNNL_ARG_MEAN, wrap(pmd, params[2])},
                                                               {DNNL_ARG_VARIANCE, wrap(pmd, params[3])}});
    ctx.stream.wait();
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

bool batch_norm_plain_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.layout() || x.rank() < 2 || bn_training(c)) return false;
  const NCD g = ncd_of(c, x, 2);
  if (bn_param_count(c, g) != g.c) return false;
  for (int i = 1; i < 5; ++i)
    if (c.in(i).numel() != g.c) return false;
  const auto scale = c.in(1).to_doubles(), bias = c.in(2).to_doubles(), mean = c.in(3).to_doubles(),
             var = c.in(4).to_doubles();
  const double eps = attr_float(c.node, "epsilon", 1e-5f);
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = y.data<float>();
  std::vector<float> af(g.c), bf(g.c);
  for (int64_t ch = 0; ch < g.c; ++ch) {
    const double a = scale[ch] / std::sqrt(var[ch] + eps);
    af[ch] = static_cast<float>(a);
    bf[ch] = static_cast<float>(bias[ch] - a * mean[ch]);
  }
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t ch = 0; ch < g.c; ++ch) {
      const int64_t off = (n * g.c + ch) * g.d;
      Eigen::Map<Eigen::ArrayXf>(o + off, g.d) = Eigen::Map<const Eigen::ArrayXf>(p + off, g.d) * af[ch] + bf[ch];
    }
  c.outputs[0] = std::move(y);
  return true;
}

// Layout-aware (OpRegistry): an input in a runtime layout goes through oneDNN, or is made plain
// and runs the plain kernels here (the reference must never see a layout).
bool batch_norm_fast(KernelContext& c) {
  if (!c.has(0) || !c.value(0).is_tensor() || !c.in(0).layout()) return batch_norm_plain_fast(c);
  const NCD g = ncd_of(c, c.in(0), 2);
  bool params = !bn_training(c) && bn_param_count(c, g) == g.c;
  for (int i = 1; i < 5 && params; ++i) params = c.has(i) && c.in(i).numel() == g.c;
  if (params && batch_norm_layout(c, g)) return true;
  const Value plain = to_plain(c.in(0));
  const Value* given = c.inputs[0];
  c.inputs[0] = &plain;
  if (!batch_norm_plain_fast(c)) batch_norm_run(c);
  c.inputs[0] = given;
  return true;
}

// ---- InstanceNormalization / GroupNormalization ------------------------------------------------

void instance_norm_validate(KernelContext& c) {
  attr_float(c.node, "epsilon", 1e-5f);
  for (int i = 0; i < 3; ++i) require_real(c, i);
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const NCD g = ncd_of(c, c.in(0), 2);
  require_numel(c, 1, g.c, "scale");
  require_numel(c, 2, g.c, "B");
}

void instance_norm_run(KernelContext& c) {
  instance_norm_validate(c);
  const Tensor& x = c.in(0);
  const NCD g = ncd_of(c, x, 2);
  const auto scale = c.in(1).to_doubles(), bias = c.in(2).to_doubles();
  const double eps = attr_float(c.node, "epsilon", 1e-5f);
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  c.dispatch_or_fail<RealTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    group_normalize<T>(x.data<T>(), y.data<T>(), g, g.c, scale, bias, eps, false);
  });
  c.outputs[0] = std::move(y);
}

// Mean and 1/sqrt(var + eps) of n contiguous floats (two passes).
void mean_inv_std_f32(const float* p, int64_t n, double eps, double& mean, double& inv) {
  mean = n ? sum_f32(p, n) / static_cast<double>(n) : 0.0;
  const double v = n ? sum_sq_dev_f32(p, n, static_cast<float>(mean)) / static_cast<double>(n) : 0.0;
  inv = 1.0 / std::sqrt(v + eps);
}

bool instance_norm_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kFloat || x.layout() || x.rank() < 2) return false;
  const NCD g = ncd_of(c, x, 2);
  if (c.in(1).numel() != g.c || c.in(2).numel() != g.c) return false;
  const auto scale = c.in(1).to_doubles(), bias = c.in(2).to_doubles();
  const double eps = attr_float(c.node, "epsilon", 1e-5f);
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  const float* p = x.data<float>();
  float* o = y.data<float>();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t ch = 0; ch < g.c; ++ch) {
      const int64_t off = (n * g.c + ch) * g.d;
      double mean, inv;
      mean_inv_std_f32(p + off, g.d, eps, mean, inv);
      const double a = scale[ch] * inv;
      Eigen::Map<Eigen::ArrayXf>(o + off, g.d) =
          Eigen::Map<const Eigen::ArrayXf>(p + off, g.d) * static_cast<float>(a) + static_cast<float>(bias[ch] - a * mean);
    }
  c.outputs[0] = std::move(y);
  return true;
}

void group_norm_validate(KernelContext& c) {
  attr_float(c.node, "epsilon", 1e-5f);
  if (c.version >= 21) attr_int(c.node, "stash_type", 1);
  if (!find_attr(c.node, "num_groups")) c.fail("attribute 'num_groups' is required");
  const int64_t groups = attr_int(c.node, "num_groups", 0);
  if (groups <= 0) c.fail("attribute 'num_groups' must be positive, got " + std::to_string(groups));
  for (int i = 0; i < 3; ++i) require_real(c, i);
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const NCD g = ncd_of(c, c.in(0), 2);
  if (g.c % groups != 0)
    c.fail("attribute 'num_groups': " + std::to_string(groups) + " does not divide the " + std::to_string(g.c) +
           " channels");
  // 18: one scale / bias per group (per channel accepted too); 21: per channel.
  for (int i = 1; i < 3; ++i) {
    if (!c.has(i) || !c.value(i).is_tensor()) continue;
    const int64_t n = c.in(i).numel();
    const bool ok = n == g.c || (c.version < 21 && n == groups);
    if (!ok)
      c.fail("input '" + std::string(i == 1 ? "scale" : "bias") + "' must have " +
             (c.version < 21 ? std::to_string(groups) + " (num_groups)" : std::to_string(g.c) + " (channels)") +
             " elements, got shape " + shape_str(c.in(i).shape()));
  }
}

void group_norm_run(KernelContext& c) {
  group_norm_validate(c);
  const Tensor& x = c.in(0);
  const NCD g = ncd_of(c, x, 2);
  const int64_t groups = attr_int(c.node, "num_groups", 0);
  const double eps = attr_float(c.node, "epsilon", 1e-5f);
  // Expand per-group parameters to per-channel ones.
  auto per_channel = [&](const Tensor& t) {
    auto v = t.to_doubles();
    if (static_cast<int64_t>(v.size()) == g.c) return v;
    std::vector<double> e(g.c);
    for (int64_t ch = 0; ch < g.c; ++ch) e[ch] = v[ch / (g.c / groups)];
    return e;
  };
  const auto scale = per_channel(c.in(1)), bias = per_channel(c.in(2));
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  c.dispatch_or_fail<RealTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    group_normalize<T>(x.data<T>(), y.data<T>(), g, groups, scale, bias, eps, true);
  });
  c.outputs[0] = std::move(y);
}

// ---- LRN -------------------------------------------------------------------------------------

void lrn_validate(KernelContext& c) {
  if (!find_attr(c.node, "size")) c.fail("attribute 'size' is required");
  const int64_t size = attr_int(c.node, "size", 0);
  if (size <= 0) c.fail("attribute 'size' must be positive, got " + std::to_string(size));
  attr_float(c.node, "alpha", 1e-4f);
  attr_float(c.node, "beta", 0.75f);
  attr_float(c.node, "bias", 1.0f);
  require_real(c, 0);
  if (c.has(0) && c.value(0).is_tensor()) ncd_of(c, c.in(0), 2);
}

void lrn_run(KernelContext& c) {
  lrn_validate(c);
  const Tensor& x = c.in(0);
  const NCD g = ncd_of(c, x, 2);
  const int64_t size = attr_int(c.node, "size", 0);
  const double alpha = attr_float(c.node, "alpha", 1e-4f), beta = attr_float(c.node, "beta", 0.75f),
               bias = attr_float(c.node, "bias", 1.0f);
  const int64_t lo = (size - 1) / 2, hi = size / 2;  // floor((size-1)/2), ceil((size-1)/2)
  const auto xs = x.to_doubles();
  std::vector<double> ys(xs.size());
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t ch = 0; ch < g.c; ++ch) {
      const int64_t c0 = std::max<int64_t>(0, ch - lo), c1 = std::min<int64_t>(g.c - 1, ch + hi);
      for (int64_t i = 0; i < g.d; ++i) {
        double s = 0.0;
        for (int64_t k = c0; k <= c1; ++k) {
          const double v = xs[(n * g.c + k) * g.d + i];
          s += v * v;
        }
        const int64_t e = (n * g.c + ch) * g.d + i;
        ys[e] = xs[e] / std::pow(bias + alpha / static_cast<double>(size) * s, beta);
      }
    }
  c.outputs[0] = real_tensor(x.dtype(), x.shape(), ys);
}

// float32, odd size: oneDNN's LRN across channels (its window [c - (size-1)/2, c + (size-1)/2] is the
// spec's for odd sizes; alpha is divided by size as in the spec), on the input's layout (a
// convolution's blocked output in AlexNet / ZFNet / GoogLeNet stays blocked). The primitive is kept
// in the step's state. false: not that case or refused.
struct LrnCache {
  dnnl::memory::desc md;
  dnnl::lrn_forward prim;
  bool serial = false;
};

bool lrn_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int64_t size = attr_int(c.node, "size", 0);
  if (x.dtype() != DType::kFloat || size % 2 == 0 || x.rank() < 3 || x.rank() > 5 || x.numel() == 0 ||
      (x.layout() && !x.has_dense_layout()))
    return false;
  auto& ctx = DnnlContext::get();
  try {
    const dnnl::memory::desc md = x.layout() ? desc_of(x) : plain_desc(x.shape());
    const SerialScope serial(16.0 * static_cast<double>(x.numel()) * static_cast<double>(size));
    std::shared_ptr<void> local;
    auto& slot = c.state ? *c.state : local;
    auto* cache = static_cast<LrnCache*>(slot.get());
    const bool one_thread = SerialScope::small(16.0 * static_cast<double>(x.numel()) * static_cast<double>(size));
    if (!cache || cache->md != md || cache->serial != one_thread) {
      auto fresh = std::make_shared<LrnCache>();
      fresh->md = md;
      fresh->serial = one_thread;
      const dnnl::lrn_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels, md,
                                      size, attr_float(c.node, "alpha", 1e-4f), attr_float(c.node, "beta", 0.75f),
                                      attr_float(c.node, "bias", 1.0f));
      fresh->prim = dnnl::lrn_forward(dnnl::lrn_forward::primitive_desc(d, ctx.engine));
      slot = fresh;
      cache = fresh.get();
    }
    Tensor y = x.layout() ? make_dnnl_tensor(x.shape(), md) : Tensor::uninitialized(DType::kFloat, x.shape());
    cache->prim.execute(ctx.stream, {{DNNL_ARG_SRC, wrap(md, x)}, {DNNL_ARG_DST, wrap(md, y)}});
    ctx.stream.wait();
    c.outputs[0] = !y.layout() || c.allow_layout_output ? std::move(y) : to_plain(y);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

// ---- LpNormalization -------------------------------------------------------------------------

void lp_norm_validate(KernelContext& c) {
  const int64_t p = attr_int(c.node, "p", 2);
  if (p != 1 && p != 2) c.fail("attribute 'p' must be 1 or 2, got " + std::to_string(p));
  require_real(c, 0);
  if (c.has(0) && c.value(0).is_tensor()) checked_axis(c, attr_int(c.node, "axis", -1), c.in(0).rank());
}

void lp_norm_run(KernelContext& c) {
  lp_norm_validate(c);
  const Tensor& x = c.in(0);
  const int axis = checked_axis(c, attr_int(c.node, "axis", -1), x.rank());
  const bool l1 = attr_int(c.node, "p", 2) == 1;
  int64_t outer = 1, inner = 1;
  const int64_t n = x.dim(axis);
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  const auto xs = x.to_doubles();
  std::vector<double> ys(xs.size());
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t b = 0; b < inner; ++b) {
      const int64_t base = a * n * inner + b;
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double v = xs[base + i * inner];
        s += l1 ? std::fabs(v) : v * v;
      }
      const double norm = l1 ? s : std::sqrt(s);
      for (int64_t i = 0; i < n; ++i) ys[base + i * inner] = norm == 0.0 ? 0.0 : xs[base + i * inner] / norm;
    }
  c.outputs[0] = real_tensor(x.dtype(), x.shape(), ys);
}

// ---- MeanVarianceNormalization ---------------------------------------------------------------

std::vector<bool> mvn_mask(const KernelContext& c, int rank) {
  return axes_mask(c, attr_ints(c.node, "axes", {0, 2, 3}), rank, "attribute 'axes'");
}

void mvn_validate(KernelContext& c) {
  require_real(c, 0);
  if (c.has(0) && c.value(0).is_tensor()) mvn_mask(c, c.in(0).rank());
}

void mvn_run(KernelContext& c) {
  mvn_validate(c);
  const Tensor& x = c.in(0);
  const auto mask = mvn_mask(c, x.rank());
  Shape stat_shape = x.shape(), reduced;
  for (int i = 0; i < x.rank(); ++i)
    if (mask[i]) {
      reduced.push_back(x.dim(i));
      stat_shape[i] = 1;
    }
  const int64_t count = shape_numel(reduced);
  const int64_t ns = shape_numel(stat_shape);
  const auto xs = x.to_doubles();
  std::vector<double> mean(ns, 0.0), var(ns, 0.0), ys(xs.size());
  {
    BroadcastWalker w(stat_shape, x.shape());
    for (double v : xs) mean[w.next()] += v;
  }
  for (auto& m : mean) m = count ? m / static_cast<double>(count) : 0.0;
  {
    BroadcastWalker w(stat_shape, x.shape());
    for (double v : xs) {
      const int64_t k = w.next();
      var[k] += (v - mean[k]) * (v - mean[k]);
    }
  }
  std::vector<double> denom(ns);
  for (int64_t k = 0; k < ns; ++k) denom[k] = std::sqrt(count ? var[k] / static_cast<double>(count) : 0.0) + 1e-9;
  BroadcastWalker w(stat_shape, x.shape());
  for (size_t i = 0; i < xs.size(); ++i) {
    const int64_t k = w.next();
    ys[i] = (xs[i] - mean[k]) / denom[k];
  }
  c.outputs[0] = real_tensor(x.dtype(), x.shape(), ys);
}

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  r.add("", "BatchNormalization", {7, 9, 14, 15},
        OpDef{batch_norm_run, batch_norm_fast, batch_norm_validate, /*layout_aware=*/true});
  r.add("", "InstanceNormalization", {6, 22}, OpDef{instance_norm_run, instance_norm_fast, instance_norm_validate});
  r.add("", "GroupNormalization", {18, 21}, OpDef{group_norm_run, nullptr, group_norm_validate});
  r.add("", "LRN", {1, 13}, OpDef{lrn_run, lrn_fast, lrn_validate, /*layout_aware=*/true});
  r.add("", "LpNormalization", {1, 22}, OpDef{lp_norm_run, nullptr, lp_norm_validate});
  r.add("", "MeanVarianceNormalization", {9, 13}, OpDef{mvn_run, nullptr, mvn_validate});
}

}  // namespace qtool
