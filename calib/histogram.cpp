// SPDX-License-Identifier: Apache-2.0
#include "calib/histogram.h"

#include <Eigen/Core>
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/float_scan.h"

namespace qtool {

// Values per thread below which a Histogram::add stays on one thread.
constexpr int64_t kValuesPerThread = int64_t{1} << 17;

void throw_nonfinite_value(const float* x, int64_t n) {
  float v = 0;
  for (int64_t i = 0; i < n && std::isfinite(v); ++i) v = x[i];
  throw NonFiniteValue("non-finite value (" + std::to_string(v) + ") in a calibrated tensor");
}

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

namespace {
// Bin index of each (finite) value: floor(x * scale + offset) clamped to [0, last]. No stores to
// shared counters, so the compiler vectorises it (cloned for AVX-512 / AVX2; x86-64's baseline is
// SSE2; without no-trapping-math GCC keeps the float selects scalar).
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math")))
void bin_indices(const float* x, int64_t n, float scale, float offset, int32_t last, int32_t* out) {
  const float lastf = static_cast<float>(last);
  for (int64_t i = 0; i < n; ++i) {
    float f = x[i] * scale + offset;
    f = f > 0.f ? f : 0.f;
    f = f < lastf ? f : lastf;
    out[i] = static_cast<int32_t>(f);
  }
}
}  // namespace

namespace {
// Adds the bin counts of x (n values, bins [0, b) of `scale` / `offset`) to counts.
void count_into(const float* x, int64_t n, int b, float scale, float offset, double* counts) {
  // Integer counts in four interleaved tables: after a ReLU most values land in one bin, and
  // spreading consecutive values over four counters shortens the dependency chain on it. uint16
  // counters keep the four tables in L1 (4 x 4096 bins x 2 bytes); they are added to counts
  // before any can overflow (each table takes a quarter of the values).
  thread_local std::vector<uint16_t> local;
  thread_local std::vector<int32_t> idx;
  local.assign(4 * static_cast<size_t>(b), 0);
  constexpr int64_t kBlock = 4096;
  // A table takes at most a quarter of each block plus 3 (the block's tail goes to c0): flushing
  // after 200,000 values keeps every counter below 200,000 / 4 + 4,096 / 4 + 3 * 50 < 65,535.
  constexpr int64_t kFlushEvery = 200000;
  idx.resize(kBlock);
  uint16_t* c0 = local.data();
  uint16_t* c1 = c0 + b;
  uint16_t* c2 = c1 + b;
  uint16_t* c3 = c2 + b;
  auto flush = [&] {
    for (int j = 0; j < b; ++j) counts[j] += static_cast<double>(c0[j] + c1[j] + c2[j] + c3[j]);
    std::fill(local.begin(), local.end(), uint16_t{0});
  };
  int64_t since_flush = 0;
  for (int64_t at = 0; at < n; at += kBlock) {
    const int64_t m = std::min(kBlock, n - at);
    if (since_flush > kFlushEvery) {
      flush();
      since_flush = 0;
    }
    since_flush += m;
    bin_indices(x + at, m, scale, offset, b - 1, idx.data());
    const int32_t* k = idx.data();
    int64_t i = 0;
    for (; i + 3 < m; i += 4) {
      ++c0[k[i]];
      ++c1[k[i + 1]];
      ++c2[k[i + 2]];
      ++c3[k[i + 3]];
    }
    for (; i < m; ++i) ++c0[k[i]];
  }
  flush();
}
}  // namespace

void Histogram::add(const float* x, int64_t n) {
  if (n <= 0) return;
  // NaN / inf check and min / max in one vectorised pass, before binning: the range may have to grow.
  float lo, hi;
  if (!minmax_checked(x, n, lo, hi)) throw_nonfinite_value(x, n);
  if (!any_) { min_ = lo; max_ = hi; any_ = true; }
  min_ = std::min(min_, lo);
  max_ = std::max(max_, hi);
  grow_to(std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi))));
  const int b = bins();
  const float scale = static_cast<float>(b / (2 * range_)), offset = static_cast<float>(b / 2);
  // Large tensors are split over the calling thread's OpenMP team, each part counted into its own
  // table; counts are whole numbers below 2^53, so the sum is exact in any order.
  const int team = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), n / kValuesPerThread));
  if (team <= 1 || omp_in_parallel()) {
    count_into(x, n, b, scale, offset, counts_.data());
  } else {
    std::vector<double> parts(static_cast<size_t>(team - 1) * b, 0.0);
#pragma omp parallel num_threads(team)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t a = n * t / nt, z = n * (t + 1) / nt;
      count_into(x + a, z - a, b, scale, offset, t == 0 ? counts_.data() : parts.data() + static_cast<size_t>(t - 1) * b);
    }
    for (int t = 1; t < team; ++t)
      for (int j = 0; j < b; ++j) counts_[j] += parts[static_cast<size_t>(t - 1) * b + j];
  }
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
