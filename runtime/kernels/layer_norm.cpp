// SPDX-License-Identifier: Apache-2.0
// Row normalizations over the trailing axes: LayerNormalization (ONNX 17; also version 1 in the
// default domain, the contrib op onnxruntime registers there and its optimizer writes into
// models of older opsets), RMSNormalization (ONNX 23), and onnxruntime's contrib ops that its
// transformer optimizer writes into saved models: SimplifiedLayerNormalization (default domain,
// version 1), com.microsoft SkipLayerNormalization and SkipSimplifiedLayerNormalization.
//
// LayerNormalization (spec function body): over axes [axis, rank) per row,
//   Mean = mean(X), D = X - Mean, InvStdDev = 1 / sqrt(mean(D^2) + epsilon),
//   Normalized = D * InvStdDev (computed at stash_type precision, cast to X's type),
//   Y = Normalized * Scale + B (in X's type; Scale and B broadcast unidirectionally to X).
//   Mean / InvStdDev have X's shape with the normalized axes set to 1 and the stash_type type.
// RMSNormalization: Y = X / sqrt(mean(X^2) + epsilon) * scale (Y has scale's type).
// SimplifiedLayerNormalization (onnxruntime): RMSNormalization with an optional inv_std_var
//   output (axis -1, epsilon 1e-5 by default).
// SkipLayerNormalization (onnxruntime docs/ContribOperators.md): s = input + skip (+ bias), then
//   layer normalization of s over the last axis with gamma (+ beta); outputs output, mean,
//   inv_std_var, input_skip_bias_sum (s). SkipSimplifiedLayerNormalization: the same with RMS
//   normalization (no beta; mean output 0 as onnxruntime). epsilon defaults to 1e-12.
// Statistics in double for every float type. Fast kernel (float32 with a per-row scale / bias of
// the normalized size): Eigen row loops.
#include <Eigen/Core>

#include <cmath>

#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

enum class Variant { kLayerNorm, kRms, kSimplified, kSkip, kSkipSimplified };

constexpr bool is_skip(Variant v) { return v == Variant::kSkip || v == Variant::kSkipSimplified; }
constexpr bool is_rms(Variant v) { return v == Variant::kRms || v == Variant::kSimplified || v == Variant::kSkipSimplified; }

// Input positions per variant.
struct Inputs {
  int x = 0, skip = -1, scale = 1, bias = -1, add_bias = -1;
};
constexpr Inputs inputs_of(Variant v) {
  switch (v) {
    case Variant::kLayerNorm: return {0, -1, 1, 2, -1};
    case Variant::kRms: return {0, -1, 1, -1, -1};
    case Variant::kSimplified: return {0, -1, 1, 2, -1};  // onnxruntime's kernel reads an optional bias
    case Variant::kSkip: return {0, 1, 2, 3, 4};
    case Variant::kSkipSimplified: return {0, 1, 2, -1, 3};
  }
  return {};
}
// Output positions: mean, inverse std, input + skip + bias.
struct Outputs {
  int mean = -1, inv = -1, sum = -1;
};
constexpr Outputs outputs_of(Variant v) {
  switch (v) {
    case Variant::kLayerNorm: return {1, 2, -1};
    case Variant::kRms: return {-1, -1, -1};
    case Variant::kSimplified: return {-1, 1, -1};
    case Variant::kSkip:
    case Variant::kSkipSimplified: return {1, 2, 3};
  }
  return {};
}

float default_epsilon(Variant v) { return is_skip(v) ? 1e-12f : 1e-5f; }

int norm_axis(const KernelContext& c, Variant v, int rank) {
  if (rank == 0) c.fail("input 'X' must have rank >= 1");
  if (is_skip(v)) return rank - 1;
  return checked_axis(c, attr_int(c.node, "axis", -1), rank);
}

// The type of Mean / InvStdDev (stash_type; float for the contrib ops).
DType stash_dtype(const KernelContext& c, Variant v) {
  if (is_skip(v)) return DType::kFloat;
  const int64_t s = attr_int(c.node, "stash_type", 1);
  const DType t = static_cast<DType>(s);
  if (s != 1 && s != 10 && s != 11 && s != 16)
    c.fail("attribute 'stash_type': " + std::to_string(s) + " is not a float type (1, 10, 11 or 16)");
  return t;
}

bool is_real(DType t) { return dispatch<RealTypes>(t, [](auto) {}); }

template <Variant V>
void norm_validate(KernelContext& c) {
  constexpr Inputs in = inputs_of(V);
  attr_float(c.node, "epsilon", default_epsilon(V));
  stash_dtype(c, V);
  for (int i : {in.x, in.skip, in.scale, in.bias, in.add_bias})
    if (i >= 0 && c.has(i) && c.value(i).is_tensor() && !is_real(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (!c.has(in.x) || !c.value(in.x).is_tensor()) return;
  const Tensor& x = c.in(in.x);
  const int axis = norm_axis(c, V, x.rank());
  auto check_bcast = [&](int i, const char* name) {
    if (i < 0 || !c.has(i) || !c.value(i).is_tensor()) return;
    if (!broadcastable_to(c.in(i).shape(), x.shape()))
      c.fail("input '" + std::string(name) + "' of shape " + shape_str(c.in(i).shape()) +
             " does not broadcast to the input's shape " + shape_str(x.shape()));
  };
  check_bcast(in.skip, "skip");
  check_bcast(in.scale, is_skip(V) ? "gamma" : "scale");
  check_bcast(in.bias, is_skip(V) ? "beta" : "B");
  check_bcast(in.add_bias, "bias");
  (void)axis;
}

// Values of input i broadcast to `shape` (empty when the input is absent). When the input only
// varies within the trailing block shape[axis:], only that block is expanded (per_row = true,
// index by position in the row); otherwise the whole shape.
struct Param {
  std::vector<double> v;
  bool per_row = false;
  double at(int64_t e, int64_t n) const { return per_row ? v[e % n] : v[e]; }
};

Param broadcast_values(const KernelContext& c, int i, const Shape& shape, int axis) {
  Param p;
  if (i < 0 || !c.has(i)) return p;
  const Tensor& t = c.in(i);
  const auto v = t.to_doubles();
  int lead = 0;
  while (lead < t.rank() && t.dim(lead) == 1) ++lead;
  Shape target = shape;
  if (t.rank() - lead <= static_cast<int>(shape.size()) - axis) {
    p.per_row = true;
    target.assign(shape.begin() + axis, shape.end());
  }
  Shape src(t.shape().begin() + std::min<int>(lead, std::max<int>(0, t.rank() - static_cast<int>(target.size()))),
            t.shape().end());
  if (src == target) {
    p.v = v;
    return p;
  }
  p.v.resize(shape_numel(target));
  BroadcastWalker w(src, target);
  for (auto& e : p.v) e = v[w.next()];
  return p;
}

// One rounding to T, back in T's arithmetic type.
template <typename T>
inline Compute<T> as_t(double v) {
  return to_compute(from_compute<T>(static_cast<Compute<T>>(v)));
}

// Reference body for X of type TX and Y of type TY: statistics in double, the normalized value
// rounded to TX, the affine step in TY's arithmetic (the spec's function bodies).
template <Variant V, typename TX, typename TY>
void norm_typed(KernelContext& c, const Tensor& x0, int axis, double eps, Tensor& y, std::vector<double>& mean,
                std::vector<double>& inv, Tensor& sum) {
  constexpr Inputs in = inputs_of(V);
  const int rank = x0.rank();
  int64_t outer = 1, n = 1;
  for (int i = 0; i < axis; ++i) outer *= x0.dim(i);
  for (int i = axis; i < rank; ++i) n *= x0.dim(i);
  const TX* px = x0.data<TX>();
  if (is_skip(V)) {  // s = input + skip (+ bias), held in X's type
    const auto sk = broadcast_values(c, in.skip, x0.shape(), axis), bi = broadcast_values(c, in.add_bias, x0.shape(), axis);
    sum = Tensor::uninitialized(x0.dtype(), x0.shape());
    TX* ps = sum.data<TX>();
    const int64_t total = x0.numel();
    for (int64_t i = 0; i < total; ++i)
      ps[i] = from_compute<TX>(static_cast<Compute<TX>>(static_cast<double>(to_compute(px[i])) + sk.at(i, n) +
                                                        (bi.v.empty() ? 0.0 : bi.at(i, n))));
    px = ps;
  }
  const auto scale = broadcast_values(c, in.scale, x0.shape(), axis), bias = broadcast_values(c, in.bias, x0.shape(), axis);
  TY* py = y.data<TY>();
  mean.assign(outer, 0.0);
  inv.assign(outer, 0.0);
  std::vector<double> row(n);
  for (int64_t r = 0; r < outer; ++r) {
    for (int64_t i = 0; i < n; ++i) row[i] = static_cast<double>(to_compute(px[r * n + i]));
    double m = 0.0, v = 0.0;
    if (!is_rms(V)) {
      for (double e : row) m += e;
      m = n ? m / static_cast<double>(n) : 0.0;
    }
    for (double e : row) v += (e - m) * (e - m);
    v = n ? v / static_cast<double>(n) : 0.0;
    const double iv = 1.0 / std::sqrt(v + eps);
    mean[r] = m;
    inv[r] = iv;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t e = r * n + i;
      const auto normalized = static_cast<Compute<TY>>(as_t<TX>((row[i] - m) * iv));
      auto yv = to_compute(from_compute<TY>(normalized * as_t<TY>(scale.at(e, n))));
      if (!bias.v.empty()) yv = to_compute(from_compute<TY>(yv + as_t<TY>(bias.at(e, n))));
      py[e] = from_compute<TY>(yv);
    }
  }
}

// Reference: every float type, scale / bias broadcast to X.
template <Variant V>
void norm_run(KernelContext& c) {
  norm_validate<V>(c);
  constexpr Inputs in = inputs_of(V);
  constexpr Outputs out = outputs_of(V);
  const Tensor& x0 = c.in(in.x);
  c.in(in.scale);  // required: fails when missing
  if (is_skip(V)) c.in(in.skip);
  const int axis = norm_axis(c, V, x0.rank());
  const double eps = attr_float(c.node, "epsilon", default_epsilon(V));
  const DType xt = x0.dtype();
  const DType yt = is_rms(V) && !is_skip(V) ? c.in(in.scale).dtype() : xt;
  Tensor y = Tensor::uninitialized(yt, x0.shape()), sum;
  std::vector<double> mean, inv;
  c.dispatch_or_fail<RealTypes>(in.x, xt, [&](auto tx) {
    c.dispatch_or_fail<RealTypes>(in.scale, yt, [&](auto ty) {
      norm_typed<V, typename decltype(tx)::type, typename decltype(ty)::type>(c, x0, axis, eps, y, mean, inv, sum);
    });
  });
  c.outputs[0] = std::move(y);
  Shape stat_shape = x0.shape();
  for (int i = axis; i < x0.rank(); ++i) stat_shape[i] = 1;
  const DType st = stash_dtype(c, V);
  auto emit = [&](int k, const std::vector<double>& v) {
    if (k < 0 || !wants_output(c, k) || k >= static_cast<int>(c.outputs.size())) return;
    Tensor o = Tensor::uninitialized(st, stat_shape);
    dispatch<RealTypes>(st, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* q = o.data<T>();
      for (size_t i = 0; i < v.size(); ++i) q[i] = from_compute<T>(static_cast<Compute<T>>(v[i]));
    });
    c.outputs[k] = std::move(o);
  };
  emit(out.mean, mean);
  emit(out.inv, inv);
  if (out.sum >= 0 && wants_output(c, out.sum) && out.sum < static_cast<int>(c.outputs.size())) {
    if (!is_skip(V)) return;
    c.outputs[out.sum] = std::move(sum);
  }
}

// A float32 per-row parameter of exactly the normalized size (or absent): its data, else nullptr.
// `ok` turns false when the input is present but not of that form.
const float* row_param(const KernelContext& c, int i, const Shape& xs, int axis, int64_t n, bool& ok) {
  if (i < 0 || !c.has(i)) return nullptr;
  const Tensor& t = c.in(i);
  int lead = 0;
  while (lead < t.rank() && t.dim(lead) == 1) ++lead;
  if (t.dtype() != DType::kFloat || t.layout() || t.numel() != n || !broadcastable_to(t.shape(), xs) ||
      t.rank() - lead > static_cast<int>(xs.size()) - axis) {
    ok = false;
    return nullptr;
  }
  return t.data<float>();
}

// float32 rows with per-row scale / bias vectors: Eigen array loops.
template <Variant V>
bool norm_fast(KernelContext& c) {
  constexpr Inputs in = inputs_of(V);
  constexpr Outputs out = outputs_of(V);
  const Tensor& x = c.in(in.x);
  if (x.dtype() != DType::kFloat || x.layout() || x.numel() == 0) return false;
  if (!is_skip(V) && attr_int(c.node, "stash_type", 1) != 1) return false;
  const int rank = x.rank();
  const int axis = norm_axis(c, V, rank);
  int64_t outer = 1, n = 1;
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int i = axis; i < rank; ++i) n *= x.dim(i);
  bool ok = true;
  const float* scale = row_param(c, in.scale, x.shape(), axis, n, ok);
  const float* bias = row_param(c, in.bias, x.shape(), axis, n, ok);
  const float* add_bias = row_param(c, in.add_bias, x.shape(), axis, n, ok);
  if (!ok || !scale) return false;
  const float* skip = nullptr;
  if (is_skip(V)) {
    const Tensor& s = c.in(in.skip);
    if (s.dtype() != DType::kFloat || s.layout() || s.numel() == 0 || s.rank() > rank || x.numel() % s.numel() != 0)
      return false;
    // skip must repeat whole trailing blocks of x: (B,S,H) / (1,S,H) / (S,H) against (B,S,H)
    int lead = 0;
    while (lead < s.rank() && s.dim(lead) == 1) ++lead;
    for (int i = lead; i < s.rank(); ++i)
      if (s.dim(i) != x.dim(rank - s.rank() + i)) return false;
    skip = s.data<float>();
  }
  const double eps = attr_float(c.node, "epsilon", default_epsilon(V));
  Tensor y = Tensor::uninitialized(DType::kFloat, x.shape());
  Tensor sum;
  const bool want_sum = out.sum >= 0 && wants_output(c, out.sum);
  if (want_sum) sum = Tensor::uninitialized(DType::kFloat, x.shape());
  std::vector<double> means(outer), invs(outer);
  std::vector<float> tmp(is_skip(V) && !want_sum ? n : 0);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  using Row = Eigen::Map<const Eigen::ArrayXf>;
  const int64_t skip_n = skip ? c.in(in.skip).numel() : 1;
  for (int64_t r = 0; r < outer; ++r) {
    const float* p = px + r * n;
    if (is_skip(V)) {
      float* s = want_sum ? sum.data<float>() + r * n : tmp.data();
      auto srow = Eigen::Map<Eigen::ArrayXf>(s, n);
      srow = Row(p, n) + Row(skip + (r * n) % skip_n, n);
      if (add_bias) srow += Row(add_bias, n);
      p = s;
    }
    Row row(p, n);
    const double m = is_rms(V) ? 0.0 : sum_f32(p, n) / static_cast<double>(n);
    const float mf = static_cast<float>(m);
    const double v = sum_sq_dev_f32(p, n, mf) / static_cast<double>(n);
    const float iv = static_cast<float>(1.0 / std::sqrt(v + eps));
    auto yrow = Eigen::Map<Eigen::ArrayXf>(py + r * n, n);
    if (bias) yrow = (row - mf) * iv * Row(scale, n) + Row(bias, n);
    else yrow = (row - mf) * iv * Row(scale, n);
    means[r] = m;
    invs[r] = iv;
  }
  c.outputs[0] = std::move(y);
  Shape stat_shape = x.shape();
  for (int i = axis; i < rank; ++i) stat_shape[i] = 1;
  auto emit = [&](int k, const std::vector<double>& v) {
    if (k < 0 || !wants_output(c, k) || k >= static_cast<int>(c.outputs.size())) return;
    Tensor o = Tensor::uninitialized(DType::kFloat, stat_shape);
    for (size_t i = 0; i < v.size(); ++i) o.data<float>()[i] = static_cast<float>(v[i]);
    c.outputs[k] = std::move(o);
  };
  emit(out.mean, means);
  emit(out.inv, invs);
  if (want_sum && out.sum < static_cast<int>(c.outputs.size())) c.outputs[out.sum] = std::move(sum);
  return true;
}

template <Variant V>
OpDef norm_def() {
  return OpDef{norm_run<V>, norm_fast<V>, norm_validate<V>};
}

}  // namespace

void register_layer_norm_ops(OpRegistry& r) {
  r.add("", "LayerNormalization", {1, 17}, norm_def<Variant::kLayerNorm>());
  r.add("", "RMSNormalization", {23}, norm_def<Variant::kRms>());
  r.add("", "SimplifiedLayerNormalization", {1}, norm_def<Variant::kSimplified>());
  r.add("com.microsoft", "SkipLayerNormalization", {1}, norm_def<Variant::kSkip>());
  r.add("com.microsoft", "SkipSimplifiedLayerNormalization", {1}, norm_def<Variant::kSkipSimplified>());
}

}  // namespace qtool
