// SPDX-License-Identifier: Apache-2.0
#include "prune/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "calib/batch_runner.h"
#include "core/error.h"
#include "core/progress.h"
#include "eval/metrics.h"

namespace qtool {

namespace {

// Outputs of every batch of the data set (first graph output only).
std::vector<Tensor> run_all(const Model& model, Dataset& data, int64_t& batch) {
  Executor exec(model);
  if (batch <= 0) batch = probe_batch_size(exec, data, 32);
  std::vector<Tensor> out;
  const std::string first = exec.output_names().at(0);
  for (int64_t b = 0; b < data.size(); b += batch) {
    const int64_t n = std::min(batch, data.size() - b);
    out.push_back(exec.run(data.batch(b, n)).at(first));
  }
  return out;
}

double top1(const std::vector<Tensor>& outs, const std::vector<int64_t>& labels) {
  int64_t hit = 0, i = 0;
  for (const auto& t : outs)
    for (int64_t a : argmax_per_sample(t)) hit += i < static_cast<int64_t>(labels.size()) && a == labels[i++];
  return static_cast<double>(hit) / std::max<int64_t>(1, i);
}

double sqnr(const std::vector<Tensor>& ref, const std::vector<Tensor>& outs) {
  ErrorAccumulator acc;
  for (size_t k = 0; k < ref.size(); ++k) acc.add(ref[k].data<float>(), outs[k].data<float>(), ref[k].numel());
  return acc.sqnr_db();
}

}  // namespace

SensitivityTable measure_sensitivity(const Model& model, Dataset& data, const std::vector<int64_t>& labels,
                                     const std::vector<double>& levels, const PruneOptions& base) {
  if (levels.empty()) throw InputError("sensitivity needs at least one sparsity level");
  for (double l : levels)
    if (!(l > 0 && l < 1)) throw InputError("sensitivity levels must be in (0, 1), got " + std::to_string(l));
  if (!labels.empty() && static_cast<int64_t>(labels.size()) < data.size())
    throw InputError("labels: " + std::to_string(labels.size()) + " labels for " + std::to_string(data.size()) + " samples");
  SensitivityTable table;
  table.metric = labels.empty() ? "sqnr_db" : "top1";
  table.levels = levels;
  std::sort(table.levels.begin(), table.levels.end());
  int64_t batch = 0;
  const auto ref = run_all(model, data, batch);
  table.baseline = labels.empty() ? INFINITY : top1(ref, labels);
  const auto layers = prunable_weights(model, base);
  Progress progress("sensitivity", static_cast<int64_t>(layers.size() * table.levels.size()));
  for (const auto& pw : layers) {
    SensitivityRow row;
    row.node = pw.label;
    row.params = model.initializer(pw.weight).numel();
    double worst = 0;
    for (double s : table.levels) {
      Model m = model;
      PruneOptions o = base;
      o.sparsity = 0;
      o.sparsity_map = {{pw.label, s}};
      o.scope = "layer";
      prune_model(m, o);
      const auto outs = run_all(m, data, batch);
      const double metric = labels.empty() ? sqnr(ref, outs) : top1(outs, labels);
      const double damage = labels.empty() ? std::pow(10.0, -metric / 10.0) : std::max(0.0, table.baseline - metric);
      worst = std::max(worst, damage);
      row.metric.push_back(metric);
      row.damage.push_back(worst);  // monotone in the sparsity
      progress.advance(1);
    }
    table.rows.push_back(row);
  }
  std::stable_sort(table.rows.begin(), table.rows.end(),
                   [](const SensitivityRow& a, const SensitivityRow& b) { return a.damage.back() > b.damage.back(); });
  return table;
}

std::map<std::string, double> allocate_sparsity(const SensitivityTable& t, double target) {
  const double top = t.levels.back();
  if (!(target >= 0 && target <= top))
    throw InputError("--allocate: target sparsity " + std::to_string(target) + " is outside [0, " + std::to_string(top) +
                     "] (the largest measured level)");
  // Largest sparsity of a row whose (piecewise-linear) damage stays <= tau.
  auto sparsity_at = [&](const SensitivityRow& r, double tau) {
    double prev_s = 0, prev_d = 0;
    for (size_t i = 0; i < t.levels.size(); ++i) {
      const double s = t.levels[i], d = r.damage[i];
      if (d > tau) return d > prev_d ? prev_s + (s - prev_s) * (tau - prev_d) / (d - prev_d) : prev_s;
      prev_s = s;
      prev_d = d;
    }
    return top;
  };
  int64_t total = 0;
  for (const auto& r : t.rows) total += r.params;
  auto pruned = [&](double tau) {
    double p = 0;
    for (const auto& r : t.rows) p += sparsity_at(r, tau) * static_cast<double>(r.params);
    return p / std::max<int64_t>(1, total);
  };
  double lo = 0, hi = 1;
  for (const auto& r : t.rows) hi = std::max(hi, r.damage.back() * 2 + 1);
  for (int it = 0; it < 100; ++it) {
    const double mid = 0.5 * (lo + hi);
    (pruned(mid) < target ? lo : hi) = mid;
  }
  std::map<std::string, double> out;
  for (const auto& r : t.rows) out[r.node] = std::min(top, sparsity_at(r, hi));
  return out;
}

std::string SensitivityTable::to_text() const {
  std::ostringstream o;
  o << "sensitivity (" << (metric == "top1" ? "top-1" : "SQNR dB of output 0 vs the unpruned model")
    << " with one layer pruned; most sensitive first";
  if (metric == "top1") o << "; unpruned " << baseline * 100 << "%";
  o << ")\n";
  char buf[64];
  o << "  node                          params";
  for (double l : levels) {
    std::snprintf(buf, sizeof buf, "  %7.0f%%", 100 * l);
    o << buf;
  }
  o << "\n";
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "  %-28s %7lld", r.node.c_str(), static_cast<long long>(r.params));
    o << buf;
    for (double m : r.metric) {
      std::snprintf(buf, sizeof buf, metric == "top1" ? "  %7.2f%%" : "  %6.1fdB", metric == "top1" ? 100 * m : m);
      o << buf;
    }
    o << "\n";
  }
  return o.str();
}

std::string SensitivityTable::to_json() const {
  nlohmann::ordered_json j;
  j["metric"] = metric;
  j["baseline"] = std::isfinite(baseline) ? nlohmann::ordered_json(baseline) : nlohmann::ordered_json(nullptr);
  j["levels"] = levels;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& r : rows) j["layers"].push_back({{"node", r.node}, {"params", r.params}, {"metric", r.metric}});
  return j.dump(2);
}

}  // namespace qtool
