// SPDX-License-Identifier: Apache-2.0
// glibc malloc settings for processes that run the executor over many batches (the qtool
// executable, bench/bench_executor): the executor allocates each run's activations afresh, and
// glibc serves blocks above its mmap threshold with mmap and returns them with munmap, so every
// run would fault its activation pages in again and have the kernel zero them (a third of the
// executor's time on UltraFace at batch 16: 222 -> 315 images/s with 2 threads once freed memory
// is kept). Process-wide, so the C API and the Python package leave the host's allocator alone.
#pragma once
#include <malloc.h>

namespace qtool {

// Call at the start of main(). Both settings must be given: setting the trim threshold alone fixes
// the mmap threshold at its 128 KiB start (glibc stops adjusting it), which is slower than glibc's
// default (109 images/s in the same measurement).
inline void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace qtool
