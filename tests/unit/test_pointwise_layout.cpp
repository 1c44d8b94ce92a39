// SPDX-License-Identifier: Apache-2.0
// Pointwise ops on runtime layouts (OpDef::pointwise): between convolutions, Add / Sigmoid / Mul /
// Clip / HardSwish run on the convolutions' dense blocked tensors instead of reordering them to
// NCHW and back. Results must equal the plain executor and the reference kernels. Add / Sub /
// Mul / Div with a broadcast per-channel operand keep the layout too (oneDNN binary, or qtool's loop
// for channel-blocked layouts), except Sub / Div whose layout operand comes second (plain copies).
// Hooks with any_layout and calibration read those tensors without reordering them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "calib/calibrate.h"
#include "calib/dataset.h"
#include "kernel_test_util.h"
#include "runtime/dnnl_util.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

// x -> Conv -> Sigmoid, Mul (swish: two same-shape operands) -> square -> Clip(scalars) -> HardSwish ->
// Conv -> Relu, Add(r, h) -> Add(per-channel constant) -> Div(per-channel) -> Sub(per-channel - it)
// -> Conv -> y.
Model pointwise_chain() {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 14]>
    g (float[N,16,9,11] x) => (float[N,32,9,11] y) {
      c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
      s = Sigmoid(c1)
      sw = Mul(c1, s)
      sq = Mul(sw, sw)
      cl = Clip(sq, lo, hi)
      h = HardSwish(cl)
      c2 = Conv(h, w2)
      r = Relu(c2)
      rh = Add(r, h)
      cb = Add(rh, bias)
      dv = Div(cb, scale)
      sb = Sub(bias, dv)
      y = Conv<pads = [1,1,1,1]>(sb, w3)
    })");
  m.set_initializer("w1", test::random_tensor({32, 16, 3, 3}, 1, -0.3f, 0.3f));
  m.set_initializer("b1", test::random_tensor({32}, 2));
  m.set_initializer("lo", Tensor::from<float>({}, {-0.2f}));
  m.set_initializer("hi", Tensor::from<float>({}, {2.5f}));
  m.set_initializer("w2", test::random_tensor({32, 32, 1, 1}, 3, -0.3f, 0.3f));
  m.set_initializer("bias", test::random_tensor({1, 32, 1, 1}, 4));
  m.set_initializer("scale", test::random_tensor({32, 1, 1}, 8, 0.5f, 2.f));
  m.set_initializer("w3", test::random_tensor({32, 32, 3, 3}, 5, -0.3f, 0.3f));
  return m;
}

using test::max_abs_diff;

std::vector<float> sorted_values(const Tensor& t) {
  auto v = t.to_floats();
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST(PointwiseLayout, ChainsBetweenConvolutionsEqualPlainAndReference) {
  Model m = pointwise_chain();
  const Tensor x = test::random_tensor({2, 16, 9, 11}, 6, -3.f, 3.f);
  const std::vector<std::string> names{"s", "sw", "sq", "cl", "h", "rh", "cb", "dv", "sb"};
  Executor reference(m, ExecutorOptions{false, false, true});
  reference.keep_values(names);
  const auto want = reference.run({{"x", x}});
  Executor plain(m, ExecutorOptions{false, false});
  EXPECT_LT(max_abs_diff(plain.run({{"x", x}}).at("y"), want.at("y")), 1e-4f);

  Executor fast(m);
  fast.observe_values(names);
  std::map<std::string, Tensor> hooked;
  fast.set_hook([&](const std::string& name, const Tensor& t) { hooked[name] = t; }, /*any_layout=*/true);
  for (int rep = 0; rep < 2; ++rep) {  // the first run creates primitives, the second reuses them
    hooked.clear();
    const auto got = fast.run({{"x", x}});
    EXPECT_EQ(got.at("y").layout(), nullptr);
    EXPECT_LT(max_abs_diff(got.at("y"), want.at("y")), 1e-4f);
  }
  // The pointwise steps between the convolutions kept the convolution's dense layout...
  // (the broadcast Add and Div included)
  for (const char* name : {"s", "sw", "sq", "cl", "h", "rh", "cb", "dv"}) {
    ASSERT_TRUE(hooked.count(name)) << name;
    const Tensor& t = hooked.at(name);
    EXPECT_NE(t.layout(), nullptr) << name;
    EXPECT_TRUE(t.has_dense_layout()) << name;
    // ...and hold the same values (in the layout's order)
    const auto a = sorted_values(t.dense_storage()), b = sorted_values(want.at(name));
    ASSERT_EQ(a.size(), b.size()) << name;
    float d = 0.f;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
    EXPECT_LT(d, 1e-4f) << name;
  }
  // bias - dv: oneDNN's binary takes the broadcast operand second only, so the Sub computes on
  // plain copies and writes a plain tensor
  EXPECT_EQ(hooked.at("sb").layout(), nullptr);
  EXPECT_LT(max_abs_diff(hooked.at("sb"), want.at("sb")), 1e-4f);

  // Without any_layout the hook gets plain tensors equal to the reference, element by element.
  fast.set_hook([&](const std::string& name, const Tensor& t) {
    EXPECT_EQ(t.layout(), nullptr) << name;
    if (want.count(name)) EXPECT_LT(max_abs_diff(t, want.at(name)), 1e-4f) << name;
  });
  fast.run({{"x", x}});
}

TEST(PointwiseLayout, CalibrationReadsBlockedActivationsAndNamesTheBadSample) {
  Model m = pointwise_chain();
  Executor exec(m);
  Tensor x = test::random_tensor({24, 16, 9, 11}, 7, -3.f, 3.f);
  CalibrateOptions opts;
  opts.method = "minmax";
  opts.max_batch = 16;
  const std::vector<std::string> names{"sq", "h", "rh", "cb"};
  auto data = memory_dataset({{"x", x}}, exec.inputs(), "x");
  const CalibrationTable t = calibrate(m, *data, names, opts);
  Executor ref(m, ExecutorOptions{false, false, true});
  ref.keep_values(names);
  const auto all = ref.run({{"x", x}});
  for (const auto& name : names) {
    auto v = all.at(name).to_floats();
    ASSERT_TRUE(t.ranges.count(name)) << name;
    // a few float ulps: the blocked and plain kernels may contract to FMA differently (AVX2 / AVX-512)
    const float lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    EXPECT_NEAR(t.ranges.at(name).min, lo, 1e-4f + 2e-6f * std::fabs(lo)) << name;
    EXPECT_NEAR(t.ranges.at(name).max, hi, 1e-4f + 2e-6f * std::fabs(hi)) << name;
  }
  // Sample 21 (the second batch's sixth) overflows the square: 'sq', computed in a blocked
  // layout, holds +inf; the error names it and the sample.
  x.data<float>()[21 * 16 * 9 * 11 + 40] = 1e29f;
  data = memory_dataset({{"x", x}}, exec.inputs(), "x");
  try {
    calibrate(m, *data, {"sq"}, opts);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'sq'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("sample 21 "), std::string::npos) << msg;
  }
}

// A plain tensor copied into oneDNN's channel-blocked format `t` (nChw8c / nChw16c and the 1-D and
// 3-D versions), as a convolution writes it on AVX2 CPUs.
Tensor blocked(const Tensor& plain, dnnl::memory::format_tag t) {
  const dnnl::memory::desc md(dnnl::memory::dims(plain.shape().begin(), plain.shape().end()),
                              dnnl::memory::data_type::f32, t);
  Tensor y = make_dnnl_tensor(plain.shape(), md);
  reorder_into(wrap(plain_desc(plain.shape()), plain), wrap(md, y));
  DnnlContext::get().stream.wait();
  return y;
}

// oneDNN 2.6 has no jit binary kernel for a channel-blocked operand and a per-channel one (it ran
// its reference kernel, 7 ms per DenseNet-121 batch norm); the executor's own loop must give the
// plain reference's values exactly, for every broadcast it takes, and decline the others (padded
// blocks, broadcasts along a spatial axis), which then run on plain copies.
TEST(PointwiseLayout, ChannelBlockedWithPerChannelOperandEqualsReference) {
  using tag = dnnl::memory::format_tag;
  struct Case {
    Shape big, small;
    tag t;
  };
  const Case cases[] = {
      {{2, 16, 5, 7}, {16, 1, 1}, tag::aBcd8b},     {{2, 32, 3, 4}, {1, 32, 1, 1}, tag::aBcd16b},
      {{3, 24, 4, 5}, {3, 24, 1, 1}, tag::aBcd8b},  {{2, 16, 6}, {16, 1}, tag::aBc8b},
      {{1, 16, 2, 3, 4}, {16, 1, 1, 1}, tag::aBcde16b}, {{2, 16, 5, 7}, {1}, tag::aBcd8b},
      {{2, 16, 5, 7}, {}, tag::aBcd16b},
      // declined: a padded block (12 of 16 channels), a spatial broadcast
      {{2, 12, 5, 7}, {12, 1, 1}, tag::aBcd16b},    {{2, 16, 5, 7}, {1, 1, 5, 7}, tag::aBcd8b}};
  uint32_t seed = 90;
  for (const Case& k : cases)
    for (const char* op : {"Add", "Sub", "Mul", "Div"})
      for (bool big_first : {true, false}) {
        SCOPED_TRACE(std::string(op) + " " + shape_str(k.big) + " x " + shape_str(k.small) +
                     (big_first ? "" : " (small first)"));
        const Tensor big = test::random_tensor(k.big, seed++, -3.f, 3.f);
        const Tensor small = test::random_tensor(k.small, seed++, 0.5f, 2.f);
        const auto n = test::make_node(op, 2, 1);
        const std::vector<Value> plain_in = big_first ? std::vector<Value>{big, small} : std::vector<Value>{small, big};
        const Tensor bb = blocked(big, k.t);
        const std::vector<Value> layout_in = big_first ? std::vector<Value>{bb, small} : std::vector<Value>{small, bb};
        const Tensor want = test::run_op(n, 14, plain_in, true)[0].tensor();
        const Tensor got = test::run_op(n, 14, layout_in, false)[0].tensor();
        ASSERT_EQ(got.layout(), nullptr);  // run_node asks for plain outputs
        EXPECT_EQ(got.to_floats(), want.to_floats());
        if (k.small.size() != k.big.size()) continue;
        // the small operand in the same blocked format (a squeeze-and-excitation block's [N,C,1,1]
        // Sigmoid, written by a convolution): made plain, the same values
        const Tensor sb = blocked(small, k.t);
        const std::vector<Value> both_in = big_first ? std::vector<Value>{bb, sb} : std::vector<Value>{sb, bb};
        EXPECT_EQ(test::run_op(n, 14, both_in, false)[0].tensor().to_floats(), want.to_floats()) << "both blocked";
      }
}
