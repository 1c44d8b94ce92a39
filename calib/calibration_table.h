// SPDX-License-Identifier: Apache-2.0
// CalibrationTable: the activation range of every calibrated tensor, saved as JSON so that
// calibration runs once and quantization (a second step) consumes it. Format:
//   {"format": "qtool-calibration-table", "version": 1, "method": "entropy", "samples": 500,
//    "tensors": {"conv1_out": {"min": -1.25, "max": 3.5}, ...}}
// Tensor names refer to the model after the calibration pre-passes (fold_batchnorm).
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "calib/observer.h"

namespace qtool {

struct CalibrationTable {
  std::string method;
  int64_t samples = 0;
  std::map<std::string, Range> ranges;

  std::string to_json() const;
  void save(const std::filesystem::path& path) const;  // atomic write
  static CalibrationTable load(const std::filesystem::path& path);  // InputError on bad files
};

}  // namespace qtool
