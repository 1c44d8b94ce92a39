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
  // OpenVINO: the SiLU stays float (its Sigmoid / Mul have no int8 kernels there and quantizing them
  // made EfficientNet-B0 slower than f32); only the layers' inputs are quantized
  o.exclude.clear();
  o.target = QdqTarget::kOpenVino;
  EXPECT_EQ(place_qdq(m, o).tensors, (std::vector<std::string>{"x", "m"}));
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

TEST(QuantizeConstants, PriorsAndEmbeddingsBecomeInt8OutliersStayFloat) {
  // priors [1,1024,4] read by Mul (per tensor uint8), an embedding table [256,8] read by Gather (int8 per
  // row), a constant with one outlier (int8 would zero the rest: kept float), a small one (< 1024: left)
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,1024,4] x, int64[3] ids) => (float[1,1024,4] y, float[3,8] e, float[1,1024] z, float[4] s) {
      y = Mul(x, priors)
      e = Gather(table, ids)
      z = Add(x0, spiky)
      s = Add(small, small)
    })");
  m.graph().mutable_input()->Add()->CopyFrom(m.graph().input(0));
  m.graph().mutable_input(2)->set_name("x0");
  m.graph().mutable_input(2)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()->RemoveLast();
  m.set_initializer("priors", test::random_tensor({1, 1024, 4}, 50, 0.f, 1.f));
  m.set_initializer("table", test::random_tensor({256, 8}, 51));
  Tensor spiky = test::random_tensor({1, 1024}, 52);
  spiky.data<float>()[7] = 1000.f;
  m.set_initializer("spiky", spiky);
  m.set_initializer("small", test::random_tensor({4}, 53));
  const Tensor x = test::random_tensor({1, 1024, 4}, 54), x0 = test::random_tensor({1, 1024}, 55);
  const Tensor ids = Tensor::from<int64_t>({3}, {0, 17, 255});
  const std::map<std::string, Tensor> feeds = {{"x", x}, {"ids", ids}, {"x0", x0}};
  const auto before = Executor(m).run(feeds);
  PassContext ctx;
  run_pass("quantize_constants", m, ctx);
  EXPECT_EQ(ctx.stats.constants_quantized, 2);
  ASSERT_EQ(ctx.stats.kept_float.size(), 1u);
  EXPECT_NE(ctx.stats.kept_float[0].find("spiky"), std::string::npos);
  EXPECT_EQ(m.initializer("priors_quantized").dtype(), DType::kUInt8);
  EXPECT_EQ(m.initializer("table_quantized").dtype(), DType::kInt8);
  EXPECT_EQ(m.initializer("table_scale").numel(), 256);
  EXPECT_EQ(m.find_initializer("priors"), nullptr);
  EXPECT_NE(m.find_initializer("spiky"), nullptr);
  EXPECT_NE(m.find_initializer("small"), nullptr);
  const auto after = Executor(m).run(feeds);
  for (const char* out : {"y", "e"}) {
    const Tensor &a = before.at(out), &b = after.at(out);
    EXPECT_GT(sqnr_db(a.data<float>(), b.data<float>(), a.numel()), 40.0) << out;
  }
  expect_close(after.at("z"), before.at("z"));

  // --keep-float-constants
  Model m2 = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,1024,4] x) => (float[1,1024,4] y) { y = Mul(x, priors) })");
  m2.set_initializer("priors", test::random_tensor({1, 1024, 4}, 50, 0.f, 1.f));
  PassContext ctx2;
  ctx2.options.quantize_constants = false;
  run_pass("quantize_constants", m2, ctx2);
  EXPECT_EQ(ctx2.stats.constants_quantized, 0);
  EXPECT_EQ(m2.graph().node_size(), 1);
}
