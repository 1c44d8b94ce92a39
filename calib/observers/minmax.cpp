// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "calib/observer.h"
#include "core/float_scan.h"
#include "core/error.h"

namespace qtool {
namespace {
class MinMaxObserver : public Observer {
 public:
  void observe(const float* x, int64_t n) override {
    if (n <= 0) return;
    float lo, hi;
    if (!minmax_checked(x, n, lo, hi)) throw_nonfinite_value(x, n);  // one vectorised pass
    merge(lo, hi);
  }
  Range range() const override { return lo_ > hi_ ? Range{0, 0} : Range{lo_, hi_}; }

 private:
  void merge(float lo, float hi) {
    lo_ = std::min(lo_, lo);
    hi_ = std::max(hi_, hi);
  }
  float lo_ = std::numeric_limits<float>::infinity(), hi_ = -std::numeric_limits<float>::infinity();
};
}  // namespace

std::unique_ptr<Observer> make_minmax_observer(const ObserverOptions&) { return std::make_unique<MinMaxObserver>(); }
}  // namespace qtool
