// SPDX-License-Identifier: Apache-2.0
// qtool eval MODEL --data DATA [--labels L.npy] [--ref REF.onnx] [--json]
#include <cmath>
#include <cstdio>
#include <iostream>

#include "eval/evaluate.h"
#include "tools/commands.h"

namespace qtool::cli {

namespace {
struct EvalArgs {
  std::string model, data_path, labels, ref;
  bool json = false;
  int64_t batch = 32;
  DataOptions data;
};

void run_eval(const EvalArgs& a) {
  Model model = load_model(a.model);
  require_supported(model);
  std::optional<Model> ref;
  if (!a.ref.empty()) {
    ref = load_model(a.ref);
    require_supported(*ref);
  }
  auto data = open_data(a.data_path, model_input_specs(model), a.data);
  EvalOptions opts;
  opts.max_batch = a.batch;
  if (!a.labels.empty()) {
    auto labels = read_labels(a.labels);
    const int64_t off = std::min<int64_t>(a.data.offset, labels.size());
    labels.erase(labels.begin(), labels.begin() + off);
    if (static_cast<int64_t>(labels.size()) > data->size()) labels.resize(data->size());
    opts.labels = labels;
  }
  EvalResult r = evaluate(model, *data, opts, ref ? &*ref : nullptr);
  if (a.json) {
    std::cout << r.to_json() << "\n";
    return;
  }
  std::printf("qtool eval: %s on %s\n", a.model.c_str(), data->describe().c_str());
  if (r.top1) std::printf("  top-1:            %.2f%%\n", 100 * *r.top1);
  if (r.ref_top1) std::printf("  reference top-1:  %.2f%%\n", 100 * *r.ref_top1);
  if (r.agreement) std::printf("  top-1 agreement:  %.2f%% with %s\n", 100 * *r.agreement, a.ref.c_str());
  for (const auto& o : r.outputs)
    std::printf("  output %-12s SQNR %s dB, cosine %.6f\n", o.name.c_str(),
                std::isinf(o.sqnr_db) ? "inf" : std::to_string(o.sqnr_db).substr(0, 6).c_str(), o.cosine);
  std::printf("  time:             %.2f s (%.1f samples/s)\n", r.seconds, r.samples / std::max(r.seconds, 1e-9));
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "run a model on data: top-1, agreement, SQNR and cosine vs a reference");
  cmd->add_option("model", args->model, "model to evaluate (.onnx, fp32 or QDQ)")->required();
  cmd->add_option("--data", args->data_path, "evaluation data: .npy, .npz, folder of .npy or images")->required();
  cmd->add_option("--labels", args->labels, "integer class labels (.npy, one per sample) for top-1");
  cmd->add_option("--ref", args->ref, "reference model (e.g. the fp32 original) for agreement/SQNR/cosine");
  cmd->add_option("--batch", args->batch, "largest batch to run (default 32; 1 if the model needs it)");
  cmd->add_flag("--json", args->json, "print the result as JSON");
  add_data_options(cmd, args->data);
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace qtool::cli
