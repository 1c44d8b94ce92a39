// SPDX-License-Identifier: Apache-2.0
// Streaming histogram over a symmetric range [-R, R] with a fixed number of bins (even).
// When a value falls outside, R doubles and neighbouring bin pairs merge, so memory stays
// constant however many values are added. Exact min/max are tracked alongside.
#pragma once
#include <cstdint>
#include <vector>

#include "core/error.h"

namespace qtool {

// Throws Error "non-finite value (<first one>) in a calibrated tensor" (x holds one).
// What observers throw for a NaN or infinity (calibrate() names the tensor and sample).
struct NonFiniteValue : Error {
  using Error::Error;
};
[[noreturn]] void throw_nonfinite_value(const float* x, int64_t n);

class Histogram {
 public:
  explicit Histogram(int bins = 4096) : counts_(bins, 0.0) {}
  void add(const float* x, int64_t n);  // NonFiniteValue on a NaN or infinity (nothing added)
  int bins() const { return static_cast<int>(counts_.size()); }
  double range() const { return range_; }          // R; bins span [-R, R]
  double bin_width() const { return 2 * range_ / bins(); }
  double bin_center(int i) const { return -range_ + (i + 0.5) * bin_width(); }
  const std::vector<double>& counts() const { return counts_; }
  double total() const { return total_; }
  float min() const { return min_; }
  float max() const { return max_; }
  // Value below which `fraction` (0..1) of the mass lies (linear within a bin).
  double quantile(double fraction) const;

 private:
  void grow_to(double amax);
  std::vector<double> counts_;
  double range_ = 0, total_ = 0;
  float min_ = 0, max_ = 0;
  bool any_ = false;
};

}  // namespace qtool
