// SPDX-License-Identifier: Apache-2.0
#include "calib/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace qtool {

void Histogram::grow_to(double amax) {
  if (range_ == 0) {
    range_ = amax > 0 ? std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(amax)))) : 1e-8;
    if (range_ < amax) range_ *= 2;
    return;
  }
  const int b = bins();
  while (range_ < amax) {
    std::vector<double> next(b, 0.0);
    for (int i = 0; i < b; ++i) next[b / 4 + i / 2] += counts_[i];
    counts_.swap(next);
    range_ *= 2;
  }
}

void Histogram::add(const float* x, int64_t n) {
  if (n <= 0) return;
  float lo = x[0], hi = x[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (!any_) { min_ = lo; max_ = hi; any_ = true; }
  min_ = std::min(min_, lo);
  max_ = std::max(max_, hi);
  grow_to(std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi))));
  const int b = bins();
  const double inv = b / (2 * range_);
  // Integer counts in two interleaved tables: after a ReLU most values land in one bin, and
  // alternating tables halves the dependency chain on that counter.
  thread_local std::vector<uint32_t> local;
  local.assign(2 * static_cast<size_t>(b), 0);
  uint32_t* c0 = local.data();
  uint32_t* c1 = c0 + b;
  const double r = range_;
  auto bin = [&](float v) { return std::min(std::max(static_cast<int>((v + r) * inv), 0), b - 1); };
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    ++c0[bin(x[i])];
    ++c1[bin(x[i + 1])];
  }
  if (i < n) ++c0[bin(x[i])];
  for (int k = 0; k < b; ++k) counts_[k] += static_cast<double>(c0[k]) + c1[k];
  total_ += static_cast<double>(n);
}

double Histogram::quantile(double fraction) const {
  const double target = fraction * total_;
  double acc = 0;
  for (int i = 0; i < bins(); ++i) {
    if (acc + counts_[i] >= target && counts_[i] > 0) {
      double within = (target - acc) / counts_[i];
      return -range_ + (i + within) * bin_width();
    }
    acc += counts_[i];
  }
  return range_;
}

}  // namespace qtool
