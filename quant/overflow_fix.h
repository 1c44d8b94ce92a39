// SPDX-License-Identifier: Apache-2.0
// Overflow fix for int8 weights run against uint8 codes by vpmaddubsw (x86 CPUs without VNNI).
//
// onnxruntime's uint8 x int8 GEMM on AVX2 / AVX-512 without VNNI (MLAS) multiplies byte pairs with
// vpmaddubsw, which adds the two products of adjacent K elements into a saturating int16: with
// activation codes up to 255, a pair of weight codes with |w_a| + |w_b| > 128 can exceed 32767 and
// the layer's output is silently wrong (onnxruntime's quantization guide, "reduce_range"; NNCF's
// "overflow fix"). Measured on an AVX2 EPYC with onnxruntime 1.32: resnet_4b 75.9% -> 63.4% top-1,
// UltraFace scores 43.7 -> 25.8 dB SQNR, while the same files computed exactly (VNNI, or the QDQ
// graph as written) keep their accuracy. Their fixes are 7-bit weights ([-64, 64]) for every
// channel; qtool only raises the scale of a channel whose adjacent pairs could overflow, so that
// every pair sums to at most 128 codes, in the K orders runtimes use for a convolution (input
// channel major, NCHW im2col; kernel position major, NHWC; input channel pairs of each kernel
// position, oneDNN's blocked layouts in OpenVINO, whose CPU plugin saturated the same way on that
// CPU). Depthwise convolutions are left alone: their kernels sum each channel's window in int32
// (UltraFace computed exactly in onnxruntime either way). Most channels lose far less than the bit
// that reduce_range costs (UltraFace scores: 42.9 dB against 38.3 dB; 43.7 dB unfixed).
#pragma once
#include <vector>

#include "core/tensor.h"
#include "quant/quantized_weight.h"

namespace qtool {

// Largest code sum a pair of adjacent weights may have: 255 x 128 = 32640 <= 32767. The bound
// below uses 127 of scale so that rounding each weight to its code cannot exceed 128.
inline constexpr float kPairCodeLimit = 127.f;

// Per output row of `layout` (float32 weights w of that layout): the smallest scale for which
// every pair (k, k+1), k even, of the row's K sequence in each order sums to <= 128 codes:
// max over pairs (|w_a| + |w_b|) / 127. Orders: (input channel, position), (position, input
// channel) and input channels (2j, 2j+1) at each position; one order for MatMul / Gemm (one
// position). 0 for an all-zero row.
std::vector<float> pair_safe_min_scales(const Tensor& w, const WeightLayout& layout);

}  // namespace qtool
