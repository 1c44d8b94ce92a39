// SPDX-License-Identifier: Apache-2.0
// Calibration: run the model over a dataset and feed every listed float tensor to its own
// observer (streaming; memory is per tensor, not per sample).
#pragma once
#include <string>
#include <vector>

#include "calib/calibration_table.h"
#include "calib/dataset.h"
#include "quant/qparams.h"

namespace qtool {

struct CalibrateOptions {
  std::string method = "mse";      // observer registry name
  ObserverOptions observer;
  // The activation grid the ranges are for (observers that offer several candidate ranges, "auto",
  // are judged on it; calib/range_select.h).
  ActType act_type = ActType::kUInt8;
  int64_t max_batch = 16;
  // Calibration data must be finite (calib/dataset.h, finite_samples): an error naming the sample
  // and input, or with skip_nonfinite those samples are dropped. A tensor computed from finite
  // data that is not finite (an overflow) is an error naming the tensor and sample.
  bool skip_nonfinite = false;
};

// `tensors`: names of graph values to observe (graph inputs included). InputError when a name
// does not exist in the model.
CalibrationTable calibrate(const Model& model, Dataset& data, const std::vector<std::string>& tensors,
                           const CalibrateOptions& opts);

}  // namespace qtool
