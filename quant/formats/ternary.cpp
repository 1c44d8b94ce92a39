// SPDX-License-Identifier: Apache-2.0
// Ternary weights, TWN (Li & Liu, "Ternary Weight Networks", 2016): threshold
// delta = 0.7 * mean |w|, alpha = mean of |w| over the weights with |w| > delta, and
// w ~ alpha * {-1, 0, +1}. Stored as codes {0, 1, 2}: zero 1, scale alpha.
#include <cmath>

#include "quant/weight_format.h"

namespace qtool {
namespace {

class TernaryFormat : public WeightFormat {
 public:
  std::string name() const override { return "ternary"; }
  int bits() const override { return 2; }
  int32_t code_min() const override { return 0; }
  int32_t code_max() const override { return 2; }
  GroupParams fit(const float* w, int64_t n) const override {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(w[i]);
    const float delta = static_cast<float>(0.7 * s / n);
    double above = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
      if (std::fabs(w[i]) > delta) {
        above += std::fabs(w[i]);
        ++count;
      }
    const float alpha = count ? static_cast<float>(above / count) : (delta > 0 ? delta : 1.f);
    return {alpha, 1.f, delta};
  }
  int32_t encode(float w, const GroupParams& p) const override {
    return w > p.threshold ? 2 : (w < -p.threshold ? 0 : 1);
  }
};

}  // namespace

std::unique_ptr<WeightFormat> make_ternary_format() { return std::make_unique<TernaryFormat>(); }

}  // namespace qtool
