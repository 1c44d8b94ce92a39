// SPDX-License-Identifier: Apache-2.0
#include "calib/batch_runner.h"

#include <spdlog/spdlog.h>

#include "core/progress.h"

namespace qtool {

int64_t probe_batch_size(Executor& exec, Dataset& data, int64_t max_batch) {
  if (max_batch <= 1 || data.size() < 2) return 1;
  try {
    auto hook_free = exec.run(data.batch(0, 2));
    for (const auto& [name, t] : hook_free)
      if (t.rank() == 0 || t.dim(0) != 2) return 1;
    return max_batch;
  } catch (const Error& e) {
    spdlog::debug("model does not run with batch 2 ({}); using batch 1", e.what());
    return 1;
  }
}

void run_batches(Executor& exec, Dataset& data, int64_t batch_size, const std::string& label, const BatchFn& fn) {
  Progress progress(label, data.size());
  for (int64_t b = 0; b < data.size(); b += batch_size) {
    const int64_t n = std::min(batch_size, data.size() - b);
    TensorMap in = data.batch(b, n);
    TensorMap out = exec.run(in);
    fn(b, n, in, out);
    progress.advance(n);
  }
}

}  // namespace qtool
