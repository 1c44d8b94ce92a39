// SPDX-License-Identifier: Apache-2.0
// The int8 pipeline as a list of pass ids:
//   prepare:  remove_initializer_inputs, fold_constants, fold_batchnorm, fold_bias_add, upgrade_opset   (before calibration, so
//             calibration table names match the graph that gets quantized)
//   quantize: insert_qdq, integer_hardswish, quantize_constants
#pragma once
#include "quant/pass.h"

namespace qtool {

extern const std::vector<std::string> kPreparePasses;
extern const std::vector<std::string> kQuantizePasses;

// Returns the prepared copy of `model`; stats go to ctx.
Model prepare_for_quantization(const Model& model, PassContext& ctx);
// Runs kQuantizePasses on a prepared model (ctx.table may be nullptr: weight-only). Taken by value:
// a caller done with `prepared` moves it in, and its weights are not copied once more.
Model quantize_prepared(Model prepared, PassContext& ctx);

}  // namespace qtool
