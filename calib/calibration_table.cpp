// SPDX-License-Identifier: Apache-2.0
#include "calib/calibration_table.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "io/output_file.h"

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
  const std::string label = path.string();
  return from_json(read_json_file(label, "calibration table"), label);
}

CalibrationTable CalibrationTable::from_json(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object() || !j.contains("format") || j["format"] != "qtool-calibration-table" || !j.contains("tensors") ||
      !j["tensors"].is_object())
    throw InputError(label + ": not a qtool calibration table (expected format \"qtool-calibration-table\")");
  CalibrationTable t;
  if (j.contains("method")) {
    if (!j["method"].is_string()) throw InputError(label + ": \"method\" must be a string");
    t.method = j["method"].get<std::string>();
  }
  if (j.contains("samples")) {
    if (!j["samples"].is_number_integer() || j["samples"].get<int64_t>() < 0)
      throw InputError(label + ": \"samples\" must be a non-negative integer");
    t.samples = j["samples"].get<int64_t>();
  }
  for (const auto& [name, r] : j["tensors"].items()) {
    if (!r.is_object() || !r.contains("min") || !r.contains("max") || !r["min"].is_number() || !r["max"].is_number())
      throw InputError(label + ": tensor '" + name + "' needs numeric min and max");
    const double lo = r["min"].get<double>(), hi = r["max"].get<double>();
    const double fmax = std::numeric_limits<float>::max();
    if (!std::isfinite(lo) || !std::isfinite(hi) || std::fabs(lo) > fmax || std::fabs(hi) > fmax)
      throw InputError(label + ": tensor '" + name + "' has a range outside float32 (min " + std::to_string(lo) +
                       ", max " + std::to_string(hi) + ")");
    if (lo > hi) throw InputError(label + ": tensor '" + name + "' has min > max");
    t.ranges[name] = {static_cast<float>(lo), static_cast<float>(hi)};
  }
  return t;
}

}  // namespace qtool
