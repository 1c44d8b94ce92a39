// SPDX-License-Identifier: Apache-2.0
// parallel_for: runs fn(i) for i in [0, n) on up to thread_budget() std::threads.
// For coarse, independent work items (one observer, one layer); fn must not throw across
// items it shares state with. The first exception thrown by any fn is rethrown after all join.
//
// Thread budget: how many threads the work started from the calling thread may occupy (qtool's
// own std::threads and oneDNN's OpenMP team together). A
// sweep running J configurations at once gives each worker thread a budget of T threads, with
// J x T <= cores, so the machine is never oversubscribed; parallel_for passes its own budget on,
// divided among its workers.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qtool {

// Budget of the calling thread (>= 1): set_thread_budget's value, else min(cores, OpenMP's
// max threads, which OMP_NUM_THREADS sets).
int thread_budget();
// Sets the calling thread's budget (n >= 1) and OpenMP's team size for parallel regions started
// from this thread (omp_set_num_threads, a per-thread setting).
void set_thread_budget(int n);

// While alive, parallel regions (OpenMP, so oneDNN primitives too) started from the calling thread
// run on it alone when `work` (floating-point operations, or elements touched) is below
// kSerialWork: for work that small, waking and joining a team costs more than the other cores
// save (the MatMuls and Softmax of a small ViT at batch 1 ran 20-50% slower on 2 threads than on 1).
// Primitives made inside the scope are made for one thread too; a primitive's cache should
// remember whether it was made serial and make it again when that changes.
class SerialScope {
 public:
  static constexpr double kSerialWork = 2.5e5;
  static bool small(double work) { return work < kSerialWork; }
  explicit SerialScope(double work);
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  int saved_ = 0;  // OpenMP team size to restore; 0 when unchanged
};

// fn(i) for i in [0, n) on `workers` threads (the calling thread and workers - 1 started ones), each
// with a thread budget of `threads_each`.
template <typename Fn>
void parallel_for_workers(int64_t n, int64_t workers, int threads_each, Fn&& fn) {
  workers = std::max<int64_t>(1, std::min<int64_t>(n, workers));
  if (workers <= 1) {
    const int saved = thread_budget();
    set_thread_budget(threads_each);
    try {
      for (int64_t i = 0; i < n; ++i) fn(i);
    } catch (...) {
      set_thread_budget(saved);
      throw;
    }
    set_thread_budget(saved);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    set_thread_budget(threads_each);
    for (int64_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  // the calling thread is one of the workers: one thread fewer to start, and what it allocates
  // comes from (and goes back to) its own malloc arena, which the work before and after uses too
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < workers; ++t) pool.emplace_back(work);
  const int saved = thread_budget();
  work();
  set_thread_budget(saved);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

template <typename Fn>
void parallel_for(int64_t n, Fn&& fn) {
  const int budget = thread_budget();
  const int64_t workers = std::min<int64_t>(n, budget);
  parallel_for_workers(n, workers, std::max<int>(1, static_cast<int>(budget / std::max<int64_t>(1, workers))),
                       std::forward<Fn>(fn));
}

}  // namespace qtool
