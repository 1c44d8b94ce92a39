// SPDX-License-Identifier: Apache-2.0
#include "core/float_scan.h"

#include <immintrin.h>

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

__attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math")))
bool all_abs_within(const float* x, int64_t n, float limit) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= !(x[i] >= -limit && x[i] <= limit);
  return bad == 0;
}

namespace {

// AVX-512: four min / max accumulators (the reductions' latency, not the loads, would bound one),
// and a mask of lanes whose |x| is above FLT_MAX or unordered (NaN). Written with intrinsics since
// the compiler cannot vectorise min / max reductions that must see NaN without finite-math-only,
// which would also let it drop the check.
// GCC 12's min / max intrinsics pass _mm512_undefined_ps() as the unused merge source, which
// -Wuninitialized reports at every call (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f"))) bool minmax_checked_avx512(const float* x, int64_t n, float& lo, float& hi) {
  const __m512 limit = _mm512_set1_ps(std::numeric_limits<float>::max());
  __m512 l0 = _mm512_set1_ps(INFINITY), l1 = l0, l2 = l0, l3 = l0;
  __m512 h0 = _mm512_set1_ps(-INFINITY), h1 = h0, h2 = h0, h3 = h0;
  __mmask16 bad = 0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    const __m512 c = _mm512_loadu_ps(x + i + 32), d = _mm512_loadu_ps(x + i + 48);
    l0 = _mm512_min_ps(l0, a), h0 = _mm512_max_ps(h0, a);
    l1 = _mm512_min_ps(l1, b), h1 = _mm512_max_ps(h1, b);
    l2 = _mm512_min_ps(l2, c), h2 = _mm512_max_ps(h2, c);
    l3 = _mm512_min_ps(l3, d), h3 = _mm512_max_ps(h3, d);
    bad |= _mm512_cmp_ps_mask(_mm512_abs_ps(a), limit, _CMP_NLE_UQ) |
           _mm512_cmp_ps_mask(_mm512_abs_ps(b), limit, _CMP_NLE_UQ) |
           _mm512_cmp_ps_mask(_mm512_abs_ps(c), limit, _CMP_NLE_UQ) |
           _mm512_cmp_ps_mask(_mm512_abs_ps(d), limit, _CMP_NLE_UQ);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(m, x + i);
    l0 = _mm512_mask_min_ps(l0, m, l0, a);
    h0 = _mm512_mask_max_ps(h0, m, h0, a);
    bad |= _mm512_mask_cmp_ps_mask(m, _mm512_abs_ps(a), limit, _CMP_NLE_UQ);
  }
  alignas(64) float l[16], h[16];
  _mm512_store_ps(l, _mm512_min_ps(_mm512_min_ps(l0, l1), _mm512_min_ps(l2, l3)));
  _mm512_store_ps(h, _mm512_max_ps(_mm512_max_ps(h0, h1), _mm512_max_ps(h2, h3)));
  lo = l[0], hi = h[0];
  for (int k = 1; k < 16; ++k) lo = std::min(lo, l[k]), hi = std::max(hi, h[k]);
  return bad == 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// AVX2 (no VNNI / AVX-512: the x86 CPUs of many clouds): the same single pass, eight lanes at a
// time; the tail goes through the plain scans (the unchecked part is finite when they agree).
__attribute__((target("avx2"))) bool minmax_checked_avx2(const float* x, int64_t n, float& lo, float& hi) {
  const __m256 limit = _mm256_set1_ps(std::numeric_limits<float>::max());
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 l0 = _mm256_set1_ps(INFINITY), l1 = l0, l2 = l0, l3 = l0;
  __m256 h0 = _mm256_set1_ps(-INFINITY), h1 = h0, h2 = h0, h3 = h0;
  __m256 bad = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    const __m256 c = _mm256_loadu_ps(x + i + 16), d = _mm256_loadu_ps(x + i + 24);
    l0 = _mm256_min_ps(l0, a), h0 = _mm256_max_ps(h0, a);
    l1 = _mm256_min_ps(l1, b), h1 = _mm256_max_ps(h1, b);
    l2 = _mm256_min_ps(l2, c), h2 = _mm256_max_ps(h2, c);
    l3 = _mm256_min_ps(l3, d), h3 = _mm256_max_ps(h3, d);
    // |v| > FLT_MAX or unordered (NaN): all-ones lanes
    bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(_mm256_and_ps(a, abs_mask), limit, _CMP_NLE_UQ),
                                                      _mm256_cmp_ps(_mm256_and_ps(b, abs_mask), limit, _CMP_NLE_UQ)),
                                         _mm256_or_ps(_mm256_cmp_ps(_mm256_and_ps(c, abs_mask), limit, _CMP_NLE_UQ),
                                                      _mm256_cmp_ps(_mm256_and_ps(d, abs_mask), limit, _CMP_NLE_UQ))));
  }
  if (_mm256_movemask_ps(bad) != 0) return false;
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, _mm256_min_ps(_mm256_min_ps(l0, l1), _mm256_min_ps(l2, l3)));
  _mm256_store_ps(h, _mm256_max_ps(_mm256_max_ps(h0, h1), _mm256_max_ps(h2, h3)));
  lo = l[0], hi = h[0];
  for (int k = 1; k < 8; ++k) lo = std::min(lo, l[k]), hi = std::max(hi, h[k]);
  for (; i < n; ++i) {
    if (!(x[i] >= -std::numeric_limits<float>::max() && x[i] <= std::numeric_limits<float>::max())) return false;
    lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  }
  return true;
}

bool minmax_checked_plain(const float* x, int64_t n, float& lo, float& hi) {
  if (!all_abs_within(x, n, std::numeric_limits<float>::max())) return false;
  minmax_finite(x, n, lo, hi);
  return true;
}

}  // namespace

bool minmax_checked(const float* x, int64_t n, float& lo, float& hi) {
  static const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  if (avx512) return minmax_checked_avx512(x, n, lo, hi);
  return avx2 ? minmax_checked_avx2(x, n, lo, hi) : minmax_checked_plain(x, n, lo, hi);
}

}  // namespace qtool
