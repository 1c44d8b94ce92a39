// SPDX-License-Identifier: Apache-2.0
// qtool gate MODEL [--max-size BYTES|KiB|MiB] [--max-params N] [--min-top1 X --data D --labels L]
//   [--max-drop PTS --ref REF.onnx --data D [--labels L]] [--json]
// A CI gate on model size and accuracy: exit 0 when every rule holds, 1 with one line per violated
// rule (rule, limit, measured), 2 on bad input. Deterministic: same inputs, same verdict and bytes.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "eval/evaluate.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

struct GateArgs {
  std::string model, max_size, data, labels, ref;
  int64_t max_params = -1;
  double min_top1 = -1, max_drop = -1;
  bool json = false;
  DataOptions data_opts;
};

// "123", "64KiB", "1.5 MiB", "2MB" -> bytes
int64_t parse_size(const std::string& s) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    throw InputError("--max-size: cannot read '" + s + "' (examples: 250000, 300KiB, 1.5MiB)");
  }
  std::string unit = s.substr(pos);
  unit.erase(0, unit.find_first_not_of(' '));
  const std::map<std::string, double> units = {{"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824},
                                               {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}};
  auto it = units.find(unit);
  if (it == units.end() || v < 0) throw InputError("--max-size: unknown unit in '" + s + "' (B, KiB, MiB, GiB, KB, MB, GB)");
  return static_cast<int64_t>(std::llround(v * it->second));
}

struct Rule {
  std::string name, limit, measured;
  bool ok;
};

int run_gate(const GateArgs& a) {
  if (a.min_top1 >= 0 && (a.data.empty() || a.labels.empty()))
    throw InputError("--min-top1 needs --data and --labels");
  if (a.max_drop >= 0 && (a.data.empty() || a.ref.empty())) throw InputError("--max-drop needs --ref and --data");
  if (a.max_size.empty() && a.max_params < 0 && a.min_top1 < 0 && a.max_drop < 0)
    throw InputError("no rule given (--max-size, --max-params, --min-top1, --max-drop)");
  Model model = load_model(a.model);
  std::vector<Rule> rules;
  char b[128];
  if (!a.max_size.empty()) {
    const int64_t limit = parse_size(a.max_size), size = static_cast<int64_t>(fs::file_size(a.model));
    rules.push_back({"max-size", std::to_string(limit) + " B", std::to_string(size) + " B", size <= limit});
  }
  if (a.max_params >= 0) {
    int64_t params = 0;
    for (const auto& t : model.graph().initializer()) {
      int64_t e = 1;
      for (auto d : t.dims()) e *= d;
      params += e;
    }
    rules.push_back({"max-params", std::to_string(a.max_params), std::to_string(params), params <= a.max_params});
  }
  if (a.min_top1 >= 0 || a.max_drop >= 0) {
    require_supported(model);
    auto data = open_data(a.data, model_input_specs(model), a.data_opts);
    EvalOptions eo;
    if (!a.labels.empty()) eo.labels = read_labels(a.labels);
    std::optional<Model> ref;
    if (!a.ref.empty()) ref = load_model(a.ref);
    EvalResult r = evaluate(model, *data, eo, ref ? &*ref : nullptr);
    if (a.min_top1 >= 0) {
      const double top1 = 100.0 * r.top1.value_or(0);
      std::snprintf(b, sizeof b, "%.2f%%", top1);
      rules.push_back({"min-top1", std::to_string(a.min_top1).substr(0, 6) + "%", b, top1 >= a.min_top1});
    }
    if (a.max_drop >= 0) {
      // with labels: top-1 points lost against REF; without: points of top-1 disagreement with REF
      const double drop = !eo.labels.empty() ? 100.0 * (r.ref_top1.value_or(0) - r.top1.value_or(0))
                                             : 100.0 * (1.0 - r.agreement.value_or(0));
      std::snprintf(b, sizeof b, "%.2f points%s", drop, eo.labels.empty() ? " (disagreement)" : "");
      char lim[64];
      std::snprintf(lim, sizeof lim, "%.2f points", a.max_drop);
      rules.push_back({"max-drop", lim, b, drop <= a.max_drop + 1e-12});
    }
  }
  bool pass = true;
  for (const auto& r : rules) pass &= r.ok;
  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["pass"] = pass;
    j["rules"] = nlohmann::ordered_json::array();
    for (const auto& r : rules) j["rules"].push_back({{"rule", r.name}, {"limit", r.limit}, {"measured", r.measured}, {"ok", r.ok}});
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& r : rules)
      if (!r.ok) std::cout << "FAIL " << r.name << ": limit " << r.limit << ", measured " << r.measured << "\n";
    if (pass) {
      std::cout << "PASS " << a.model << ":";
      for (const auto& r : rules) std::cout << " " << r.name << " " << r.measured << " (limit " << r.limit << ");";
      std::cout << "\n";
    }
  }
  return pass ? 0 : 1;
}

}  // namespace

void add_gate_command(CLI::App& app) {
  auto a = std::make_shared<GateArgs>();
  auto* cmd = app.add_subcommand("gate", "CI gate: exit 0 when the model meets every size/accuracy rule, 1 with one "
                                         "line per violated rule, 2 on bad input");
  cmd->add_option("model", a->model, ".onnx model to check")->required();
  cmd->add_option("--max-size", a->max_size, "largest allowed file size: bytes, or with KiB / MiB / KB / MB");
  cmd->add_option("--max-params", a->max_params, "largest allowed number of initializer elements");
  cmd->add_option("--min-top1", a->min_top1, "smallest allowed top-1 in percent (needs --data, --labels)");
  cmd->add_option("--max-drop", a->max_drop, "largest allowed top-1 drop vs --ref in points (needs --ref, --data)");
  cmd->add_option("--ref", a->ref, "reference model for --max-drop (e.g. the fp32 original)");
  cmd->add_option("--data", a->data, "evaluation data");
  cmd->add_option("--labels", a->labels, "labels .npy");
  cmd->add_flag("--json", a->json, "print the verdict as JSON");
  add_data_options(cmd, a->data_opts);
  cmd->callback([a] {
    const int rc = run_gate(*a);
    if (rc != 0) throw GateFailed();
  });
}

}  // namespace qtool::cli
