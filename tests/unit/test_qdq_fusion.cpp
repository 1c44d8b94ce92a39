// SPDX-License-Identifier: Apache-2.0
// QDQ convolutions in the executor as integer convolutions (runtime/qdq_fusion.cpp,
// runtime/kernels/qdq_conv.cpp): the oneDNN kernel equals the reference bit for bit (ties rounded
// half to even before the zero point is added, as onnxruntime's QLinearConv), the rewrite wires
// the right tensors, and the result stays within one step of the float emulation of the QDQ graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernel_test_util.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

// DQ(xq) -> Conv(DQ(wq per channel), DQ(bq)) -> Relu -> Q; also the float Relu output. Weight
// codes within [-w_bound, w_bound] (64: every pair fits int16, oneDNN's integer kernel without
// VNNI too; 127: its float32 path there).
Model qdq_conv_model(DType act, int32_t x_zp, int32_t y_zp, float y_scale, int w_bound = 127) {
  const std::string t = act == DType::kUInt8 ? "uint8" : "int8";
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n g (" + t + "[2,13,7,9] xq) => (" + t +
                           "[2,5,4,5] y, float[2,5,4,5] r) {\n"
                           "  x = DequantizeLinear(xq, xs, xz)\n"
                           "  w = DequantizeLinear<axis = 0>(wq, ws)\n"
                           "  b = DequantizeLinear<axis = 0>(bq, bs)\n"
                           "  c = Conv<pads = [1,1,1,1], strides = [2,2]>(x, w, b)\n"
                           "  r = Relu(c)\n"
                           "  y = QuantizeLinear(r, ys, yz)\n}";
  Model m = test::parse_model(text.c_str());
  const float xs = 0.02f;
  Tensor ws = test::random_tensor({5}, 3, 0.002f, 0.01f);
  Tensor bs(DType::kFloat, {5});
  for (int o = 0; o < 5; ++o) bs.data<float>()[o] = xs * ws.data<float>()[o];
  m.set_initializer("xs", Tensor::from<float>({}, {xs}));
  m.set_initializer("xz", Tensor::from<double>({}, {static_cast<double>(x_zp)}).cast(act));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {5, 13, 3, 3}, 4, -w_bound, w_bound));
  m.set_initializer("ws", ws);
  m.set_initializer("bq", test::random_tensor_of(DType::kInt32, {5}, 5, -3000, 3000));
  m.set_initializer("bs", bs);
  m.set_initializer("ys", Tensor::from<float>({}, {y_scale}));
  m.set_initializer("yz", Tensor::from<double>({}, {static_cast<double>(y_zp)}).cast(act));
  return m;
}

Tensor input_of(DType act, uint32_t seed) {
  return act == DType::kUInt8 ? test::random_tensor_of(DType::kUInt8, {2, 13, 7, 9}, seed, 0, 255)
                              : test::random_tensor_of(DType::kInt8, {2, 13, 7, 9}, seed, -128, 127);
}

}  // namespace

// The fused executor (oneDNN int8, cached primitive on the second run) equals the QDQConv
// reference kernel exactly, and stays within one quantization step of the float QDQ emulation.
TEST(QdqFusion, IntegerConvEqualsReferenceAndEmulation) {
  for (int w_bound : {127, 64})
  for (DType act : {DType::kUInt8, DType::kInt8}) {
    SCOPED_TRACE(std::to_string(w_bound) + " " + dtype_name(act));
    const int32_t x_zp = act == DType::kUInt8 ? 7 : -3, y_zp = act == DType::kUInt8 ? 3 : -5;
    Model m = qdq_conv_model(act, x_zp, y_zp, 0.05f, w_bound);
    Tensor xq = input_of(act, 11);
    Executor fused(m);
    ExecutorOptions off;
    off.integer_qdq = false;
    Executor emulated(m, off);
    ExecutorOptions ref_opt;
    ref_opt.reference_only = true;
    Executor reference(m, ref_opt);
    // the QDQConv reference kernel on the same tensors
    onnx::NodeProto n = test::make_node("QDQConv", 8, 1, "qtool");
    test::set_attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
    test::set_attr(n, "strides", std::vector<int64_t>{2, 2});
    test::set_attr(n, "relu", int64_t{1});
    std::vector<Value> in = {xq, *fused.constant("xs"), *fused.constant("xz"), *fused.constant("wq"),
                             *fused.constant("ws"), *fused.constant("bq"), *fused.constant("ys"),
                             *fused.constant("yz")};
    const Tensor want = test::run_op(n, 1, in, true)[0].tensor();
    for (int rep = 0; rep < 2; ++rep) {
      auto got = fused.run({{"xq", xq}});
      ASSERT_EQ(got.at("y").dtype(), act);
      EXPECT_EQ(got.at("y").to_int64s(), want.to_int64s()) << "run " << rep;
    }
    // the one-off fast kernel (no cache) equals its reference too
    const Tensor fast = test::run_op(n, 1, in, false)[0].tensor();
    EXPECT_EQ(fast.to_int64s(), want.to_int64s());
    const auto e = emulated.run({{"xq", xq}}).at("y").to_int64s();
    const auto r = reference.run({{"xq", xq}}).at("y").to_int64s();
    const auto w = want.to_int64s();
    int64_t differ = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      ASSERT_LE(std::llabs(e[i] - w[i]), 1) << i;
      ASSERT_LE(std::llabs(r[i] - w[i]), 1) << i;
      differ += e[i] != w[i];
    }
    EXPECT_LT(differ, static_cast<int64_t>(w.size()) / 20);  // float rounding moves only a few
    // the float output (Relu is a graph output, so Conv -> Relu fuses with a float result)
    test::expect_tensors_near(fused.run({{"xq", xq}}).at("r"), emulated.run({{"xq", xq}}).at("r"), 1e-5, 1e-5);
  }
}

// The integer convolution keeps its primitive and memory objects between runs (rebound to each
// run's buffers): every run with new codes equals the QDQConv reference on those codes. Earlier
// runs' inputs stay alive so no run can reuse an address.
TEST(QdqFusion, EveryRunSeesItsOwnCodes) {
  Model m = qdq_conv_model(DType::kUInt8, 7, 3, 0.05f);
  Executor fused(m);
  ExecutorOptions ref_opt;
  ref_opt.reference_only = true;
  Executor reference(m, ref_opt);
  std::vector<Tensor> inputs;
  for (uint32_t seed = 20; seed < 24; ++seed) {
    const Tensor& xq = inputs.emplace_back(input_of(DType::kUInt8, seed));
    EXPECT_EQ(fused.run({{"xq", xq}}).at("y").to_int64s(), reference.run({{"xq", xq}}).at("y").to_int64s())
        << "seed " << seed;
  }
}

// y = round_half_even(acc * x_scale * w_scale / y_scale) + y_zero_point with the zero point added
// after rounding (onnxruntime's MLAS): acc / 2 with an odd zero point. Adding it before rounding
// (oneDNN's own destination zero point) would give 2, 4, 4, 6, ... on the ties.
TEST(QdqFusion, TiesRoundHalfToEvenBeforeZeroPoint) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[1,1,1,10] xq) => (uint8[1,1,1,10] y) {
      x = DequantizeLinear(xq, xs, xz)
      w = DequantizeLinear<axis = 0>(wq, ws)
      c = Conv(x, w)
      y = QuantizeLinear(c, ys, yz)
    })");
  m.set_initializer("xs", Tensor::from<float>({}, {1.f}));
  m.set_initializer("xz", Tensor::from<double>({}, {0.0}).cast(DType::kUInt8));
  m.set_initializer("wq", Tensor::from<double>({1, 1, 1, 1}, {1.0}).cast(DType::kInt8));
  m.set_initializer("ws", Tensor::from<float>({1}, {1.f}));
  m.set_initializer("ys", Tensor::from<float>({}, {2.f}));
  m.set_initializer("yz", Tensor::from<double>({}, {1.0}).cast(DType::kUInt8));
  Tensor xq = Tensor::from<double>({1, 1, 1, 10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}).cast(DType::kUInt8);
  Executor ex(m);
  for (int rep = 0; rep < 2; ++rep)
    EXPECT_EQ(ex.run({{"xq", xq}}).at("y").to_int64s(), (std::vector<int64_t>{1, 1, 2, 3, 3, 3, 4, 5, 5, 5}));
}

// What the rewrite leaves alone: a weight zero point other than 0 runs the float emulation
// (same result as with the rewrite switched off).
TEST(QdqFusion, NonzeroWeightZeroPointIsNotRewritten) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[1,3,5,5] xq) => (uint8[1,2,5,5] y) {
      x = DequantizeLinear(xq, xs, xz)
      w = DequantizeLinear(wq, ws, wz)
      c = Conv<pads = [1,1,1,1]>(x, w)
      y = QuantizeLinear(c, ys, yz)
    })");
  m.set_initializer("xs", Tensor::from<float>({}, {0.1f}));
  m.set_initializer("xz", Tensor::from<double>({}, {5.0}).cast(DType::kUInt8));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {2, 3, 3, 3}, 2, -100, 100));
  m.set_initializer("ws", Tensor::from<float>({}, {0.01f}));
  m.set_initializer("wz", Tensor::from<double>({}, {3.0}).cast(DType::kInt8));
  m.set_initializer("ys", Tensor::from<float>({}, {0.037f}));
  m.set_initializer("yz", Tensor::from<double>({}, {128.0}).cast(DType::kUInt8));
  Tensor xq = test::random_tensor_of(DType::kUInt8, {1, 3, 5, 5}, 9, 0, 255);
  ExecutorOptions off;
  off.integer_qdq = false;
  EXPECT_EQ(Executor(m).run({{"xq", xq}}).at("y").to_int64s(), Executor(m, off).run({{"xq", xq}}).at("y").to_int64s());
}

// A float-output QDQ convolution feeding a residual Add -> Relu takes both along (sum post-op);
// the result equals the float emulation to float rounding, on both runs (cached primitive).
TEST(QdqFusion, ResidualAddReluRunsInside) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[2,6,8,8] xq, float[2,4,8,8] z) => (float[2,4,8,8] y) {
      x = DequantizeLinear(xq, xs, xz)
      w = DequantizeLinear<axis = 0>(wq, ws)
      c = Conv<pads = [1,1,1,1]>(x, w)
      s = Add(z, c)
      y = Relu(s)
    })");
  m.set_initializer("xs", Tensor::from<float>({}, {0.05f}));
  m.set_initializer("xz", Tensor::from<double>({}, {100.0}).cast(DType::kUInt8));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {4, 6, 3, 3}, 21, -127, 127));
  m.set_initializer("ws", test::random_tensor({4}, 22, 0.001f, 0.01f));
  Tensor xq = test::random_tensor_of(DType::kUInt8, {2, 6, 8, 8}, 23, 0, 255);
  Tensor z = test::random_tensor({2, 4, 8, 8}, 24, -3.f, 3.f);
  ExecutorOptions off;
  off.integer_qdq = false;
  const Tensor want = Executor(m, off).run({{"xq", xq}, {"z", z}}).at("y");
  Executor fused(m);
  for (int rep = 0; rep < 2; ++rep) test::expect_tensors_near(fused.run({{"xq", xq}, {"z", z}}).at("y"), want, 1e-5, 1e-5);
  // with the rewrite, negative sums are clipped by the fused Relu (the test would see them otherwise)
  bool any_zero = false;
  for (float v : want.to_floats()) any_zero |= v == 0.f;
  EXPECT_TRUE(any_zero);
  // a summand computed in the run (a float convolution's blocked output, reordered into the int8
  // kernel's output layout) gives the same; the graph input z is left as it was. Weights whose
  // adjacent pairs fit int16 sums take oneDNN's int8 kernel, which adds the summand as a post-op.
  const Tensor z_before = z.clone();
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {4, 6, 3, 3}, 21, -60, 60));
  for (auto& n : *m.graph().mutable_node())
    if (n.op_type() == "Add") n.set_input(0, "zc");
  auto* mix = m.graph().add_node();  // a float convolution: the summand arrives in its blocked layout
  mix->set_op_type("Conv");
  mix->add_input("z");
  mix->add_input("wz");
  mix->add_output("zc");
  m.set_initializer("wz", test::random_tensor({4, 4, 1, 1}, 25, -1.f, 1.f));
  m.graph().mutable_node()->SwapElements(0, m.graph().node_size() - 1);  // before the convolution
  const Tensor want_c = Executor(m, off).run({{"xq", xq}, {"z", z}}).at("y");
  Executor fused_c(m);
  for (int rep = 0; rep < 2; ++rep) test::expect_tensors_near(fused_c.run({{"xq", xq}, {"z", z}}).at("y"), want_c, 1e-5, 1e-5);
  EXPECT_GT(test::max_abs_diff(want_c, want), 0.1f);
  EXPECT_EQ(test::max_abs_diff(z, z_before), 0.f);
}

// Sums too wide for float32 to hold exactly (2048 inputs of up to 255 x 127, all positive: above
// 2^24, where float32's spacing is 2): the fast kernel still equals the reference bit for bit.
// Without VNNI its float32 path must notice the bound and leave such a convolution to the
// reference (runtime/kernels/qdq_conv.cpp).
TEST(QdqFusion, SumsBeyondFloatExactnessEqualTheReference) {
  const int64_t cin = 2048;
  const Tensor w = test::random_tensor_of(DType::kInt8, {4, cin, 1, 1}, 91, 100, 127);
  const Tensor x = test::random_tensor_of(DType::kUInt8, {1, cin, 3, 3}, 92, 0, 255);
  onnx::NodeProto n = test::make_node("QDQConv", 5, 1, "qtool");
  const Tensor ws = Tensor::from<float>({4}, {1.f, 1.f, 1.f, 1.f});
  std::vector<Value> in = {x, Tensor::from<float>({}, {1.f}), Tensor(DType::kUInt8, {}), w, ws};
  const Tensor want = test::run_op(n, 1, in, true)[0].tensor();  // = the int32 accumulators as floats
  const Tensor got = test::run_op(n, 1, in, false)[0].tensor();
  ASSERT_EQ(got.dtype(), DType::kFloat);
  EXPECT_EQ(got.to_floats(), want.to_floats());
  const auto acc = want.to_floats();
  EXPECT_GT(*std::min_element(acc.begin(), acc.end()), 16777216.f);  // every window is that wide
}
