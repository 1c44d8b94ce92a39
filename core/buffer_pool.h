// SPDX-License-Identifier: Apache-2.0
// Tensor storage: 64-byte aligned blocks, recycled by size.
//
// The executor allocates every step's output afresh and frees it after its last reader, so a model
// run many times (calibration, evaluation, benchmarks) asks for the same block sizes run after run.
// glibc serves 64-byte aligned requests through _int_memalign, which splits and coalesces chunks on
// every call (17% of a small CNN's run time at batch 1). Freed blocks are kept here on one free list
// per size, up to kMaxCachedBytes in all, and handed out again last-in first-out (warm in cache).
// Blocks above kMaxBlockBytes and blocks that would exceed the total go back to the system at once.
// Blocks are kept only while some user holds the pool (an Executor, from construction to
// destruction); when the last one lets go, the cache is emptied, so a host process that is done
// with qtool keeps no hidden memory. Under AddressSanitizer nothing is kept, so use-after-free of
// tensor storage stays visible. A process whose malloc already recycles freed blocks across sizes
// (the qtool executable links tcmalloc, runtime/allocator_policy.h) switches the cache off: exact-
// size free lists hold blocks that no other size can use, which grew DenseNet-121's heap at batch 16
// to 1.4 GiB for 0.28 GiB of heap in use.
#pragma once
#include <cstddef>

namespace qtool {

constexpr size_t kTensorAlign = 64;

// A block of at least `bytes` (rounded up to kTensorAlign), 64-byte aligned; nullptr when out of
// memory. Thread-safe.
void* pooled_alloc(size_t bytes);
// Returns a block from pooled_alloc(bytes) (same `bytes`). Thread-safe.
void pooled_free(void* p, size_t bytes);
// Holds the pool for the object's lifetime (counted; thread-safe).
class BufferPoolUser {
 public:
  BufferPoolUser();
  ~BufferPoolUser();
  BufferPoolUser(const BufferPoolUser&) = delete;
  BufferPoolUser& operator=(const BufferPoolUser&) = delete;
};

// Frees every cached block (e.g. when the last executor goes away); returns the bytes released.
size_t pooled_trim();
// Bytes currently cached (for tests).
size_t pooled_cached_bytes();
// False in sanitizer builds, where nothing is ever cached, and after set_pooled_caching(false).
bool pooled_caching_enabled();
// Switches the cache on (the default) or off process-wide; switching it off frees what it holds.
// Thread-safe; meant for the start of main().
void set_pooled_caching(bool on);

}  // namespace qtool
