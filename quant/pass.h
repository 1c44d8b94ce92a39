// Graph passes: each takes a Model and rewrites it in place (Model -> Model). Every pass has a
// stable snake_case id, used by the CLI, the C API and the pipelines; the list lives in
// quant/pass_registry.cpp, so a new pass is one new file plus one registry line.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "calib/calibration_table.h"
#include "io/model.h"
#include "quant/qparams.h"

namespace qtool {

struct QuantOptions {
  int bits = 8;                                     // weight bits (8 only in this version)
  ActType act_type = ActType::kUInt8;               // --act-type uint8|int8
  std::set<std::string> exclude;                    // node names kept float
  std::set<std::string> op_types{"Conv", "Gemm", "MatMul", "Add"};  // ops whose inputs get QDQ
  int target_opset = 13;                            // QDQ with per-channel axis needs >= 13
};

struct PassStats {
  int nodes_quantized = 0;
  std::vector<std::string> kept_float;   // quantizable nodes left float, "name (reason)"
  int weights_quantized = 0;
  int activations_quantized = 0;
  int biases_quantized = 0;
  int batchnorms_folded = 0;
  int opset_before = 0, opset_after = 0;
};

struct PassContext {
  QuantOptions options;
  const CalibrationTable* table = nullptr;  // nullptr: weights only, activations stay float
  PassStats stats;
};

using PassFn = void (*)(Model&, PassContext&);
struct PassInfo {
  const char* id;
  const char* description;
  PassFn fn;
};

const std::vector<PassInfo>& pass_registry();
// Throws InputError listing known ids when `id` is unknown.
void run_pass(const std::string& id, Model& model, PassContext& ctx);

// The passes (one file each).
void remove_initializer_inputs(Model& model, PassContext& ctx);
void fold_constants(Model& model, PassContext& ctx);
void fold_batchnorm(Model& model, PassContext& ctx);
void upgrade_opset(Model& model, PassContext& ctx);
void insert_qdq(Model& model, PassContext& ctx);

// Names of the activation tensors insert_qdq quantizes (ignoring --exclude), for calibration.
std::vector<std::string> qdq_activation_tensors(const Model& model, const QuantOptions& opts);

}  // namespace qtool
