// SPDX-License-Identifier: Apache-2.0
// OpenMP wait policy of the qtool executable.
//
// oneDNN runs its primitives on libgomp's thread pool. Without OMP_WAIT_POLICY, libgomp threads
// spin for ~300,000 iterations at every barrier before sleeping. On a machine with more runnable
// threads than cores (CI runners, shared hosts) the spinning thread takes the core from the thread
// it waits for. Measured on a 2-core host at load 17: `qtool run` of resnet_4b on 1,000 CIFAR
// samples 6.1-9.5 s wall / 1.6-2.1 CPU-s by default, 0.2-1.1 s / 0.1-0.2 CPU-s with
// OMP_WAIT_POLICY=PASSIVE; UltraFace calibration on 64 images 25.9 s -> 5.9 s. On an idle machine
// passive waiting costs one futex wake per parallel region (microseconds against milliseconds).
//
// libgomp reads its environment in an ELF constructor, before main(), and keeps no API to change
// the policy later (setting the variable from .preinit_array is undone: glibc re-reads the
// process environment after it), so when the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT
// qtool sets OMP_WAIT_POLICY=PASSIVE and re-executes itself once (/proc/self/exe, same argv).
// An explicit setting from the user is kept. Child processes inherit the variable.
#pragma once

namespace qtool::cli {

// Call first in main(). Returns only when no re-execution happened (variable already set, or
// execv failed, in which case qtool runs on with libgomp's default).
void default_passive_omp_wait(char** argv);

}  // namespace qtool::cli
