// SPDX-License-Identifier: Apache-2.0
#include "calib/observer_pool.h"

#include <algorithm>

#include "core/parallel.h"

namespace qtool {

ObserverPool::ObserverPool(std::vector<Observer*> observers, int workers, size_t max_pending_bytes,
                           NonFiniteHandler on_nonfinite)
    : observers_(std::move(observers)),
      max_pending_bytes_(max_pending_bytes),
      on_nonfinite_(std::move(on_nonfinite)),
      skipped_(observers_.size(), 0) {
  if (workers < 0) return;  // observed by submit(), on the caller
  if (workers == 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers = static_cast<int>(std::min<size_t>(static_cast<size_t>(workers), std::max<size_t>(1, observers_.size())));
  workers_ = std::vector<Worker>(static_cast<size_t>(workers));
  for (size_t w = 0; w < workers_.size(); ++w) workers_[w].thread = std::thread([this, w] { work(w); });
}

ObserverPool::~ObserverPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  has_work_.notify_all();
  for (auto& w : workers_) w.thread.join();
}

void ObserverPool::submit(size_t index, Tensor t, int64_t tag) {
  const size_t bytes = t.nbytes();
  std::unique_lock<std::mutex> lock(mu_);
  if (error_) std::rethrow_exception(error_);
  if (workers_.empty()) {  // no workers: observed here, an error kept and thrown as a worker's would be
    lock.unlock();
    try {
      observe(index, t, tag);
    } catch (...) {
      lock.lock();
      error_ = std::current_exception();
      failed_index_ = index;
      std::rethrow_exception(error_);
    }
    return;
  }
  // One tensor larger than the limit still goes through (alone), so nothing can deadlock.
  has_room_.wait(lock, [&] { return pending_bytes_ == 0 || pending_bytes_ + bytes <= max_pending_bytes_; });
  pending_bytes_ += bytes;
  ++pending_items_;
  workers_[index % workers_.size()].queue.push_back({index, std::move(t), tag});
  lock.unlock();
  has_work_.notify_all();
}

void ObserverPool::observe(size_t index, const Tensor& t, int64_t tag) {
  if (skipped_[index]) return;
  const Tensor values = t.dense_storage();  // plain, or a dense layout read in storage order
  try {
    observers_[index]->observe(values.data<float>(), values.numel());
  } catch (const NonFiniteValue&) {
    if (!on_nonfinite_) throw;
    if (on_nonfinite_(index, t, tag)) skipped_[index] = 1;
  }
}

void ObserverPool::work(size_t w) {
  set_thread_budget(1);  // the workers are the parallelism: observers' own loops stay on them
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    has_work_.wait(lock, [&] { return stop_ || !workers_[w].queue.empty(); });
    if (workers_[w].queue.empty()) return;  // stop_ and nothing left
    Item item = std::move(workers_[w].queue.front());
    workers_[w].queue.pop_front();
    const bool skip = error_ != nullptr;  // after a failure the rest is only drained
    lock.unlock();
    const size_t bytes = item.t.nbytes();
    std::exception_ptr failed;
    try {
      if (!skip) observe(item.index, item.t, item.tag);
    } catch (...) {
      failed = std::current_exception();
    }
    item.t = Tensor();  // release the activation before taking the lock
    lock.lock();
    if (failed && !error_) {
      error_ = failed;
      failed_index_ = item.index;
    }
    pending_bytes_ -= bytes;
    --pending_items_;
    has_room_.notify_all();
    if (pending_items_ == 0) idle_.notify_all();
  }
}

bool ObserverPool::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_ != nullptr;
}

void ObserverPool::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return pending_items_ == 0; });
  if (error_) std::rethrow_exception(error_);
}

}  // namespace qtool
