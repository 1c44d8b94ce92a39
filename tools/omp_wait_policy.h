// SPDX-License-Identifier: Apache-2.0
// OpenMP wait policy of the qtool executable.
//
// oneDNN and qtool's kernels run on libgomp's thread pool. By default libgomp threads spin for
// ~300,000 iterations at every barrier before sleeping. On a machine with more runnable threads
// than cores (CI runners, shared hosts) the spinning thread takes the core from the thread it
// waits for. Measured on a 2-core host at load 17: `qtool run` of resnet_4b on 1,000 CIFAR samples
// 6.1-9.5 s wall / 1.6-2.1 CPU-s by default, 0.2-1.1 s / 0.1-0.2 CPU-s with OMP_WAIT_POLICY=PASSIVE;
// UltraFace calibration on 64 images 25.9 s -> 5.9 s. With 15 busy processes: 0.8 s passive,
// 3.2 s with GOMP_SPINCOUNT=10000, 7 s with 30000.
// On an idle machine passive waiting is the slow one: a futex wake per parallel region, and the
// int8 MobileNetV3-small runs thousands of short regions per second (batch 1, 2 threads:
// 160-210 images/s passive, 600-780 with GOMP_SPINCOUNT=3000..30000 or libgomp's default).
// So the choice follows the load when qtool starts: passive when other runnable threads already
// fill the cores (/proc/loadavg's running count) or the 1-minute load average exceeds them, a
// short spin (GOMP_SPINCOUNT=30000) otherwise.
//
// libgomp reads its environment in an ELF constructor, before main(), and keeps no API to change
// the policy later (setting the variable from .preinit_array is undone: glibc re-reads the
// process environment after it), so when the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT
// qtool sets one and re-executes itself once (/proc/self/exe, same argv). An explicit setting
// from the user is kept. Child processes inherit the variable.
#pragma once
#include <string>
#include <utility>

namespace qtool::cli {

// The variable qtool sets when `others` threads besides qtool's own are runnable now and the
// 1-minute load average is `load`, on `cpus` online cores: {"OMP_WAIT_POLICY", "PASSIVE"} when
// others + 1 > cpus or load > cpus (qtool's threads would wait on busy cores), else
// {"GOMP_SPINCOUNT", "30000"}. Values that cannot be read (< 0) count as busy.
inline std::pair<std::string, std::string> omp_wait_setting(int others, double load, long cpus) {
  if (others < 0 || load < 0 || others + 1 > cpus || load > static_cast<double>(cpus))
    return {"OMP_WAIT_POLICY", "PASSIVE"};
  return {"GOMP_SPINCOUNT", "30000"};
}

// Call first in main(). Returns only when no re-execution happened (variable already set, or
// execv failed, in which case qtool runs on with libgomp's default).
void default_omp_wait(char** argv);

}  // namespace qtool::cli
