// SPDX-License-Identifier: Apache-2.0
// How a quantized weight is written into the ONNX graph so that standard runtimes decode it.
//
//   int8, int4 (uniform codes)  DequantizeLinear of an INT8/UINT8 or INT4/UINT4 initializer
//       (signed codes for symmetric grids, unsigned with a zero point for asymmetric ones), with
//       `axis` = output-channel axis (per channel) or `axis` = input axis + `block_size` (blocked).
//       INT4/UINT4 and block_size need ai.onnx opset >= 21 (IR 10).
//   int2, ternary, binary       a uint8 initializer with the codes bit-packed, decoded by standard
//       ops (opset >= 13) that every runtime constant-folds at load:
//         Cast(int32) -> Unsqueeze(1) -> Div(by 2^(b*j), j < 8/b) -> Mod(2^b) -> Reshape(-1)
//         -> Slice(numel) -> Cast(float) -> Reshape(rows view) -> Sub(zero) -> Mul(scale) -> Reshape(W)
//       Bit layout: element e of W (row-major) has stored code (code - code_min) in byte e / (8/b),
//       bits [(e % (8/b)) * b, +b), least significant bits first; the last byte is zero-padded.
//       Per output channel only (scale and zero broadcast over the channel's row; a single zero
//       when all channels share it, as binary and ternary do).
//   fp16, bf16                  a FLOAT16 / BFLOAT16 initializer and Cast(to=FLOAT).
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "io/model.h"
#include "quant/quantized_weight.h"

namespace qtool {

struct EmittedWeight {
  std::vector<onnx::NodeProto> nodes;  // to insert before the first consumer
  std::string value;                   // float32 value the consumer reads
  int64_t bytes = 0;                   // bytes of the stored payload (codes + scales + zero points)
};

// Adds initializers to `model` (names start with `base`) and returns the decode nodes.
EmittedWeight emit_quantized_weight(Model& model, const QuantizedWeight& q, const std::string& base);
// Half-precision storage: dtype kFloat16 or kBFloat16.
EmittedWeight emit_half_weight(Model& model, const Tensor& w, DType dtype, const std::string& base);

// onnxruntime's com.microsoft MatMulNBits (4-bit, blocked along K): adds B (uint8
// [N, blocks, block_size / 2], two codes per byte, even k in the low nibble), scales [N * blocks]
// and zero points (uint8 [N * ceil(blocks / 2)], packed alike; symmetric codes are stored + 8 with
// zero point 8). q must be int4 with group_size a power of two >= 16; rows are N, the input axis K.
struct MatMulNBitsWeight {
  std::string b, scales, zero_points;
  int64_t k = 0, n = 0, block_size = 0;
  int64_t bytes = 0;
};
MatMulNBitsWeight emit_matmulnbits_weight(Model& model, const QuantizedWeight& q, const std::string& base);

// Bit-packing used by the decode subgraph above (exposed for tests): codes must lie in
// [0, 2^bits), bits in {1, 2, 4}.
std::vector<uint8_t> pack_bits(const std::vector<int32_t>& codes, int bits);
std::vector<int32_t> unpack_bits(const std::vector<uint8_t>& packed, int bits, int64_t n);

}  // namespace qtool
