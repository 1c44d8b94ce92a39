// SPDX-License-Identifier: Apache-2.0
#include "quant/qparams.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace qtool {

ActType parse_act_type(const std::string& name) {
  if (name == "uint8") return ActType::kUInt8;
  if (name == "int8") return ActType::kInt8;
  if (name == "symmetric") return ActType::kSymmetric;
  if (name == "int8-asymmetric") return ActType::kInt8Asymmetric;
  throw InputError("activation type must be uint8, int8, symmetric or int8-asymmetric, got '" + name + "'");
}

QParams activation_qparams(Range r, ActType type) {
  if (type == ActType::kInt8Asymmetric) return as_int8(activation_qparams(r, ActType::kUInt8));
  QParams q;
  if (type == ActType::kSymmetric && r.min >= 0) {  // unsigned, zero point 0
    q.scale = r.max > 0 ? r.max / 255.f : 1.f;
    q.zero_point = 0;
    return q;
  }
  if (type == ActType::kInt8 || type == ActType::kSymmetric) {
    q.is_unsigned = false;
    const float amax = std::max(std::fabs(r.min), std::fabs(r.max));
    q.scale = amax > 0 ? amax / 127.f : 1.f;
    q.zero_point = 0;
    return q;
  }
  const double lo = std::min(0.f, r.min), hi = std::max(0.f, r.max);  // double: hi - lo may overflow float
  if (!(hi - lo > 0)) return {1.f, 0};
  q.scale = static_cast<float>((hi - lo) / 255.0);
  q.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / q.scale), 0.0, 255.0));
  return q;
}

QParams as_uint8(QParams q) {
  if (q.is_unsigned) return q;
  q.is_unsigned = true;
  q.zero_point += 128;
  return q;
}

QParams as_int8(QParams q) {
  if (!q.is_unsigned) return q;
  q.is_unsigned = false;
  q.zero_point -= 128;
  return q;
}

void check_weight_values(const Tensor& w, const std::string& label, const std::string& format) {
  if (!dtype_is_float(w.dtype())) return;
  const std::vector<double> v = w.to_doubles();
  const double limit = format == "fp16" ? 65504.0 : std::numeric_limits<float>::max();
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      throw InputError(label + ": value " + std::to_string(i) + " is " + (std::isnan(v[i]) ? "nan" : "inf") +
                       " (not finite); qtool cannot quantize it (a corrupt or diverged model?)");
    if (std::fabs(v[i]) > limit)
      throw InputError(label + ": value " + std::to_string(i) + " is " + std::to_string(v[i]) +
                       ", beyond float16's range (65504); it would become inf");
  }
}

void check_scale(float scale, const std::string& what) {
  if (!std::isfinite(scale) || !(scale > 0) || scale < std::numeric_limits<float>::min())
    throw InputError(what + " gives the quantization scale " + std::to_string(scale) +
                     "; scales must be finite and positive (are the ranges finite?)");
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
  for (auto& s : out.scales) s = s / qmax >= std::numeric_limits<float>::min() ? s / qmax : 1.f;  // ~0: all codes 0
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
