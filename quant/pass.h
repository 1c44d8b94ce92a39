// SPDX-License-Identifier: Apache-2.0
// Graph passes: each takes a Model and rewrites it in place (Model -> Model). Every pass has a
// stable snake_case id, used by the CLI, the C API and the pipelines; the list lives in
// quant/pass_registry.cpp, so a new pass is one new file plus one registry line.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "calib/calibration_table.h"
#include "quant/quantized_weight.h"
#include "io/model.h"
#include "quant/qparams.h"

namespace qtool {

// How one layer's weights are stored: format is int8 | int4 | int2 | binary | ternary (integer
// codes, quant/weight_format.h), fp16 | bf16 (half precision), or float (left alone).
struct WeightSpec {
  std::string format = "int8";
  bool symmetric = true;
  int64_t group_size = 0;  // 0: per output channel; else blocks of G input channels (int8/int4)
  std::string key() const {
    return format + (symmetric ? "s" : "a") + (group_size ? "g" + std::to_string(group_size) : "");
  }
};

// The runtime whose fusion rules decide where Q/DQ goes (quant/qdq_placement.h) and the default
// activation grid: onnxruntime -> uint8 asymmetric; openvino -> symmetric (zero point 0 for
// non-negative tensors, a grid symmetric around 0 otherwise, as NNCF's performance preset; stored as
// uint8 with zero point 128 there, see insert_qdq.cpp).
enum class QdqTarget { kOnnxRuntime, kOpenVino };

// Default --op-types: layers plus the ops runtimes have integer kernels for.
inline std::set<std::string> default_op_types() {
  return {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Concat", "AveragePool", "GlobalAveragePool",
          "Sigmoid", "Softmax", "LeakyRelu"};
}

inline std::vector<std::string> default_op_type_list() {
  const auto s = default_op_types();
  return {s.begin(), s.end()};
}

struct QuantOptions {
  int bits = 8;                                     // default weight bits (informational)
  WeightSpec weights;                               // default for every weighted node
  std::map<std::string, WeightSpec> layer_weights;  // per node label (--layer-bits, --keep-first-last)
  bool quantize_activations = true;                 // QDQ on activations when a calibration table is given
  bool matmulnbits = false;                         // int4 MatMul/Gemm as com.microsoft MatMulNBits
  ActType act_type = ActType::kUInt8;               // --act-type uint8|int8|symmetric|int8-asymmetric
  bool overflow_fix = true;                         // int8 weight pairs safe for vpmaddubsw (quant/overflow_fix.h; --overflow-fix)
  std::set<std::string> exclude;                    // node names kept float
  std::set<std::string> op_types = default_op_types();  // ops that may be quantized
  QdqTarget target = QdqTarget::kOnnxRuntime;       // --target
  bool quantize_constants = true;                   // large non-weight constants as 8-bit (quantize_constants)
  int target_opset = 13;                            // QDQ with per-channel axis needs >= 13
  std::map<std::string, std::vector<int64_t>> input_shapes;  // --input-shape: concrete input extents
};

struct PassStats {
  int nodes_quantized = 0;
  std::vector<std::string> kept_float;   // quantizable nodes left float, "name (reason)"
  int weights_quantized = 0;
  int activations_quantized = 0;
  int biases_quantized = 0;
  int batchnorms_folded = 0;
  int constants_quantized = 0;                     // priors, embeddings, RNN weights stored as 8-bit
  int bias_adds_folded = 0;                        // Add / Mul constants folded into layers
  int64_t bias_limited_channels = 0;               // weight scales raised so an int32 bias fits
  int64_t overflow_fixed_channels = 0;             // weight scales raised so no int8 pair can saturate int16
  int gptq_layers = 0;                             // weights rounded with GPTQ instead of nearest
  std::map<std::string, int64_t> weight_params;    // parameters per weight format
  int opset_before = 0, opset_after = 0;
};

struct PassContext {
  QuantOptions options;
  const CalibrationTable* table = nullptr;  // nullptr: weights only, activations stay float
  // Weights already quantized (e.g. by sequential GPTQ), per node label; used as they are.
  const std::map<std::string, QuantizedWeight>* quantized = nullptr;
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
// Every name `node` reads: its inputs and, through If/Loop/Scan bodies (any depth), the names
// those bodies read (outer-scope values among them).
void collect_node_reads(const onnx::NodeProto& node, std::set<std::string>& reads);
// Removes initializers no node reads (in the main graph or any If/Loop/Scan body) and no graph
// output names, with the graph inputs that only declared them (IR < 4). Used by the passes that
// leave weights behind (fold_constants, fold_bias_add).
void drop_unread_initializers(Model& model);
// Every main-graph node's attributes through the op registry's validators (runtime/op_registry.h),
// before any pass hands the graph to libonnx (shape inference and the version converter trust
// attributes: MaxPool strides 0 is a SIGFPE there). InputError "<file>: node '...' (Op): ...".
void validate_node_attributes(const Model& model);
void fold_batchnorm(Model& model, PassContext& ctx);
void fold_bias_add(Model& model, PassContext& ctx);
void upgrade_opset(Model& model, PassContext& ctx);
void insert_qdq(Model& model, PassContext& ctx);
void quantize_constants(Model& model, PassContext& ctx);
void integer_hardswish(Model& model, PassContext& ctx);

// Names of the activation tensors insert_qdq quantizes (ignoring --exclude), for calibration.
std::vector<std::string> qdq_activation_tensors(const Model& model, const QuantOptions& opts);

}  // namespace qtool
