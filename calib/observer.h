// SPDX-License-Identifier: Apache-2.0
// Observers: consume every value of one tensor over the calibration set (streaming, constant
// memory) and choose the clipping range [min, max] that activations are quantized to.
//
//   minmax      exact running min/max.
//   percentile  the `percentile` (default 99.999) of the value distribution on each side
//               (for non-negative tensors, the low end stays at the true minimum).
//   entropy     KL-divergence threshold search over a histogram of |x|, TensorRT-style
//               (Migacz, "8-bit Inference with TensorRT", GTC 2017); 128 levels for signed
//               tensors, 256 for non-negative tensors quantized to uint8. Two candidates, the KL
//               threshold and the exact min/max: calibrate() keeps the threshold unless the full
//               range changes the reading nodes' outputs less (calib/range_select.h).
//   mse         range minimising expected squared error (rounding noise step^2/12 inside the
//               range + squared clipping error outside) over the histogram, as in NVIDIA's
//               pytorch-quantization MSE calibrator.
//   auto        one histogram, four candidates (mse, minmax, percentile, entropy); calibrate() keeps,
//               per tensor, the one whose quantization changes the outputs of the nodes reading the
//               tensor least (relative squared error, calib/range_select.h), not the tensor's own error.
// Observers register by name in calib/observer_registry.cpp.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "calib/histogram.h"

namespace qtool {

struct Range {
  float min = 0, max = 0;
};

struct ObserverOptions {
  double percentile = 99.999;  // for "percentile"
  int bins = 4096;             // histogram bins over [-R, R]
  bool unsigned_levels = true; // activations go to uint8 (256 levels) when non-negative
};

class Observer {
 public:
  virtual ~Observer() = default;
  // Throws NonFiniteValue (calib/histogram.h) for a NaN or infinity among x, before changing
  // anything: the observer then holds what it held.
  virtual void observe(const float* x, int64_t n) = 0;
  virtual Range range() const = 0;
  // Ranges to choose from by their effect on the layers that read the tensor (calib/range_select.h);
  // one (range()) unless the observer offers several ("auto").
  virtual std::vector<Range> candidates() const { return {range()}; }
  // Whether observe() spreads a large tensor over the calling thread's OpenMP team (histograms):
  // calibration then observes on the executor's thread, whose team is idle between kernels, instead
  // of on pool workers that would compete with that team for the cores.
  virtual bool splits_observe() const { return false; }
};

// Observers built on a Histogram share this base.
class HistogramObserver : public Observer {
 public:
  explicit HistogramObserver(const ObserverOptions& o) : hist_(o.bins), opts_(o) {}
  void observe(const float* x, int64_t n) override { hist_.add(x, n); }
  Range range() const override { return range_of(hist_); }
  bool splits_observe() const override { return true; }
  // The range this observer chooses for a tensor with histogram h.
  virtual Range range_of(const Histogram& h) const = 0;

 protected:
  Histogram hist_;
  ObserverOptions opts_;
};

using ObserverFactory = std::function<std::unique_ptr<Observer>(const ObserverOptions&)>;

// Throws InputError listing the known names when `name` is unknown.
std::unique_ptr<Observer> make_observer(const std::string& name, const ObserverOptions& opts = {});
std::vector<std::string> observer_names();

// Factories, one per observer file.
std::unique_ptr<Observer> make_minmax_observer(const ObserverOptions&);
std::unique_ptr<Observer> make_percentile_observer(const ObserverOptions&);
std::unique_ptr<Observer> make_entropy_observer(const ObserverOptions&);
std::unique_ptr<Observer> make_mse_observer(const ObserverOptions&);
std::unique_ptr<Observer> make_auto_observer(const ObserverOptions&);

}  // namespace qtool
