// SPDX-License-Identifier: Apache-2.0
// Range selection by the readers' outputs (calib/range_select.h) and the "auto" observer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "calib/calibrate.h"
#include "calib/range_select.h"
#include "runtime/executor.h"
#include "test_util.h"

namespace qtool {
namespace {

TEST(FakeQuantize, IsTheQuantizeLinearDequantizeLinearRoundTrip) {
  // uint8 over [0, 2.55]: scale 0.01, zero point 0; ties go to even codes, values beyond saturate
  const Tensor x = Tensor::from<float>({6}, {0.f, 0.005f, 0.015f, 1.004f, 3.f, -1.f});
  const Tensor y = fake_quantize(x, Range{0.f, 2.55f}, ActType::kUInt8);
  const float want[] = {0.f, 0.f, 0.02f, 1.f, 2.55f, 0.f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(y.data<float>()[i], want[i], 1e-6) << i;
  // int8 symmetric over [-1.27, 1.27]: codes in [-128, 127]
  const Tensor z = fake_quantize(Tensor::from<float>({3}, {-2.f, 0.5f, 2.f}), Range{-1.27f, 1.27f}, ActType::kInt8);
  EXPECT_NEAR(z.data<float>()[0], -1.28f, 1e-6);
  EXPECT_NEAR(z.data<float>()[1], 0.5f, 1e-6);
  EXPECT_NEAR(z.data<float>()[2], 1.27f, 1e-6);
}

// x: [N, 4], column 0 holds rare large values (one sample in 50 is 100), columns 1..3 are in [0, 1].
// y = x @ w. Whether clipping column 0's outliers is right depends on w, not on x alone.
struct Case {
  Model model;
  Tensor x;
};
Case outlier_case(float w0) {
  Case c{test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[N,4] x) => (float[N,2] y) {
      r = Relu(x)
      y = MatMul(r, w)
    })"),
         test::random_tensor({400, 4}, 7, 0.f, 1.f)};
  for (int64_t i = 0; i < 400; i += 50) c.x.data<float>()[i * 4] = 100.f;
  c.model.set_initializer("w", Tensor::from<float>({4, 2}, {w0, w0, 1.f, -1.f, 0.5f, 1.f, -1.f, 0.5f}));
  return c;
}

TEST(RangeSelect, ChoosesTheCandidateTheReaderComputesBestFrom) {
  const std::vector<Range> cands = {Range{0.f, 1.f}, Range{0.f, 100.f}};
  for (float w0 : {1.f, 0.f}) {
    Case c = outlier_case(w0);
    auto data = memory_dataset({{"x", c.x}}, model_input_specs(c.model), "x");
    RangeSelectOptions o;
    o.max_samples = 400;
    const auto got = select_ranges_by_reader_output(c.model, *data, {{"r", cands}}, o);
    // w0 = 1: the outliers dominate y, clipping them at 1 loses most of y -> the full range.
    // w0 = 0: y ignores column 0 -> the fine grid of [0, 1] (the full range rounds columns 1..3 to
    // steps of 0.39, while it wins nothing).
    EXPECT_EQ(got.at("r").max, w0 == 1.f ? 100.f : 1.f) << "w0 = " << w0;
  }
}

TEST(RangeSelect, OneCandidateOrOneGridIsKeptWithoutRunning) {
  Case c = outlier_case(1.f);
  auto data = memory_dataset({{"x", c.x}}, model_input_specs(c.model), "x");
  // the same grid twice (and a tensor no node reads): nothing to choose, the first is kept
  const auto got = select_ranges_by_reader_output(
      c.model, *data, {{"r", {Range{0.f, 2.f}, Range{0.f, 2.f}}}, {"y", {Range{-1.f, 1.f}, Range{-5.f, 5.f}}}}, {});
  EXPECT_EQ(got.at("r").max, 2.f);
  EXPECT_EQ(got.at("y").max, 1.f);
}

TEST(AutoObserver, CalibrationKeepsTheRangeTheReaderNeeds) {
  // Column 0 gets a heavy tail (30 u^6: most values near 0, a few up to 30), so that the four
  // candidates (mse, minmax, percentile, entropy) differ. When y reads column 0 (w0 = 1) its tail
  // matters; when it does not (w0 = 0), the finest grid that still holds columns 1..3 wins.
  float chosen[2];
  for (int k = 0; k < 2; ++k) {
    Case c = outlier_case(k == 0 ? 1.f : 0.f);
    const Tensor u = test::random_tensor({400}, 11, 0.f, 1.f);
    for (int64_t i = 0; i < 400; ++i) c.x.data<float>()[i * 4] = 30.f * std::pow(u.data<float>()[i], 6.f);
    auto data = memory_dataset({{"x", c.x}}, model_input_specs(c.model), "x");
    CalibrateOptions o;
    o.method = "auto";
    chosen[k] = calibrate(c.model, *data, {"r"}, o).ranges.at("r").max;
    auto obs = make_observer("auto");  // the four candidates of the same histogram
    Executor exec(c.model);
    exec.keep_values({"r"});
    const Tensor r = exec.run({{"x", c.x}}).at("r");
    obs->observe(r.data<float>(), r.numel());
    const auto cands = obs->candidates();
    ASSERT_EQ(cands.size(), 4u);
    float lo = INFINITY, hi = 0;
    for (const auto& x : cands) lo = std::min(lo, x.max), hi = std::max(hi, x.max);
    ASSERT_LT(lo, hi) << "the candidates must differ for the test to mean anything";
    ASSERT_GE(lo, 1.f);
    EXPECT_TRUE(std::any_of(cands.begin(), cands.end(), [&](const Range& x) { return x.max == chosen[k]; }));
    if (k == 1) EXPECT_EQ(chosen[k], lo) << "y ignores column 0: the finest candidate";
  }
  EXPECT_GT(chosen[0], chosen[1]) << "y reads column 0: its tail must be kept more than when it does not";
}

TEST(EntropyObserver, KeepsItsThresholdUnlessTheReaderNeedsTheClippedTail) {
  // Column 0 exponential (max ~5 over 400 samples): the KL threshold clips its tail (~2% of the
  // column). Whether that is right depends on the reader: with w0 = 1 y sums the tail and the full
  // range wins, with w0 = 0 y ignores column 0 and the threshold's finer grid stays.
  float kl = 0, hi = 0;
  for (float w0 : {1.f, 0.f}) {
    Case c = outlier_case(w0);
    const Tensor u = test::random_tensor({400}, 11, 0.f, 1.f);
    for (int64_t i = 0; i < 400; ++i) c.x.data<float>()[i * 4] = -std::log(1.f - u.data<float>()[i]);
    auto obs = make_observer("entropy");
    Executor exec(c.model);
    exec.keep_values({"r"});
    const Tensor r = exec.run({{"x", c.x}}).at("r");
    obs->observe(r.data<float>(), r.numel());
    kl = obs->range().max;
    hi = *std::max_element(r.data<float>(), r.data<float>() + r.numel());
    const auto cands = obs->candidates();
    ASSERT_EQ(cands.size(), 2u);
    EXPECT_EQ(cands[0].max, kl);
    EXPECT_EQ(cands[1].max, hi);
    ASSERT_LT(kl, 0.9f * hi) << "the KL threshold must clip the tail for the test to mean anything";
    auto data = memory_dataset({{"x", c.x}}, model_input_specs(c.model), "x");
    CalibrateOptions o;
    o.method = "entropy";
    EXPECT_EQ(calibrate(c.model, *data, {"r"}, o).ranges.at("r").max, w0 == 1.f ? hi : kl) << "w0 = " << w0;
  }
}

}  // namespace
}  // namespace qtool
