// SPDX-License-Identifier: Apache-2.0
// Weights stored as nodes become initializers, so every pass (quantize, prune, inspect, sensitivity,
// the C API's tensor access) sees them as weights:
//   - Constant nodes of the main graph holding a tensor (value, value_float(s), value_int(s),
//     sparse_value), as PaddlePaddle and some PyTorch exports write weights;
//   - Identity and Cast nodes whose input is an initializer (Cast to a float or integer type),
//     repeatedly, so chains like Constant -> Cast(fp16 -> fp32) -> Conv end as one initializer.
// The model computes the same values afterwards. Nodes whose output is a graph output, and string
// constants, stay as they are. Called by load_model (io/model.h).
#pragma once
#include "io/model.h"

namespace qtool {

// Returns the number of nodes turned into initializers. `budget`: bytes that dense copies of
// sparse constants and widening Casts may add (decremented); a node beyond it stays a node.
int weights_to_initializers(Model& model, uint64_t& budget);

}  // namespace qtool
