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
  std::string model, out, calib, calib_table, save_table, method = "mse", act_type, target = "onnxruntime", overflow_fix;
  int bits = 8, act_bits = 0;  // act_bits 0: 8 for 8-bit weights, float otherwise
  bool ternary = false, symmetric = false, asymmetric = false, keep_float_constants = false;
  std::string dtype, rounding = "gptq", format = "qdq";
  int64_t group_size = 0;
  int keep_first_last = 0;
  std::vector<std::string> layer_bits;
  double sparsity = 0;
  std::string pattern = "unstructured", scope = "layer", masks, plan;
  double percentile = 99.999;
  std::vector<std::string> exclude;
  std::vector<std::string> op_types = default_op_type_list();
  std::vector<std::string> input_shapes;
  bool force = false;
  DataOptions data;
};

void run_quantize(const QuantizeArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
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
  o.target = a.target;
  o.keep_float_constants = a.keep_float_constants;
  o.overflow_fix = a.overflow_fix;
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
  o.skip_nonfinite = a.data.skip_nonfinite;
  if (!a.plan.empty()) read_plan(a.plan, o);
  validate(o);

  Model model = load_model(a.model);
  OutputGuard guard(a.force);
  guard.input_model(model);
  for (const auto& p : {a.calib, a.calib_table, a.plan}) guard.input(p);
  // Only calibration and GPTQ run the model; weight-only, fp16/bf16 and pruning work on any model.
  if (!a.calib.empty()) require_supported(model);
  QuantOptions probe;  // the output name depends on the plan: resolve it before any work
  WeightPlanOptions plan = o.plan;
  if (o.format == "matmulnbits" && !plan.group_size) plan.group_size = 32;
  apply_weight_plan(model, plan, probe);
  const fs::path out = a.out.empty() ? fs::path(a.model).parent_path() /
                                           (fs::path(a.model).stem().string() + "." + default_suffix(probe) + ".onnx")
                                     : fs::path(a.out);
  guard.output(out, !a.out.empty(), "-o");
  if (!a.save_table.empty()) guard.output(a.save_table, true, "--save-calib-table");
  if (!a.masks.empty()) guard.output(a.masks, true, "--save-masks");
  CalibrationTable loaded;
  if (!a.calib_table.empty()) {
    loaded = CalibrationTable::load(a.calib_table);
    o.table = &loaded;
  }
  std::unique_ptr<Dataset> data;
  if (!a.calib.empty()) data = open_data(a.calib, model_input_specs(model), a.data);
  CompressResult r;
  try {
    r = compress(model, o, data.get());
  } catch (const InputError& e) {
    const std::string msg = e.what();
    if (msg.rfind("calibration table:", 0) == 0) throw InputError(a.calib_table + msg.substr(17));
    throw;
  }
  if (!a.save_table.empty() && !r.table.ranges.empty() && !o.table) r.table.save(a.save_table);
  if (!a.masks.empty() && o.prune_enabled) save_masks(r.pruning, a.masks);
  const SaveResult saved = save_model(r.model, out);
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
  const std::string act_type = a.act_type.empty() ? default_act_type(a.target) : a.act_type;
  s << "  activations:     " << (acts ? act_type + " per tensor (QDQ, placed for " + a.target + ")" : "float") << "; opset "
    << q.opset() << "\n";
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
  if (st.constants_quantized)
    s << "                   " << st.constants_quantized
      << " other constants (priors, embeddings, recurrent weights) stored as 8-bit\n";
  if (st.overflow_fixed_channels)
    s << "                   " << st.overflow_fixed_channels
      << " weight channels use a larger scale so no weight pair saturates int16 (--overflow-fix pairs)\n";
  if (st.bias_limited_channels)
    s << "                   " << st.bias_limited_channels
      << " weight channels use a larger scale so their int32 bias fits (the input's range is tiny)\n";
  s << "  batchnorm folded: " << st.batchnorms_folded << "; bias/scale nodes folded: " << st.bias_adds_folded
    << "; opset " << st.opset_before << " -> " << q.opset() << "\n";
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
  s << size_lines(model, q, saved);
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
  auto* bits = cmd->add_option("--bits", args->bits, "weight bits: 8 (default), 4, 2, 1 (binary, XNOR-Net)");
  auto* ternary = cmd->add_flag("--ternary", args->ternary, "ternary weights {-a, 0, +a} (TWN), 2 bits each");
  auto* dtype = cmd->add_option("--dtype", args->dtype, "fp16 or bf16: half-precision weights instead of integer codes");
  auto* group = cmd->add_option("--group-size", args->group_size,
                  "int8/int4: one scale per block of G input channels (16, 32, 64, 128) instead of per channel");
  auto* sym = cmd->add_flag("--symmetric", args->symmetric, "symmetric grid, zero point 0 (default for 8 bits)");
  auto* asym = cmd->add_flag("--asymmetric", args->asymmetric, "asymmetric grid with a zero point (default below 8 bits)");
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
  auto* save_masks = cmd->add_option("--save-masks", args->masks, "write the pruning masks (uint8, 1 = kept) to this .npz");
  auto* plan = cmd->add_option("--plan", args->plan, "replay a per-layer plan written by 'qtool auto' (JSON)");
  auto* first_last = cmd->add_option("--keep-first-last", args->keep_first_last, "bits for the first and last weighted layers (e.g. 8)");
  auto* layer_bits = cmd->add_option("--layer-bits", args->layer_bits, "per-layer bits NAME=BITS, comma separated (16 = fp16, 32 = float)")
      ->delimiter(',');
  auto* calib = cmd->add_option("--calib", args->calib, "calibration data: .npy, .npz, folder of .npy or folder of images");
  auto* table = cmd->add_option("--calib-table", args->calib_table, "reuse a calibration table written by 'qtool calibrate'");
  auto* save_table = cmd->add_option("--save-calib-table", args->save_table, "also write the calibration table computed from --calib");
  cmd->add_option("--method", args->method, "observer: mse (default), minmax, percentile, entropy (the KL threshold where the reading layers' outputs do not suffer from it, else min/max), or auto (per tensor, the one of those four whose quantization changes the reading layers' outputs least)");
  auto* percentile = cmd->add_option("--percentile", args->percentile, "percentile for --method percentile (default 99.999)");
  cmd->add_option("--act-type", args->act_type,
                  "activation type: uint8 (asymmetric; default for onnxruntime), int8 (symmetric), int8-asymmetric "
                  "(the uint8 grid in int8 codes, zero point - 128: onnxruntime's QInt8) or symmetric (zero point 0: "
                  "uint8 for non-negative tensors, int8 otherwise; default for openvino, which stores the signed grids "
                  "as uint8 with zero point 128)");
  cmd->add_option("--overflow-fix", args->overflow_fix,
                  "pairs (default): raise an int8 weight channel's scale until no two adjacent weights sum to more "
                  "than 128 codes, so onnxruntime and OpenVINO on x86 CPUs without VNNI (vpmaddubsw, int16 pair sums) "
                  "compute the file exactly; off: full [-127, 127] per channel");
  cmd->add_flag("--keep-float-constants", args->keep_float_constants,
                "int8 runs store large non-weight constants (detector priors, embedding tables, LSTM/GRU weights) as "
                "8-bit behind DequantizeLinear when that keeps them within 40 dB SQNR; this flag keeps them float32");
  cmd->add_option("--target", args->target,
                  "runtime whose fusion rules place the Q/DQ nodes: onnxruntime (default: layer inputs and outputs and "
                  "the --op-types it has integer kernels for) or openvino (layer inputs only); the file is plain QDQ "
                  "either way and loads in both");
  cmd->add_option("--exclude", args->exclude, "node names to keep float, comma separated")->delimiter(',');
  cmd->add_option("--op-types", args->op_types,
                  "ops that may be quantized, comma separated (default: Conv, ConvTranspose, Gemm, MatMul and the ops "
                  "runtimes have integer kernels for: Add, Mul (both inputs activations), Concat, AveragePool, "
                  "GlobalAveragePool, Sigmoid, Softmax, LeakyRelu)")
      ->delimiter(',');
  cmd->add_option("-o,--output", args->out,
                  "output path (default: <model stem>.int8.onnx, .int4.onnx, .binary.onnx, ... beside the input; an "
                  "existing default output is replaced only with --force)");
  cmd->add_option("--input-shape", args->input_shapes,
                  "concrete extents NAME:d0,d1,... for inputs with symbolic ones, where a step needs value shapes "
                  "(opset upgrade of some models, channel pruning through Flatten); repeatable")
      ->delimiter(';');
  add_data_options(cmd, args->data);
  add_force_option(cmd, args->force);
  // flags that contradict each other are errors, not a silent choice
  bits->excludes(dtype)->excludes(ternary);
  dtype->excludes(ternary)->excludes(group);
  ternary->excludes(group);
  sym->excludes(asym);
  plan->excludes(bits)->excludes(dtype)->excludes(ternary)->excludes(group)->excludes(layer_bits)->excludes(first_last);
  calib->excludes(table);
  save_table->excludes(table);
  cmd->callback([args, cmd, percentile, save_masks, save_table, calib] {
    if (args->bits == 1 && args->sparsity > 0)
      throw InputError("give --bits 1 or --sparsity, not both: binary weights have no zero level to keep pruned weights at");
    if (percentile->count() && args->method != "percentile")
      throw InputError("--percentile needs --method percentile (the observer is '" + args->method + "')");
    if (save_masks->count() && !(args->sparsity > 0 || args->pattern != "unstructured"))
      throw InputError("--save-masks needs pruning (--sparsity or --pattern)");
    if (save_table->count() && !calib->count()) throw InputError("--save-calib-table needs --calib");
    (void)cmd;
    run_quantize(*args);
  });
}

}  // namespace qtool::cli
