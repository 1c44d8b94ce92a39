// SPDX-License-Identifier: Apache-2.0
// qtool sensitivity MODEL --calib DATA --data EVAL [--labels L] [--json]
#include <iostream>

#include "eval/layer_sensitivity.h"
#include "tools/commands.h"

namespace qtool::cli {

void add_sensitivity_command(CLI::App& app) {
  struct Args {
    std::string model, calib, data, labels, method = "mse";
    bool json = false, no_prune = false;
    DataOptions data_opts;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("sensitivity",
                                 "per-layer damage when only that layer is int8, int4 or 50% pruned; ranked, with a "
                                 "suggested --exclude list");
  cmd->add_option("model", a->model, "input .onnx model")->required();
  cmd->add_option("--calib", a->calib, "calibration data (activation ranges, GPTQ)")->required();
  cmd->add_option("--data", a->data, "evaluation data")->required();
  cmd->add_option("--labels", a->labels, "labels .npy for top-1 (without: SQNR of output 0 vs fp32)");
  cmd->add_option("--method", a->method, "observer for the int8 activations (default mse)");
  cmd->add_flag("--no-prune", a->no_prune, "skip the pruning column");
  cmd->add_flag("--json", a->json, "print JSON");
  add_data_options(cmd, a->data_opts);
  cmd->callback([a] {
    Model model = load_model(a->model);
    require_supported(model);
    auto calib = open_data(a->calib, model_input_specs(model), a->data_opts);
    auto eval = open_data(a->data, model_input_specs(model), a->data_opts);
    std::vector<int64_t> labels;
    if (!a->labels.empty()) labels = read_labels(a->labels);
    CompressOptions base;
    base.method = a->method;
    auto rep = layer_sensitivity(model, *calib, *eval, labels, base, !a->no_prune);
    std::cout << (a->json ? rep.to_json() : rep.to_text());
  });
}

}  // namespace qtool::cli
