// SPDX-License-Identifier: Apache-2.0
// qtool calibrate MODEL --calib DATA [--method M] -o table.json
#include <iostream>

#include "calib/calibrate.h"
#include "quant/quantize_model.h"
#include "tools/commands.h"

namespace qtool::cli {

namespace {
struct CalibrateArgs {
  std::string model, calib, out, method = "mse", act_type = "uint8";
  double percentile = 99.999;
  DataOptions data;
};

void run_calibrate(const CalibrateArgs& a) {
  make_observer(a.method);
  if (a.act_type != "uint8" && a.act_type != "int8") throw InputError("--act-type must be uint8 or int8");
  Model model = load_model(a.model);
  require_supported(model);
  auto data = open_data(a.calib, model_input_specs(model), a.data);
  PassContext ctx;
  Model prepared = prepare_for_quantization(model, ctx);
  CalibrateOptions copts;
  copts.method = a.method;
  copts.observer.percentile = a.percentile;
  copts.observer.unsigned_levels = a.act_type == "uint8";
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
  cmd->add_option("--method", args->method, "observer: mse (default), minmax, percentile, entropy");
  cmd->add_option("--percentile", args->percentile, "percentile for --method percentile (default 99.999)");
  cmd->add_option("--act-type", args->act_type, "activation type the ranges are for: uint8 (default) or int8");
  cmd->add_option("-o,--output", args->out, "calibration table to write (.json)")->required();
  add_data_options(cmd, args->data);
  cmd->callback([args] { run_calibrate(*args); });
}

}  // namespace qtool::cli
