// SPDX-License-Identifier: Apache-2.0
// compress: one full compression run on a model, the pipeline behind `qtool quantize`, `sweep`,
// `auto` and the C API:
//   prepare (fold constants / BN, upgrade opset) -> prune (optional) -> calibrate activations
//   -> GPTQ for low-bit weights (with calibration data) -> insert QDQ / low-bit storage.
// Pruning happens before calibration, so calibration and GPTQ see the pruned model and every
// pruned weight stays exactly zero after quantization.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "calib/calibrate.h"
#include "prune/prune.h"
#include "quant/pass.h"
#include "quant/weight_plan.h"

namespace qtool {

inline PruneOptions no_pruning() {
  PruneOptions p;
  p.sparsity = 0;
  return p;
}

struct CompressOptions {
  WeightPlanOptions plan;                           // --bits, --ternary, --dtype, --group-size, ...
  std::map<std::string, WeightSpec> layer_specs;    // exact per-layer specs (a replayed plan); win over `plan`
  int act_bits = 0;              // 0: int8 activations with 8-bit weights, float otherwise; 8; 32 (float)
  std::string act_type;          // uint8 | int8 | symmetric | int8-asymmetric; empty: the target's default
  std::string overflow_fix;      // pairs | off (quant/overflow_fix.h); empty: pairs (both targets saturate without VNNI)
  std::string target = "onnxruntime";  // onnxruntime | openvino: Q/DQ placement (quant/qdq_placement.h)
  std::string method = "mse";      // observer
  double percentile = 99.999;
  std::string rounding = "gptq";   // gptq | nearest (low-bit weights)
  std::string format = "qdq";      // qdq | matmulnbits
  std::vector<std::string> exclude;
  std::vector<std::string> op_types = default_op_type_list();
  PruneOptions prune = no_pruning();  // used when prune_enabled (sparsity > 0 or a pattern)
  bool prune_enabled = false;
  bool keep_float_constants = false;  // --keep-float-constants: no quantize_constants
  const CalibrationTable* table = nullptr;  // reuse instead of calibrating on the data
  bool skip_nonfinite = false;     // drop calibration samples with non-finite values (else an error)
  std::map<std::string, std::vector<int64_t>> input_shapes;  // --input-shape (see runtime/value_shapes.h)
};

struct CompressResult {
  Model model;                 // the compressed model (not yet saved)
  QuantOptions options;        // what was applied
  PassStats stats;
  PruneReport pruning;
  CalibrationTable table;      // computed (or copied) activation ranges
  bool activations = false;    // activations quantized
  std::string calib_note, rounding_note;
  std::vector<std::string> gptq_nodes;
};

// Throws InputError naming the option for bad values (before any work).
void validate(const CompressOptions& opts);
// `calib` may be null (weights only, round-to-nearest). Node names in exclude/plan are checked.
CompressResult compress(const Model& model, const CompressOptions& opts, Dataset* calib);

// Activation grid a target runs fastest: onnxruntime -> "uint8" (asymmetric), openvino -> "symmetric".
std::string default_act_type(const std::string& target);
// "int4 asymmetric, blocks of 32 input channels", ...
std::string describe_weights(const WeightSpec& s);
// File suffix for the default output name: int8, int4, int2, binary, ternary, fp16, bf16.
std::string default_suffix(const QuantOptions& o);
// Average code bits per weight over the quantized weights (stats.weight_params).
double code_bits_per_weight(const PassStats& stats);

}  // namespace qtool
