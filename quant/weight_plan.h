// SPDX-License-Identifier: Apache-2.0
// Turns the user's weight options (--bits, --ternary, --dtype, --group-size, --symmetric /
// --asymmetric, --keep-first-last, --layer-bits) into per-node WeightSpecs and the opset the file
// needs. Shared by the CLI and the C API.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "quant/pass.h"

namespace qtool {

struct WeightPlanOptions {
  int bits = 8;                       // 8, 4, 2, 1 (binary)
  bool ternary = false;               // TWN ternary instead of --bits
  std::string dtype;                  // "fp16" | "bf16": half-precision weights instead of integer codes
  int symmetric = -1;                 // 1 / 0; -1: symmetric for 8 bits, asymmetric below (a zero point)
  int64_t group_size = 0;             // 0 per channel; 16, 32, 64, 128 (int8/int4)
  int keep_first_last_bits = 0;       // 0: off; else bits for the first and last weighted node
  std::map<std::string, int> layer_bits;  // node label -> bits (8, 4, 2, 1, 16 = fp16, 32 = float)
};

// Spec for one bit width (16 = fp16, 32 = float). Throws InputError for unsupported widths.
WeightSpec weight_spec_for_bits(int bits, int symmetric, int64_t group_size);
// Labels (name, or first output) of Conv / Gemm / MatMul nodes with an initializer weight, in graph order.
std::vector<std::string> weighted_nodes(const Model& model);
// Fills opts.weights, opts.layer_weights, opts.bits and opts.target_opset (21 when any weight is
// int4 or blocked). Throws InputError naming the option on bad values or unknown node names.
void apply_weight_plan(const Model& model, const WeightPlanOptions& plan, QuantOptions& opts);
// Nodes GPTQ applies to: low-bit uniform and ternary weights (int4, int2, ternary). Binary weights
// stay round-to-nearest: with alpha fixed, GPTQ's error feedback through sign() diverges
// (mnist-net_256x2: 28% with GPTQ vs 56% nearest).
std::vector<std::string> low_bit_nodes(const Model& model, const QuantOptions& opts);

}  // namespace qtool
