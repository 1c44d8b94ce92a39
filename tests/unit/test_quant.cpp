// SPDX-License-Identifier: Apache-2.0
// Quantization math, observers on distributions with known answers, BN folding and QDQ structure.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "calib/observer.h"
#include "quant/quantize_model.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

TEST(QParams, PerChannelWeightsRoundTrip) {
  Tensor w = test::random_tensor({7, 3, 3, 3}, 11, -2.f, 2.f);
  w.data<float>()[0] = 0;  // keep one exact zero
  ChannelQuant q = quantize_per_channel(w, 0);
  ASSERT_EQ(q.scales.size(), 7u);
  Tensor back = dequantize_per_channel(q);
  const int64_t per = 27;
  for (int64_t c = 0; c < 7; ++c) {
    float amax = 0;
    for (int64_t i = 0; i < per; ++i) amax = std::max(amax, std::fabs(w.data<float>()[c * per + i]));
    EXPECT_FLOAT_EQ(q.scales[c], amax / 127.f);
    for (int64_t i = 0; i < per; ++i) {
      const int8_t v = q.values.data<int8_t>()[c * per + i];
      EXPECT_GE(v, -127);
      EXPECT_LE(std::fabs(back.data<float>()[c * per + i] - w.data<float>()[c * per + i]), q.scales[c] / 2 + 1e-7);
    }
  }
  EXPECT_EQ(back.data<float>()[0], 0.f);
}

TEST(QParams, PerChannelAxisOne) {
  Tensor w = Tensor::from<float>({2, 2}, {1.f, -4.f, 0.5f, 2.f});  // columns are channels
  ChannelQuant q = quantize_per_channel(w, 1);
  EXPECT_FLOAT_EQ(q.scales[0], 1.f / 127);
  EXPECT_FLOAT_EQ(q.scales[1], 4.f / 127);
  EXPECT_EQ(q.values.data<int8_t>()[1], -127);
}

TEST(QParams, Uint8ActivationRangeIncludesZeroExactly) {
  QParams q = activation_qparams({-1.f, 3.f}, ActType::kUInt8);
  EXPECT_FLOAT_EQ(q.scale, 4.f / 255);
  EXPECT_EQ(q.zero_point, 64);
  QParams pos = activation_qparams({0.5f, 2.f}, ActType::kUInt8);  // widened to [0, 2]
  EXPECT_FLOAT_EQ(pos.scale, 2.f / 255);
  EXPECT_EQ(pos.zero_point, 0);
  QParams s = activation_qparams({-1.f, 3.f}, ActType::kInt8);
  EXPECT_FLOAT_EQ(s.scale, 3.f / 127);
  EXPECT_EQ(s.zero_point, 0);
}

// --target openvino's storage of a signed symmetric grid: uint8 codes, zero point 128, the same values
TEST(QParams, AsUint8KeepsEveryValue) {
  const QParams s = activation_qparams({-1.f, 3.f}, ActType::kSymmetric);
  ASSERT_FALSE(s.is_unsigned);
  const QParams u = as_uint8(s);
  EXPECT_TRUE(u.is_unsigned);
  EXPECT_EQ(u.zero_point, 128);
  EXPECT_FLOAT_EQ(u.scale, s.scale);
  for (int code = -128; code <= 127; ++code)  // int8 code c is uint8 code c + 128
    EXPECT_FLOAT_EQ((code - s.zero_point) * s.scale, (code + 128 - u.zero_point) * u.scale);
  const QParams pos = activation_qparams({0.f, 2.f}, ActType::kSymmetric);  // already uint8: unchanged
  EXPECT_EQ(as_uint8(pos).zero_point, 0);
  EXPECT_TRUE(as_uint8(pos).is_unsigned);
}

// int8-asymmetric is the uint8 grid in int8 codes: same scale, zero point - 128, and every code
// dequantizes to the value of the uint8 code 128 above it.
TEST(QParams, Int8AsymmetricIsTheUint8GridShifted) {
  for (Range r : {Range{-1.f, 3.f}, Range{0.f, 6.f}, Range{-5.f, -1.f}, Range{0.f, 0.f}}) {
    const QParams u = activation_qparams(r, ActType::kUInt8);
    const QParams s = activation_qparams(r, ActType::kInt8Asymmetric);
    ASSERT_FALSE(s.is_unsigned);
    EXPECT_EQ(s.zero_point, u.zero_point - 128);
    EXPECT_GE(s.zero_point, -128);
    EXPECT_LE(s.zero_point, 127);
    EXPECT_FLOAT_EQ(s.scale, u.scale);
    for (int code = -128; code <= 127; ++code)
      EXPECT_FLOAT_EQ((code - s.zero_point) * s.scale, (code + 128 - u.zero_point) * u.scale);
    EXPECT_EQ(as_uint8(s).zero_point, u.zero_point);
  }
  EXPECT_EQ(parse_act_type("int8-asymmetric"), ActType::kInt8Asymmetric);
  EXPECT_THROW(parse_act_type("int7"), InputError);
  EXPECT_TRUE(asymmetric_grid(ActType::kInt8Asymmetric));
  EXPECT_FALSE(asymmetric_grid(ActType::kInt8));
}

TEST(QParams, BiasScaleIsInputTimesWeightScale) {
  std::vector<float> bs;
  Tensor q = quantize_bias(Tensor::from<float>({2}, {1.f, -0.5f}), 0.1f, {0.01f, 0.02f}, &bs);
  EXPECT_FLOAT_EQ(bs[0], 0.001f);
  EXPECT_EQ(q.data<int32_t>()[0], 1000);
  EXPECT_EQ(q.data<int32_t>()[1], -250);
}

namespace {
std::vector<float> gaussian_with_outliers(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  v[0] = 40.f;  // a single far outlier
  return v;
}
}  // namespace

TEST(Observers, MinMaxIsExact) {
  auto obs = make_observer("minmax");
  std::vector<float> a{-3.f, 1.f}, b{0.f, 7.5f};
  obs->observe(a.data(), 2);
  obs->observe(b.data(), 2);
  EXPECT_EQ(obs->range().min, -3.f);
  EXPECT_EQ(obs->range().max, 7.5f);
}

TEST(Observers, PercentileOfUniform) {
  ObserverOptions o;
  o.percentile = 99.0;
  auto obs = make_observer("percentile", o);
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) / v.size();  // uniform [0, 1)
  // streamed in chunks, with the range growing as it goes
  for (size_t i = 0; i < v.size(); i += 1000) obs->observe(v.data() + i, 1000);
  EXPECT_NEAR(obs->range().max, 0.99, 0.002);
  EXPECT_EQ(obs->range().min, 0.f);  // non-negative: low end stays at the minimum
}

TEST(Observers, EntropyAndMseClipOutliers) {
  auto v = gaussian_with_outliers(200000, 5);
  for (const char* name : {"entropy", "mse"}) {
    ObserverOptions o;
    o.unsigned_levels = false;
    auto obs = make_observer(name, o);
    obs->observe(v.data(), static_cast<int64_t>(v.size()));
    Range r = obs->range();
    EXPECT_LT(r.max, 20.f) << name;   // the outlier at 40 is clipped
    EXPECT_GT(r.max, 2.5f) << name;   // but the Gaussian body is kept
    EXPECT_NEAR(r.min, -r.max, 1e-4) << name;  // symmetric for signed data
  }
}

TEST(Observers, UnknownNameIsInputError) { EXPECT_THROW(make_observer("kl-magic"), InputError); }

TEST(Histogram, GrowthKeepsMassAndBounds) {
  Histogram h(64);
  std::vector<float> a{0.1f, -0.2f}, b{100.f}, c{-1000.f};
  h.add(a.data(), 2);
  h.add(b.data(), 1);
  h.add(c.data(), 1);
  double sum = 0;
  for (double x : h.counts()) sum += x;
  EXPECT_EQ(sum, 4.0);
  EXPECT_GE(h.range(), 1000.0);
  EXPECT_EQ(h.min(), -1000.f);
}

namespace {
const char* kConvBnModel = R"(<ir_version: 7, opset_import: ["" : 13]>
  g (float[2,3,9,9] x) => (float[2,4,9,9] y) {
    c = Conv<pads = [1,1,1,1]>(x, w, b)
    n = BatchNormalization<epsilon = 0.001>(c, gamma, beta, mean, var)
    y = Relu(n)
  })";

Model conv_bn_model() {
  Model m = test::parse_model(kConvBnModel);
  m.set_initializer("w", test::random_tensor({4, 3, 3, 3}, 21));
  m.set_initializer("b", test::random_tensor({4}, 22));
  m.set_initializer("gamma", test::random_tensor({4}, 23, 0.5f, 2.f));
  m.set_initializer("beta", test::random_tensor({4}, 24));
  m.set_initializer("mean", test::random_tensor({4}, 25));
  m.set_initializer("var", test::random_tensor({4}, 26, 0.1f, 3.f));
  return m;
}
}  // namespace

TEST(FoldBatchnorm, SameOutputsFewerNodes) {
  Model m = conv_bn_model();
  Tensor x = test::random_tensor({2, 3, 9, 9}, 27);
  Tensor before = Executor(m).run({{"x", x}}).at("y");
  PassContext ctx;
  run_pass("fold_batchnorm", m, ctx);
  EXPECT_EQ(ctx.stats.batchnorms_folded, 1);
  ASSERT_EQ(m.graph().node_size(), 2);
  EXPECT_EQ(m.graph().node(0).op_type(), "Conv");
  Tensor after = Executor(m).run({{"x", x}}).at("y");
  for (int64_t i = 0; i < before.numel(); ++i)
    ASSERT_NEAR(after.data<float>()[i], before.data<float>()[i], 1e-4 * (1 + std::fabs(before.data<float>()[i])));
}

TEST(InsertQdq, StructureAndAccuracy) {
  Model m = conv_bn_model();
  PassContext ctx;
  Model prepared = prepare_for_quantization(m, ctx);
  CalibrationTable table;
  table.ranges["x"] = {-1.f, 1.f};
  ctx.table = &table;
  Model q = quantize_prepared(prepared, ctx);
  std::map<std::string, int> ops;
  for (const auto& n : q.graph().node()) ops[n.op_type()]++;
  EXPECT_EQ(ops["QuantizeLinear"], 1);
  EXPECT_EQ(ops["DequantizeLinear"], 3);  // activation, weight, bias
  EXPECT_EQ(ops["BatchNormalization"], 0);
  int int8_inits = 0, int32_inits = 0;
  for (const auto& t : q.graph().initializer()) {
    if (t.data_type() == onnx::TensorProto::FLOAT)  // only scales stay float
      EXPECT_NE(t.name().find("_scale"), std::string::npos) << t.name() << " is still float";
    int8_inits += t.data_type() == onnx::TensorProto::INT8;
    int32_inits += t.data_type() == onnx::TensorProto::INT32;
  }
  EXPECT_GE(int8_inits, 1);
  EXPECT_GE(int32_inits, 1);
  for (const auto& n : q.graph().node())
    if (n.op_type() == "DequantizeLinear" && n.input(0) != "x_quantized") {
      ASSERT_EQ(n.attribute_size(), 1);
      EXPECT_EQ(n.attribute(0).name(), "axis");
      EXPECT_EQ(n.attribute(0).i(), 0);
    }
  // int8 model stays close to the float one on inputs inside the calibrated range.
  Tensor x = test::random_tensor({2, 3, 9, 9}, 28);
  Tensor ref = Executor(m).run({{"x", x}}).at("y"), out = Executor(q).run({{"x", x}}).at("y");
  EXPECT_GT(sqnr_db(ref.data<float>(), out.data<float>(), ref.numel()), 30.0);
}

TEST(InsertQdq, ExcludeKeepsNodeFloat) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,4] x) => (float[1,2] y) { y = Gemm<transB = 1>(x, w, b) })");
  m.graph().mutable_node(0)->set_name("fc");
  m.set_initializer("w", test::random_tensor({2, 4}, 31));
  m.set_initializer("b", test::random_tensor({2}, 32));
  PassContext ctx;
  ctx.options.exclude = {"fc"};
  Model q = quantize_prepared(prepare_for_quantization(m, ctx), ctx);
  EXPECT_EQ(q.graph().node_size(), 1);
  ASSERT_EQ(ctx.stats.kept_float.size(), 1u);
}

TEST(InsertQdq, WithoutTableQuantizesWeightsOnly) {
  Model m = conv_bn_model();
  PassContext ctx;
  Model q = quantize_prepared(prepare_for_quantization(m, ctx), ctx);
  int quant = 0;
  for (const auto& n : q.graph().node()) quant += n.op_type() == "QuantizeLinear";
  EXPECT_EQ(quant, 0);
  EXPECT_EQ(ctx.stats.weights_quantized, 1);
  EXPECT_EQ(ctx.stats.biases_quantized, 0);  // needs an input scale
}

TEST(InsertQdq, ResidualAddFeedingALayerGetsBothInputsQuantized) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,4] x) => (float[1,4] y, float[1,4] z) {
      h = Gemm<transB = 1>(x, w, b)
      r = Add(h, x)
      y = Gemm<transB = 1>(r, w2, b2)
      z = Add(r, c)
    })");
  m.set_initializer("w", test::random_tensor({4, 4}, 33));
  m.set_initializer("b", test::random_tensor({4}, 34));
  m.set_initializer("w2", test::random_tensor({4, 4}, 36));
  m.set_initializer("b2", test::random_tensor({4}, 37));
  m.set_initializer("c", test::random_tensor({4}, 35));
  PassContext ctx;
  Model prepared = prepare_for_quantization(m, ctx);
  const auto acts = qdq_activation_tensors(prepared, ctx.options);
  // r feeds a layer, so the Add runs as QLinearAdd: both its inputs are quantized
  EXPECT_EQ(acts, (std::vector<std::string>{"x", "h", "r"}));
  CalibrationTable table;
  table.ranges["x"] = {-1.f, 1.f};
  table.ranges["h"] = {-3.f, 3.f};
  table.ranges["r"] = {-4.f, 4.f};
  ctx.table = &table;
  Model q = quantize_prepared(prepared, ctx);
  for (const auto& n : q.graph().node()) {
    if (n.op_type() != "Add") continue;
    if (n.output(0) == "r") {
      EXPECT_EQ(n.input(0), "h_dequantized");
      EXPECT_EQ(n.input(1), "x_dequantized");
    } else {
      EXPECT_EQ(n.input(0), "r_dequantized");  // every reader of r reads its one Q/DQ pair
      EXPECT_EQ(n.input(1), "c");              // the constant stays float
    }
  }
  EXPECT_EQ(ctx.stats.nodes_quantized, 2);
  EXPECT_TRUE(ctx.stats.kept_float.empty());
  // --op-types without Add: only the layers' inputs
  PassContext gemm_only;
  gemm_only.options.op_types = {"Gemm"};
  EXPECT_EQ(qdq_activation_tensors(prepared, gemm_only.options), (std::vector<std::string>{"x", "r"}));
  // an Add whose result only reaches float ops or graph outputs is not quantized
  Model m2 = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,4] x) => (float[1,4] y) {
      h = Gemm<transB = 1>(x, w, b)
      y = Add(h, x)
    })");
  m2.set_initializer("w", test::random_tensor({4, 4}, 33));
  m2.set_initializer("b", test::random_tensor({4}, 34));
  EXPECT_EQ(qdq_activation_tensors(prepare_for_quantization(m2, ctx), ctx.options), (std::vector<std::string>{"x"}));
}
