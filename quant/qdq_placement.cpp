// SPDX-License-Identifier: Apache-2.0
#include "quant/qdq_placement.h"

#include <deque>
#include <functional>

#include "runtime/kernel.h"

namespace qtool {

namespace {

const std::set<std::string> kMovement = {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Slice",
                                         "Gather", "GatherElements", "Split", "MaxPool", "Expand", "Tile",
                                         "Resize", "Pad", "DepthToSpace", "SpaceToDepth", "Identity"};
const std::set<std::string> kIntegerOps = {"Add", "Mul", "Concat", "AveragePool", "GlobalAveragePool",
                                           "Sigmoid", "Softmax", "LeakyRelu"};
const std::set<std::string> kLayers = {"Conv", "ConvTranspose", "Gemm", "MatMul"};

// Movement whose output values are exactly input values (so a shared scale loses nothing).
bool lossless(const onnx::NodeProto& n, const Model& m) {
  if (n.op_type() == "Resize") return attr_string(n, "mode", "nearest") == "nearest";
  if (n.op_type() == "Pad" && attr_string(n, "mode", "constant") == "constant" && n.input_size() > 2 &&
      !n.input(2).empty()) {
    if (!m.find_initializer(n.input(2))) return false;
    for (float v : m.initializer(n.input(2)).cast(DType::kFloat).to_floats())
      if (v != 0.f) return false;  // zero is exact on every grid, other pad values are not
  }
  return true;
}

struct UnionFind {
  std::map<std::string, std::string> parent;
  std::string find(const std::string& x) {
    auto it = parent.find(x);
    if (it == parent.end()) return parent[x] = x;
    if (it->second == x) return x;
    return it->second = find(it->second);
  }
  void unite(const std::string& a, const std::string& b) {
    const std::string ra = find(a), rb = find(b);
    if (ra != rb) parent[rb] = ra;
  }
};

}  // namespace

bool is_data_movement(const std::string& op_type) { return kMovement.count(op_type) > 0; }
const std::set<std::string>& integer_op_types() { return kIntegerOps; }

LayerRoles layer_roles(const Model& m, const onnx::NodeProto& n) {
  LayerRoles r;
  if (!n.domain().empty() || !kLayers.count(n.op_type())) return r;
  auto is_init = [&](int i) { return i < n.input_size() && !n.input(i).empty() && m.find_initializer(n.input(i)); };
  const std::string& op = n.op_type();
  if (op == "Conv") {
    r.acts = {0};
    if (is_init(1)) r.weight = 1, r.axis = 0;
    if (is_init(2)) r.bias = 2;
  } else if (op == "ConvTranspose") {
    r.acts = {0};
    if (is_init(1) && attr_int(n, "group", 1) == 1) r.weight = 1, r.axis = 1;
    if (is_init(2)) r.bias = 2;
  } else if (op == "Gemm") {
    r.acts = {0};
    if (is_init(1)) r.weight = 1, r.axis = attr_int(n, "transB", 0) ? 0 : 1;
    else r.acts.push_back(1);
    if (is_init(2) && attr_float(n, "alpha", 1.f) == 1.f && attr_float(n, "beta", 1.f) == 1.f &&
        m.find_initializer(n.input(2))->dims_size() == 1)
      r.bias = 2;
  } else if (op == "MatMul") {
    r.acts = {0};
    if (is_init(1) && m.find_initializer(n.input(1))->dims_size() >= 2)
      r.weight = 1, r.axis = m.find_initializer(n.input(1))->dims_size() - 1;
    else r.acts.push_back(1);
  }
  if (r.acts.size() == 2 && is_init(0)) r.acts = {1};
  return r;
}

QdqPlacement place_qdq(const Model& model, const QuantOptions& opts) {
  const auto& g = model.graph();
  const bool ort = opts.target == QdqTarget::kOnnxRuntime;
  std::map<std::string, int> producer;
  std::map<std::string, std::vector<int>> consumers;
  std::set<std::string> graph_outputs, graph_inputs;
  for (int i = 0; i < g.node_size(); ++i) {
    for (const auto& o : g.node(i).output()) producer[o] = i;
    for (const auto& in : g.node(i).input()) consumers[in].push_back(i);
  }
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  for (const auto& in : g.input()) graph_inputs.insert(in.name());
  auto is_act = [&](const std::string& v) {
    return !v.empty() && !model.find_initializer(v) && (producer.count(v) || graph_inputs.count(v));
  };
  auto label = [&](const onnx::NodeProto& n) { return n.name().empty() ? n.output(0) : n.name(); };
  auto enabled = [&](const onnx::NodeProto& n) {
    return n.domain().empty() && opts.op_types.count(n.op_type()) && !opts.exclude.count(label(n));
  };
  // Relu / Clip with constant bounds: fused into the following quantizer by the runtimes.
  auto foldable_activation = [&](const onnx::NodeProto& n) {
    if (n.op_type() == "Relu") return true;
    if (n.op_type() != "Clip") return false;
    for (int i = 1; i < n.input_size(); ++i)
      if (!n.input(i).empty() && !model.find_initializer(n.input(i))) return false;
    return true;
  };

  QdqPlacement p;
  std::set<std::string> in_plan;
  UnionFind groups;
  std::deque<std::string> work;
  auto add = [&](const std::string& t, const std::string& why) {
    if (!is_act(t)) return false;
    groups.find(t);
    if (!in_plan.insert(t).second) return false;
    p.why[t] = why;
    work.push_back(t);
    return true;
  };
  std::set<int> int_ops_done;
  // An op with an integer kernel whose result is quantized: quantize its activation inputs.
  std::function<void(int)> demand_integer_op = [&](int ni) {
    const auto& n = g.node(ni);
    if (!ort) return;  // OpenVINO: layer inputs only (see qdq_placement.h)
    if (!kIntegerOps.count(n.op_type()) || !enabled(n) || !int_ops_done.insert(ni).second) return;
    std::vector<std::string> ins;
    for (const auto& in : n.input()) {
      if (in.empty()) continue;
      if (!is_act(in)) return;  // e.g. Add of a bias constant: stays float
      ins.push_back(in);
    }
    if (n.op_type() == "Add" || n.op_type() == "Mul") {
      if (ins.size() != 2) return;
    } else if (n.op_type() != "Concat" && ins.size() != 1) {
      return;
    }
    for (const auto& in : ins) add(in, "input of " + n.op_type() + " " + label(n));
  };

  for (const auto& n : g.node()) {
    if (!kLayers.count(n.op_type()) || !enabled(n)) continue;
    const LayerRoles r = layer_roles(model, n);
    if (r.acts.empty()) continue;
    for (int i : r.acts)
      if (i < n.input_size()) add(n.input(i), "input of " + n.op_type() + " " + label(n));
    if (!ort || n.op_type() == "Gemm" || n.op_type() == "ConvTranspose") continue;
    std::string y = n.output(0);
    auto c = consumers.find(y);
    if (c != consumers.end() && c->second.size() == 1 && !graph_outputs.count(y) &&
        foldable_activation(g.node(c->second[0])))
      y = g.node(c->second[0]).output(0);
    // a Conv writing a graph output is still quantized (its DequantizeLinear writes the output):
    // QLinearConv needs the quantizer and there is no integer Conv with a float output
    if (!graph_outputs.count(y) || n.op_type() == "Conv") add(y, "output of " + n.op_type() + " " + label(n));
  }

  while (!work.empty()) {
    const std::string t = work.front();
    work.pop_front();
    // backwards
    auto pit = producer.find(t);
    if (pit != producer.end()) {
      const auto& n = g.node(pit->second);
      if (n.domain().empty() && kMovement.count(n.op_type()) && n.input_size() > 0 && is_act(n.input(0)) &&
          !(n.op_type() == "MaxPool" && n.output_size() > 1 && !n.output(1).empty())) {
        add(n.input(0), "shares the scale of " + t + " (" + n.op_type() + ")");
        groups.unite(n.input(0), t);
      } else if (n.domain().empty() && foldable_activation(n) && is_act(n.input(0)) && producer.count(n.input(0))) {
        demand_integer_op(producer[n.input(0)]);
      } else {
        demand_integer_op(pit->second);
      }
    }
    // forwards, onnxruntime only: lossless movement runs on the quantized values
    if (!ort) continue;
    auto cit = consumers.find(t);
    if (cit == consumers.end()) continue;
    for (int ci : cit->second) {
      const auto& n = g.node(ci);
      if (!n.domain().empty() || !kMovement.count(n.op_type()) || n.input(0) != t || !lossless(n, model)) continue;
      if (n.op_type() == "MaxPool" && n.output_size() > 1 && !n.output(1).empty()) continue;
      for (const auto& o : n.output()) {
        if (o.empty() || graph_outputs.count(o)) continue;
        add(o, "shares the scale of " + t + " (" + n.op_type() + ")");
        groups.unite(t, o);
      }
    }
  }

  // graph order: graph inputs first, then node outputs as produced
  for (const auto& in : g.input())
    if (in_plan.count(in.name())) p.tensors.push_back(in.name());
  for (const auto& n : g.node())
    for (const auto& o : n.output())
      if (in_plan.count(o)) p.tensors.push_back(o);
  for (const auto& t : p.tensors) p.share[t] = groups.find(t);
  return p;
}

}  // namespace qtool
