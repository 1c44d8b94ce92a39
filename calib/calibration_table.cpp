// SPDX-License-Identifier: Apache-2.0
#include "calib/calibration_table.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/model.h"

namespace qtool {

std::string CalibrationTable::to_json() const {
  nlohmann::ordered_json j;
  j["format"] = "qtool-calibration-table";
  j["version"] = 1;
  j["method"] = method;
  j["samples"] = samples;
  auto& t = j["tensors"];
  t = nlohmann::ordered_json::object();
  for (const auto& [name, r] : ranges) t[name] = {{"min", r.min}, {"max", r.max}};
  return j.dump(2) + "\n";
}

void CalibrationTable::save(const std::filesystem::path& path) const { write_file_atomic(path, to_json()); }

CalibrationTable CalibrationTable::load(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) throw InputError(path.string() + ": cannot open calibration table");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw InputError(path.string() + ": not valid JSON: " + e.what());
  }
  if (j.value("format", "") != "qtool-calibration-table" || !j.contains("tensors") || !j["tensors"].is_object())
    throw InputError(path.string() + ": not a qtool calibration table (expected format \"qtool-calibration-table\")");
  CalibrationTable t;
  t.method = j.value("method", "");
  t.samples = j.value("samples", 0);
  for (const auto& [name, r] : j["tensors"].items()) {
    if (!r.contains("min") || !r.contains("max") || !r["min"].is_number() || !r["max"].is_number())
      throw InputError(path.string() + ": tensor '" + name + "' needs numeric min and max");
    t.ranges[name] = {r["min"].get<float>(), r["max"].get<float>()};
    if (t.ranges[name].min > t.ranges[name].max)
      throw InputError(path.string() + ": tensor '" + name + "' has min > max");
  }
  return t;
}

}  // namespace qtool
