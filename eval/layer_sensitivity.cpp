// SPDX-License-Identifier: Apache-2.0
#include "eval/layer_sensitivity.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/progress.h"
#include "eval/evaluate.h"

namespace qtool {

Measured measure(const Model& model, const Model& ref, Dataset& eval, const std::vector<int64_t>& labels) {
  EvalOptions eo;
  eo.labels = labels;
  EvalResult r = evaluate(model, eval, eo, &ref);
  Measured m;
  m.sqnr_db = r.outputs.empty() ? INFINITY : r.outputs[0].sqnr_db;
  m.agreement = r.agreement.value_or(1.0);
  m.value = labels.empty() ? m.sqnr_db : r.top1.value_or(0.0);
  return m;
}

LayerSensitivityReport layer_sensitivity(const Model& model, Dataset& calib, Dataset& eval,
                                         const std::vector<int64_t>& labels, const CompressOptions& base,
                                         bool with_pruning) {
  LayerSensitivityReport rep;
  rep.metric = labels.empty() ? "sqnr_db" : "top1";
  const Measured fp32 = measure(model, model, eval, labels);
  rep.baseline = fp32.value;
  const auto layers = weighted_nodes(model);
  std::vector<std::string> op_of(layers.size());
  for (size_t i = 0; i < layers.size(); ++i)
    for (const auto& n : model.graph().node())
      if ((n.name().empty() ? n.output(0) : n.name()) == layers[i]) op_of[i] = n.op_type();
  auto delta = [&](const Measured& m) { return labels.empty() ? 0.0 : 100.0 * (m.value - fp32.value); };
  Progress progress("sensitivity", static_cast<int64_t>(layers.size()));
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerSensitivity s;
    s.node = layers[i];
    for (const auto& n : model.graph().node())
      if ((n.name().empty() ? n.output(0) : n.name()) == s.node) s.params = model.initializer(n.input(1)).numel();
    CompressOptions o = base;
    o.prune_enabled = false;
    o.op_types = {op_of[i]};
    o.exclude.clear();
    for (size_t k = 0; k < layers.size(); ++k)
      if (k != i && op_of[k] == op_of[i]) o.exclude.push_back(layers[k]);
    // int8, W8A8 on this layer only
    o.plan = WeightPlanOptions{};
    o.act_bits = 8;
    Measured m8 = measure(compress(model, o, &calib).model, model, eval, labels);
    s.int8_delta = delta(m8);
    s.int8_sqnr = m8.sqnr_db;
    // int4 weight-only on this layer only
    o.plan.bits = 4;
    o.act_bits = 32;
    Measured m4 = measure(compress(model, o, &calib).model, model, eval, labels);
    s.int4_delta = delta(m4);
    s.int4_sqnr = m4.sqnr_db;
    if (with_pruning) {
      Model p = model;
      PruneOptions po;
      po.sparsity = 0;
      po.sparsity_map = {{s.node, 0.5}};
      prune_model(p, po);
      Measured mp = measure(p, model, eval, labels);
      s.prune_delta = delta(mp);
      s.prune_sqnr = mp.sqnr_db;
    }
    rep.layers.push_back(s);
    progress.advance(1);
  }
  const bool top1 = !labels.empty();
  std::stable_sort(rep.layers.begin(), rep.layers.end(), [&](const LayerSensitivity& a, const LayerSensitivity& b) {
    if (top1 && a.int8_delta != b.int8_delta) return a.int8_delta < b.int8_delta;
    if (!top1 && a.int8_sqnr != b.int8_sqnr) return a.int8_sqnr < b.int8_sqnr;
    return top1 ? a.int4_delta < b.int4_delta : a.int4_sqnr < b.int4_sqnr;
  });
  for (const auto& s : rep.layers)
    if ((top1 && s.int8_delta < -0.3) || (!top1 && s.int8_sqnr < 30.0)) rep.suggested_exclude.push_back(s.node);
  return rep;
}

namespace {
std::string num(double v, const char* f) {
  if (!std::isfinite(v)) return "inf";
  char b[32];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
}  // namespace

std::string LayerSensitivityReport::to_text() const {
  std::ostringstream o;
  const bool top1 = metric == "top1";
  o << "per-layer sensitivity (only that layer changed; " << (top1 ? "top-1 delta in points" : "no labels: deltas n/a")
    << ", SQNR of output 0 vs fp32 in dB; most sensitive first)\n";
  o << "  node                          params    int8 d  int8 dB    int4 d  int4 dB   prune d prune dB\n";
  for (const auto& s : layers) {
    char b[256];
    std::snprintf(b, sizeof b, "  %-28s %7lld  %8s %8s  %8s %8s  %8s %8s\n", s.node.c_str(), static_cast<long long>(s.params),
                  top1 ? num(s.int8_delta, "%+.2f").c_str() : "-", num(s.int8_sqnr, "%.1f").c_str(),
                  top1 ? num(s.int4_delta, "%+.2f").c_str() : "-", num(s.int4_sqnr, "%.1f").c_str(),
                  top1 ? num(s.prune_delta, "%+.2f").c_str() : "-", num(s.prune_sqnr, "%.1f").c_str());
    o << b;
  }
  o << "suggested --exclude: ";
  for (size_t i = 0; i < suggested_exclude.size(); ++i) o << (i ? "," : "") << suggested_exclude[i];
  o << (suggested_exclude.empty() ? "(none)" : "") << "\n";
  return o.str();
}

std::string LayerSensitivityReport::to_json() const {
  nlohmann::ordered_json j;
  j["metric"] = metric;
  j["baseline"] = std::isfinite(baseline) ? nlohmann::ordered_json(baseline) : nlohmann::ordered_json(nullptr);
  j["layers"] = nlohmann::ordered_json::array();
  auto fin = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
  for (const auto& s : layers)
    j["layers"].push_back({{"node", s.node}, {"params", s.params}, {"int8_delta", fin(s.int8_delta)},
                           {"int8_sqnr_db", fin(s.int8_sqnr)}, {"int4_delta", fin(s.int4_delta)},
                           {"int4_sqnr_db", fin(s.int4_sqnr)}, {"prune50_delta", fin(s.prune_delta)},
                           {"prune50_sqnr_db", fin(s.prune_sqnr)}});
  j["suggested_exclude"] = suggested_exclude;
  return j.dump(2) + "\n";
}

std::string LayerSensitivityReport::to_html() const {
  std::ostringstream o;
  const bool top1 = metric == "top1";
  o << "<table><tr><th>node</th><th>params</th><th>int8 delta</th><th>int8 SQNR dB</th><th>int4 delta</th>"
       "<th>int4 SQNR dB</th><th>pruned 50% delta</th><th>pruned 50% SQNR dB</th></tr>\n";
  for (const auto& s : layers)
    o << "<tr><td>" << s.node << "</td><td>" << s.params << "</td><td>" << (top1 ? num(s.int8_delta, "%+.2f") : "-")
      << "</td><td>" << num(s.int8_sqnr, "%.1f") << "</td><td>" << (top1 ? num(s.int4_delta, "%+.2f") : "-") << "</td><td>"
      << num(s.int4_sqnr, "%.1f") << "</td><td>" << (top1 ? num(s.prune_delta, "%+.2f") : "-") << "</td><td>"
      << num(s.prune_sqnr, "%.1f") << "</td></tr>\n";
  o << "</table>\n<p>Suggested <code>--exclude</code>: ";
  for (size_t i = 0; i < suggested_exclude.size(); ++i) o << (i ? ", " : "") << suggested_exclude[i];
  o << (suggested_exclude.empty() ? "none" : "") << "</p>\n";
  return o.str();
}

}  // namespace qtool
