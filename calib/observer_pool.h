// SPDX-License-Identifier: Apache-2.0
// ObserverPool: feeds tensors to observers on worker threads while the executor runs on.
//
// Calibration hands every observed activation to its observer (calib/observer.h). Doing that in the
// executor's hook serialises it with inference; here each observer belongs to one worker
// (observer i to worker i % workers, so an observer is only ever touched by one thread and needs no
// lock) and the hook only enqueues a reference to the tensor (tensors share storage and are never
// written after they are produced). Different tensors are observed in parallel with each other and
// with the next layers' kernels.
// Memory stays flat: submit() blocks while the tensors waiting in the queues exceed
// `max_pending_bytes`, so at most that much activation memory is held beyond what the executor
// holds itself. Errors: the first exception an observer throws is rethrown by the next submit()
// or by drain(), as thrown. A NaN or infinity (NonFiniteValue) goes to the non-finite handler
// first, on the worker: it may skip the tensor and the observer's later ones, or throw.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "calib/observer.h"
#include "core/tensor.h"

namespace qtool {

class ObserverPool {
 public:
  // Called on the worker thread when observer `index` refuses tensor `t` (submitted with `tag`)
  // for a NaN or infinity. Returns true to skip the observer's later tensors too, false to go on;
  // what it throws fails the pool like an observer's error.
  using NonFiniteHandler = std::function<bool(size_t index, const Tensor& t, int64_t tag)>;

  // workers == 0: one per hardware thread; workers < 0: none, submit() observes on the calling
  // thread (for observers that split their work over its OpenMP team, Observer::splits_observe).
  // Worker threads run with a thread budget of 1. Observers must outlive the pool. Without a
  // handler, a non-finite value fails the pool.
  ObserverPool(std::vector<Observer*> observers, int workers = 0, size_t max_pending_bytes = size_t{64} << 20,
               NonFiniteHandler on_nonfinite = nullptr);
  ~ObserverPool();
  ObserverPool(const ObserverPool&) = delete;
  ObserverPool& operator=(const ObserverPool&) = delete;

  // Queues a float tensor for observer `index` (plain, or in a dense runtime layout: observers
  // read the values in storage order); `tag` goes to the non-finite handler (calibration: the
  // batch's first sample). Rethrows an earlier error instead, so a failure stops calibration at
  // the next tensor.
  void submit(size_t index, Tensor t, int64_t tag = 0);
  // Waits until every submitted tensor has been observed; rethrows the first observer error
  // (failed_index() says whose).
  void drain();
  bool failed() const;
  size_t failed_index() const { return failed_index_; }

 private:
  struct Item {
    size_t index;
    Tensor t;
    int64_t tag;
  };
  struct Worker {
    std::deque<Item> queue;
    std::thread thread;
  };
  void work(size_t w);
  // Observer `index` takes t (unless it skips its tensors after a non-finite one).
  void observe(size_t index, const Tensor& t, int64_t tag);

  std::vector<Observer*> observers_;
  std::vector<Worker> workers_;
  mutable std::mutex mu_;
  std::condition_variable has_work_, has_room_, idle_;
  size_t pending_bytes_ = 0, pending_items_ = 0, max_pending_bytes_;
  bool stop_ = false;
  std::exception_ptr error_;
  size_t failed_index_ = 0;
  NonFiniteHandler on_nonfinite_;
  std::vector<char> skipped_;  // per observer; touched only by the observer's worker
};

}  // namespace qtool
