// SPDX-License-Identifier: Apache-2.0
// Sequential GPTQ over a whole model (the schedule of the GPTQ paper): layers are quantized in
// waves; a layer's Hessian is collected on the model whose earlier low-bit layers already hold their
// quantized weights, so each layer compensates the error its inputs really carry. A wave is every
// remaining layer none of whose inputs depends on a layer still unquantized (one pass over the
// calibration data per wave: parallel branches share a pass).
#pragma once
#include <map>
#include <string>

#include "calib/dataset.h"
#include "quant/gptq.h"
#include "quant/pass.h"
#include "quant/quantized_weight.h"

namespace qtool {

// Output-channel axis of a Conv / Gemm / MatMul weight (input 1): Conv 0, Gemm transB ? 0 : 1, MatMul 1.
int weight_out_axis(const onnx::NodeProto& node);

// Quantized weights for every low-bit node (quant/weight_plan.h low_bit_nodes), keyed by node label.
// `prepared` must be the model insert_qdq will see (after prepare_for_quantization).
// masks: weight initializer -> uint8 mask (prune/prune.h); pruned weights stay exactly zero.
// After each wave, the values at the cut past every node that no unquantized layer influences any
// more are computed once and kept (within GptqOptions::cache_bytes); later waves run only the rest of
// the network on them, which gives the same Hessians as re-running the whole prefix.
struct GptqRunInfo {
  int waves = 0;
  int waves_from_cache = 0;  // waves whose Hessians ran on cached activations
  size_t cache_bytes = 0;    // largest activation cache held
};
std::map<std::string, QuantizedWeight> gptq_sequential(const Model& prepared, Dataset& data, const QuantOptions& opts,
                                                       const GptqOptions& gptq = {},
                                                       const std::map<std::string, Tensor>* masks = nullptr,
                                                       GptqRunInfo* info = nullptr);

}  // namespace qtool
