// SPDX-License-Identifier: Apache-2.0
#include "core/float_scan.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qtool {

// Branch-free selects and an OR-reduction, so the compiler vectorises the loops (NaN compares false).
// finite-math-only is sound here (the values are finite) and lets the selects become vector min/max.
__attribute__((target_clones("avx512f", "avx2", "default"),
               optimize("no-trapping-math", "finite-math-only", "no-signed-zeros")))
void minmax_finite(const float* x, int64_t n, float& lo_out, float& hi_out) {
  float lo = x[0], hi = x[0];
  for (int64_t i = 0; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  lo_out = lo;
  hi_out = hi;
}

FloatScan scan_floats(const float* x, int64_t n) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (n <= 0) return {kInf, -kInf, false};
  if (all_abs_within(x, n, std::numeric_limits<float>::max())) {
    float lo, hi;
    minmax_finite(x, n, lo, hi);
    return {lo, hi, false};
  }
  float lo = kInf, hi = -kInf;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  return {lo, hi, true};
}

__attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math")))
bool all_abs_within(const float* x, int64_t n, float limit) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= !(x[i] >= -limit && x[i] <= limit);
  return bad == 0;
}

}  // namespace qtool
