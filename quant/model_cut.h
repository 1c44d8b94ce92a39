// SPDX-License-Identifier: Apache-2.0
// The part of a model after a cut: the nodes still to run, fed by the values the nodes before the
// cut computed (GPTQ's waves cache those values instead of re-running the settled part of the
// network for every wave; quant/gptq_sequential.cpp).
#pragma once
#include <vector>

#include "io/model.h"
#include "runtime/executor.h"

namespace qtool {

// A copy of `model` keeping the main-graph nodes with keep[k] (k = node index; keep.size() must equal
// the node count), in their order. Its graph inputs are `cut` (name, element type and shape, -1 for
// a symbolic extent) followed by the original graph inputs a kept node still reads (also through
// If/Loop/Scan bodies); its graph outputs are the original outputs a kept node produces; the
// initializers are those a kept node reads. Throws Error when a kept node reads a value that is
// neither in `cut`, a graph input, an initializer nor produced by a kept node (the cut is not one).
Model model_after_cut(const Model& model, const std::vector<bool>& keep, const std::vector<InputSpec>& cut);

}  // namespace qtool
