// SPDX-License-Identifier: Apache-2.0
// Binary weights, XNOR-Net (Rastegari et al., "XNOR-Net: ImageNet Classification Using Binary
// Convolutional Neural Networks", ECCV 2016): w ~ alpha * sign(w), alpha = mean |w| of the group
// (the L2-optimal scale for a fixed sign pattern). Stored as codes {0, 1}: zero 0.5, scale 2 alpha.
#include <cmath>

#include "quant/weight_format.h"

namespace qtool {
namespace {

class BinaryFormat : public WeightFormat {
 public:
  std::string name() const override { return "binary"; }
  int bits() const override { return 1; }
  int32_t code_min() const override { return 0; }
  int32_t code_max() const override { return 1; }
  GroupParams fit(const float* w, int64_t n) const override {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(w[i]);
    const float alpha = s > 0 ? static_cast<float>(s / n) : 1.f;
    return {2.f * alpha, 0.5f, 0.f};
  }
  int32_t encode(float w, const GroupParams&) const override { return w >= 0.f ? 1 : 0; }
};

}  // namespace

std::unique_ptr<WeightFormat> make_binary_format() { return std::make_unique<BinaryFormat>(); }

}  // namespace qtool
