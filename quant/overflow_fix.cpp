// SPDX-License-Identifier: Apache-2.0
#include "quant/overflow_fix.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace qtool {

std::vector<float> pair_safe_min_scales(const Tensor& w, const WeightLayout& l) {
  if (w.dtype() != DType::kFloat || w.numel() != l.rows * l.cols())
    throw Error("pair_safe_min_scales: float32 weights of the layout's size expected");
  const float* src = w.data<float>();
  std::vector<float> out(static_cast<size_t>(l.rows), 0.f);
  std::vector<float> seq(static_cast<size_t>(l.cols()));
  auto widest_pair = [&]() {
    float best = 0.f;
    for (size_t k = 0; k < seq.size(); k += 2) best = std::max(best, seq[k] + (k + 1 < seq.size() ? seq[k + 1] : 0.f));
    return best;
  };
  for (int64_t r = 0; r < l.rows; ++r) {
    for (int64_t i = 0; i < l.in; ++i)  // input channel major
      for (int64_t p = 0; p < l.positions; ++p) seq[i * l.positions + p] = std::fabs(src[l.flat(r, i, p)]);
    float widest = widest_pair();
    if (l.positions > 1) {
      for (int64_t p = 0; p < l.positions; ++p)  // kernel position major
        for (int64_t i = 0; i < l.in; ++i) seq[p * l.in + i] = std::fabs(src[l.flat(r, i, p)]);
      widest = std::max(widest, widest_pair());
      // channel blocks padded per position (oneDNN's blocked layouts): pairs (2j, 2j+1) of each position
      for (int64_t p = 0; p < l.positions; ++p)
        for (int64_t i = 0; i + 1 < l.in; i += 2)
          widest = std::max(widest, std::fabs(src[l.flat(r, i, p)]) + std::fabs(src[l.flat(r, i + 1, p)]));
    }
    out[r] = widest / kPairCodeLimit;
  }
  return out;
}

}  // namespace qtool
