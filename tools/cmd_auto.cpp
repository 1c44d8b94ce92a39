// SPDX-License-Identifier: Apache-2.0
// qtool auto MODEL --calib DATA --data EVAL [--labels L] --max-drop 1.0 [--target-size BYTES] [-o OUT]
#include <filesystem>
#include <iostream>

#include "eval/auto_precision.h"
#include "quant/plan.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

void add_auto_command(CLI::App& app) {
  struct Args {
    std::string model, calib, data, labels, out, plan, method = "mse";
    double max_drop = 1.0;
    int64_t target_size = 0;
    std::vector<std::string> exclude;
    DataOptions data_opts;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("auto", "choose per-layer precision (float/int8/int4) for the smallest file within "
                                         "an accuracy budget; writes the model and a plan that 'quantize --plan' replays");
  cmd->add_option("model", a->model, "input .onnx model")->required();
  cmd->add_option("--calib", a->calib, "calibration data")->required();
  cmd->add_option("--data", a->data, "evaluation data")->required();
  cmd->add_option("--labels", a->labels, "labels .npy (top-1; without: top-1 agreement with fp32)");
  cmd->add_option("--max-drop", a->max_drop, "largest allowed drop in top-1 points vs fp32 (default 1.0)");
  cmd->add_option("--target-size", a->target_size, "instead: convert layers until the file is at most this many bytes");
  cmd->add_option("--exclude", a->exclude, "nodes that stay float, comma separated")->delimiter(',');
  cmd->add_option("--method", a->method, "observer for int8 activations (default mse)");
  cmd->add_option("-o,--output", a->out, "output model (default <model stem>.auto.onnx); the plan goes to <output>.plan.json");
  cmd->add_option("--plan", a->plan, "where to write the plan (default <output without .onnx>.plan.json)");
  add_data_options(cmd, a->data_opts);
  cmd->callback([a] {
    if (a->max_drop < 0) throw InputError("--max-drop must be >= 0");
    Model model = load_model(a->model);
    require_supported(model);
    const fs::path out = a->out.empty() ? fs::path(a->model).parent_path() / (fs::path(a->model).stem().string() + ".auto.onnx")
                                        : fs::path(a->out);
    std::error_code ec;
    if (fs::exists(out, ec) && fs::equivalent(out, a->model, ec))
      throw InputError(out.string() + ": refusing to overwrite the input model; choose another output path with -o");
    const fs::path out_dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    if (!fs::is_directory(out_dir, ec)) throw InputError(out.string() + ": output folder " + out_dir.string() + " does not exist");
    const fs::path plan = a->plan.empty() ? fs::path(fs::path(out).replace_extension("").string() + ".plan.json") : fs::path(a->plan);
    auto calib = open_data(a->calib, model_input_specs(model), a->data_opts);
    auto eval = open_data(a->data, model_input_specs(model), a->data_opts);
    std::vector<int64_t> labels;
    if (!a->labels.empty()) labels = read_labels(a->labels);
    AutoOptions o;
    o.max_drop = a->max_drop;
    o.target_size = a->target_size;
    o.base.method = a->method;
    o.base.exclude = a->exclude;
    const WeightSpec def{"int8", true, 0};
    AutoResult r = auto_precision(model, *calib, *eval, labels, o, [&](const Model& best, const AutoResult& res) {
      save_model(best, out);  // the best model so far is always on disk
      write_file_atomic(plan, plan_to_json(def, res.layers, res.excluded, 8));
    });
    std::cout << "qtool auto: " << a->model << " -> " << out.string() << " (plan " << plan.string() << ")\n";
    for (const auto& l : r.log) std::cout << "  " << l << "\n";
    std::cout << "  plan:            default int8 (W8A8)";
    for (const auto& [name, spec] : r.layers) std::cout << "\n                   " << name << ": int4 (weights), int8 activations";
    for (const auto& name : r.excluded) std::cout << "\n                   " << name << ": float";
    char b[200];
    std::snprintf(b, sizeof b, "\n  result:          %lld bytes, drop %.2f points (budget %.2f)%s\n",
                  static_cast<long long>(r.bytes), r.drop, a->max_drop,
                  r.within_budget ? "" : " - NOT within budget");
    std::cout << b;
  });
}

}  // namespace qtool::cli
