// SPDX-License-Identifier: Apache-2.0
// Quantization parameters (scale, zero point) and the reference quantize/dequantize math.
// Conventions follow ONNX QuantizeLinear: q = saturate(round_half_even(x / scale) + zero_point).
//   weights:     symmetric int8 per output channel, q in [-127, 127], zero_point 0
//                (the [-127,127] range keeps int8 x int8 products free of the -128 corner case).
//   activations: uint8 asymmetric per tensor (range widened to include 0 so that 0 is exact), or
//                int8 symmetric per tensor with zero_point 0, or (kSymmetric) uint8 with zero
//                point 0 for non-negative ranges and int8 symmetric otherwise, or
//                (kInt8Asymmetric) the uint8 grid stored as int8 (codes and zero point - 128).
//   bias:        int32, scale = input scale x weight scale (per channel), zero_point 0.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "calib/observer.h"
#include "core/tensor.h"

namespace qtool {

struct QParams {
  float scale = 1.f;
  int32_t zero_point = 0;
  bool is_unsigned = true;  // uint8 codes (else int8)
};

// kSymmetric: zero point 0; uint8 when the range is non-negative, else int8.
// kInt8Asymmetric: the kUInt8 grid (same scale, same 256 values) with int8 codes and zero point
// z - 128: onnxruntime's QInt8 activations (quantize_static's default). On x86 CPUs without VNNI
// onnxruntime computes uint8 x int8 products with vpmaddubsw, whose int16 pair sums saturate;
// measured on an AVX2 EPYC (onnxruntime 1.32): resnet_4b uint8 63.4% top-1 against 75.9% for the
// same grid in int8 (75.9% as written). Its int8 kernels do not saturate.
enum class ActType { kUInt8, kInt8, kSymmetric, kInt8Asymmetric };

// "uint8", "int8", "symmetric", "int8-asymmetric" (the --act-type spellings); InputError otherwise.
ActType parse_act_type(const std::string& name);
// Histogram observers use 256 levels for non-negative tensors on the asymmetric 8-bit grids.
inline bool asymmetric_grid(ActType t) { return t == ActType::kUInt8 || t == ActType::kInt8Asymmetric; }

QParams activation_qparams(Range r, ActType type);
// The same grid stored as uint8: int8 codes with zero point z become uint8 codes with zero point
// z + 128 (every dequantized value is unchanged); uint8 parameters are returned as they are.
QParams as_uint8(QParams q);
// The inverse: uint8 codes with zero point z become int8 codes with zero point z - 128.
QParams as_int8(QParams q);

// InputError "<label>: value ..." when a value is not finite or (format "fp16") beyond float16's range.
void check_weight_values(const Tensor& w, const std::string& label, const std::string& format);
// InputError "<what> gives the quantization scale ..." unless scale is finite and >= FLT_MIN.
void check_scale(float scale, const std::string& what);

// Per-channel symmetric weights. `axis` is the channel axis; scales[c] = max|w_c| / qmax
// (1.0 for an all-zero channel). Returns int8 values with the same shape as w.
struct ChannelQuant {
  Tensor values;              // int8
  std::vector<float> scales;  // one per channel
  int axis = 0;
};
ChannelQuant quantize_per_channel(const Tensor& w, int axis, int qmax = 127);
Tensor dequantize_per_channel(const ChannelQuant& q);  // float32, for tests and error analysis

// Bias as int32 with per-channel scale input_scale * weight_scales[c].
Tensor quantize_bias(const Tensor& bias, float input_scale, const std::vector<float>& weight_scales,
                     std::vector<float>* bias_scales);

// Signal-to-quantization-noise ratio in dB: 10 log10(sum ref^2 / sum (ref - x)^2); +inf when equal.
double sqnr_db(const float* ref, const float* x, int64_t n);

}  // namespace qtool
