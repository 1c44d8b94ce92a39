// SPDX-License-Identifier: Apache-2.0
#include "eval/metrics.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace qtool {

std::vector<int64_t> argmax_per_sample(const Tensor& t) {
  if (t.dtype() != DType::kFloat || t.rank() < 1) throw Error("top-1 needs a float32 [N, ...] output");
  const int64_t n = t.dim(0), per = n ? t.numel() / n : 0;
  std::vector<int64_t> out(n, 0);
  const float* p = t.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t k = 1; k < per; ++k)
      if (p[i * per + k] > p[i * per + best]) best = k;
    out[i] = best;
  }
  return out;
}

void ErrorAccumulator::add(const float* ref, const float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref[i], o = out[i];
    signal_ += r * r;
    noise_ += (r - o) * (r - o);
    dot_ += r * o;
    ref_sq_ += r * r;
    out_sq_ += o * o;
  }
}

double ErrorAccumulator::sqnr_db() const {
  if (noise_ == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal_ / noise_);
}

double ErrorAccumulator::cosine() const {
  if (ref_sq_ == 0 || out_sq_ == 0) return ref_sq_ == out_sq_ ? 1.0 : 0.0;
  return dot_ / std::sqrt(ref_sq_ * out_sq_);
}

}  // namespace qtool
