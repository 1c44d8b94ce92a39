// SPDX-License-Identifier: Apache-2.0
#include "tools/omp_wait_policy.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace qtool::cli {

void default_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  // /proc/loadavg: "0.52 0.58 0.59 3/245 1234": 1-minute load, then runnable / all threads
  double load = -1;
  int running = -1, all = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    double l5, l15;
    if (std::fscanf(f, "%lf %lf %lf %d/%d", &load, &l5, &l15, &running, &all) != 5) load = -1, running = -1;
    std::fclose(f);
  }
  const auto [name, value] = omp_wait_setting(running < 0 ? -1 : running - 1, load, sysconf(_SC_NPROCESSORS_ONLN));
  if (setenv(name.c_str(), value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run on with libgomp's default
}

}  // namespace qtool::cli
