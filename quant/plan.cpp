// SPDX-License-Identifier: Apache-2.0
#include "quant/plan.h"

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
  if (j.contains("symmetric")) {
    if (!j["symmetric"].is_boolean()) throw InputError(where + ": \"symmetric\" must be true or false");
    s.symmetric = j["symmetric"].get<bool>();
  }
  if (j.contains("group_size")) {
    if (!j["group_size"].is_number_integer()) throw InputError(where + ": \"group_size\" must be an integer");
    const int64_t g = j["group_size"].get<int64_t>();
    if (g != 0 && g != 16 && g != 32 && g != 64 && g != 128)
      throw InputError(where + ": \"group_size\" must be 0, 16, 32, 64 or 128, got " + std::to_string(g));
    s.group_size = g;
  }
  static const std::vector<std::string> known = {"int8", "int4", "int2", "binary", "ternary", "fp16", "bf16", "float"};
  if (std::find(known.begin(), known.end(), s.format) == known.end())
    throw InputError(where + ": unknown weight format '" + s.format + "'");
  // blocks along the input channels exist for int8 / int4 (DequantizeLinear block_size); the
  // bit-packed and half-precision formats are per output channel
  if (s.group_size != 0 && s.format != "int8" && s.format != "int4")
    throw InputError(where + ": \"group_size\" applies to int8 and int4 weights; " + s.format +
                     " weights are per output channel (use 0)");
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

void read_plan(const std::string& path, CompressOptions& o) { plan_from_json(read_json_file(path, "plan"), path, o); }

void plan_from_json(const nlohmann::json& j, const std::string& path, CompressOptions& o) {
  if (!j.is_object() || !j.contains("format") || j["format"] != "qtool-quantization-plan")
    throw InputError(path + ": not a qtool quantization plan (expected \"format\": \"qtool-quantization-plan\")");
  if (!j.contains("default")) throw InputError(path + ": the plan has no \"default\" weight spec");
  const WeightSpec def = spec_from(j["default"], path + ": default");
  WeightPlanOptions plan;
  if (def.format == "fp16" || def.format == "bf16") plan.dtype = def.format;
  else if (def.format == "ternary") plan.ternary = true;
  else if (def.format == "int8") plan.bits = 8;
  else if (def.format == "int4") plan.bits = 4;
  else if (def.format == "int2") plan.bits = 2;
  else if (def.format == "binary") plan.bits = 1;
  else throw InputError(path + ": the default format cannot be 'float'");
  plan.symmetric = def.symmetric ? 1 : 0;
  plan.group_size = def.group_size;
  std::map<std::string, WeightSpec> layers;
  if (j.contains("layers")) {
    if (!j["layers"].is_object()) throw InputError(path + ": \"layers\" must be an object {\"node\": spec, ...}");
    for (auto it = j["layers"].begin(); it != j["layers"].end(); ++it)
      layers[it.key()] = spec_from(it.value(), path + ": layer '" + it.key() + "'");
  }
  std::vector<std::string> exclude;
  if (j.contains("exclude")) {
    if (!j["exclude"].is_array()) throw InputError(path + ": \"exclude\" must be a list of node names");
    for (const auto& e : j["exclude"]) {
      if (!e.is_string()) throw InputError(path + ": \"exclude\" must be a list of node names");
      exclude.push_back(e.get<std::string>());
    }
  }
  int act_bits = 0;
  if (j.contains("act_bits")) {
    if (!j["act_bits"].is_number_integer()) throw InputError(path + ": \"act_bits\" must be 0, 8 or 32");
    const int64_t a = j["act_bits"].get<int64_t>();
    if (a != 0 && a != 8 && a != 32) throw InputError(path + ": \"act_bits\" must be 0, 8 or 32, got " + std::to_string(a));
    act_bits = static_cast<int>(a);
  }
  o.plan = plan;
  o.layer_specs = std::move(layers);
  o.exclude = std::move(exclude);
  o.act_bits = act_bits;
}

}  // namespace qtool
