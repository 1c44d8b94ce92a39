// SPDX-License-Identifier: Apache-2.0
// The memory allocator of processes that run the executor over many batches (the qtool executable,
// bench/bench_executor). The executor allocates each run's activations afresh and frees each after
// its last reader, so the allocator sees the same sequence of block sizes run after run, sizes that
// grow along a network (DenseNet's concatenations) and blocks of tens of MiB at batch 16.
//
// Those two targets link tcmalloc (gperftools' tcmalloc_minimal, CMake defines QTOOL_WITH_TCMALLOC
// for them): its page heap reuses a freed span for a request of another size and keeps freed pages
// mapped, so no run faults its activation pages in again. The tensor buffer pool's exact-size cache
// (core/buffer_pool.h) is switched off there. Measured on DenseNet-121 at batch 16 (2 threads):
// glibc malloc with the pool 1.39 GiB peak RSS for 0.28 GiB of peak heap use (onnxruntime 0.57 GiB),
// tcmalloc without the pool 0.48 GiB, same images/s; `qtool quantize` on DenseNet-121 1.29 -> 0.40 GiB.
//
// Without tcmalloc (sanitizer builds, whose runtime replaces malloc), glibc is kept from returning
// freed blocks: blocks above its mmap threshold would be mmapped and unmapped, and every run would
// fault its activation pages in again and have the kernel zero them (a third of the executor's time
// on UltraFace at batch 16). Process-wide either way, so the C API and the Python package leave the
// host's allocator alone.
#pragma once
#include <malloc.h>

#include <string>

#include "core/buffer_pool.h"
#ifdef QTOOL_WITH_TCMALLOC
#include <gperftools/tcmalloc.h>
#endif

namespace qtool {

// Call at the start of main().
inline void configure_process_allocator() {
#ifdef QTOOL_WITH_TCMALLOC
  set_pooled_caching(false);
#else
  // Both settings must be given: setting the trim threshold alone fixes the mmap threshold at its
  // 128 KiB start (glibc stops adjusting it), which is slower than glibc's default.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

// "tcmalloc 2.10" or "glibc malloc" (for -v logs and tests).
inline std::string process_allocator_name() {
#ifdef QTOOL_WITH_TCMALLOC
  int major = 0, minor = 0;
  const char* patch = nullptr;
  tc_version(&major, &minor, &patch);  // also what keeps the library linked under --as-needed
  return "tcmalloc " + std::to_string(major) + "." + std::to_string(minor) + (patch ? patch : "");
#else
  return "glibc malloc";
#endif
}

}  // namespace qtool
