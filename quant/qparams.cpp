// SPDX-License-Identifier: Apache-2.0
#include "quant/qparams.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace qtool {

QParams activation_qparams(Range r, ActType type) {
  QParams q;
  if (type == ActType::kInt8) {
    const float amax = std::max(std::fabs(r.min), std::fabs(r.max));
    q.scale = amax > 0 ? amax / 127.f : 1.f;
    q.zero_point = 0;
    return q;
  }
  const float lo = std::min(0.f, r.min), hi = std::max(0.f, r.max);
  if (hi - lo <= 0) return {1.f, 0};
  q.scale = (hi - lo) / 255.f;
  q.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / q.scale), 0.f, 255.f));
  return q;
}

ChannelQuant quantize_per_channel(const Tensor& w, int axis, int qmax) {
  if (w.dtype() != DType::kFloat) throw Error("per-channel quantization needs float32 weights");
  ChannelQuant out;
  out.axis = axis;
  out.values = Tensor(DType::kInt8, w.shape());
  int64_t outer = 1, ch = w.dim(axis), inner = 1;
  for (int i = 0; i < axis; ++i) outer *= w.dim(i);
  for (int i = axis + 1; i < w.rank(); ++i) inner *= w.dim(i);
  const float* p = w.data<float>();
  int8_t* q = out.values.data<int8_t>();
  out.scales.assign(ch, 0.f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < ch; ++c)
      for (int64_t i = 0; i < inner; ++i)
        out.scales[c] = std::max(out.scales[c], std::fabs(p[(o * ch + c) * inner + i]));
  for (auto& s : out.scales) s = s > 0 ? s / qmax : 1.f;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < ch; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (o * ch + c) * inner + i;
        const float v = std::nearbyint(p[k] / out.scales[c]);
        q[k] = static_cast<int8_t>(std::clamp(v, static_cast<float>(-qmax), static_cast<float>(qmax)));
      }
  return out;
}

Tensor dequantize_per_channel(const ChannelQuant& q) {
  Tensor w(DType::kFloat, q.values.shape());
  int64_t outer = 1, ch = q.values.dim(q.axis), inner = 1;
  for (int i = 0; i < q.axis; ++i) outer *= q.values.dim(i);
  for (int i = q.axis + 1; i < q.values.rank(); ++i) inner *= q.values.dim(i);
  const int8_t* p = q.values.data<int8_t>();
  float* o = w.data<float>();
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t c = 0; c < ch; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (a * ch + c) * inner + i;
        o[k] = p[k] * q.scales[c];
      }
  return w;
}

Tensor quantize_bias(const Tensor& bias, float input_scale, const std::vector<float>& weight_scales,
                     std::vector<float>* bias_scales) {
  auto b = bias.to_floats();
  if (b.size() != weight_scales.size())
    throw Error("bias has " + std::to_string(b.size()) + " values for " + std::to_string(weight_scales.size()) + " channels");
  Tensor q(DType::kInt32, {static_cast<int64_t>(b.size())});
  int32_t* out = q.data<int32_t>();
  bias_scales->resize(b.size());
  for (size_t c = 0; c < b.size(); ++c) {
    const float s = input_scale * weight_scales[c];
    (*bias_scales)[c] = s;
    const double v = std::nearbyint(static_cast<double>(b[c]) / s);
    out[c] = static_cast<int32_t>(std::clamp(v, -2147483647.0, 2147483647.0));
  }
  return q;
}

double sqnr_db(const float* ref, const float* x, int64_t n) {
  double sig = 0, noise = 0;
  for (int64_t i = 0; i < n; ++i) {
    sig += static_cast<double>(ref[i]) * ref[i];
    const double d = static_cast<double>(ref[i]) - x[i];
    noise += d * d;
  }
  if (noise == 0) return std::numeric_limits<double>::infinity();
  if (sig == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(sig / noise);
}

}  // namespace qtool
