// SPDX-License-Identifier: Apache-2.0
#include "core/parallel.h"

#include <omp.h>

namespace qtool {

namespace {
thread_local int t_budget = 0;
}

int thread_budget() {
  if (t_budget > 0) return t_budget;
  // OMP_NUM_THREADS (set by Ray for a task to its num_cpus) caps the default
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min(cores, omp_get_max_threads()));
}

SerialScope::SerialScope(double work) {
  if (small(work) && omp_get_max_threads() > 1) {
    saved_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
}

SerialScope::~SerialScope() {
  if (saved_ > 0) omp_set_num_threads(saved_);
}

void set_thread_budget(int n) {
  t_budget = std::max(1, n);
  omp_set_num_threads(t_budget);
}

}  // namespace qtool
