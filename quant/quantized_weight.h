// SPDX-License-Identifier: Apache-2.0
// A weight tensor quantized to integer codes with per-group parameters, and the layout facts
// every low-bit step needs: which axis holds the output channels (rows) and which the reduction
// (input channels), and how groups ("blocks" in ONNX DequantizeLinear-21 terms) are cut.
//
//   Conv   W [O, I/g, kh, kw]  rows O (axis 0), input axis 1, P = kh*kw positions per input channel
//   Gemm   W [N, K] (transB=1) rows N (axis 0), input axis 1
//   MatMul W [K, N], Gemm transB=0: rows N (axis 1), input axis 0
// Per-channel (group_size 0): one (scale, zero) per row; scale/zero shape [rows].
// Blocked (group_size G): one per row, per block of G consecutive input channels, per position;
// scale/zero have W's shape with ceil(I/G) along the input axis (DequantizeLinear-21 block_size).
#pragma once
#include <memory>

#include "core/tensor.h"
#include "quant/weight_format.h"

namespace qtool {

struct WeightLayout {
  Shape shape;
  int out_axis = 0, in_axis = 1;
  int64_t rows = 0, in = 0, positions = 1;  // rows x (in * positions) = numel

  static WeightLayout of(const Shape& shape, int out_axis);  // throws Error for unsupported ranks/axes
  int64_t cols() const { return in * positions; }
  // Flat index in W of row r, input channel i, position p.
  int64_t flat(int64_t r, int64_t i, int64_t p) const {
    return out_axis == 0 ? (r * in + i) * positions + p : i * rows + r;
  }
};

struct QuantizedWeight {
  std::shared_ptr<const WeightFormat> format;
  WeightLayout layout;
  int64_t group_size = 0;  // 0: per output channel
  Tensor codes;            // int32, W's shape
  Tensor scale, zero;      // float32; shape per the header comment

  int64_t blocks() const { return group_size ? (layout.in + group_size - 1) / group_size : 1; }
  Shape param_shape() const;
  int64_t param_index(int64_t r, int64_t i, int64_t p) const;
  Tensor dequantized() const;  // float32, W's shape
};

// Round-to-nearest with per-group parameters from format->fit.
QuantizedWeight quantize_rtn(const Tensor& w, int out_axis, std::shared_ptr<const WeightFormat> format,
                             int64_t group_size);
// Empty codes/scale/zero with the right shapes, for algorithms that fill them (GPTQ).
QuantizedWeight make_quantized_weight(const Tensor& w, int out_axis, std::shared_ptr<const WeightFormat> format,
                                      int64_t group_size);

}  // namespace qtool
