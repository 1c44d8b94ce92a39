// SPDX-License-Identifier: Apache-2.0
// qtool quantize MODEL [--bits 8|4|2|1 | --ternary | --dtype fp16|bf16] [--group-size G]
//   [--symmetric|--asymmetric] [--act-bits 8] [--rounding gptq|nearest] [--keep-first-last B]
//   [--layer-bits NAME=B,...] [--calib DATA | --calib-table T] [--method M] [-o OUT]
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "calib/calibrate.h"
#include "prune/prune.h"
#include "prune/sparse_storage.h"
#include "quant/compress.h"
#include "quant/plan.h"
#include "quant/quantize_model.h"
#include "quant/weight_plan.h"
#include "runtime/executor.h"
#include "runtime/value_shapes.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

struct QuantizeArgs {
  std::string model, out, calib, calib_table, save_table, method = "mse", act_type = "uint8";
  int bits = 8, act_bits = 0;  // act_bits 0: 8 for 8-bit weights, float otherwise
  bool ternary = false, symmetric = false, asymmetric = false;
  std::string dtype, rounding = "gptq", format = "qdq";
  int64_t group_size = 0;
  int keep_first_last = 0;
  std::vector<std::string> layer_bits;
  double sparsity = 0;
  std::string pattern = "unstructured", scope = "layer", masks, plan;
  double percentile = 99.999;
  std::vector<std::string> exclude;
  std::vector<std::string> op_types{"Conv", "Gemm", "MatMul", "Add"};
  std::vector<std::string> input_shapes;
  DataOptions data;
};

void run_quantize(const QuantizeArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.symmetric && a.asymmetric) throw InputError("give --symmetric or --asymmetric, not both");
  if (!a.calib.empty() && !a.calib_table.empty()) throw InputError("give either --calib or --calib-table, not both");
  CompressOptions o;
  o.plan.bits = a.bits;
  o.plan.ternary = a.ternary;
  o.plan.dtype = a.dtype;
  o.plan.symmetric = a.symmetric ? 1 : a.asymmetric ? 0 : -1;
  o.plan.group_size = a.group_size;
  o.plan.keep_first_last_bits = a.keep_first_last;
  for (const auto& item : a.layer_bits) {
    auto eq = item.rfind('=');
    int bits = 0;
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(item);
      bits = std::stoi(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw InputError("--layer-bits expects NAME=BITS items, got '" + item + "'");
    }
    o.plan.layer_bits[item.substr(0, eq)] = bits;
  }
  o.act_bits = a.act_bits;
  o.act_type = a.act_type;
  o.method = a.method;
  o.percentile = a.percentile;
  o.rounding = a.rounding;
  o.format = a.format;
  o.exclude = a.exclude;
  o.op_types = a.op_types;
  o.prune.pattern = a.pattern;
  o.prune.sparsity = a.sparsity;
  o.prune.scope = a.scope;
  o.prune_enabled = a.sparsity > 0 || a.pattern != "unstructured";
  o.input_shapes = parse_input_shapes(a.input_shapes);
  o.prune.input_shapes = o.input_shapes;
  if (!a.plan.empty()) read_plan(a.plan, o);
  validate(o);

  Model model = load_model(a.model);
  // Only calibration and GPTQ run the model; weight-only, fp16/bf16 and pruning work on any model.
  if (!a.calib.empty()) require_supported(model);
  QuantOptions probe;  // the output name depends on the plan: resolve it before any work
  WeightPlanOptions plan = o.plan;
  if (o.format == "matmulnbits" && !plan.group_size) plan.group_size = 32;
  apply_weight_plan(model, plan, probe);
  const fs::path out = a.out.empty() ? fs::path(a.model).parent_path() /
                                           (fs::path(a.model).stem().string() + "." + default_suffix(probe) + ".onnx")
                                     : fs::path(a.out);
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(out, a.model, ec))
    throw InputError(out.string() + ": refusing to overwrite the input model; choose another output path with -o");
  CalibrationTable loaded;
  if (!a.calib_table.empty()) {
    loaded = CalibrationTable::load(a.calib_table);
    o.table = &loaded;
  }
  std::unique_ptr<Dataset> data;
  if (!a.calib.empty()) data = open_data(a.calib, model_input_specs(model), a.data);
  CompressResult r = compress(model, o, data.get());
  if (!a.save_table.empty() && !r.table.ranges.empty() && !o.table) r.table.save(a.save_table);
  if (!a.masks.empty() && o.prune_enabled) save_masks(r.pruning, a.masks);
  save_model(r.model, out);
  const QuantOptions& qo = r.options;
  const PassStats& st = r.stats;
  const Model& q = r.model;
  const PruneReport& pruning = r.pruning;
  const bool prune = o.prune_enabled;
  const std::string calib_note = a.calib_table.empty() ? r.calib_note : "from " + a.calib_table + " (" + loaded.method + ", " +
                                                                             std::to_string(loaded.samples) + " samples)";

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, int> float_ops;
  std::ostringstream s;
  s << "qtool quantize: " << a.model << " -> " << out.string() << "\n";
  const bool acts = r.activations;
  s << "  weights:         " << describe_weights(qo.weights);
  if (!r.gptq_nodes.empty()) s << "; rounding " << (st.gptq_layers ? r.rounding_note : "nearest");
  s << "\n";
  for (const auto& [name, spec] : qo.layer_weights) s << "                   - " << name << ": " << describe_weights(spec) << "\n";
  s << "  activations:     " << (acts ? a.act_type + " per tensor (QDQ)" : "float") << "; opset " << q.opset() << "\n";
  s << "  calibration:     " << calib_note << "\n";
  const double bpw = code_bits_per_weight(st);
  if (bpw > 0) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2f", bpw);
    s << "  bits per weight: " << b << " (codes only; scales and zero points add to the file)\n";
  }
  s << "  nodes quantized: " << st.nodes_quantized << "; kept float: " << st.kept_float.size();
  for (const auto& k : st.kept_float) s << "\n                   - " << k;
  s << "\n  tensors:         " << st.weights_quantized << " weights, " << st.biases_quantized
    << " biases (int32), " << st.activations_quantized << " activations\n";
  s << "  batchnorm folded: " << st.batchnorms_folded << "; opset " << st.opset_before << " -> "
    << q.opset() << "\n";
  if (prune) {
    int64_t zeros = 0, total = 0;
    for (const auto& l : pruning.layers) {
      zeros += l.zeros;
      total += l.params_after;
    }
    char p[160];
    std::snprintf(p, sizeof p, "%s %.2f: %lld of %lld weights zero; dense params %lld -> %lld", a.pattern.c_str(),
                  a.sparsity, static_cast<long long>(zeros), static_cast<long long>(total),
                  static_cast<long long>(pruning.dense_params_before), static_cast<long long>(pruning.dense_params_after));
    s << "  pruning:         " << p << "\n";
    for (const auto& k : pruning.skipped) s << "                   skipped " << k << "\n";
  }
  s << size_lines(model, q);
  char el[32];
  std::snprintf(el, sizeof el, "%.2f s", secs);
  s << "  elapsed:         " << el << "\n";
  std::cout << s.str();
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize", "quantize weights (int8/int4/int2/binary/ternary/fp16/bf16) and activations (int8 QDQ)");
  cmd->add_option("model", args->model, "input .onnx model")->required();
  cmd->add_option("--bits", args->bits, "weight bits: 8 (default), 4, 2, 1 (binary, XNOR-Net)");
  cmd->add_flag("--ternary", args->ternary, "ternary weights {-a, 0, +a} (TWN), 2 bits each");
  cmd->add_option("--dtype", args->dtype, "fp16 or bf16: half-precision weights instead of integer codes");
  cmd->add_option("--group-size", args->group_size,
                  "int8/int4: one scale per block of G input channels (16, 32, 64, 128) instead of per channel");
  cmd->add_flag("--symmetric", args->symmetric, "symmetric grid, zero point 0 (default for 8 bits)");
  cmd->add_flag("--asymmetric", args->asymmetric, "asymmetric grid with a zero point (default below 8 bits)");
  cmd->add_option("--act-bits", args->act_bits,
                  "activations: 8 = int8 QDQ (default with 8-bit weights), 32 = float (default below 8 bits)");
  cmd->add_option("--rounding", args->rounding,
                  "low-bit weights: gptq (default when --calib is given; Frantar et al. 2022) or nearest");
  cmd->add_option("--format", args->format,
                  "qdq (default: DequantizeLinear, any runtime) or matmulnbits (4-bit MatMul/Gemm as onnxruntime's "
                  "com.microsoft MatMulNBits; blocks of --group-size, default 32)");
  cmd->add_option("--sparsity", args->sparsity, "prune this fraction of weights before quantizing (qtool prune)");
  cmd->add_option("--pattern", args->pattern, "pruning pattern: unstructured (default), N:M such as 2:4, channel");
  cmd->add_option("--scope", args->scope, "unstructured pruning: layer (default) or global");
  cmd->add_option("--save-masks", args->masks, "write the pruning masks (uint8, 1 = kept) to this .npz");
  cmd->add_option("--plan", args->plan, "replay a per-layer plan written by 'qtool auto' (JSON)");
  cmd->add_option("--keep-first-last", args->keep_first_last, "bits for the first and last weighted layers (e.g. 8)");
  cmd->add_option("--layer-bits", args->layer_bits, "per-layer bits NAME=BITS, comma separated (16 = fp16, 32 = float)")
      ->delimiter(',');
  cmd->add_option("--calib", args->calib, "calibration data: .npy, .npz, folder of .npy or folder of images");
  cmd->add_option("--calib-table", args->calib_table, "reuse a calibration table written by 'qtool calibrate'");
  cmd->add_option("--save-calib-table", args->save_table, "also write the calibration table computed from --calib");
  cmd->add_option("--method", args->method, "observer: mse (default), minmax, percentile, entropy");
  cmd->add_option("--percentile", args->percentile, "percentile for --method percentile (default 99.999)");
  cmd->add_option("--act-type", args->act_type, "activation type: uint8 (asymmetric, default) or int8 (symmetric)");
  cmd->add_option("--exclude", args->exclude, "node names to keep float, comma separated")->delimiter(',');
  cmd->add_option("--op-types", args->op_types,
                  "ops whose activation inputs get QDQ, comma separated (default Conv,Gemm,MatMul,Add; Add only "
                  "when both inputs are activations: runtimes then run residual blocks fully in int8)")
      ->delimiter(',');
  cmd->add_option("-o,--output", args->out,
                  "output path (default: <model stem>.int8.onnx, .int4.onnx, .binary.onnx, ... beside the input)");
  cmd->add_option("--input-shape", args->input_shapes,
                  "concrete extents NAME:d0,d1,... for inputs with symbolic ones, where a step needs value shapes "
                  "(opset upgrade of some models, channel pruning through Flatten); repeatable")
      ->delimiter(';');
  add_data_options(cmd, args->data);
  cmd->callback([args] { run_quantize(*args); });
}

}  // namespace qtool::cli
