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
#include "quant/gptq_sequential.h"
#include "quant/quantize_model.h"
#include "quant/weight_plan.h"
#include "runtime/executor.h"
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
  std::string pattern = "unstructured", scope = "layer", masks;
  double percentile = 99.999;
  std::vector<std::string> exclude;
  std::vector<std::string> op_types{"Conv", "Gemm", "MatMul", "Add"};
  DataOptions data;
};

std::string default_suffix(const QuantOptions& o) {
  const std::string f = o.weights.format;
  return f == "binary" || f == "ternary" || f == "fp16" || f == "bf16" ? f : "int" + std::to_string(o.bits);
}

std::string describe_weights(const WeightSpec& s) {
  if (s.format == "fp16" || s.format == "bf16" || s.format == "float") return s.format;
  std::string d = s.format;
  if (s.format != "binary" && s.format != "ternary") d += s.symmetric ? " symmetric" : " asymmetric";
  d += s.group_size ? ", blocks of " + std::to_string(s.group_size) + " input channels" : ", per output channel";
  return d;
}

void run_quantize(const QuantizeArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.act_type != "uint8" && a.act_type != "int8")
    throw InputError("--act-type must be uint8 or int8, got '" + a.act_type + "'");
  if (a.act_bits != 0 && a.act_bits != 8 && a.act_bits != 32)
    throw InputError("--act-bits must be 8 (int8 activations) or 32 (float), got " + std::to_string(a.act_bits));
  if (a.rounding != "gptq" && a.rounding != "nearest")
    throw InputError("--rounding must be gptq or nearest, got '" + a.rounding + "'");
  if (a.symmetric && a.asymmetric) throw InputError("give --symmetric or --asymmetric, not both");
  if (a.format != "qdq" && a.format != "matmulnbits")
    throw InputError("--format must be qdq or matmulnbits, got '" + a.format + "'");
  make_observer(a.method);  // validates the name before any work
  if (!a.calib.empty() && !a.calib_table.empty()) throw InputError("give either --calib or --calib-table, not both");

  Model model = load_model(a.model);
  require_supported(model);

  PassContext ctx;
  WeightPlanOptions plan;
  plan.bits = a.bits;
  plan.ternary = a.ternary;
  plan.dtype = a.dtype;
  plan.symmetric = a.symmetric ? 1 : a.asymmetric ? 0 : -1;
  plan.group_size = a.group_size;
  if (a.format == "matmulnbits") {
    if (a.bits != 4 || a.ternary || !a.dtype.empty()) throw InputError("--format matmulnbits needs --bits 4");
    if (!plan.group_size) plan.group_size = 32;  // MatMulNBits is always blocked along K
    ctx.options.matmulnbits = true;
  }
  plan.keep_first_last_bits = a.keep_first_last;
  for (const auto& item : a.layer_bits) {
    auto eq = item.rfind('=');
    int bits = 0;
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(item);
      bits = std::stoi(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw InputError("--layer-bits expects NAME=BITS items, got '" + item + "'");
    }
    plan.layer_bits[item.substr(0, eq)] = bits;
  }
  {
    Model probe = model;  // node labels as the user sees them (BN folding keeps Conv names)
    apply_weight_plan(probe, plan, ctx.options);
  }
  const bool int8_weights = ctx.options.weights.format == "int8";
  ctx.options.quantize_activations = a.act_bits ? a.act_bits == 8 : int8_weights;
  fs::path out = a.out.empty() ? fs::path(a.model).parent_path() /
                                     (fs::path(a.model).stem().string() + "." + default_suffix(ctx.options) + ".onnx")
                               : fs::path(a.out);
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(out, a.model, ec))
    throw InputError(out.string() + ": refusing to overwrite the input model; choose another output path with -o");

  ctx.options.act_type = a.act_type == "int8" ? ActType::kInt8 : ActType::kUInt8;
  ctx.options.exclude.insert(a.exclude.begin(), a.exclude.end());
  ctx.options.op_types.clear();
  for (const auto& op : a.op_types) {
    if (op != "Conv" && op != "Gemm" && op != "MatMul" && op != "Add")
      throw InputError("--op-types: cannot quantize '" + op + "' (supported: Conv, Gemm, MatMul, Add)");
    ctx.options.op_types.insert(op);
  }
  for (const auto& name : a.exclude) {
    bool found = false;
    for (const auto& n : model.graph().node()) found |= n.name() == name || (n.name().empty() && n.output(0) == name);
    if (!found) throw InputError("--exclude: no node named '" + name + "' in " + a.model);
  }
  std::unique_ptr<Dataset> data;
  if (!a.calib.empty()) data = open_data(a.calib, model_input_specs(model), a.data);

  Model prepared = prepare_for_quantization(model, ctx);
  // Pruning before calibration: the calibration and GPTQ see the pruned model, and quantization
  // keeps every pruned weight at exactly zero.
  PruneReport pruning;
  const bool prune = a.sparsity > 0 || a.pattern != "unstructured";
  if (prune) {
    if (ctx.options.weights.format == "binary")
      throw InputError("--sparsity with --bits 1: binary weights have no zero level, the pruned weights would not stay zero");
    PruneOptions popts;
    popts.pattern = a.pattern;
    popts.sparsity = a.sparsity;
    popts.scope = a.scope;
    popts.exclude = a.exclude;
    pruning = prune_model(prepared, popts);
    if (!a.masks.empty()) save_masks(pruning, a.masks);
  }
  CalibrationTable table;
  std::string calib_note = "none: weights only, activations stay float";
  if (!a.calib_table.empty()) {
    table = CalibrationTable::load(a.calib_table);
    ctx.table = &table;
    calib_note = "from " + a.calib_table + " (" + table.method + ", " + std::to_string(table.samples) + " samples)";
  } else if (data && ctx.options.quantize_activations) {
    CalibrateOptions copts;
    copts.method = a.method;
    copts.observer.percentile = a.percentile;
    copts.observer.unsigned_levels = ctx.options.act_type == ActType::kUInt8;
    table = calibrate(prepared, *data, qdq_activation_tensors(prepared, ctx.options), copts);
    ctx.table = &table;
    calib_note = a.method + " on " + data->describe();
    if (!a.save_table.empty()) table.save(a.save_table);
  } else if (ctx.options.quantize_activations) {
    spdlog::warn("no --calib data: weights are quantized, activations stay float");
  } else {
    calib_note = "activations stay float (weight-only; --act-bits 8 for int8 activations)";
  }
  // GPTQ: error-compensating rounding of low-bit weights from the calibration inputs of each layer.
  std::map<std::string, QuantizedWeight> gptq_weights;
  std::string rounding = "nearest";
  const auto gptq_nodes = low_bit_nodes(prepared, ctx.options);
  if (!gptq_nodes.empty() && a.rounding == "gptq") {
    if (data) {
      gptq_weights = gptq_sequential(prepared, *data, ctx.options, {}, prune ? &pruning.masks : nullptr);
      ctx.quantized = &gptq_weights;
      rounding = "GPTQ on " + data->describe();
    } else {
      spdlog::warn("no --calib data: low-bit weights use round-to-nearest (GPTQ needs calibration inputs)");
    }
  }
  Model q = quantize_prepared(prepared, ctx);
  save_model(q, out);

  const auto in_bytes = static_cast<int64_t>(fs::file_size(a.model)), out_bytes = static_cast<int64_t>(fs::file_size(out));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, int> float_ops;
  std::ostringstream s;
  s << "qtool quantize: " << a.model << " -> " << out.string() << "\n";
  const bool acts = ctx.table && ctx.options.quantize_activations;
  s << "  weights:         " << describe_weights(ctx.options.weights);
  if (!gptq_nodes.empty()) s << "; rounding " << (ctx.stats.gptq_layers ? rounding : "nearest");
  s << "\n";
  for (const auto& [name, spec] : ctx.options.layer_weights) s << "                   - " << name << ": " << describe_weights(spec) << "\n";
  s << "  activations:     " << (acts ? a.act_type + " per tensor (QDQ)" : "float") << "; opset " << q.opset() << "\n";
  s << "  calibration:     " << calib_note << "\n";
  int64_t params = 0;
  double bits = 0;
  for (const auto& [fmt, n] : ctx.stats.weight_params) {
    params += n;
    bits += static_cast<double>(n) * (fmt == "int8" ? 8 : fmt == "int4" ? 4 : fmt == "int2" || fmt == "ternary" ? 2
                                      : fmt == "binary" ? 1 : 16);
  }
  if (params) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2f", bits / params);
    s << "  bits per weight: " << b << " (codes only; scales and zero points add to the file)\n";
  }
  s << "  nodes quantized: " << ctx.stats.nodes_quantized << "; kept float: " << ctx.stats.kept_float.size();
  for (const auto& k : ctx.stats.kept_float) s << "\n                   - " << k;
  s << "\n  tensors:         " << ctx.stats.weights_quantized << " weights, " << ctx.stats.biases_quantized
    << " biases (int32), " << ctx.stats.activations_quantized << " activations\n";
  s << "  batchnorm folded: " << ctx.stats.batchnorms_folded << "; opset " << ctx.stats.opset_before << " -> "
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
  char ratio[96];
  std::snprintf(ratio, sizeof ratio, "%.1f%% of the input, %.2fx smaller", 100.0 * out_bytes / in_bytes,
                static_cast<double>(in_bytes) / out_bytes);
  s << "  file size:       " << in_bytes << " B -> " << out_bytes << " B (" << ratio << ")\n";
  {
    std::string in_file, out_file;
    model.proto.SerializeToString(&in_file);
    q.proto.SerializeToString(&out_file);
    const int64_t zi = zip_bytes(in_file), zo = zip_bytes(out_file);
    char z[128];
    std::snprintf(z, sizeof z, "%lld B -> %lld B (%.1f%% of the input's)", static_cast<long long>(zi),
                  static_cast<long long>(zo), 100.0 * zo / zi);
    s << "  zip-compressed:  " << z << "\n";
  }
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
  add_data_options(cmd, args->data);
  cmd->callback([args] { run_quantize(*args); });
}

}  // namespace qtool::cli
