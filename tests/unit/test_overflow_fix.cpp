// SPDX-License-Identifier: Apache-2.0
// The overflow fix (quant/overflow_fix.h): int8 weight channels whose adjacent pairs could saturate
// vpmaddubsw's int16 sums against uint8 codes get a larger scale; every pair then sums to <= 128
// codes in each K order a runtime may pack a convolution in.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "calib/calibrate.h"
#include "quant/overflow_fix.h"
#include "quant/quantize_model.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

TEST(OverflowFix, MinScalesReadBothKOrders) {
  // w[r, i, 0, p]: rows 2, input channels 2, positions 2
  const Tensor w = Tensor::from<float>({2, 2, 1, 2}, {1.f, 0.f, 1.f, 0.f,  // channel major (1,0)(1,0); position major (1,1)
                                                      0.5f, 0.5f, 0.f, 0.f});  // channel major (.5,.5); position major (.5,0)
  const auto s = pair_safe_min_scales(w, WeightLayout::of(w.shape(), 0));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FLOAT_EQ(s[0], 2.f / 127);
  EXPECT_FLOAT_EQ(s[1], 1.f / 127);
  // 3 input channels, 2 positions: (w[0,1], w[1,1]) is a pair only in the blocked order (channel
  // pairs of each position); in the flat orders those two weights fall into different pairs
  const Tensor b = Tensor::from<float>({1, 3, 1, 2}, {0.f, 1.f, 0.f, 1.f, 0.f, 0.f});
  EXPECT_FLOAT_EQ(pair_safe_min_scales(b, WeightLayout::of(b.shape(), 0))[0], 2.f / 127);
  // MatMul weights [K, N] (output axis 1): pairs run along K; an odd K ends with a single weight
  const Tensor m = Tensor::from<float>({3, 2}, {0.3f, 0.f, -0.4f, 0.f, 2.f, 0.1f});
  const auto sm = pair_safe_min_scales(m, WeightLayout::of(m.shape(), 1));
  EXPECT_FLOAT_EQ(sm[0], 2.f / 127);
  EXPECT_FLOAT_EQ(sm[1], 0.1f / 127);
}

namespace {
// Largest |c_a| + |c_b| over adjacent pairs of the int8 codes of a [M, C, kh, kw] weight, every K order.
int widest_code_pair(const Tensor& q) {
  const int64_t m = q.dim(0), c = q.dim(1), pos = q.dim(2) * q.dim(3);
  const int8_t* v = q.data<int8_t>();
  int widest = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int order = 0; order < 2; ++order) {
      std::vector<int> seq;
      for (int64_t a = 0; a < (order ? pos : c); ++a)
        for (int64_t b = 0; b < (order ? c : pos); ++b) {
          const int64_t i = order ? b : a, p = order ? a : b;
          seq.push_back(std::abs(v[(r * c + i) * pos + p]));
        }
      for (size_t k = 0; k + 1 < seq.size(); k += 2) widest = std::max(widest, seq[k] + seq[k + 1]);
    }
  for (int64_t r = 0; r < m; ++r)  // channel pairs of each position (blocked layouts)
    for (int64_t p = 0; p < pos; ++p)
      for (int64_t i = 0; i + 1 < c; i += 2)
        widest = std::max(widest, std::abs(v[(r * c + i) * pos + p]) + std::abs(v[(r * c + i + 1) * pos + p]));
  return widest;
}

Model conv_model() {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[1,16,8,8] x) => (float[1,8,8,8] y) {
      y = Conv<pads = [1,1,1,1]>(x, w, b)
    })");
  m.set_initializer("w", test::random_tensor({8, 16, 3, 3}, 61, -1.f, 1.f));
  m.set_initializer("b", test::random_tensor({8}, 62, -0.1f, 0.1f));
  return m;
}

struct Quantized {
  Model model;
  PassStats stats;
  Tensor codes;
};

Quantized quantize(bool fix) {
  const Model m = conv_model();
  PassContext ctx;
  ctx.options.overflow_fix = fix;
  Model prepared = prepare_for_quantization(m, ctx);
  CalibrationTable table;
  table.ranges["x"] = {0.f, 4.f};
  ctx.table = &table;
  Quantized out{quantize_prepared(prepared, ctx), ctx.stats, Tensor()};
  for (const auto& init : out.model.graph().initializer()) {
    const Tensor t = out.model.initializer(init.name());
    if (t.dtype() == DType::kInt8 && t.shape() == Shape{8, 16, 3, 3}) out.codes = t;
  }
  return out;
}
}  // namespace

TEST(OverflowFix, NoWeightPairCanSaturateInt16) {
  const Quantized off = quantize(false), on = quantize(true);
  ASSERT_EQ(off.codes.numel(), 8 * 16 * 9);
  ASSERT_EQ(on.codes.numel(), 8 * 16 * 9);
  // Uniform weights in [-1, 1]: without the fix pairs of large codes exist, and 255 x their sum
  // exceeds int16 (what vpmaddubsw would compute from full-range uint8 activations).
  EXPECT_GT(255 * widest_code_pair(off.codes), 32767);
  EXPECT_EQ(off.stats.overflow_fixed_channels, 0);
  EXPECT_LE(255 * widest_code_pair(on.codes), 32767);
  EXPECT_LE(widest_code_pair(on.codes), 128);
  EXPECT_GT(on.stats.overflow_fixed_channels, 0);
  // The cost is at most the one bit of 7-bit weights (ORT's reduce_range): every channel's largest
  // code is >= 63, and the output error grows by less than 6 dB.
  for (int64_t r = 0; r < 8; ++r) {
    int largest = 0;
    for (int64_t k = 0; k < 16 * 9; ++k) largest = std::max(largest, std::abs(on.codes.data<int8_t>()[r * 144 + k]));
    EXPECT_GE(largest, 63) << "channel " << r;
  }
  const Tensor x = test::random_tensor({1, 16, 8, 8}, 63, 0.f, 4.f);
  const Model float_model = conv_model();
  const Tensor ref = Executor(float_model).run({{"x", x}}).at("y");
  auto sqnr = [&](const Model& q) {
    const Tensor y = Executor(q).run({{"x", x}}).at("y");
    return sqnr_db(ref.data<float>(), y.data<float>(), ref.numel());
  };
  const double with_fix = sqnr(on.model), without = sqnr(off.model);
  EXPECT_GT(with_fix, 30.0);
  EXPECT_GT(with_fix, without - 6.0) << without;
}
