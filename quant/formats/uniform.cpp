// SPDX-License-Identifier: Apache-2.0
// Uniform integer grids (int8, int4, int2), symmetric or asymmetric; see quant/weight_format.h.
#include <algorithm>
#include <cmath>

#include "quant/weight_format.h"

namespace qtool {
namespace {

class UniformFormat : public WeightFormat {
 public:
  UniformFormat(int bits, bool symmetric)
      : bits_(bits), sym_(symmetric),
        lo_(symmetric ? -((1 << (bits - 1)) - 1) : 0),
        hi_(symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1) {}
  std::string name() const override { return "int" + std::to_string(bits_); }
  int bits() const override { return bits_; }
  int32_t code_min() const override { return lo_; }
  int32_t code_max() const override { return hi_; }
  bool signed_codes() const override { return sym_; }

  GroupParams fit(const float* w, int64_t n) const override {
    float mn = 0.f, mx = 0.f;
    for (int64_t i = 0; i < n; ++i) {
      mn = std::min(mn, w[i]);
      mx = std::max(mx, w[i]);
    }
    GroupParams best = params_for(mn, mx, 1.f);
    if (bits_ >= 8) return best;  // int8: the full range, as the int8 pipeline always did
    // Low bits: shrink the range to the clipping ratio with the least squared error.
    double best_err = group_sse(*this, w, n, best);
    for (int k = 1; k <= 10; ++k) {
      const GroupParams p = params_for(mn, mx, 1.f - 0.05f * k);
      const double e = group_sse(*this, w, n, p);
      if (e < best_err) {
        best_err = e;
        best = p;
      }
    }
    return best;
  }

  int32_t encode(float w, const GroupParams& p) const override {
    const float v = std::nearbyint(w / p.scale) + p.zero;
    return static_cast<int32_t>(std::clamp(v, static_cast<float>(lo_), static_cast<float>(hi_)));
  }

 private:
  GroupParams params_for(float mn, float mx, float ratio) const {
    GroupParams p;
    if (sym_) {
      const float amax = std::max(std::fabs(mn), std::fabs(mx)) * ratio;
      p.scale = amax > 0 ? amax / hi_ : 1.f;
      p.zero = 0.f;
    } else {
      mn *= ratio;
      mx *= ratio;
      p.scale = mx > mn ? (mx - mn) / (hi_ - lo_) : 1.f;
      p.zero = std::clamp(std::nearbyint(-mn / p.scale), static_cast<float>(lo_), static_cast<float>(hi_));
    }
    return p;
  }
  int bits_;
  bool sym_;
  int32_t lo_, hi_;
};

}  // namespace

std::unique_ptr<WeightFormat> make_uniform_format(int bits, bool symmetric) {
  return std::make_unique<UniformFormat>(bits, symmetric);
}

}  // namespace qtool
