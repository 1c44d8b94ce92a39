// SPDX-License-Identifier: Apache-2.0
// One vectorised pass over float32 values (cloned for AVX-512 / AVX2 / baseline): calibration
// checks every activation and every sample it reads, so these scans run over all the data once.
#pragma once
#include <cstdint>

namespace qtool {

struct FloatScan {
  float lo, hi;    // min and max of the finite values (+inf / -inf when there is none)
  bool nonfinite;  // some value is NaN or +-inf
};
// n >= 0 values.
FloatScan scan_floats(const float* x, int64_t n);

// Min and max in one pass, for values already known to be finite (n >= 1).
void minmax_finite(const float* x, int64_t n, float& lo, float& hi);

// True when every |x[i]| <= limit (a NaN is not).
bool all_abs_within(const float* x, int64_t n, float limit);

}  // namespace qtool
