// qtool quantize MODEL --bits 8 [--calib DATA | --calib-table T] [--method M] [-o OUT]
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "calib/calibrate.h"
#include "quant/quantize_model.h"
#include "runtime/executor.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

struct QuantizeArgs {
  std::string model, out, calib, calib_table, save_table, method = "mse", act_type = "uint8";
  int bits = 8;
  double percentile = 99.999;
  std::vector<std::string> exclude;
  std::vector<std::string> op_types{"Conv", "Gemm", "MatMul", "Add"};
  DataOptions data;
};

void run_quantize(const QuantizeArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.bits != 8) throw InputError("--bits " + std::to_string(a.bits) + " is not supported yet (supported: 8)");
  if (a.act_type != "uint8" && a.act_type != "int8")
    throw InputError("--act-type must be uint8 or int8, got '" + a.act_type + "'");
  make_observer(a.method);  // validates the name before any work
  if (!a.calib.empty() && !a.calib_table.empty()) throw InputError("give either --calib or --calib-table, not both");

  Model model = load_model(a.model);
  require_supported(model);
  fs::path out = a.out.empty() ? fs::path(a.model).parent_path() / (fs::path(a.model).stem().string() + ".int8.onnx")
                               : fs::path(a.out);
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(out, a.model, ec))
    throw InputError(out.string() + ": refusing to overwrite the input model; choose another output path with -o");

  PassContext ctx;
  ctx.options.bits = a.bits;
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
  CalibrationTable table;
  std::string calib_note = "none: weights only, activations stay float";
  if (!a.calib_table.empty()) {
    table = CalibrationTable::load(a.calib_table);
    ctx.table = &table;
    calib_note = "from " + a.calib_table + " (" + table.method + ", " + std::to_string(table.samples) + " samples)";
  } else if (data) {
    CalibrateOptions copts;
    copts.method = a.method;
    copts.observer.percentile = a.percentile;
    copts.observer.unsigned_levels = ctx.options.act_type == ActType::kUInt8;
    table = calibrate(prepared, *data, qdq_activation_tensors(prepared, ctx.options), copts);
    ctx.table = &table;
    calib_note = a.method + " on " + data->describe();
    if (!a.save_table.empty()) table.save(a.save_table);
  } else {
    spdlog::warn("no --calib data: weights are quantized to int8, activations stay float");
  }
  Model q = quantize_prepared(prepared, ctx);
  save_model(q, out);

  const auto in_bytes = static_cast<int64_t>(fs::file_size(a.model)), out_bytes = static_cast<int64_t>(fs::file_size(out));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, int> float_ops;
  std::ostringstream s;
  s << "qtool quantize: " << a.model << " -> " << out.string() << "\n";
  s << "  scheme:          int8 weights (per-channel, symmetric), " << (ctx.table ? a.act_type : "float")
    << " activations, QDQ, opset " << q.opset() << "\n";
  s << "  calibration:     " << calib_note << "\n";
  s << "  nodes quantized: " << ctx.stats.nodes_quantized << "; kept float: " << ctx.stats.kept_float.size();
  for (const auto& k : ctx.stats.kept_float) s << "\n                   - " << k;
  s << "\n  tensors:         " << ctx.stats.weights_quantized << " weights, " << ctx.stats.biases_quantized
    << " biases (int32), " << ctx.stats.activations_quantized << " activations\n";
  s << "  batchnorm folded: " << ctx.stats.batchnorms_folded << "; opset " << ctx.stats.opset_before << " -> "
    << q.opset() << "\n";
  char ratio[96];
  std::snprintf(ratio, sizeof ratio, "%.1f%% of the input, %.2fx smaller", 100.0 * out_bytes / in_bytes,
                static_cast<double>(in_bytes) / out_bytes);
  s << "  file size:       " << in_bytes << " B -> " << out_bytes << " B (" << ratio << ")\n";
  char el[32];
  std::snprintf(el, sizeof el, "%.2f s", secs);
  s << "  elapsed:         " << el << "\n";
  std::cout << s.str();
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize", "quantize a model to int8 QDQ (per-channel weights, calibrated activations)");
  cmd->add_option("model", args->model, "input .onnx model")->required();
  cmd->add_option("--bits", args->bits, "weight bits (8)");
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
  cmd->add_option("-o,--output", args->out, "output path (default: <model stem>.int8.onnx beside the input)");
  add_data_options(cmd, args->data);
  cmd->callback([args] { run_quantize(*args); });
}

}  // namespace qtool::cli
