// SPDX-License-Identifier: Apache-2.0
// fold_bias_add (same outputs, fewer nodes) and qdq_placement (which tensors get Q/DQ for each
// target runtime, which share a scale).
#include <gtest/gtest.h>

#include <cmath>

#include "calib/calibrate.h"
#include "quant/qdq_placement.h"
#include "quant/quantize_model.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

void expect_close(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-4 * (1 + std::fabs(b.data<float>()[i]))) << i;
}

std::map<std::string, int> op_counts(const Model& m) {
  std::map<std::string, int> ops;
  for (const auto& n : m.graph().node()) ops[n.op_type()]++;
  return ops;
}

}  // namespace

TEST(FoldBiasAdd, ConvBiasAddAndMatMulScaleBiasBecomeOneLayer) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,3,6,6] x) => (float[2,5] y) {
      c = Conv(x, w)
      a = Add(c, cb)
      r = Relu(a)
      f = Flatten(r)
      mm = MatMul(f, fw)
      s = Mul(sc, mm)
      y = Add(s, fb)
    })");
  m.set_initializer("w", test::random_tensor({4, 3, 3, 3}, 1));
  m.set_initializer("cb", test::random_tensor({4, 1, 1}, 2));
  m.set_initializer("fw", test::random_tensor({64, 5}, 3));
  m.set_initializer("sc", test::random_tensor({5}, 4, 0.5f, 2.f));
  m.set_initializer("fb", test::random_tensor({1, 5}, 5));
  const Tensor x = test::random_tensor({2, 3, 6, 6}, 6);
  const Tensor before = Executor(m).run({{"x", x}}).at("y");
  PassContext ctx;
  run_pass("fold_bias_add", m, ctx);
  EXPECT_EQ(ctx.stats.bias_adds_folded, 3);
  auto ops = op_counts(m);
  EXPECT_EQ(ops["Add"], 0);
  EXPECT_EQ(ops["Mul"], 0);
  EXPECT_EQ(ops["MatMul"], 0);
  EXPECT_EQ(ops["Gemm"], 1);
  EXPECT_EQ(m.graph().node(0).input_size(), 3);  // the Conv took the bias
  expect_close(Executor(m).run({{"x", x}}).at("y"), before);
}

TEST(FoldBiasAdd, LeavesWhatItCannotFold) {
  // rank-3 MatMul input (no Gemm), a bias that would broadcast along another axis, a shared output
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,7,8] x, float[1,3,5,5] i) => (float[2,7,6] y, float[1,3,5,5] z, float[1,3,5,5] c) {
      mm = MatMul(x, w)
      y = Add(mm, b)
      c = Conv<pads = [1,1,1,1]>(i, cw)
      z = Add(c, cb)
    })");
  m.set_initializer("w", test::random_tensor({8, 6}, 7));
  m.set_initializer("b", test::random_tensor({6}, 8));
  m.set_initializer("cw", test::random_tensor({3, 3, 3, 3}, 9));
  m.set_initializer("cb", test::random_tensor({5}, 10));  // along the width: not a per-channel bias
  PassContext ctx;
  run_pass("fold_bias_add", m, ctx);
  EXPECT_EQ(ctx.stats.bias_adds_folded, 0);
  EXPECT_EQ(m.graph().node_size(), 4);
}

namespace {
// x -> Conv -> Relu -> MaxPool -> Reshape -> Conv -> Transpose -> y
const char* kChain = R"(<ir_version: 7, opset_import: ["" : 13]>
  g (float[1,3,8,8] x) => (float[1,4,4,4] y) {
    c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
    r1 = Relu(c1)
    p1 = MaxPool<kernel_shape = [2,2], strides = [2,2]>(r1)
    s1 = Reshape(p1, shape)
    c2 = Conv<pads = [1,1,1,1]>(s1, w2, b2)
    y = Transpose<perm = [0,1,3,2]>(c2)
  })";

Model chain() {
  Model m = test::parse_model(kChain);
  m.set_initializer("w1", test::random_tensor({4, 3, 3, 3}, 11));
  m.set_initializer("b1", test::random_tensor({4}, 12));
  m.set_initializer("w2", test::random_tensor({4, 4, 3, 3}, 13));
  m.set_initializer("b2", test::random_tensor({4}, 14));
  m.set_initializer("shape", Tensor::from<int64_t>({4}, {1, 4, 4, 4}));
  return m;
}
}  // namespace

TEST(QdqPlacement, OnnxRuntimeQuantizesLayerOutputsAndSharesScalesThroughMovement) {
  Model m = chain();
  QuantOptions o;
  const QdqPlacement p = place_qdq(m, o);
  // c1's output after its Relu (QLinearConv + fused Relu), MaxPool and Reshape on uint8 with the
  // same scale, c2's output (QLinearConv); y is a graph output and stays float
  EXPECT_EQ(p.tensors, (std::vector<std::string>{"x", "r1", "p1", "s1", "c2"}));
  EXPECT_EQ(p.share.at("r1"), p.share.at("p1"));
  EXPECT_EQ(p.share.at("p1"), p.share.at("s1"));
  EXPECT_NE(p.share.at("x"), p.share.at("r1"));
  EXPECT_NE(p.share.at("c2"), p.share.at("s1"));
}

TEST(QdqPlacement, OpenVinoQuantizesLayerInputsOnly) {
  Model m = chain();
  QuantOptions o;
  o.target = QdqTarget::kOpenVino;
  const QdqPlacement p = place_qdq(m, o);
  EXPECT_EQ(p.tensors, (std::vector<std::string>{"x", "r1", "p1", "s1"}));
  EXPECT_EQ(p.share.at("r1"), p.share.at("s1"));
}

TEST(QdqPlacement, SharedGroupsGetOneScaleAndOutputsStayClose) {
  Model m = chain();
  PassContext ctx;
  Model prepared = prepare_for_quantization(m, ctx);
  const Tensor calib = test::random_tensor({8, 3, 8, 8}, 20);
  auto data = memory_dataset({{"x", calib}}, Executor(prepared).inputs(), "calib");
  CalibrateOptions copts;
  copts.method = "minmax";
  CalibrationTable table = calibrate(prepared, *data, qdq_activation_tensors(prepared, ctx.options), copts);
  ASSERT_EQ(table.ranges.size(), 5u);
  EXPECT_LE(table.ranges["p1"].max, table.ranges["r1"].max);  // MaxPool keeps a subset of r1's values
  ctx.table = &table;
  Model q = quantize_prepared(prepared, ctx);
  std::map<std::string, std::string> scale_of;  // Q output -> scale initializer
  for (const auto& n : q.graph().node())
    if (n.op_type() == "QuantizeLinear") scale_of[n.input(0)] = n.input(1);
  ASSERT_EQ(scale_of.size(), 5u);
  EXPECT_EQ(scale_of["r1"], scale_of["p1"]);
  EXPECT_EQ(scale_of["p1"], scale_of["s1"]);
  const Tensor s = q.initializer(scale_of["s1"]);
  EXPECT_FLOAT_EQ(s.data<float>()[0], table.ranges["r1"].max / 255.f);  // the union of the group's ranges
  // the Relu reads the Conv directly, MaxPool reads r1's DequantizeLinear
  for (const auto& n : q.graph().node()) {
    if (n.op_type() == "Relu") EXPECT_EQ(n.input(0), "c1");
    if (n.op_type() == "MaxPool") EXPECT_EQ(n.input(0), "r1_dequantized");
  }
  const Tensor x = test::random_tensor({1, 3, 8, 8}, 15);  // inside the calibrated distribution
  const Tensor ref = Executor(m).run({{"x", x}}).at("y"), out = Executor(q).run({{"x", x}}).at("y");
  EXPECT_GT(sqnr_db(ref.data<float>(), out.data<float>(), ref.numel()), 25.0);
}

TEST(QdqPlacement, IntegerOpsOnDemandAndExcludeKeepsFloat) {
  // SiLU block: Conv -> Sigmoid, Mul(conv, sigmoid) -> Conv: Sigmoid and Mul run as QLinear ops
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,3,8,8] x) => (float[1,4,8,8] y) {
      c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
      s = Sigmoid(c1)
      m = Mul(c1, s)
      y = Conv<pads = [1,1,1,1]>(m, w2, b2)
    })");
  m.set_initializer("w1", test::random_tensor({4, 3, 3, 3}, 16));
  m.set_initializer("b1", test::random_tensor({4}, 17));
  m.set_initializer("w2", test::random_tensor({4, 4, 3, 3}, 18));
  m.set_initializer("b2", test::random_tensor({4}, 19));
  QuantOptions o;
  // y: a Conv writing a graph output is quantized too (QLinearConv needs the quantizer)
  EXPECT_EQ(place_qdq(m, o).tensors, (std::vector<std::string>{"x", "c1", "s", "m", "y"}));
  o.op_types.erase("Mul");
  EXPECT_EQ(place_qdq(m, o).tensors, (std::vector<std::string>{"x", "c1", "m", "y"}));
  o.op_types = default_op_types();
  m.graph().mutable_node(3)->set_name("last");
  o.exclude = {"last"};
  EXPECT_EQ(place_qdq(m, o).tensors, (std::vector<std::string>{"x", "c1"}));
}

TEST(InsertQdq, TinyInputScaleKeepsTheBias) {
  // Activations of ~1e-9 (as deep inside randomly initialised networks) and a bias of ~0.05: with
  // bias scale = input scale x weight scale the int32 bias would saturate at ~1e-6 and the output
  // (which is all bias) would vanish; the weight scales are raised instead.
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,8,4,4] x) => (float[1,3,4,4] y) {
      y = Conv(x, w, b)
    })");
  m.set_initializer("w", test::random_tensor({3, 8, 1, 1}, 40, -0.3f, 0.3f));
  m.set_initializer("b", Tensor::from<float>({3}, {0.05f, -0.04f, 0.f}));
  PassContext ctx;
  Model prepared = prepare_for_quantization(m, ctx);
  CalibrationTable table;
  table.ranges["x"] = {0.f, 1e-9f};
  ctx.table = &table;
  Model q = quantize_prepared(prepared, ctx);
  EXPECT_EQ(ctx.stats.bias_limited_channels, 2);  // the zero bias needs nothing
  Tensor x = test::random_tensor({1, 8, 4, 4}, 41, 0.f, 1e-9f);
  const Tensor ref = Executor(m).run({{"x", x}}).at("y"), out = Executor(q).run({{"x", x}}).at("y");
  EXPECT_GT(sqnr_db(ref.data<float>(), out.data<float>(), ref.numel()), 40.0);
  const Tensor qb = q.initializer("y_bias_quantized");
  for (int64_t c = 0; c < qb.numel(); ++c) EXPECT_LE(std::abs(qb.data<int32_t>()[c]), 1 << 30);
}
