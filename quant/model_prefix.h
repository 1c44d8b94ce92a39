// SPDX-License-Identifier: Apache-2.0
// The part of a model that computes a set of its values: for passes that observe intermediate
// tensors (GPTQ's Hessians of one wave of layers) and need not run the rest of the graph.
#pragma once
#include <string>
#include <vector>

#include "io/model.h"

namespace qtool {

// A copy of `model` keeping only the main-graph nodes that `values` depend on (through If/Loop/Scan
// bodies' outer-scope reads too), in their original order, with the initializers those read. Its
// graph outputs are the values no kept node reads (each value is still produced: the others feed a
// kept node). Graph inputs stay as they are, so the same feeds run it. Values that are graph inputs
// or initializers need no node. When no value is computed by a node the result has no nodes and no
// outputs; callers then observe the feeds only.
// Throws InputError naming a value that is neither a graph input, an initializer nor a node output.
Model model_prefix(const Model& model, const std::vector<std::string>& values);

// A copy of `model` whose main graph keeps the nodes with keep[k] (k = node index), in order; inputs,
// outputs and initializers are left for the caller to trim (model_prefix, quant/model_cut.h).
Model keep_nodes(const Model& model, const std::vector<bool>& keep);

}  // namespace qtool
