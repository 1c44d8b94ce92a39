// SPDX-License-Identifier: Apache-2.0
#include "runtime/step_profile.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace qtool {

std::string profile_summary(const std::vector<StepProfile>& profile, size_t top_steps) {
  if (profile.empty() || profile.front().calls == 0) return {};
  const double runs = static_cast<double>(profile.front().calls);
  struct Row {
    int steps = 0, with_layout = 0;
    double seconds = 0;
  };
  std::map<std::string, Row> by_type;
  double total = 0;
  for (const auto& p : profile) {
    auto& r = by_type[p.op_type];
    ++r.steps;
    r.with_layout += p.layout != "plain";
    r.seconds += p.seconds;
    total += p.seconds;
  }
  std::vector<std::pair<std::string, Row>> rows(by_type.begin(), by_type.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%.3f ms per run over %.0f runs, %zu steps\n", 1000 * total / runs, runs,
                profile.size());
  out += line;
  std::snprintf(line, sizeof line, "%-28s %6s %8s %11s %7s\n", "op type", "steps", "layouts", "ms per run", "share");
  out += line;
  for (const auto& [type, r] : rows) {
    std::snprintf(line, sizeof line, "%-28s %6d %8d %11.3f %6.1f%%\n", type.c_str(), r.steps, r.with_layout,
                  1000 * r.seconds / runs, total > 0 ? 100 * r.seconds / total : 0.0);
    out += line;
  }
  std::vector<const StepProfile*> slow;
  for (const auto& p : profile) slow.push_back(&p);
  std::stable_sort(slow.begin(), slow.end(), [](const auto* a, const auto* b) { return a->seconds > b->seconds; });
  slow.resize(std::min(slow.size(), top_steps));
  if (!slow.empty()) {
    std::snprintf(line, sizeof line, "slowest steps:\n%-36s %-22s %-14s %11s\n", "node", "op type", "layout", "ms per run");
    out += line;
  }
  for (const auto* p : slow) {
    // exported models' node names share long prefixes ("/features/features.2/..."): the tail tells them apart
    const std::string name = p->node.size() > 36 ? ".." + p->node.substr(p->node.size() - 34) : p->node;
    std::snprintf(line, sizeof line, "%-36s %-22.22s %-14s %11.3f\n", name.c_str(), p->op_type.c_str(),
                  p->layout.c_str(), 1000 * p->seconds / runs);
    out += line;
  }
  return out;
}

}  // namespace qtool
