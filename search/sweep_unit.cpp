// SPDX-License-Identifier: Apache-2.0
#include "search/sweep_unit.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "eval/layer_sensitivity.h"
#include "prune/sparse_storage.h"
#include "quant/compress.h"

namespace fs = std::filesystem;

namespace qtool {

namespace {
constexpr uint64_t kZipLimit = uint64_t{256} << 20;  // zip sizes need the model in memory
}  // namespace

std::string sweep_format_of(int bits) {
  return bits == 8 ? "int8" : bits == 4 ? "int4" : bits == 2 ? "int2" : bits == 1 ? "binary" : "";
}

std::vector<SweepConfig> sweep_configs(const std::vector<int>& bits, const std::vector<double>& sparsity,
                                       const std::vector<std::string>& methods) {
  for (int b : bits)
    if (sweep_format_of(b).empty()) throw InputError("--bits: " + std::to_string(b) + " is not one of 8, 4, 2, 1");
  for (double s : sparsity)
    if (!(s >= 0 && s < 1)) throw InputError("--sparsity values must be in [0, 1), got " + std::to_string(s));
  if (methods.empty()) throw InputError("--method: at least one observer is needed");
  for (const auto& m : methods) {
    CompressOptions o;
    o.method = m;
    validate(o);  // InputError naming an unknown observer
  }
  std::vector<SweepConfig> configs;
  for (int b : bits)
    for (double s : sparsity) {
      if (b == 1 && s > 0) {
        spdlog::warn("skipping binary with sparsity {}: binary weights have no zero level", s);
        continue;
      }
      for (const auto& m : methods) {
        char id[96];
        std::snprintf(id, sizeof id, s > 0 ? "%s-s%.2f" : "%s", sweep_format_of(b).c_str(), s);
        std::string name = id;
        if (methods.size() > 1) name += "-" + m;
        configs.push_back({name, b, s, m});
      }
    }
  return configs;
}

ReportRow sweep_fp32_row(const Model& model, int64_t file_bytes, Dataset& eval, const std::vector<int64_t>& labels) {
  const auto t0 = std::chrono::steady_clock::now();
  Measured m = measure(model, model, eval, labels);
  ReportRow fp32;
  fp32.config = "fp32";
  fp32.path = "";
  fp32.file_bytes = file_bytes;
  fp32.zip_bytes = model.serialized_bytes() <= kZipLimit ? zip_bytes(serialize_model(model)) : 0;
  fp32.value = m.value;  // SQNR of fp32 vs itself: +inf
  fp32.delta = labels.empty() ? INFINITY : 0.0;
  fp32.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return fp32;
}

ReportRow run_sweep_unit(const Model& model, const SweepConfig& c, Dataset& calib, Dataset& eval,
                         const std::vector<int64_t>& labels, const ReportRow& fp32, const fs::path& dir,
                         bool skip_nonfinite) {
  const auto t0 = std::chrono::steady_clock::now();
  CompressOptions o;
  o.skip_nonfinite = skip_nonfinite;
  o.plan.bits = c.bits;
  o.method = c.method;
  if (c.sparsity > 0) {
    o.prune_enabled = true;
    o.prune.sparsity = c.sparsity;
  }
  CompressResult res = compress(model, o, &calib);
  const std::string file = c.id + ".onnx";
  const SaveResult saved = save_model(res.model, dir / file);
  Measured m = measure(res.model, model, eval, labels);
  ReportRow row;
  row.config = c.id;
  row.weights = sweep_format_of(c.bits);
  row.sparsity = c.sparsity;
  row.activations = res.activations ? "int8" : "float";
  row.bits_per_weight = code_bits_per_weight(res.stats);
  row.file_bytes = static_cast<int64_t>(saved.model_bytes + saved.data_bytes);
  row.zip_bytes = res.model.serialized_bytes() <= kZipLimit ? zip_bytes(serialize_model(res.model)) : 0;
  row.size_ratio = fp32.file_bytes > 0 ? static_cast<double>(row.file_bytes) / fp32.file_bytes : 0.0;
  row.value = m.value;
  row.delta = labels.empty() ? m.value : 100.0 * (m.value - fp32.value);  // SQNR: vs fp32 already
  row.agreement = m.agreement;
  row.path = file;
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return row;
}

}  // namespace qtool
