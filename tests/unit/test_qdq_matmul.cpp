// SPDX-License-Identifier: Apache-2.0
// QDQ MatMul / Gemm with constant int8 weights as integer matmuls in the executor
// (runtime/qdq_matmul_fusion.cpp, runtime/kernels/qdq_matmul.cpp): the rewrite happens (and only on
// what it may take), the oneDNN kernel equals the reference bit for bit (quantized and float
// output, whatever the row count), and the result stays
// within one quantization step (quantized output) or float rounding (float output) of the float
// emulation of the QDQ graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernel_test_util.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

// DQ(xq [2,3,K]) -> MatMul(DQ(wq [K,N], per column or per tensor)) -> Q -> y, and
// DQ(fq [4,K]) -> Gemm<transB=1>(DQ(gq [N,K] per row), DQ(bq int32)) -> g (float output).
// Weight codes within [-w_bound, w_bound] (64: oneDNN's integer kernel without VNNI too).
Model qdq_matmul_model(DType act, int32_t x_zp, int32_t y_zp, bool per_column, int w_bound = 127) {
  const int64_t K = 37, N = 21;
  const std::string t = act == DType::kUInt8 ? "uint8" : "int8";
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n g (" + t + "[2,3,37] xq, " + t +
                           "[4,37] fq) => (" + t + "[2,3,21] y, float[4,21] g) {\n"
                           "  x = DequantizeLinear(xq, xs, xz)\n"
                           "  w = DequantizeLinear<axis = 1>(wq, ws)\n"
                           "  p = MatMul(x, w)\n"
                           "  y = QuantizeLinear(p, ys, yz)\n"
                           "  f = DequantizeLinear(fq, xs, xz)\n"
                           "  gw = DequantizeLinear<axis = 0>(gq, gs)\n"
                           "  gb = DequantizeLinear<axis = 0>(bq, bs)\n"
                           "  g = Gemm<transB = 1>(f, gw, gb)\n}";
  Model m = test::parse_model(text.c_str());
  const float xs = 0.03f;
  m.set_initializer("xs", Tensor::from<float>({}, {xs}));
  m.set_initializer("xz", Tensor::from<double>({}, {static_cast<double>(x_zp)}).cast(act));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {K, N}, 4, -w_bound, w_bound));
  m.set_initializer("ws", per_column ? test::random_tensor({N}, 3, 0.002f, 0.01f) : Tensor::from<float>({}, {0.006f}));
  m.set_initializer("ys", Tensor::from<float>({}, {0.07f}));
  m.set_initializer("yz", Tensor::from<double>({}, {static_cast<double>(y_zp)}).cast(act));
  const Tensor gs = test::random_tensor({N}, 5, 0.002f, 0.01f);
  Tensor bs(DType::kFloat, {N});
  for (int64_t o = 0; o < N; ++o) bs.data<float>()[o] = xs * gs.data<float>()[o];
  m.set_initializer("gq", test::random_tensor_of(DType::kInt8, {N, K}, 6, -w_bound, w_bound));
  m.set_initializer("gs", gs);
  m.set_initializer("bq", test::random_tensor_of(DType::kInt32, {N}, 7, -3000, 3000));
  m.set_initializer("bs", bs);
  return m;
}

std::map<std::string, Tensor> codes(DType act, uint32_t seed) {
  const double lo = act == DType::kUInt8 ? 0 : -128, hi = act == DType::kUInt8 ? 255 : 127;
  return {{"xq", test::random_tensor_of(act, {2, 3, 37}, seed, lo, hi)},
          {"fq", test::random_tensor_of(act, {4, 37}, seed + 1, lo, hi)}};
}

}  // namespace

TEST(QdqMatMul, IntegerMatMulEqualsReferenceAndEmulation) {
  for (int w_bound : {127, 64})
  for (DType act : {DType::kUInt8, DType::kInt8})
    for (bool per_column : {true, false}) {
      SCOPED_TRACE(std::to_string(w_bound) + " " + dtype_name(act) + (per_column ? " per column" : ""));
      const int32_t x_zp = act == DType::kUInt8 ? 131 : -3, y_zp = act == DType::kUInt8 ? 3 : -5;
      const Model m = qdq_matmul_model(act, x_zp, y_zp, per_column, w_bound);
      Executor fused(m);
      fused.set_profiling(true);
      ExecutorOptions off;
      off.integer_qdq = false;
      Executor emulated(m, off);
      // the QDQMatMul reference kernel on the same tensors: the MatMul (quantized output) and the
      // Gemm (transposed weights, int32 bias, float output)
      onnx::NodeProto mm = test::make_node("QDQMatMul", 8, 1, "qtool");
      test::set_attr(mm, "trans_b", int64_t{0});
      onnx::NodeProto gemm = test::make_node("QDQMatMul", 8, 1, "qtool");
      test::set_attr(gemm, "trans_b", int64_t{1});
      test::set_attr(gemm, "gemm", int64_t{1});
      auto k = [&](const char* name) { return Value(*fused.constant(name)); };
      std::vector<std::map<std::string, Tensor>> feeds;  // kept alive: no run reuses an address
      for (uint32_t seed = 11; seed < 14; ++seed) {
        const auto& f = feeds.emplace_back(codes(act, seed * 2));
        const auto got = fused.run(f), emu = emulated.run(f);
        const std::vector<Value> mm_in{f.at("xq"), k("xs"), k("xz"), k("wq"), k("ws"), Value(), k("ys"), k("yz")};
        const std::vector<Value> gemm_in{f.at("fq"), k("xs"), k("xz"), k("gq"), k("gs"), k("bq"), Value(), Value()};
        ASSERT_EQ(got.at("y").dtype(), act);
        for (bool ref : {true, false})  // the one-off fast kernel (no cache) equals the reference too
          EXPECT_EQ(got.at("y").to_int64s(), test::run_op(mm, 1, mm_in, ref)[0].tensor().to_int64s()) << seed << ref;
        const auto g = got.at("y").to_int64s(), e = emu.at("y").to_int64s();
        for (size_t i = 0; i < g.size(); ++i) ASSERT_LE(std::llabs(g[i] - e[i]), 1) << i;
        // float output: the same requantization of the same accumulators, bit for bit
        for (bool ref : {true, false})
          EXPECT_EQ(got.at("g").to_floats(), test::run_op(gemm, 1, gemm_in, ref)[0].tensor().to_floats()) << seed << ref;
        test::expect_tensors_near(got.at("g"), emu.at("g"), 1e-5, 1e-4);
      }
      std::vector<std::string> types;
      for (const auto& p : fused.profile()) types.push_back(p.op_type);
      EXPECT_EQ(std::count(types.begin(), types.end(), "QDQMatMul"), 2);
      EXPECT_EQ(std::count(types.begin(), types.end(), "QuantizeLinear"), 0);
    }
}

// Weights with a nonzero zero point, or an activation scale per element, stay float.
TEST(QdqMatMul, WhatTheRewriteMayNotTakeStaysFloat) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[3,8] xq) => (float[3,5] y) {
      x = DequantizeLinear(xq, xs, xz)
      w = DequantizeLinear(wq, ws, wz)
      y = MatMul(x, w)
    })");
  m.set_initializer("xs", Tensor::from<float>({}, {0.05f}));
  m.set_initializer("xz", Tensor::from<uint8_t>({}, {10}));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {8, 5}, 3, -100, 100));
  m.set_initializer("ws", Tensor::from<float>({}, {0.01f}));
  m.set_initializer("wz", Tensor::from<int8_t>({}, {2}));
  Executor e(m);
  e.set_profiling(true);
  const Tensor xq = test::random_tensor_of(DType::kUInt8, {3, 8}, 4, 0, 255);
  const auto got = e.run({{"xq", xq}});
  for (const auto& p : e.profile()) EXPECT_NE(p.op_type, "QDQMatMul");
  ExecutorOptions off;
  off.integer_qdq = false;
  test::expect_tensors_near(got.at("y"), Executor(m, off).run({{"xq", xq}}).at("y"), 1e-6, 1e-6);
}

// A crafted QDQMatMul node: bad shapes and types are input errors naming the node.
TEST(QdqMatMul, BadInputsAreInputErrors) {
  onnx::NodeProto n = test::make_node("QDQMatMul", 8, 1, "qtool");
  test::set_attr(n, "trans_b", int64_t{0});
  test::set_attr(n, "gemm", int64_t{1});
  const Tensor xs = Tensor::from<float>({}, {0.1f});
  const Tensor xz = Tensor::from<uint8_t>({}, {3});
  const Tensor w = test::random_tensor_of(DType::kInt8, {4, 2}, 1, -5, 5);
  const Tensor ws = Tensor::from<float>({}, {0.1f});
  // K mismatch
  EXPECT_THROW(test::run_op(n, 1, {test::random_tensor_of(DType::kUInt8, {3, 5}, 2, 0, 9), xs, xz, w, ws, Value(),
                                   Value(), Value()}, true),
               InputError);
  // Gemm's x must be 2-D
  EXPECT_THROW(test::run_op(n, 1, {test::random_tensor_of(DType::kUInt8, {2, 3, 4}, 2, 0, 9), xs, xz, w, ws, Value(),
                                   Value(), Value()}, true),
               InputError);
  // w_scale of the wrong length
  EXPECT_THROW(test::run_op(n, 1, {test::random_tensor_of(DType::kUInt8, {3, 4}, 2, 0, 9), xs, xz, w,
                                   test::random_tensor({3}, 4), Value(), Value(), Value()}, false),
               InputError);
}

// A crafted MatMul / Conv whose first input is omitted: the rewrites skip it (no read before the
// slot table) and the run fails with an input error naming the node.
TEST(QdqMatMul, OmittedActivationIsAnInputError) {
  for (const char* op : {"MatMul", "Conv"}) {
    Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
      g (float[2,4] x) => (uint8[2,3] y) {
        w = DequantizeLinear(wq, ws)
        p = MatMul(x, w)
        y = QuantizeLinear(p, s, z)
      })");
    auto* node = m.graph().mutable_node(1);
    node->set_op_type(op);
    node->set_input(0, "");
    m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {4, 3}, 1, -9, 9));
    m.set_initializer("ws", Tensor::from<float>({}, {0.1f}));
    m.set_initializer("s", Tensor::from<float>({}, {0.1f}));
    m.set_initializer("z", Tensor::from<uint8_t>({}, {0}));
    EXPECT_THROW(Executor(m).run({{"x", test::random_tensor({2, 4}, 2)}}), InputError) << op;
  }
}
