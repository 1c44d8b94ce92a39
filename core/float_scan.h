// SPDX-License-Identifier: Apache-2.0
// One vectorised pass over float32 values (cloned for AVX-512 / AVX2 / baseline): calibration
// checks every activation and every sample it reads, so these scans run over all the data once.
#pragma once
#include <cstdint>

namespace qtool {

// Min and max in one pass, for values already known to be finite (n >= 1).
void minmax_finite(const float* x, int64_t n, float& lo, float& hi);

// True when every |x[i]| <= limit (a NaN is not).
bool all_abs_within(const float* x, int64_t n, float limit);

// Min and max in one pass that also checks the values (n >= 1): false when one is NaN or
// infinite (lo / hi are then meaningless). What observers run on every activation.
bool minmax_checked(const float* x, int64_t n, float& lo, float& hi);

}  // namespace qtool
