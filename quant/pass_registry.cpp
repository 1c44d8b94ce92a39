// SPDX-License-Identifier: Apache-2.0
#include "core/error.h"
#include "quant/pass.h"

namespace qtool {

const std::vector<PassInfo>& pass_registry() {
  static const std::vector<PassInfo> passes = {
      {"remove_initializer_inputs", "drop initializers from graph.input (IR 3 style models)", remove_initializer_inputs},
      {"fold_constants", "evaluate nodes whose inputs are all constant into initializers", fold_constants},
      {"fold_batchnorm", "fold BatchNormalization into the preceding Conv", fold_batchnorm},
      {"fold_bias_add", "fold a bias Add / scale Mul after Conv or MatMul into the layer (MatMul + Add -> Gemm)",
       fold_bias_add},
      {"upgrade_opset", "convert to the target ai.onnx opset with onnx's version converter", upgrade_opset},
      {"insert_qdq", "per-channel int8 weights, int32 bias, Q/DQ on the activations the target runtime fuses (qdq_placement)", insert_qdq},
      {"integer_hardswish", "onnxruntime target: a quantized HardSwish as QLinearAdd + QLinearMul (no float detour)",
       integer_hardswish},
      {"quantize_constants", "large float constants that are not weights (priors, embeddings, RNN weights) as 8-bit",
       quantize_constants},
  };
  return passes;
}

void run_pass(const std::string& id, Model& model, PassContext& ctx) {
  std::string known;
  for (const auto& p : pass_registry()) {
    if (id == p.id) return p.fn(model, ctx);
    known += (known.empty() ? "" : ", ") + std::string(p.id);
  }
  throw InputError("unknown pass '" + id + "' (known: " + known + ")");
}

void remove_initializer_inputs(Model& model, PassContext&) {
  model.drop_initializer_inputs();
  if (model.proto.ir_version() < 4) model.proto.set_ir_version(4);
}

}  // namespace qtool
