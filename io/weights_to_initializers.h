// SPDX-License-Identifier: Apache-2.0
// Weights stored as nodes become initializers, so every pass (quantize, prune, inspect, sensitivity,
// the C API's tensor access) sees them as weights:
//   - Constant nodes of the main graph holding a tensor (value, value_float(s), value_int(s),
//     sparse_value), as PaddlePaddle and some PyTorch exports write weights;
//   - Identity nodes whose input is an initializer, repeatedly (Constant -> Identity -> Conv ends as
//     one initializer).
// Cast nodes stay: a Cast of an initializer is how compressed files (bf16/fp16 weights widened at run
// time) store weights, and inspect reports that storage; the passes that need float weights fold
// them (quant/fold_constants).
// The model computes the same values afterwards. Nodes whose output is a graph output, and string
// constants, stay as they are. Called by load_model (io/model.h).
#pragma once
#include "io/model.h"

namespace qtool {

// Returns the number of nodes turned into initializers.
int weights_to_initializers(Model& model);

}  // namespace qtool
