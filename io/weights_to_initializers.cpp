// SPDX-License-Identifier: Apache-2.0
#include "io/weights_to_initializers.h"

#include <set>

#include "core/error.h"
#include "io/onnx_tensor.h"

namespace qtool {

namespace {

const onnx::AttributeProto* only_attr(const onnx::NodeProto& n) { return n.attribute_size() == 1 ? &n.attribute(0) : nullptr; }

// The tensor a Constant node holds; empty when it holds strings or is malformed.
Tensor constant_value(const onnx::NodeProto& n) {
  const auto* a = only_attr(n);
  if (!a) return {};
  const std::string& k = a->name();
  if (k == "value" && a->has_t()) {
    if (a->t().data_type() == onnx::TensorProto::STRING) return {};
    return tensor_from_proto(a->t());
  }
  if (k == "value_float") return Tensor::from<float>({}, {a->f()});
  if (k == "value_int") return Tensor::from<int64_t>({}, {a->i()});
  if (k == "value_floats")
    return Tensor::from<float>({a->floats_size()}, std::vector<float>(a->floats().begin(), a->floats().end()));
  if (k == "value_ints")
    return Tensor::from<int64_t>({a->ints_size()}, std::vector<int64_t>(a->ints().begin(), a->ints().end()));
  if (k == "sparse_value") {
    const auto& sp = a->sparse_tensor();
    Shape dims(sp.dims().begin(), sp.dims().end());
    Tensor values = tensor_from_proto(sp.values());
    Tensor idx = tensor_from_proto(sp.indices());
    Tensor dense(values.dtype(), dims);
    const int64_t nnz = values.numel(), total = dense.numel();
    auto lin = idx.to_int64s();
    if (idx.rank() == 2) {
      if (idx.dim(0) != nnz || idx.dim(1) != static_cast<int64_t>(dims.size())) return {};
      std::vector<int64_t> l(nnz, 0);
      for (int64_t i = 0; i < nnz; ++i)
        for (size_t d = 0; d < dims.size(); ++d) {
          const int64_t c = lin[i * dims.size() + d];
          if (c < 0 || c >= dims[d]) return {};
          l[i] = l[i] * dims[d] + c;
        }
      lin = l;
    }
    if (static_cast<int64_t>(lin.size()) != nnz) return {};
    const size_t es = dtype_size(values.dtype());
    for (int64_t i = 0; i < nnz; ++i) {
      if (lin[i] < 0 || lin[i] >= total) return {};
      std::memcpy(static_cast<uint8_t*>(dense.raw()) + lin[i] * es, static_cast<const uint8_t*>(values.raw()) + i * es, es);
    }
    return dense;
  }
  return {};
}

}  // namespace

int weights_to_initializers(Model& model) {
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
        value = constant_value(n);
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
