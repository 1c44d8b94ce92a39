// SPDX-License-Identifier: Apache-2.0
#include "core/float_scan.h"

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

__attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math")))
bool all_abs_within(const float* x, int64_t n, float limit) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= !(x[i] >= -limit && x[i] <= limit);
  return bad == 0;
}

}  // namespace qtool
