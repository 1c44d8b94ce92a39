// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "calib/observer.h"

namespace qtool {
namespace {
class PercentileObserver : public HistogramObserver {
 public:
  using HistogramObserver::HistogramObserver;
  Range range_of(const Histogram& h) const override {
    if (h.total() == 0) return {0, 0};
    const double p = opts_.percentile / 100.0;
    float hi = static_cast<float>(std::min<double>(h.max(), h.quantile(p)));
    float lo = h.min() >= 0 ? h.min() : static_cast<float>(std::max<double>(h.min(), h.quantile(1 - p)));
    return {std::min(lo, hi), std::max(lo, hi)};
  }
};
}  // namespace

std::unique_ptr<Observer> make_percentile_observer(const ObserverOptions& o) {
  return std::make_unique<PercentileObserver>(o);
}
}  // namespace qtool
