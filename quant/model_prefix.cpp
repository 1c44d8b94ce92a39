// SPDX-License-Identifier: Apache-2.0
#include "quant/model_prefix.h"

#include <set>

#include "core/error.h"
#include "quant/pass.h"

namespace qtool {

Model keep_nodes(const Model& model, const std::vector<bool>& keep) {
  Model out;
  out.path = model.path;
  out.external_files = model.external_files;
  out.proto = model.proto;
  auto& og = out.graph();
  og.clear_node();
  const auto& g = model.graph();
  for (int k = 0; k < g.node_size(); ++k)
    if (keep[k]) *og.add_node() = g.node(k);
  return out;
}

Model model_prefix(const Model& model, const std::vector<std::string>& values) {
  const auto& g = model.graph();
  std::set<std::string> produced, sources;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) produced.insert(o);
  for (const auto& i : g.input()) sources.insert(i.name());
  for (const auto& t : g.initializer()) sources.insert(t.name());
  std::set<std::string> needed;
  for (const auto& v : values) {
    if (produced.count(v)) needed.insert(v);
    else if (!sources.count(v)) throw InputError(model.path.string() + ": no value named '" + v + "' in the graph");
  }
  // ONNX graphs are topologically sorted: one backward sweep finds every node a needed value depends on
  std::vector<bool> keep(g.node_size(), false);
  std::set<std::string> read_by_kept;
  for (int k = g.node_size() - 1; k >= 0; --k) {
    const auto& n = g.node(k);
    bool wanted = false;
    for (const auto& o : n.output()) wanted = wanted || needed.count(o);
    if (!wanted) continue;
    keep[k] = true;
    std::set<std::string> reads;
    collect_node_reads(n, reads);
    for (const auto& r : reads)
      if (!r.empty()) {
        needed.insert(r);
        read_by_kept.insert(r);
      }
  }
  Model out = keep_nodes(model, keep);
  auto& og = out.graph();
  og.clear_output();
  std::set<std::string> added;
  for (const auto& v : values) {
    if (!produced.count(v) || read_by_kept.count(v) || !added.insert(v).second) continue;
    onnx::ValueInfoProto* vi = og.add_output();
    vi->set_name(v);
    for (const auto& info : g.value_info())
      if (info.name() == v) *vi = info;
    for (const auto& info : g.output())
      if (info.name() == v) *vi = info;
  }
  drop_unread_initializers(out);
  return out;
}

}  // namespace qtool
