// SPDX-License-Identifier: Apache-2.0
// One unit of work of `qtool sweep`: one configuration (weight bits x sparsity x activation
// observer) of one model, compressed, written and evaluated. A plain value that the local thread
// pool (tools/cmd_sweep.cpp) and a Ray task (python/qtool/distributed.py, through the C API
// qt_sweep_*) run the same way, so both produce the same report rows (eval/report.h).
//
// Configuration ids: "int8", "int4-s0.50" (format, then "-s%.2f" when pruned); with more than one
// observer method in the sweep the method is appended ("int8-mse", "int4-s0.50-percentile").
// Errors: InputError for bits outside {8,4,2,1}, sparsity outside [0,1), an unknown method.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "eval/report.h"
#include "io/model.h"

namespace qtool {

struct SweepConfig {
  std::string id;
  int bits = 8;           // 8 (W8A8), 4, 2 (weight-only), 1 (binary)
  double sparsity = 0;    // unstructured magnitude pruning before quantization
  std::string method = "mse";  // observer of the int8 activations
};

// "int8", "int4", "int2", "binary"; "" for other bit widths.
std::string sweep_format_of(int bits);

// The configurations of a sweep in report order (bits, then sparsity, then method); binary with
// sparsity > 0 is skipped with a warning (binary weights have no zero level).
std::vector<SweepConfig> sweep_configs(const std::vector<int>& bits, const std::vector<double>& sparsity,
                                       const std::vector<std::string>& methods);

// The fp32 row: `file_bytes` is the size of the original model file; value is the metric of the
// model against itself (SQNR +inf, or its top-1 with labels).
ReportRow sweep_fp32_row(const Model& model, int64_t file_bytes, Dataset& eval, const std::vector<int64_t>& labels);

// Compresses `model` in configuration `c`, saves it as <dir>/<id>.onnx, evaluates it against the
// fp32 model and returns its row (seconds: wall time of this call). `fp32` is sweep_fp32_row's.
ReportRow run_sweep_unit(const Model& model, const SweepConfig& c, Dataset& calib, Dataset& eval,
                         const std::vector<int64_t>& labels, const ReportRow& fp32, const std::filesystem::path& dir,
                         bool skip_nonfinite = false);

}  // namespace qtool
