// SPDX-License-Identifier: Apache-2.0
#include "tools/omp_wait_policy.h"

#include <unistd.h>

#include <cstdlib>

namespace qtool::cli {

void default_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run on with libgomp's default
}

}  // namespace qtool::cli
