// SPDX-License-Identifier: Apache-2.0
// core/float_scan: the vectorised scans calibration runs over every activation, against plain loops,
// for every length up to a few vector widths (the AVX-512 and AVX2 paths' tails) and with NaN / inf anywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/float_scan.h"

using namespace qtool;

TEST(FloatScan, MinmaxCheckedMatchesPlainLoopsAndFindsEveryNonFinite) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 3.f);
  const float specials[] = {NAN, INFINITY, -INFINITY};
  for (int64_t n = 1; n <= 200; ++n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    if (n > 3) x[static_cast<size_t>(n / 3)] = std::numeric_limits<float>::max();  // finite extremes pass
    if (n > 4) x[static_cast<size_t>(n / 4)] = -std::numeric_limits<float>::max();
    float lo = 0, hi = 0;
    ASSERT_TRUE(minmax_checked(x.data(), n, lo, hi)) << n;
    EXPECT_EQ(lo, *std::min_element(x.begin(), x.end())) << n;
    EXPECT_EQ(hi, *std::max_element(x.begin(), x.end())) << n;
    // one non-finite value at the start, in the middle, at the last full vector and in the tail
    for (int64_t at : {int64_t{0}, n / 2, std::max<int64_t>(0, n - 17), n - 1})
      for (float s : specials) {
        std::vector<float> y = x;
        y[static_cast<size_t>(at)] = s;
        EXPECT_FALSE(minmax_checked(y.data(), n, lo, hi)) << "n=" << n << " at=" << at << " value=" << s;
      }
  }
}
