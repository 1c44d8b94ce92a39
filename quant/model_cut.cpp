// SPDX-License-Identifier: Apache-2.0
#include "quant/model_cut.h"

#include <set>

#include "core/error.h"
#include "quant/model_prefix.h"
#include "quant/pass.h"

namespace qtool {

Model model_after_cut(const Model& model, const std::vector<bool>& keep, const std::vector<InputSpec>& cut) {
  const auto& g = model.graph();
  if (static_cast<int>(keep.size()) != g.node_size())
    throw Error("model_after_cut: " + std::to_string(keep.size()) + " flags for " + std::to_string(g.node_size()) +
                " nodes");
  std::set<std::string> available, initializers, produced_before_cut;
  for (const auto& c : cut) available.insert(c.name);
  for (const auto& t : g.initializer()) initializers.insert(t.name());
  for (int k = 0; k < g.node_size(); ++k)
    if (!keep[k])
      for (const auto& o : g.node(k).output()) produced_before_cut.insert(o);
  std::set<std::string> read;
  for (int k = 0; k < g.node_size(); ++k) {
    if (!keep[k]) continue;
    std::set<std::string> reads;
    collect_node_reads(g.node(k), reads);
    for (const auto& r : reads) {
      if (r.empty()) continue;
      if (produced_before_cut.count(r) && !available.count(r))
        throw Error("model_after_cut: node '" + g.node(k).name() + "' reads '" + r +
                    "', computed before the cut and not among its values");
      read.insert(r);
    }
    for (const auto& o : g.node(k).output()) available.insert(o);
  }
  Model out = keep_nodes(model, keep);
  auto& og = out.graph();
  og.clear_input();
  for (const auto& c : cut) {
    onnx::ValueInfoProto* vi = og.add_input();
    vi->set_name(c.name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(c.dtype));  // DType values are onnx::TensorProto_DataType
    auto* shape = tt->mutable_shape();
    for (size_t d = 0; d < c.shape.size(); ++d) {
      auto* dim = shape->add_dim();
      if (c.shape[d] >= 0) dim->set_dim_value(c.shape[d]);
      else dim->set_dim_param("cut_" + std::to_string(d));
    }
  }
  std::set<std::string> cut_names;
  for (const auto& c : cut) cut_names.insert(c.name);
  for (const auto& in : g.input())
    if (read.count(in.name()) && !cut_names.count(in.name()) && !initializers.count(in.name())) *og.add_input() = in;
  og.clear_output();
  for (const auto& o : g.output())
    if (available.count(o.name()) && !cut_names.count(o.name())) *og.add_output() = o;
  drop_unread_initializers(out);
  return out;
}

}  // namespace qtool
