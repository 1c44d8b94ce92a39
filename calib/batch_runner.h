// SPDX-License-Identifier: Apache-2.0
// Runs an Executor over a Dataset batch by batch. Whether the model accepts a batch > 1 is probed
// once (some exports fix the batch at 1 inside Reshape constants); otherwise samples go one by one.
#pragma once
#include <functional>
#include <string>

#include "calib/dataset.h"

namespace qtool {

using BatchFn = std::function<void(int64_t begin, int64_t count, const TensorMap& inputs, const TensorMap& outputs)>;

// Largest usable batch size <= max_batch for this model (1 or max_batch).
int64_t probe_batch_size(Executor& exec, Dataset& data, int64_t max_batch);
// Calls fn for every batch; shows a progress bar labelled `label` on a terminal.
void run_batches(Executor& exec, Dataset& data, int64_t batch_size, const std::string& label, const BatchFn& fn);

}  // namespace qtool
