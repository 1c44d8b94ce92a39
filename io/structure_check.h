// SPDX-License-Identifier: Apache-2.0
// qtool's own structural validation of a model, run on every load (libonnx 1.12's checker knows
// IR <= 8 and opsets <= 17 only, so for newer models this is the check that runs):
//   - opset imports: one version per domain, versions >= 1;
//   - every graph (subgraphs included): names of inputs, initializers and node outputs unique
//     (ONNX values are assigned once), every node input defined in the graph or an enclosing
//     scope, every graph output defined, node op types non-empty;
//   - attributes: named, unique per node, and holding the field their declared type says;
//   - declared tensor element types are ONNX data types.
// Throws InputError "<label>: <graph path>: what" for the first violation.
#pragma once
#include <string>

#include "io/model.h"

namespace qtool {

void check_structure(const Model& model, const std::string& label);

}  // namespace qtool
