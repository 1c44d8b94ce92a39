// SPDX-License-Identifier: Apache-2.0
// oneDNN's integer kernels on CPUs without VNNI (runtime/kernels/qdq_common.h): they add the
// products of adjacent K pairs in a saturating int16 (vpmaddubsw), so the executor runs them only
// for uint8 sources and weights whose pairs sum to at most 128 codes. These tests hold on every
// CPU: at the limit (pairs of exactly 128 codes, source codes near 255) the fast kernels equal the
// reference bit for bit; with VNNI they would be exact anyway, without it a wrong pair order or a
// bound one code too loose shows up as saturated sums.
#include <gtest/gtest.h>

#include <random>

#include "kernel_test_util.h"
#include "runtime/kernels/qdq_common.h"
#include "test_util.h"

using namespace qtool;

namespace {

// int8 weights [outer, k, inner] whose pairs (o, 2j..2j+1, i) sum to exactly 128 codes, both of
// one sign (the widest products vpmaddubsw can see); odd k leaves the last code alone.
Tensor weights_at_the_limit(Shape shape, int64_t outer, int64_t k, int64_t inner, uint32_t seed) {
  Tensor w(DType::kInt8, std::move(shape));
  std::mt19937 rng(seed);
  int8_t* p = w.data<int8_t>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      for (int64_t kk = 0; kk < k; kk += 2) {
        const int a = static_cast<int>(rng() % 129), sign = rng() % 2 ? 1 : -1;
        p[(o * k + kk) * inner + i] = static_cast<int8_t>(sign * (kk + 1 < k ? a : std::min(a, 127)));
        if (kk + 1 < k) p[(o * k + kk + 1) * inner + i] = static_cast<int8_t>(sign * (128 - a));
      }
  return w;
}

// uint8 source codes in [240, 255] (zero point 0 or small: the products near 255 x 128).
Tensor codes_near_the_top(Shape shape, uint32_t seed) {
  return test::random_tensor_of(DType::kUInt8, std::move(shape), seed, 240, 255);
}

}  // namespace

// Only the pairs the hardware adds are checked: (k, k + 1) with k even, along K.
TEST(QdqPairs, PairsFitInt16ChecksEvenAlignedPairsAlongK) {
  auto fits = [](std::vector<int8_t> w, int64_t outer, int64_t k, int64_t inner) {
    return qdq::pairs_fit_int16(w.data(), outer, k, inner);
  };
  EXPECT_TRUE(fits({100, 28, -64, -64}, 1, 4, 1));
  EXPECT_FALSE(fits({100, 29, 0, 0}, 1, 4, 1));
  EXPECT_FALSE(fits({0, 0, -100, -29}, 1, 4, 1));
  EXPECT_FALSE(fits({-128, 1, 0, 0}, 1, 4, 1));
  EXPECT_TRUE(fits({8, 120, 120, 8}, 1, 4, 1));  // the odd-aligned pair (120, 120) is never added
  EXPECT_TRUE(fits({127}, 1, 1, 1));              // a lone code has no partner
  // [k = 2, inner = 2]: pairs run along k, not along inner
  EXPECT_TRUE(fits({127, 127, 1, 1}, 1, 2, 2));
  EXPECT_FALSE(fits({127, 1, 2, 1}, 1, 2, 2));
  // [outer = 2, k = 2]: each row on its own
  EXPECT_FALSE(fits({64, 64, 64, 65}, 2, 2, 1));
}

// Convolutions at the limit: plain 3x3, 1x1 (oneDNN's 1x1 kernel), odd input channels (the
// first layer), strides / pads, a grouped convolution and a depthwise one, with a zero point;
// uint8 and int8 sources.
TEST(QdqPairs, ConvolutionAtThePairLimitEqualsTheReference) {
  struct Case {
    int64_t cin, cout, k, group, stride, pad;
    int32_t x_zp;
  };
  const Case cases[] = {{16, 32, 3, 1, 1, 1, 0}, {64, 48, 1, 1, 1, 0, 3},   {3, 16, 3, 1, 2, 1, 0},
                        {13, 5, 3, 1, 2, 1, 7},  {32, 64, 3, 2, 1, 1, 0},   {24, 24, 3, 24, 1, 1, 128},
                        {130, 70, 1, 1, 1, 0, 0}};
  uint32_t seed = 1;
  for (const Case& t : cases) {
    const int64_t cin_g = t.cin / t.group;
    const Tensor w = weights_at_the_limit({t.cout, cin_g, t.k, t.k}, t.cout, cin_g, t.k * t.k, seed++);
    ASSERT_TRUE(qdq::pairs_fit_int16(w.data<int8_t>(), t.cout, cin_g, t.k * t.k));
    onnx::NodeProto n = test::make_node("QDQConv", 5, 1, "qtool");
    test::set_attr(n, "pads", std::vector<int64_t>{t.pad, t.pad, t.pad, t.pad});
    test::set_attr(n, "strides", std::vector<int64_t>{t.stride, t.stride});
    test::set_attr(n, "group", t.group);
    // unit scales and a float output: the outputs are the int32 accumulators themselves
    const Tensor ws = Tensor::from<float>({}, {1.f});
    // uint8 codes near 255, and int8 codes near 127 (run as uint8 x + 128 without VNNI), with the
    // zero point shifted alike
    for (DType act : {DType::kUInt8, DType::kInt8}) {
      const bool u8 = act == DType::kUInt8;
      const Tensor x = u8 ? codes_near_the_top({2, t.cin, 9, 11}, seed++)
                          : test::random_tensor_of(act, {2, t.cin, 9, 11}, seed++, 112, 127);
      Tensor zp(act, {});
      if (u8) zp.data<uint8_t>()[0] = static_cast<uint8_t>(t.x_zp);
      else zp.data<int8_t>()[0] = static_cast<int8_t>(t.x_zp - 128);
      const std::vector<Value> in = {x, Tensor::from<float>({}, {1.f}), zp, w, ws};
      const Tensor want = test::run_op(n, 1, in, true)[0].tensor();
      const Tensor got = test::run_op(n, 1, in, false)[0].tensor();
      EXPECT_EQ(got.to_floats(), want.to_floats())
          << dtype_name(act) << " cin " << t.cin << " k " << t.k << " group " << t.group;
    }
  }
}

// MatMul / Gemm at the limit, weights [K, N] and transposed [N, K], uint8 and int8 sources.
TEST(QdqPairs, MatMulAtThePairLimitEqualsTheReference) {
  const int64_t K = 77, N = 33;
  uint32_t seed = 50;
  for (bool tb : {false, true})
    for (DType act : {DType::kUInt8, DType::kInt8})
      for (int64_t rows : {1, 5, 64}) {
        const Tensor w = tb ? weights_at_the_limit({N, K}, N, K, 1, seed++) : weights_at_the_limit({K, N}, 1, K, N, seed++);
        const Tensor x = act == DType::kUInt8 ? codes_near_the_top({rows, K}, seed++)
                                              : test::random_tensor_of(DType::kInt8, {rows, K}, seed++, -128, 127);
        onnx::NodeProto n = test::make_node("QDQMatMul", 5, 1, "qtool");
        test::set_attr(n, "trans_b", int64_t{tb ? 1 : 0});
        Tensor zp(act, {});
        const std::vector<Value> in = {x, Tensor::from<float>({}, {1.f}), zp, w, Tensor::from<float>({}, {1.f})};
        const Tensor want = test::run_op(n, 1, in, true)[0].tensor();
        EXPECT_EQ(test::run_op(n, 1, in, false)[0].tensor().to_floats(), want.to_floats())
            << "trans_b " << tb << " rows " << rows << " " << dtype_name(act);
      }
}
