// SPDX-License-Identifier: Apache-2.0
// Magnitude pruning passes (Model -> Model) and their masks.
//
//   unstructured  zero the smallest |w| of each layer (scope layer) or below one threshold across
//                 all layers (scope global) - Han et al., "Learning both Weights and Connections
//                 for Efficient Neural Networks", NeurIPS 2015.
//   N:M           in every group of M consecutive weights along the input-channel axis keep the N
//                 largest |w| (NVIDIA Ampere 2:4 structured sparsity; Mishra et al. 2021).
//   channel       remove whole output filters (Conv) / neurons (Gemm, MatMul) with the smallest L1
//                 norm (Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017) and rewire
//                 the graph: bias, BatchNormalization entries, depthwise convolutions that follow,
//                 and the consumers' input channels shrink with them. Outputs that reach a residual
//                 Add, a Concat, a reshape other than Flatten, or a graph output are skipped with
//                 the reason.
// Pruned weights are exact zeros (unstructured, N:M) or gone (channel). Pruners register by name
// in prune/pruner_registry.cpp, one file each in prune/pruners/.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/model.h"

namespace qtool {

struct PruneOptions {
  std::string pattern = "unstructured";  // unstructured | N:M (e.g. 2:4) | channel
  double sparsity = 0.5;                 // fraction removed per layer (or overall, scope global)
  std::string scope = "layer";           // layer | global (unstructured only)
  std::vector<std::string> exclude;      // node labels left dense
  std::map<std::string, double> sparsity_map;  // node label -> sparsity (overrides `sparsity`)
  // Concrete input extents (--input-shape), for channel surgery that needs value shapes (the
  // spatial size behind a Flatten); the model's declared shapes otherwise.
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

struct LayerPruneStats {
  std::string node, weight;
  int64_t params_before = 0, params_after = 0;  // elements of the weight (dense count)
  int64_t zeros = 0;                            // exact zeros in the weight after pruning
  double sparsity() const {
    return params_before ? 1.0 - static_cast<double>(params_after - zeros) / params_before : 0.0;
  }
};

struct PruneReport {
  std::vector<LayerPruneStats> layers;
  std::vector<std::string> skipped;         // "node: reason"
  std::map<std::string, Tensor> masks;      // weight initializer -> uint8 mask, 1 = kept (unstructured, N:M)
  int64_t dense_params_before = 0, dense_params_after = 0;  // all initializer elements
};

// Parses "N:M" (1 <= N < M <= 64); false when `pattern` is not of that form.
bool parse_nm(const std::string& pattern, int& n, int& m);
// Prunes in place; throws InputError on bad options (unknown pattern, sparsity outside [0, 1),
// unknown node in exclude / sparsity_map).
PruneReport prune_model(Model& model, const PruneOptions& opts);
// Masks as a .npz (one uint8 array per weight, named like the initializer); written atomically.
void save_masks(const PruneReport& report, const std::string& path);

// --- registry (prune/pruner_registry.cpp) ---
using PrunerFn = void (*)(Model&, const PruneOptions&, PruneReport&);
PrunerFn find_pruner(const std::string& pattern);  // throws InputError listing the patterns
void prune_unstructured(Model& model, const PruneOptions& opts, PruneReport& report);
void prune_nm(Model& model, const PruneOptions& opts, PruneReport& report);
void prune_channels(Model& model, const PruneOptions& opts, PruneReport& report);

// Helpers shared by the pruners.
struct PrunableWeight {
  const onnx::NodeProto* node;
  std::string label, weight;
  int out_axis;  // 0 Conv / Gemm transB=1, 1 MatMul / Gemm transB=0
};
std::vector<PrunableWeight> prunable_weights(const Model& model, const PruneOptions& opts);
double layer_sparsity(const PruneOptions& opts, const std::string& label);

}  // namespace qtool
