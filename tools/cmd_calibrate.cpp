// SPDX-License-Identifier: Apache-2.0
// qtool calibrate MODEL --calib DATA [--method M] -o table.json
#include <iostream>

#include "calib/calibrate.h"
#include "quant/compress.h"
#include "quant/quantize_model.h"
#include "tools/commands.h"

namespace qtool::cli {

namespace {
struct CalibrateArgs {
  std::string model, calib, out, method = "mse", act_type, target = "onnxruntime";
  double percentile = 99.999;
  bool force = false;
  DataOptions data;
};

void run_calibrate(const CalibrateArgs& a) {
  make_observer(a.method);
  CompressOptions co;
  co.act_type = a.act_type;
  co.target = a.target;
  validate(co);
  const std::string act_type = a.act_type.empty() ? default_act_type(a.target) : a.act_type;
  if (!(a.percentile > 0 && a.percentile <= 100))
    throw InputError("--percentile must be in (0, 100], got " + std::to_string(a.percentile));
  Model model = load_model(a.model);
  OutputGuard guard(a.force);
  guard.input_model(model);
  guard.input(a.calib);
  guard.output(a.out, true, "-o");
  require_supported(model);
  auto data = open_data(a.calib, model_input_specs(model), a.data);
  PassContext ctx;
  ctx.options.target = a.target == "openvino" ? QdqTarget::kOpenVino : QdqTarget::kOnnxRuntime;
  Model prepared = prepare_for_quantization(model, ctx);
  CalibrateOptions copts;
  copts.method = a.method;
  copts.observer.percentile = a.percentile;
  copts.act_type = parse_act_type(act_type);
  copts.observer.unsigned_levels = asymmetric_grid(copts.act_type);
  copts.skip_nonfinite = a.data.skip_nonfinite;
  CalibrationTable table = calibrate(prepared, *data, qdq_activation_tensors(prepared, ctx.options), copts);
  table.save(a.out);
  std::cout << "qtool calibrate: " << table.ranges.size() << " tensors, " << table.samples << " samples, method "
            << table.method << " -> " << a.out << "\n";
}
}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto args = std::make_shared<CalibrateArgs>();
  auto* cmd = app.add_subcommand("calibrate", "compute activation ranges and write a calibration table (JSON)");
  cmd->add_option("model", args->model, "input .onnx model")->required();
  cmd->add_option("--calib", args->calib, "calibration data: .npy, .npz, folder of .npy or folder of images")->required();
  cmd->add_option("--method", args->method, "observer: mse (default), minmax, percentile, entropy (the KL threshold where the reading layers' outputs do not suffer from it, else min/max), or auto (per tensor, the one of those four whose quantization changes the reading layers' outputs least)");
  cmd->add_option("--percentile", args->percentile, "percentile for --method percentile (default 99.999)");
  cmd->add_option("--act-type", args->act_type,
                  "activation type the ranges are for: uint8, int8, symmetric or int8-asymmetric (default: the target's)");
  cmd->add_option("--target", args->target, "runtime whose Q/DQ placement decides the tensors: onnxruntime (default) or openvino");
  cmd->add_option("-o,--output", args->out, "calibration table to write (.json)")->required();
  add_data_options(cmd, args->data);
  add_force_option(cmd, args->force);
  cmd->callback([args] { run_calibrate(*args); });
}

}  // namespace qtool::cli
