// SPDX-License-Identifier: Apache-2.0
#include "quant/quantize_model.h"

namespace qtool {

const std::vector<std::string> kPreparePasses = {"remove_initializer_inputs", "fold_constants", "fold_batchnorm",
                                                   "fold_bias_add", "upgrade_opset"};
const std::vector<std::string> kQuantizePasses = {"insert_qdq", "integer_hardswish", "quantize_constants"};

Model prepare_for_quantization(const Model& model, PassContext& ctx) {
  validate_node_attributes(model);
  Model m = model;
  for (const auto& id : kPreparePasses) run_pass(id, m, ctx);
  return m;
}

Model quantize_prepared(Model prepared, PassContext& ctx) {
  for (const auto& id : kQuantizePasses) run_pass(id, prepared, ctx);
  check_model(prepared, prepared.path.string() + " (quantized)");
  return prepared;
}

}  // namespace qtool
