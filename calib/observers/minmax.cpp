// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <limits>

#include "calib/observer.h"

namespace qtool {
namespace {
class MinMaxObserver : public Observer {
 public:
  void observe(const float* x, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) {
      lo_ = std::min(lo_, x[i]);
      hi_ = std::max(hi_, x[i]);
    }
  }
  Range range() const override { return lo_ > hi_ ? Range{0, 0} : Range{lo_, hi_}; }

 private:
  float lo_ = std::numeric_limits<float>::infinity(), hi_ = -std::numeric_limits<float>::infinity();
};
}  // namespace

std::unique_ptr<Observer> make_minmax_observer(const ObserverOptions&) { return std::make_unique<MinMaxObserver>(); }
}  // namespace qtool
