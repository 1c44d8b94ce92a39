// SPDX-License-Identifier: Apache-2.0
#include "io/weights_to_initializers.h"

#include <set>

#include "core/error.h"
#include "io/onnx_tensor.h"

namespace qtool {

namespace {

const onnx::AttributeProto* only_attr(const onnx::NodeProto& n) { return n.attribute_size() == 1 ? &n.attribute(0) : nullptr; }

// The tensor a Constant node holds; empty when it holds strings or is malformed.
Tensor constant_value(const onnx::NodeProto& n, uint64_t& budget) {
  const auto* a = only_attr(n);
  if (!a) return {};
  const std::string& k = a->name();
  if (k == "value" && a->has_t()) {
    if (a->t().data_type() == onnx::TensorProto::STRING) return {};
    try {
      return tensor_from_proto(a->t());
    } catch (const InputError&) {
      return {};  // a type qtool cannot hold: the node stays
    }
  }
  if (k == "value_float") return Tensor::from<float>({}, {a->f()});
  if (k == "value_int") return Tensor::from<int64_t>({}, {a->i()});
  if (k == "value_floats")
    return Tensor::from<float>({a->floats_size()}, std::vector<float>(a->floats().begin(), a->floats().end()));
  if (k == "value_ints")
    return Tensor::from<int64_t>({a->ints_size()}, std::vector<int64_t>(a->ints().begin(), a->ints().end()));
  if (k == "sparse_value") {
    try {
      Tensor dense = densify_sparse_tensor(a->sparse_tensor(), budget);
      budget -= std::min<uint64_t>(budget, dense.nbytes());
      return dense;
    } catch (const InputError&) {
      return {};  // malformed or too large: the node stays (the executor reports it if it runs)
    }
  }
  return {};
}

}  // namespace

int weights_to_initializers(Model& model, uint64_t& budget) {
  auto& g = model.graph();
  std::set<std::string> outputs, inits;
  for (const auto& o : g.output()) outputs.insert(o.name());
  for (const auto& t : g.initializer()) inits.insert(t.name());
  std::set<std::string> declared_inputs;
  for (const auto& i : g.input()) declared_inputs.insert(i.name());
  int converted = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    auto* nodes = g.mutable_node();
    for (int k = 0; k < nodes->size(); ++k) {
      const auto& n = nodes->Get(k);
      if ((!n.domain().empty() && n.domain() != "ai.onnx") || n.output_size() != 1 || outputs.count(n.output(0)) ||
          inits.count(n.output(0)))
        continue;
      Tensor value;
      if (n.op_type() == "Constant" && n.input_size() == 0) {
        value = constant_value(n, budget);
      } else if (n.op_type() == "Identity" && n.input_size() == 1 && inits.count(n.input(0)) &&
                 !declared_inputs.count(n.input(0))) {
        value = model.initializer(n.input(0));
      }
      if (value.empty()) continue;
      const std::string name = n.output(0);
      model.set_initializer(name, value);
      inits.insert(name);
      nodes->DeleteSubrange(k, 1);
      --k;
      ++converted;
      changed = true;
    }
  }
  return converted;
}

}  // namespace qtool
