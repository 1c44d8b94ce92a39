// SPDX-License-Identifier: Apache-2.0
// evaluate: runs a model over a dataset in qtool's executor and reports top-1 (with labels),
// top-1 agreement and per-output SQNR / cosine against a reference model (e.g. the fp32 original).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "calib/dataset.h"

namespace qtool {

struct OutputError {
  std::string name;
  double sqnr_db = 0;
  double cosine = 0;
};

struct EvalResult {
  int64_t samples = 0;
  std::optional<double> top1;           // fraction 0..1, when labels are given
  std::optional<double> ref_top1;       // reference model's top-1 on the same data
  std::optional<double> agreement;      // fraction of samples whose argmax equals the reference's
  std::vector<OutputError> outputs;     // per output, when a reference is given
  double seconds = 0;                   // wall time of the run
  std::string to_json() const;
};

struct EvalOptions {
  std::vector<int64_t> labels;          // empty: no top-1
  int64_t max_batch = 32;
};

EvalResult evaluate(const Model& model, Dataset& data, const EvalOptions& opts, const Model* ref = nullptr);

}  // namespace qtool
