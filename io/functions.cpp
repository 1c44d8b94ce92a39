// SPDX-License-Identifier: Apache-2.0
#include "io/functions.h"

#include <google/protobuf/unknown_field_set.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "core/error.h"

namespace qtool {

namespace {

// Fields newer than the libonnx protobuf qtool builds against (IR 9 / 10) arrive as unknown
// fields; these read them.
constexpr int kNodeOverload = 8;              // NodeProto.overload (IR 10)
constexpr int kFunctionAttributeProto = 11;   // FunctionProto.attribute_proto (IR 9)
constexpr int kFunctionOverload = 13;         // FunctionProto.overload (IR 10)

template <typename Message>
std::vector<std::string> unknown_bytes(const Message& m, int number) {
  std::vector<std::string> out;
  const auto& u = m.unknown_fields();
  for (int i = 0; i < u.field_count(); ++i) {
    const auto& f = u.field(i);
    if (f.number() == number && f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      out.push_back(f.length_delimited());
  }
  return out;
}

template <typename Message>
std::string unknown_string(const Message& m, int number) {
  auto v = unknown_bytes(m, number);
  return v.empty() ? std::string() : v.back();
}

std::string canonical(const std::string& domain) { return domain == "ai.onnx" ? "" : domain; }

using Key = std::tuple<std::string, std::string, std::string>;  // domain, name, overload

Key node_key(const onnx::NodeProto& n) { return {canonical(n.domain()), n.op_type(), unknown_string(n, kNodeOverload)}; }

std::string key_str(const Key& k) {
  const auto& [domain, name, overload] = k;
  return (domain.empty() ? "" : domain + ".") + name + (overload.empty() ? "" : ":" + overload);
}

template <typename F>
void for_each_subgraph(onnx::NodeProto& n, F&& f) {
  for (auto& a : *n.mutable_attribute()) {
    if (a.has_g()) f(*a.mutable_g());
    for (auto& g : *a.mutable_graphs()) f(g);
  }
}

void collect_names(const onnx::GraphProto& g, std::set<std::string>& names) {
  for (const auto& v : g.input()) names.insert(v.name());
  for (const auto& v : g.output()) names.insert(v.name());
  for (const auto& v : g.value_info()) names.insert(v.name());
  for (const auto& t : g.initializer()) names.insert(t.name());
  for (const auto& n : g.node()) {
    for (const auto& s : n.input()) names.insert(s);
    for (const auto& s : n.output()) names.insert(s);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_names(a.g(), names);
      for (const auto& sg : a.graphs()) collect_names(sg, names);
    }
  }
}

class Inliner {
 public:
  Inliner(onnx::ModelProto& model, const std::string& label) : model_(model), label_(label) {
    for (const auto& f : model.functions()) {
      const Key k{canonical(f.domain()), f.name(), unknown_string(f, kFunctionOverload)};
      if (functions_.count(k)) throw InputError(label + ": function " + key_str(k) + " is defined twice");
      functions_[k] = &f;
      auto& defaults = defaults_[k];
      for (const auto& bytes : unknown_bytes(f, kFunctionAttributeProto)) {
        onnx::AttributeProto a;
        if (!a.ParseFromString(bytes))
          throw InputError(label + ": function " + key_str(k) + " has an unreadable attribute default");
        defaults[a.name()] = a;
      }
    }
    collect_names(model.graph(), used_);
  }

  int run() {
    std::vector<Key> stack;
    inline_graph(*model_.mutable_graph(), stack);
    model_.clear_functions();
    return calls_;
  }

 private:
  // Per call: formal/internal name -> name in the model.
  struct CallScope {
    std::map<std::string, std::string> names;
    std::string prefix;  // unique per call
    const std::map<std::string, onnx::AttributeProto>* call_attrs = nullptr;
    const std::map<std::string, onnx::AttributeProto>* defaults = nullptr;
  };

  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }

  std::string rename(CallScope& scope, const std::string& name) {
    if (name.empty()) return name;
    auto it = scope.names.find(name);
    if (it != scope.names.end()) return it->second;
    const std::string n = fresh(scope.prefix + name);
    scope.names[name] = n;
    return n;
  }

  // Binds attribute references and renames every value of a body node (and of its subgraphs).
  void rewrite_node(CallScope& scope, onnx::NodeProto& n) {
    for (auto& s : *n.mutable_input()) s = rename(scope, s);
    for (auto& s : *n.mutable_output()) s = rename(scope, s);
    auto* attrs = n.mutable_attribute();
    for (int i = attrs->size() - 1; i >= 0; --i) {
      auto& a = *attrs->Mutable(i);
      if (!a.ref_attr_name().empty()) {
        const onnx::AttributeProto* v = nullptr;
        auto c = scope.call_attrs->find(a.ref_attr_name());
        if (c != scope.call_attrs->end()) v = &c->second;
        else {
          auto d = scope.defaults->find(a.ref_attr_name());
          if (d != scope.defaults->end()) v = &d->second;
        }
        if (!v) {  // not given and no default: the attribute is absent
          attrs->DeleteSubrange(i, 1);
          continue;
        }
        const std::string name = a.name();
        a = *v;
        a.set_name(name);
        a.clear_ref_attr_name();
        continue;  // a value from the caller's scope: its subgraphs are the caller's
      }
      if (a.has_g()) rewrite_graph(scope, *a.mutable_g());
      for (auto& g : *a.mutable_graphs()) rewrite_graph(scope, g);
    }
  }

  void rewrite_graph(CallScope& scope, onnx::GraphProto& g) {
    for (auto& v : *g.mutable_input()) v.set_name(rename(scope, v.name()));
    for (auto& v : *g.mutable_output()) v.set_name(rename(scope, v.name()));
    for (auto& v : *g.mutable_value_info()) v.set_name(rename(scope, v.name()));
    for (auto& t : *g.mutable_initializer()) t.set_name(rename(scope, t.name()));
    for (auto& n : *g.mutable_node()) rewrite_node(scope, n);
  }

  void add_opsets(const onnx::FunctionProto& f) {
    for (const auto& o : f.opset_import()) {
      bool found = false;
      for (const auto& m : model_.opset_import())
        if (canonical(m.domain()) == canonical(o.domain())) {
          found = true;
          if (m.version() != o.version() && warned_.insert(canonical(o.domain())).second)
            spdlog::warn("{}: function {} imports {} version {}, the model version {}; its nodes run at the model's",
                         label_, f.name(), o.domain().empty() ? "ai.onnx" : o.domain(), o.version(), m.version());
        }
      if (!found) *model_.add_opset_import() = o;
    }
  }

  // Appends the nodes a call expands to.
  void expand(const onnx::NodeProto& call, const Key& key, std::vector<Key>& stack, std::vector<onnx::NodeProto>& out) {
    const onnx::FunctionProto& f = *functions_.at(key);
    for (const auto& k : stack)
      if (k == key) throw InputError(label_ + ": function " + key_str(key) + " calls itself (recursion cannot be inlined)");
    if (call.input_size() > f.input_size() || call.output_size() > f.output_size())
      throw InputError(label_ + ": node '" + call.name() + "' calls function " + key_str(key) + " with " +
                       std::to_string(call.input_size()) + " inputs and " + std::to_string(call.output_size()) +
                       " outputs; it declares " + std::to_string(f.input_size()) + " and " +
                       std::to_string(f.output_size()));
    ++calls_;
    add_opsets(f);
    std::map<std::string, onnx::AttributeProto> call_attrs;
    for (const auto& a : call.attribute()) call_attrs[a.name()] = a;
    CallScope scope;
    scope.prefix = (call.name().empty() ? f.name() : call.name()) + "__" + std::to_string(calls_) + "__";
    scope.call_attrs = &call_attrs;
    scope.defaults = &defaults_.at(key);
    for (int i = 0; i < f.input_size(); ++i) scope.names[f.input(i)] = i < call.input_size() ? call.input(i) : "";
    std::set<std::string> produced;
    for (const auto& n : f.node())
      for (const auto& o : n.output()) produced.insert(o);
    std::vector<std::pair<std::string, std::string>> passthrough;  // formal output not made by a node
    for (int i = 0; i < f.output_size(); ++i) {
      const std::string actual = i < call.output_size() && !call.output(i).empty() ? call.output(i) : "";
      if (produced.count(f.output(i))) {
        scope.names[f.output(i)] = actual.empty() ? fresh(scope.prefix + f.output(i)) : actual;
      } else if (scope.names.count(f.output(i))) {
        if (!actual.empty()) passthrough.emplace_back(f.output(i), actual);
      } else {
        throw InputError(label_ + ": function " + key_str(key) + " never produces its output '" + f.output(i) + "'");
      }
    }
    stack.push_back(key);
    for (const auto& body_node : f.node()) {
      onnx::NodeProto n = body_node;
      rewrite_node(scope, n);
      if (!call.name().empty()) n.set_name(call.name() + "/" + (n.name().empty() ? n.op_type() : n.name()));
      emit(n, stack, out);
    }
    stack.pop_back();
    for (const auto& [formal, actual] : passthrough) {
      onnx::NodeProto id;
      id.set_op_type("Identity");
      id.set_name(call.name().empty() ? actual : call.name() + "/" + actual);
      id.add_input(scope.names.at(formal));
      id.add_output(actual);
      out.push_back(std::move(id));
    }
  }

  // A node of a graph being inlined: its subgraphs first, then the node itself (or its body).
  void emit(onnx::NodeProto& n, std::vector<Key>& stack, std::vector<onnx::NodeProto>& out) {
    for_each_subgraph(n, [&](onnx::GraphProto& g) { inline_graph(g, stack); });
    const Key k = node_key(n);
    if (functions_.count(k)) expand(n, k, stack, out);
    else out.push_back(std::move(n));
  }

  void inline_graph(onnx::GraphProto& g, std::vector<Key>& stack) {
    std::vector<onnx::NodeProto> nodes;
    nodes.reserve(g.node_size());
    for (auto& n : *g.mutable_node()) emit(n, stack, nodes);
    g.clear_node();
    for (auto& n : nodes) *g.add_node() = std::move(n);
  }

  onnx::ModelProto& model_;
  std::string label_;
  std::map<Key, const onnx::FunctionProto*> functions_;
  std::map<Key, std::map<std::string, onnx::AttributeProto>> defaults_;
  std::set<std::string> used_;
  std::set<std::string> warned_;
  int calls_ = 0;
};

}  // namespace

int inline_model_functions(onnx::ModelProto& model, const std::string& label) {
  if (model.functions_size() == 0) return 0;
  const int n = Inliner(model, label).run();
  spdlog::debug("{}: inlined {} call(s) of model-local functions", label, n);
  return n;
}

}  // namespace qtool
