// SPDX-License-Identifier: Apache-2.0
// Quantized residual adds and scales in the executor (runtime/qdq_add_fusion.cpp,
// runtime/kernels/qadd.cpp): DequantizeLinear x2 -> Add / Mul [-> Relu] -> QuantizeLinear becomes
// one qtool.QAdd / QMul whose codes equal the float chain's bit for bit (ties included), in every
// operand type and broadcast, on an integer convolution's blocked output too; what it may not take
// stays as written.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kernel_test_util.h"
#include "qdq_test_util.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;
using test::code;
using test::scalar;
using test::step_types;

namespace {

const char* type_name(DType t) { return t == DType::kUInt8 ? "uint8" : "int8"; }
Tensor codes_of(DType t, Shape s, uint32_t seed) {
  return test::random_tensor_of(t, std::move(s), seed, t == DType::kUInt8 ? 0 : -128, t == DType::kUInt8 ? 255 : 127);
}

// y = Q(Relu?(op(DQ(a), DQ(b)))) with the given op (Add / Mul), types and shapes.
Model add_model(const std::string& op, DType ta, DType tb, DType ty, const std::string& sa, const std::string& sb,
                const std::string& sy, bool relu) {
  const std::string text = std::string("<ir_version: 8, opset_import: [\"\" : 13]>\n g (") + type_name(ta) + sa +
                           " aq, " + type_name(tb) + sb + " bq) => (" + type_name(ty) + sy +
                           " y) {\n"
                           "  a = DequantizeLinear(aq, as, az)\n"
                           "  b = DequantizeLinear(bq, bs, bz)\n"
                           "  s = " + op + "(a, b)\n" +
                           (relu ? "  r = Relu(s)\n  y = QuantizeLinear(r, ys, yz)\n}" : "  y = QuantizeLinear(s, ys, yz)\n}");
  return test::parse_model(text.c_str());
}

}  // namespace

// Add and Mul, every type combination, broadcasts both ways, with and without Relu, and scales that
// put many results exactly halfway between two codes (0.5 * a + 0.25 * b over 1, 0.5 * a * b over
// 8: ties rounded half to even): the fused executor equals the float chain, and QAdd / QMul is the
// only step.
TEST(QdqAdd, EqualsTheFloatChainBitForBit) {
  struct Case {
    std::string sa, sb;
    Shape a, b;
  };
  const Case shapes[] = {{"[2,8,5,6]", "[2,8,5,6]", {2, 8, 5, 6}, {2, 8, 5, 6}},
                         {"[2,8,5,6]", "[2,8,1,1]", {2, 8, 5, 6}, {2, 8, 1, 1}},
                         {"[1,6]", "[4,1]", {1, 6}, {4, 1}},
                         {"[300000]", "[300000]", {300000}, {300000}}};
  const float scale_sets[][3] = {{0.5f, 0.25f, 1.f}, {0.5f, 1.f, 8.f}, {0.043f, 0.0171f, 0.061f}};
  uint32_t seed = 1;
  for (const std::string op : {"Add", "Mul"})
  for (const Case& sh : shapes)
    for (DType ta : {DType::kUInt8, DType::kInt8})
      for (DType tb : {DType::kUInt8, DType::kInt8})
        for (DType ty : {DType::kUInt8, DType::kInt8})
          for (bool relu : {false, true})
            for (const auto& sc : scale_sets) {
              const Shape so = sh.a.size() == 1 ? sh.a : sh.sa == "[1,6]" ? Shape{4, 6} : sh.a;
              std::string sy = "[";
              for (size_t d = 0; d < so.size(); ++d) sy += (d ? "," : "") + std::to_string(so[d]);
              sy += "]";
              Model m = add_model(op, ta, tb, ty, sh.sa, sh.sb, sy, relu);
              m.set_initializer("as", scalar(sc[0]));
              m.set_initializer("az", code(ta, ta == DType::kUInt8 ? 120 : -7));
              m.set_initializer("bs", scalar(sc[1]));
              m.set_initializer("bz", code(tb, tb == DType::kUInt8 ? 3 : 5));
              m.set_initializer("ys", scalar(sc[2]));
              m.set_initializer("yz", code(ty, ty == DType::kUInt8 ? 100 : -2));
              const TensorMap feeds{{"aq", codes_of(ta, sh.a, seed)}, {"bq", codes_of(tb, sh.b, seed + 1)}};
              seed += 2;
              ExecutorOptions off;
              off.integer_qdq = false;
              const auto want = Executor(m, off).run(feeds).at("y");
              ExecutorOptions ref_opt;
              ref_opt.reference_only = true;
              Executor fused(m), reference(m, ref_opt);
              fused.set_profiling(true);
              const std::string what = op + " " + sh.sa + ", " + sh.sb + " " + type_name(ta) + type_name(tb) + "->" +
                                       type_name(ty) + (relu ? " relu" : "") + " scale " + std::to_string(sc[0]);
              ASSERT_EQ(fused.run(feeds).at("y").to_int64s(), want.to_int64s()) << what;
              ASSERT_EQ(reference.run(feeds).at("y").to_int64s(), want.to_int64s()) << what;
              EXPECT_EQ(step_types(fused), (std::map<std::string, int>{{"Q" + op, 1}})) << what;
            }
}

// After an integer convolution (oneDNN's nhwc / blocked codes, weights within [-64, 64] so that
// CPUs without VNNI take the integer kernel too) and its residual input: the residual block of a
// quantized ResNet, equal to the executor without layouts and to the float chain.
TEST(QdqAdd, ResidualBlockAfterAnIntegerConvolution) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[2,16,10,10] xq) => (uint8[2,16,10,10] y) {
      x = DequantizeLinear(xq, xs, xz)
      w1 = DequantizeLinear<axis = 0>(w1q, ws)
      c1 = Conv<pads = [1,1,1,1]>(x, w1)
      r1 = Relu(c1)
      q1 = QuantizeLinear(r1, s1, z1)
      d1 = DequantizeLinear(q1, s1, z1)
      w2 = DequantizeLinear<axis = 0>(w2q, ws)
      c2 = Conv<pads = [1,1,1,1]>(d1, w2)
      q2 = QuantizeLinear(c2, s2, z2)
      d2 = DequantizeLinear(q2, s2, z2)
      s = Add(d2, x)
      r = Relu(s)
      y = QuantizeLinear(r, ys, yz)
    })");
  m.set_initializer("xs", scalar(0.02f));
  m.set_initializer("xz", code(DType::kUInt8, 0));
  m.set_initializer("w1q", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 3, -64, 64));
  m.set_initializer("w2q", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 4, -64, 64));
  m.set_initializer("ws", test::random_tensor({16}, 5, 0.002f, 0.01f));
  m.set_initializer("s1", scalar(0.03f));
  m.set_initializer("z1", code(DType::kUInt8, 0));
  m.set_initializer("s2", scalar(0.05f));
  m.set_initializer("z2", code(DType::kUInt8, 128));
  m.set_initializer("ys", scalar(0.04f));
  m.set_initializer("yz", code(DType::kUInt8, 0));
  const TensorMap feeds{{"xq", codes_of(DType::kUInt8, {2, 16, 10, 10}, 6)}};
  ExecutorOptions off;
  off.integer_qdq = false;
  const auto chain = Executor(m, off).run(feeds).at("y").to_int64s();
  const auto want = test::codes_without_layouts(m, feeds, "y");
  Executor fused(m);
  fused.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) EXPECT_EQ(fused.run(feeds).at("y").to_int64s(), want);
  EXPECT_EQ(step_types(fused), (std::map<std::string, int>{{"QDQConv", 2}, {"QAdd", 1}}));
  // the convolutions round like the float chain up to a code where float sums differ
  int64_t differ = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_LE(std::llabs(want[i] - chain[i]), 1) << i;
    differ += want[i] != chain[i];
  }
  EXPECT_LT(differ, static_cast<int64_t>(want.size()) / 50);
}

// A squeeze-and-excitation scale on an integer convolution's blocked codes: the plain [2,16,1,1]
// scale broadcasts into the convolution's layout without a reorder, equal to the executor
// without layouts.
TEST(QdqAdd, ChannelScaleStaysInTheConvolutionLayout) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[2,16,9,9] xq, uint8[2,16,1,1] sq) => (uint8[2,16,9,9] y) {
      x = DequantizeLinear(xq, xs, xz)
      w = DequantizeLinear<axis = 0>(wq, ws)
      c = Conv<pads = [1,1,1,1]>(x, w)
      q = QuantizeLinear(c, cs, cz)
      d = DequantizeLinear(q, cs, cz)
      s = DequantizeLinear(sq, ss, sz)
      m = Mul(d, s)
      y = QuantizeLinear(m, ys, yz)
    })");
  m.set_initializer("xs", scalar(0.02f));
  m.set_initializer("xz", code(DType::kUInt8, 10));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 11, -64, 64));
  m.set_initializer("ws", test::random_tensor({16}, 12, 0.002f, 0.01f));
  m.set_initializer("cs", scalar(0.05f));
  m.set_initializer("cz", code(DType::kUInt8, 128));
  m.set_initializer("ss", scalar(1.f / 255));
  m.set_initializer("sz", code(DType::kUInt8, 0));
  m.set_initializer("ys", scalar(0.03f));
  m.set_initializer("yz", code(DType::kUInt8, 128));
  const TensorMap feeds{{"xq", codes_of(DType::kUInt8, {2, 16, 9, 9}, 13)}, {"sq", codes_of(DType::kUInt8, {2, 16, 1, 1}, 14)}};
  const auto want = test::codes_without_layouts(m, feeds, "y");
  Executor fused(m);
  fused.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) EXPECT_EQ(fused.run(feeds).at("y").to_int64s(), want);
  std::map<std::string, std::string> layout;
  for (const auto& p : fused.profile()) layout[p.op_type] = p.layout;
  EXPECT_EQ(layout["QDQConv"], "layout out");
  EXPECT_EQ(layout["QMul"], "layout in");  // reads the layout; y is a graph output, so plain
}

// Left as written: the Add's result read twice, the Relu's result a graph output, a per-channel
// DequantizeLinear, and an Add whose operand is float.
TEST(QdqAdd, WhatTheRewriteMayNotTakeStaysAsWritten) {
  const char* models[] = {
      R"(<ir_version: 8, opset_import: ["" : 13]>
      g (uint8[4] aq, uint8[4] bq) => (uint8[4] y, float[4] s) {
        a = DequantizeLinear(aq, sc, zp)
        b = DequantizeLinear(bq, sc, zp)
        s = Add(a, b)
        y = QuantizeLinear(s, sc, zp)
      })",
      R"(<ir_version: 8, opset_import: ["" : 13]>
      g (uint8[4] aq, uint8[4] bq) => (uint8[4] y, float[4] r) {
        a = DequantizeLinear(aq, sc, zp)
        b = DequantizeLinear(bq, sc, zp)
        s = Add(a, b)
        r = Relu(s)
        y = QuantizeLinear(r, sc, zp)
      })",
      R"(<ir_version: 8, opset_import: ["" : 13]>
      g (uint8[4] aq, uint8[4] bq) => (uint8[4] y) {
        a = DequantizeLinear<axis = 0>(aq, sc4, zp4)
        b = DequantizeLinear(bq, sc, zp)
        s = Add(a, b)
        y = QuantizeLinear(s, sc, zp)
      })",
      R"(<ir_version: 8, opset_import: ["" : 13]>
      g (uint8[4] aq, float[4] b) => (uint8[4] y) {
        a = DequantizeLinear(aq, sc, zp)
        s = Add(a, b)
        y = QuantizeLinear(s, sc, zp)
      })"};
  for (const char* text : models) {
    Model m = test::parse_model(text);
    m.set_initializer("sc", scalar(0.1f));
    m.set_initializer("zp", code(DType::kUInt8, 3));
    m.set_initializer("sc4", Tensor::from<float>({4}, {0.1f, 0.2f, 0.3f, 0.4f}));
    m.set_initializer("zp4", Tensor::from<double>({4}, {1, 2, 3, 4}).cast(DType::kUInt8));
    TensorMap feeds{{"aq", codes_of(DType::kUInt8, {4}, 7)}};
    if (std::string(text).find("float[4] b") != std::string::npos) feeds["b"] = test::random_tensor({4}, 8, -1.f, 1.f);
    else feeds["bq"] = codes_of(DType::kUInt8, {4}, 8);
    ExecutorOptions off;
    off.integer_qdq = false;
    const auto want = Executor(m, off).run(feeds);
    Executor fused(m);
    fused.set_profiling(true);
    const auto got = fused.run(feeds);
    for (const auto& [name, t] : want) EXPECT_EQ(got.at(name).to_doubles(), t.to_doubles()) << name;
    EXPECT_EQ(step_types(fused).count("QAdd"), 0u) << text;
    EXPECT_EQ(step_types(fused)["Add"], 1) << text;
  }
}

// The kernel alone rejects what the rewrite never makes: a non-scalar parameter, float codes, a
// zero point of another type.
TEST(QdqAdd, BadInputsAreInputErrors) {
  auto n = test::make_node("QAdd", 8, 1, "qtool");
  const Tensor a = codes_of(DType::kUInt8, {3}, 1);
  const Tensor s = scalar(0.1f), z = code(DType::kUInt8, 0);
  EXPECT_NO_THROW(test::run_op(n, 1, {a, s, z, a, s, z, s, z}, false));
  EXPECT_THROW(test::run_op(n, 1, {a, Tensor::from<float>({2}, {0.1f, 0.2f}), z, a, s, z, s, z}, false), InputError);
  EXPECT_THROW(test::run_op(n, 1, {Tensor(DType::kFloat, {3}), s, z, a, s, z, s, z}, false), InputError);
  EXPECT_THROW(test::run_op(n, 1, {a, s, code(DType::kInt8, 0), a, s, z, s, z}, false), InputError);
  EXPECT_THROW(test::run_op(n, 1, {a, s, z, codes_of(DType::kUInt8, {4}, 2), s, z, s, z}, false), InputError);
}
