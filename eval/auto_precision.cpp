// SPDX-License-Identifier: Apache-2.0
#include "eval/auto_precision.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace qtool {

namespace {

struct Candidate {
  std::map<std::string, std::string> choice;  // layer -> int8 | int4 | float
};

}  // namespace

AutoResult auto_precision(const Model& model, Dataset& calib, Dataset& eval, const std::vector<int64_t>& labels,
                          const AutoOptions& opts, const std::function<void(const Model&, const AutoResult&)>& on_best) {
  std::set<std::string> user_excluded(opts.base.exclude.begin(), opts.base.exclude.end());
  std::vector<std::string> layers;
  for (const auto& l : weighted_nodes(model))
    if (!user_excluded.count(l)) layers.push_back(l);
  const Measured fp32 = measure(model, model, eval, labels);
  auto drop_of = [&](const Measured& m) {
    return labels.empty() ? 100.0 * (1.0 - m.agreement) : 100.0 * (fp32.value - m.value);
  };
  spdlog::info("auto: measuring per-layer sensitivity of {} layers", layers.size());
  CompressOptions sbase = opts.base;
  sbase.exclude.clear();
  const auto sens = layer_sensitivity(model, calib, eval, labels, sbase, false);
  std::map<std::string, LayerSensitivity> by_node;
  for (const auto& s : sens.layers) by_node[s.node] = s;
  auto damage8 = [&](const std::string& l) {
    const auto& s = by_node[l];
    return labels.empty() ? -s.int8_sqnr : -s.int8_delta;
  };
  auto damage4 = [&](const std::string& l) {
    const auto& s = by_node[l];
    return labels.empty() ? -s.int4_sqnr : -s.int4_delta;
  };

  AutoResult best;
  std::map<std::string, std::string> choice;
  for (const auto& l : layers) choice[l] = "int8";
  auto evaluate_choice = [&](const std::map<std::string, std::string>& c, AutoResult& r, Model& out) {
    CompressOptions o = opts.base;
    o.plan = WeightPlanOptions{};
    o.act_bits = 8;
    o.layer_specs.clear();
    r.layers.clear();
    r.excluded.assign(user_excluded.begin(), user_excluded.end());
    for (const auto& [l, f] : c) {
      if (f == "int4") r.layers[l] = WeightSpec{"int4", false, 0};
      if (f == "float") r.excluded.push_back(l);
    }
    o.layer_specs = r.layers;
    o.exclude = r.excluded;
    CompressResult res = compress(model, o, &calib);
    std::string bytes;
    res.model.proto.SerializeToString(&bytes);
    const Measured m = measure(res.model, model, eval, labels);
    r.drop = drop_of(m);
    r.value = m.value;
    r.bytes = static_cast<int64_t>(bytes.size());
    out = std::move(res.model);
  };
  auto note = [&](const std::string& step, const AutoResult& r, bool kept) {
    char b[256];
    std::snprintf(b, sizeof b, "%-40s drop %6.2f points, %9lld bytes  %s", step.c_str(), r.drop,
                  static_cast<long long>(r.bytes), kept ? "kept" : "reverted");
    best.log.push_back(b);
    spdlog::info("auto: {}", b);
  };
  auto fits = [&](const AutoResult& r) { return r.drop <= opts.max_drop + 1e-9; };
  AutoResult cur;
  Model cur_model;
  evaluate_choice(choice, cur, cur_model);
  note("all int8", cur, true);
  // 1. back to float, most int8-sensitive first, until the budget holds
  std::vector<std::string> by8 = layers;
  std::stable_sort(by8.begin(), by8.end(), [&](const std::string& a, const std::string& b) { return damage8(a) > damage8(b); });
  for (const auto& l : by8) {
    if (fits(cur) || opts.target_size) break;
    choice[l] = "float";
    evaluate_choice(choice, cur, cur_model);
    note(l + " -> float", cur, true);
  }
  best = AutoResult{cur.layers, cur.excluded, cur.drop, cur.value, cur.bytes, fits(cur), best.log};
  on_best(cur_model, best);
  // 2. int4 where it costs least per saved byte
  std::vector<std::string> by4;
  for (const auto& l : layers)
    if (choice[l] == "int8") by4.push_back(l);
  std::stable_sort(by4.begin(), by4.end(), [&](const std::string& a, const std::string& b) {
    return std::max(0.0, damage4(a) + 100) / std::max<int64_t>(1, by_node[a].params) <
           std::max(0.0, damage4(b) + 100) / std::max<int64_t>(1, by_node[b].params);
  });
  for (const auto& l : by4) {
    if (opts.target_size && best.bytes <= opts.target_size) break;
    choice[l] = "int4";
    AutoResult trial;
    Model trial_model;
    evaluate_choice(choice, trial, trial_model);
    const bool keep = opts.target_size ? true : fits(trial);
    note(l + " -> int4", trial, keep);
    if (!keep) {
      choice[l] = "int8";
      continue;
    }
    best = AutoResult{trial.layers, trial.excluded, trial.drop, trial.value, trial.bytes, fits(trial), best.log};
    on_best(trial_model, best);
  }
  if (opts.target_size) best.within_budget = best.bytes <= opts.target_size && fits(best);
  return best;
}

}  // namespace qtool
