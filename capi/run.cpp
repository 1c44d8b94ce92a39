// SPDX-License-Identifier: Apache-2.0
// C API: model description (qt_model_info) and single runs in qtool's executor (qt_model_run).
#include <algorithm>

#include "capi/capi_internal.h"
#include "core/suggest.h"

using qtool::capi::ArgumentError;
using qtool::capi::guarded;
using qtool::capi::need;

namespace {

nlohmann::ordered_json value_info_json(const onnx::ValueInfoProto& v) {
  nlohmann::ordered_json j;
  j["name"] = v.name();
  const auto& t = v.type().tensor_type();
  j["dtype"] = v.type().has_tensor_type() ? t.elem_type() : 0;
  auto shape = nlohmann::ordered_json::array();
  if (t.has_shape())
    for (const auto& d : t.shape().dim()) shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  j["shape"] = shape;
  return j;
}

}  // namespace

extern "C" {

qt_status qt_model_info(const qt_model* model, char** json) {
  return guarded([&] {
    need(model, "model");
    need(json, "json");
    nlohmann::ordered_json j;
    j["path"] = model->model.path.string();
    j["opset"] = model->model.opset();
    j["nodes"] = model->model.graph().node_size();
    j["inputs"] = nlohmann::ordered_json::array();
    std::vector<std::string> inits;
    for (const auto& i : model->model.graph().initializer()) inits.push_back(i.name());
    for (const auto& v : model->model.graph().input())
      if (std::find(inits.begin(), inits.end(), v.name()) == inits.end()) j["inputs"].push_back(value_info_json(v));
    j["outputs"] = nlohmann::ordered_json::array();
    for (const auto& v : model->model.graph().output()) j["outputs"].push_back(value_info_json(v));
    *json = qtool::capi::give_string(j.dump());
  });
}

qt_status qt_model_run(qt_model* model, const qt_array* inputs, size_t n_inputs, qt_values** out) {
  return guarded([&] {
    need(model, "model");
    need(out, "out");
    *out = nullptr;
    if (n_inputs) need(inputs, "inputs");
    if (!model->exec) model->exec = std::make_unique<qtool::Executor>(model->model);
    std::vector<std::string> names;
    for (const auto& s : model->exec->inputs()) names.push_back(s.name);
    qtool::TensorMap feeds;
    for (size_t i = 0; i < n_inputs; ++i) {
      need(inputs[i].name, "input name");
      const std::string name = inputs[i].name;
      if (std::find(names.begin(), names.end(), name) == names.end())
        throw ArgumentError("input '" + name + "' names no model input" + qtool::did_you_mean(name, names) +
                            " (inputs: " + qtool::name_list(names) + ")");
      feeds[name] = qtool::capi::tensor_from_array(inputs[i], "input");
    }
    for (const auto& n : names)
      if (!feeds.count(n)) throw ArgumentError("no value for model input '" + n + "'");
    qtool::TensorMap result = model->exec->run(feeds);
    auto v = std::make_unique<qt_values>();
    for (const auto& name : model->exec->output_names()) {
      v->names.push_back(name);
      v->tensors.push_back(result.at(name));
    }
    *out = v.release();
  });
}

qt_status qt_values_count(const qt_values* values, size_t* count) {
  return guarded([&] {
    need(values, "values");
    need(count, "count");
    *count = values->names.size();
  });
}

qt_status qt_values_get(const qt_values* values, size_t index, qt_array* out) {
  return guarded([&] {
    need(values, "values");
    need(out, "out");
    if (index >= values->names.size())
      throw ArgumentError("output index " + std::to_string(index) + " out of range (" +
                          std::to_string(values->names.size()) + " outputs)");
    const qtool::Tensor& t = values->tensors[index];
    static const std::vector<int> plain = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13};
    if (std::find(plain.begin(), plain.end(), static_cast<int>(t.dtype())) == plain.end())
      throw ArgumentError("output '" + values->names[index] + "' has dtype " +
                          std::to_string(static_cast<int>(t.dtype())) + ", which the C API does not hand out");
    out->name = values->names[index].c_str();
    out->dtype = static_cast<int32_t>(t.dtype());
    out->values = t.raw();
    out->shape = t.shape().data();
    out->rank = t.shape().size();
  });
}

void qt_values_free(qt_values* values) { delete values; }

}  // extern "C"
