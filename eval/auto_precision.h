// SPDX-License-Identifier: Apache-2.0
// Automatic mixed precision (`qtool auto`): per-layer weight precision (float / int8 / int4, int8
// activations on every quantized layer) for the smallest file within an accuracy budget, or for
// the best accuracy within a size budget. Greedy search driven by measured per-layer sensitivity
// (HAWQ-style ordering by measured damage, Dong et al. 2019, with measurements instead of Hessian
// traces):
//   1. all layers int8; while the drop exceeds the budget, the layer whose int8 damage alone is
//      largest goes back to float;
//   2. int8 layers, least int4 damage per saved byte first, try int4; a step that keeps the drop
//      within budget is kept (with --target-size: steps are taken until the file fits).
// Drop: top-1 points lost against fp32 (with labels), else points of top-1 disagreement with fp32.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/layer_sensitivity.h"

namespace qtool {

struct AutoOptions {
  double max_drop = 1.0;      // points
  int64_t target_size = 0;    // bytes; 0 = smallest within max_drop
  CompressOptions base;       // observer, rounding, user excludes
};

struct AutoResult {
  std::map<std::string, WeightSpec> layers;  // int4 layers (default int8)
  std::vector<std::string> excluded;         // float layers (user excludes included)
  double drop = 0, value = 0;
  int64_t bytes = 0;
  bool within_budget = false;
  std::vector<std::string> log;              // one line per evaluated step
};

// on_best is called with every new best model (save it: the best so far is always on disk).
AutoResult auto_precision(const Model& model, Dataset& calib, Dataset& eval, const std::vector<int64_t>& labels,
                          const AutoOptions& opts, const std::function<void(const Model&, const AutoResult&)>& on_best);

}  // namespace qtool
