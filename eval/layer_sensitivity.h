// SPDX-License-Identifier: Apache-2.0
// Per-layer sensitivity (`qtool sensitivity`, the sweep report, `qtool auto`): for each weighted
// layer, the metric delta and output SQNR when only that layer is
//   int8   weights int8 per channel and its activation inputs int8 (W8A8), the rest float;
//   int4   weights int4 (GPTQ with calibration data), weight-only, the rest float;
//   pruned 50% of its weights removed (unstructured magnitude), the rest untouched.
// Delta is in top-1 points (with labels) or SQNR dB of output 0 vs fp32 (without). Layers are
// ranked by their int8 damage, then int4; the suggested --exclude list holds the layers whose
// int8-alone delta is below -0.3 points (top-1) or whose int8-alone SQNR is under 30 dB.
#pragma once
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "quant/compress.h"

namespace qtool {

struct LayerSensitivity {
  std::string node;
  int64_t params = 0;
  double int8_delta = 0, int8_sqnr = 0, int4_delta = 0, int4_sqnr = 0, prune_delta = 0, prune_sqnr = 0;
};

struct LayerSensitivityReport {
  std::string metric;  // "top1" or "sqnr_db"
  double baseline = 0;
  std::vector<LayerSensitivity> layers;
  std::vector<std::string> suggested_exclude;
  std::string to_text() const;
  std::string to_json() const;
  std::string to_html() const;
};

// `base`: calibration/observer settings shared with the real run (method, act_type, rounding).
LayerSensitivityReport layer_sensitivity(const Model& model, Dataset& calib, Dataset& eval,
                                         const std::vector<int64_t>& labels, const CompressOptions& base = {},
                                         bool with_pruning = true);

// Metric of `model` on `eval` against the fp32 `ref` (top-1 with labels, else SQNR of output 0),
// with top-1 agreement; shared by sensitivity, auto and sweep.
struct Measured {
  double value = 0, sqnr_db = 0, agreement = 0;
};
Measured measure(const Model& model, const Model& ref, Dataset& eval, const std::vector<int64_t>& labels);

}  // namespace qtool
