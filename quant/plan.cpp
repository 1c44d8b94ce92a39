// SPDX-License-Identifier: Apache-2.0
#include "quant/plan.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace qtool {

namespace {

nlohmann::ordered_json spec_json(const WeightSpec& s) {
  return {{"format", s.format}, {"symmetric", s.symmetric}, {"group_size", s.group_size}};
}

WeightSpec spec_from(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string())
    throw InputError(where + ": expected {\"format\": ..., \"symmetric\": ..., \"group_size\": ...}");
  WeightSpec s;
  s.format = j["format"].get<std::string>();
  s.symmetric = j.value("symmetric", true);
  s.group_size = j.value("group_size", 0);
  static const std::vector<std::string> known = {"int8", "int4", "int2", "binary", "ternary", "fp16", "bf16", "float"};
  if (std::find(known.begin(), known.end(), s.format) == known.end())
    throw InputError(where + ": unknown weight format '" + s.format + "'");
  return s;
}

}  // namespace

std::string plan_to_json(const WeightSpec& def, const std::map<std::string, WeightSpec>& layers,
                         const std::vector<std::string>& exclude, int act_bits) {
  nlohmann::ordered_json j;
  j["format"] = "qtool-quantization-plan";
  j["version"] = 1;
  j["default"] = spec_json(def);
  j["layers"] = nlohmann::ordered_json::object();
  for (const auto& [name, s] : layers) j["layers"][name] = spec_json(s);
  j["exclude"] = exclude;
  j["act_bits"] = act_bits;
  return j.dump(2) + "\n";
}

void read_plan(const std::string& path, CompressOptions& o) {
  const nlohmann::json j = read_json_file(path, "plan");
  if (j.value("format", "") != "qtool-quantization-plan") throw InputError(path + ": not a qtool quantization plan");
  const WeightSpec def = spec_from(j["default"], path + ": default");
  o.plan = WeightPlanOptions{};
  if (def.format == "fp16" || def.format == "bf16") o.plan.dtype = def.format;
  else if (def.format == "ternary") o.plan.ternary = true;
  else if (def.format == "int8") o.plan.bits = 8;
  else if (def.format == "int4") o.plan.bits = 4;
  else if (def.format == "int2") o.plan.bits = 2;
  else if (def.format == "binary") o.plan.bits = 1;
  else throw InputError(path + ": the default format cannot be 'float'");
  o.plan.symmetric = def.symmetric ? 1 : 0;
  o.plan.group_size = def.group_size;
  o.layer_specs.clear();
  if (j.contains("layers"))
    for (auto it = j["layers"].begin(); it != j["layers"].end(); ++it)
      o.layer_specs[it.key()] = spec_from(it.value(), path + ": layer '" + it.key() + "'");
  o.exclude = j.value("exclude", std::vector<std::string>{});
  o.act_bits = j.value("act_bits", 0);
}

}  // namespace qtool
