// SPDX-License-Identifier: Apache-2.0
// Per-layer pruning sensitivity and sparsity allocation.
//
// measure_sensitivity prunes one layer at a time at each level (the others untouched), runs the
// model on the data and records the metric: top-1 when labels are given, otherwise the SQNR (dB)
// of the first output against the unpruned model's. Reference outputs are computed once.
//
// allocate_sparsity turns a target overall sparsity into per-layer sparsities with one common
// tolerance: each layer gets the largest sparsity whose measured damage stays within a threshold
// tau (linear between the measured levels), and tau is bisected until the pruned weights add up
// to the target. This is the sensitivity-analysis allocation of Han et al., "Learning both Weights
// and Connections for Efficient Neural Networks" (NeurIPS 2015, per-layer thresholds from
// sensitivity curves), as automated in Intel's Distiller (Zmora et al. 2019, "sensitivity pruning").
// Damage is the top-1 drop (labels) or the added relative noise power 10^(-SQNR/10) (no labels),
// which adds up across layers.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "prune/prune.h"

namespace qtool {

struct SensitivityRow {
  std::string node;
  int64_t params = 0;
  std::vector<double> metric;  // per level
  std::vector<double> damage;  // per level, >= 0, non-decreasing
};

struct SensitivityTable {
  std::string metric;            // "top1" or "sqnr_db"
  double baseline = 0;           // metric of the unpruned model (top-1; +inf for SQNR)
  std::vector<double> levels;    // sparsities measured
  std::vector<SensitivityRow> rows;  // ranked: most sensitive (largest damage at the top level) first
  std::string to_text() const;
  std::string to_json() const;
};

// `base` supplies pattern (unstructured or N:M levels are ignored for N:M), exclude. Labels may
// be empty. Shows progress on a terminal.
SensitivityTable measure_sensitivity(const Model& model, Dataset& data, const std::vector<int64_t>& labels,
                                     const std::vector<double>& levels, const PruneOptions& base);

// Per-layer sparsities (node label -> sparsity in [0, max level]) reaching `target` overall
// sparsity over the table's layers. Throws InputError when the target exceeds the largest level.
std::map<std::string, double> allocate_sparsity(const SensitivityTable& table, double target);

}  // namespace qtool
