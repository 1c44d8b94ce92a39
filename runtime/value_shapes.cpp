// SPDX-License-Identifier: Apache-2.0
#include "runtime/value_shapes.h"

#include <regex>

namespace qtool {

InputShapes concrete_input_shapes(const Model& model, const InputShapes& overrides) {
  InputShapes out;
  for (const auto& spec : model_input_specs(model)) {
    auto it = overrides.find(spec.name);
    if (it != overrides.end()) {
      if (spec.rank_known && it->second.size() != spec.shape.size())
        throw InputError(model.path.string() + ": --input-shape " + spec.name + " has rank " +
                         std::to_string(it->second.size()) + ", the model declares " + shape_str(spec.shape));
      out[spec.name] = it->second;
      continue;
    }
    bool concrete = spec.rank_known && spec.kind == Value::Kind::kTensor;
    for (auto d : spec.shape) concrete = concrete && d >= 0;
    if (!concrete) {
      std::string shown = "[";
      for (size_t i = 0; i < spec.shape.size(); ++i) shown += (i ? "," : "") + (spec.shape[i] < 0 ? std::string("?") : std::to_string(spec.shape[i]));
      shown += "]";
      throw InputError(model.path.string() + ": input '" + spec.name + "' has symbolic extents " +
                       (spec.rank_known ? shown : std::string("(no declared shape)")) +
                       "; this step needs value shapes: pass --input-shape " + spec.name +
                       ":d0,d1,... with the real extents (or calibration data)");
    }
    out[spec.name] = spec.shape;
  }
  return out;
}

std::map<std::string, std::pair<DType, Shape>> value_shapes(const Model& model, const InputShapes& overrides) {
  const InputShapes shapes = concrete_input_shapes(model, overrides);
  ExecutorOptions opts;
  opts.fuse = false;
  opts.layouts = false;
  Executor exec(model, opts);
  exec.record_shapes(true);
  TensorMap feeds;
  for (const auto& in : exec.inputs()) feeds[in.name] = Tensor(in.dtype, shapes.at(in.name));
  exec.run(feeds);
  auto out = exec.last_value_shapes();
  for (const auto& in : exec.inputs()) out[in.name] = {in.dtype, shapes.at(in.name)};
  return out;
}

InputShapes parse_input_shapes(const std::vector<std::string>& specs) {
  InputShapes out;
  const std::regex one("([^:]+):([0-9]+(,[0-9]+)*)?");
  for (const auto& s : specs) {
    size_t start = 0;
    while (start <= s.size()) {
      const size_t end = std::min(s.find(';', start), s.size());
      const std::string part = s.substr(start, end - start);
      start = end + 1;
      if (part.empty()) continue;
      std::smatch m;
      if (!std::regex_match(part, m, one))
        throw InputError("--input-shape '" + part + "' is not NAME:d0,d1,... (e.g. x:1,3,48,320)");
      Shape dims;
      const std::string list = m[2];
      size_t p = 0;
      while (p < list.size()) {
        const size_t q = std::min(list.find(',', p), list.size());
        const std::string num = list.substr(p, q - p);
        if (num.size() > 12) throw InputError("--input-shape '" + part + "': extent " + num + " is too large");
        dims.push_back(std::stoll(num));
        p = q + 1;
      }
      out[m[1]] = dims;
    }
  }
  return out;
}

}  // namespace qtool
