// SPDX-License-Identifier: Apache-2.0
// MSE calibration: pick the range [a*min, a*max] (a in 0.01..1) minimising the expected squared
// quantization error over the histogram: step^2/12 for values inside the range, (x - clip)^2 outside.
// Signed tensors quantized symmetrically (int8) use [-a*amax, a*amax] with 254 steps.
#include <algorithm>
#include <cmath>

#include "calib/observer.h"

namespace qtool {
namespace {
class MseObserver : public HistogramObserver {
 public:
  using HistogramObserver::HistogramObserver;
  Range range_of(const Histogram& h) const override {
    if (h.total() == 0) return {0, 0};
    const bool nonneg = h.min() >= 0;
    const bool asym = opts_.unsigned_levels;
    const double amax = std::max(std::fabs(h.min()), std::fabs(h.max()));
    const double lo0 = asym ? std::min(0.f, h.min()) : -amax, hi0 = asym ? std::max(0.f, h.max()) : amax;
    const double steps = asym || nonneg ? 255.0 : 254.0;
    double best = INFINITY, best_a = 1.0;
    for (int k = 1; k <= 200; ++k) {
      const double a = k / 200.0, lo = nonneg ? 0.0 : a * lo0, hi = a * hi0;
      const double step = (hi - lo) / steps;
      double err = 0;
      for (int i = 0; i < h.bins(); ++i) {
        const double c = h.counts()[i];
        if (c == 0) continue;
        const double v = h.bin_center(i);
        if (v < lo) err += c * (v - lo) * (v - lo);
        else if (v > hi) err += c * (v - hi) * (v - hi);
        else err += c * step * step / 12.0;
      }
      if (err < best) { best = err; best_a = a; }
    }
    return {static_cast<float>(nonneg ? std::max(0.0, static_cast<double>(h.min())) : best_a * lo0),
            static_cast<float>(best_a * hi0)};
  }
};
}  // namespace

std::unique_ptr<Observer> make_mse_observer(const ObserverOptions& o) { return std::make_unique<MseObserver>(o); }
}  // namespace qtool
