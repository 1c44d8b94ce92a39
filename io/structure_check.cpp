// SPDX-License-Identifier: Apache-2.0
#include "io/structure_check.h"

#include <set>

#include "core/error.h"

namespace qtool {

namespace {

std::string node_name(const onnx::NodeProto& n) {
  return "node '" + (n.name().empty() ? (n.output_size() ? n.output(0) : std::string("?")) : n.name()) + "' (" +
         n.op_type() + ")";
}

void check_type(const onnx::TypeProto& t, const std::string& where) {
  if (t.has_tensor_type()) {
    const int e = t.tensor_type().elem_type();
    if (e < 0 || e > kMaxDTypeValue) throw InputError(where + " has element type " + std::to_string(e) + ", which ONNX does not define");
  } else if (t.has_sequence_type()) {
    check_type(t.sequence_type().elem_type(), where);
  } else if (t.has_optional_type()) {
    check_type(t.optional_type().elem_type(), where);
  }
}

void check_attribute(const onnx::AttributeProto& a, const std::string& where) {
  if (a.name().empty()) throw InputError(where + " has an attribute without a name");
  using A = onnx::AttributeProto;
  bool ok = true;
  switch (a.type()) {
    case A::FLOATS: ok = a.ints_size() == 0 && a.strings_size() == 0; break;
    case A::INTS: ok = a.floats_size() == 0 && a.strings_size() == 0; break;
    case A::STRINGS: ok = a.ints_size() == 0 && a.floats_size() == 0; break;
    case A::GRAPH: ok = a.has_g(); break;
    case A::TENSOR: ok = a.has_t(); break;
    case A::SPARSE_TENSOR: ok = a.has_sparse_tensor(); break;
    default: break;
  }
  if (!ok)
    throw InputError(where + ": attribute '" + a.name() + "' is declared " + A::AttributeType_Name(a.type()) +
                     " but holds another kind of value");
}

void check_graph(const onnx::GraphProto& g, std::set<std::string> scope, const std::string& where) {
  std::set<std::string> defined;
  auto define = [&](const std::string& name, const std::string& what) {
    if (name.empty()) throw InputError(where + ": " + what + " without a name");
    if (!defined.insert(name).second && what != "graph input")
      throw InputError(where + ": '" + name + "' is defined twice (" + what + "); ONNX values are assigned once");
  };
  for (const auto& t : g.initializer()) define(t.name(), "initializer");
  for (const auto& t : g.sparse_initializer()) define(t.values().name(), "sparse initializer");
  for (const auto& i : g.input()) {
    define(i.name(), "graph input");
    check_type(i.type(), where + ": input '" + i.name() + "'");
  }
  for (const auto& n : g.node()) {
    if (n.op_type().empty()) throw InputError(where + ": a node without an op type");
    for (const auto& o : n.output())
      if (!o.empty()) define(o, "output of " + node_name(n));
  }
  std::set<std::string> visible = scope;
  visible.insert(defined.begin(), defined.end());
  for (const auto& n : g.node()) {
    const std::string nw = where + ": " + node_name(n);
    for (const auto& i : n.input())
      if (!i.empty() && !visible.count(i))
        throw InputError(nw + " reads '" + i + "', which no node, input or initializer defines");
    std::set<std::string> attr_names;
    for (const auto& a : n.attribute()) {
      check_attribute(a, nw);
      if (!attr_names.insert(a.name()).second) throw InputError(nw + ": attribute '" + a.name() + "' is given twice");
      if (a.has_g()) check_graph(a.g(), visible, nw + " attribute '" + a.name() + "'");
      for (const auto& sub : a.graphs()) check_graph(sub, visible, nw + " attribute '" + a.name() + "'");
    }
  }
  for (const auto& o : g.output()) {
    if (!visible.count(o.name())) throw InputError(where + ": graph output '" + o.name() + "' is never produced");
    check_type(o.type(), where + ": output '" + o.name() + "'");
  }
}

}  // namespace

void check_structure(const Model& model, const std::string& label) {
  std::set<std::string> domains;
  for (const auto& o : model.proto.opset_import()) {
    const std::string d = o.domain() == "ai.onnx" ? "" : o.domain();
    if (!domains.insert(d).second)
      throw InputError(label + ": opset of domain '" + (d.empty() ? "ai.onnx" : d) + "' is imported twice");
    if (o.version() < 1)
      throw InputError(label + ": opset version " + std::to_string(o.version()) + " of domain '" +
                       (d.empty() ? "ai.onnx" : d) + "' is invalid");
  }
  if (model.graph().output_size() == 0)
    throw InputError(label + ": the graph has no outputs (onnxruntime refuses such a model; nothing would be computed)");
  std::set<std::string> outputs;
  for (const auto& o : model.graph().output())
    if (!outputs.insert(o.name()).second)
      throw InputError(label + ": graph output '" + o.name() + "' is listed twice (onnxruntime refuses such a model)");
  check_graph(model.graph(), {}, label + ": graph '" + model.graph().name() + "'");
}

}  // namespace qtool
