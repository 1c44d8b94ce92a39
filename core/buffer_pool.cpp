// SPDX-License-Identifier: Apache-2.0
#include "core/buffer_pool.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define QTOOL_POOL_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QTOOL_POOL_DISABLED 1
#endif
#endif

namespace qtool {

namespace {

constexpr size_t kMaxCachedBytes = size_t{256} << 20;  // all free lists together
constexpr size_t kMaxBlockBytes = size_t{64} << 20;    // larger blocks are never kept

size_t rounded(size_t bytes) { return (bytes == 0 ? 1 : bytes + kTensorAlign - 1) / kTensorAlign * kTensorAlign; }

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;  // rounded size -> blocks, last freed at the back
  size_t cached = 0;
  int users = 0;  // BufferPoolUser objects alive
};

// set_pooled_caching: read before taking the pool's lock, so that with the cache off (the qtool
// executable) an allocation costs no lock and no lookup
std::atomic<bool> caching{true};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: tensors may be freed during static destruction
  return *p;
}

}  // namespace

void* pooled_alloc(size_t bytes) {
  if (bytes > SIZE_MAX - 2 * kTensorAlign) return nullptr;
  const size_t n = rounded(bytes);
#ifndef QTOOL_POOL_DISABLED
  if (n <= kMaxBlockBytes && caching.load(std::memory_order_relaxed)) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free_lists.find(n);
    if (it != p.free_lists.end() && !it->second.empty()) {
      void* b = it->second.back();
      it->second.pop_back();
      p.cached -= n;
      return b;
    }
  }
#endif
  return std::aligned_alloc(kTensorAlign, n);
}

void pooled_free(void* b, size_t bytes) {
  if (!b) return;
#ifndef QTOOL_POOL_DISABLED
  const size_t n = rounded(bytes);
  if (n <= kMaxBlockBytes && caching.load(std::memory_order_relaxed)) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.users > 0 && p.cached + n <= kMaxCachedBytes) {
      p.free_lists[n].push_back(b);
      p.cached += n;
      return;
    }
  }
#else
  (void)bytes;
#endif
  std::free(b);
}

BufferPoolUser::BufferPoolUser() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  ++p.users;
}

BufferPoolUser::~BufferPoolUser() {
  Pool& p = pool();
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    last = --p.users == 0;
  }
  if (last) pooled_trim();
}

size_t pooled_trim() {
  Pool& p = pool();
  std::unordered_map<size_t, std::vector<void*>> lists;
  size_t released = 0;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    lists.swap(p.free_lists);
    released = p.cached;
    p.cached = 0;
  }
  for (auto& [n, blocks] : lists)
    for (void* b : blocks) std::free(b);
  return released;
}

bool pooled_caching_enabled() {
#ifdef QTOOL_POOL_DISABLED
  return false;
#else
  return caching.load();
#endif
}

void set_pooled_caching(bool on) {
  caching.store(on);
  if (!on) pooled_trim();  // a block freed concurrently may still land in the cache; trim takes it too
}

size_t pooled_cached_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.cached;
}

}  // namespace qtool
