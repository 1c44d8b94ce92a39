// SPDX-License-Identifier: Apache-2.0
// Calibration: run the model over a dataset and feed every listed float tensor to its own
// observer (streaming; memory is per tensor, not per sample).
#pragma once
#include <string>
#include <vector>

#include "calib/calibration_table.h"
#include "calib/dataset.h"

namespace qtool {

struct CalibrateOptions {
  std::string method = "mse";      // observer registry name
  ObserverOptions observer;
  int64_t max_batch = 16;
};

// `tensors`: names of graph values to observe (graph inputs included). InputError when a name
// does not exist in the model.
CalibrationTable calibrate(const Model& model, Dataset& data, const std::vector<std::string>& tensors,
                           const CalibrateOptions& opts);

}  // namespace qtool
