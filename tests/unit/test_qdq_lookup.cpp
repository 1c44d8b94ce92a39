// SPDX-License-Identifier: Apache-2.0
// 8-bit QDQ pointwise ops as table lookups (runtime/qdq_lookup_fusion.cpp, runtime/kernels/qlookup.cpp):
// DequantizeLinear -> Sigmoid / HardSwish / LeakyRelu / Mul(x, x) / ... -> QuantizeLinear becomes
// one qtool.QLookup step whose result equals the float chain's exactly; chains whose float value
// someone else needs stay as they are; between integer convolutions the lookup keeps their layout.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "kernel_test_util.h"
#include "qdq_test_util.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;
using test::code;
using test::scalar;
using test::step_types;

TEST(QdqLookup, PointwiseChainsBecomeTablesEqualToTheFloatChain) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 14]>
    g (uint8[2,3,40,50] xq, int8[2,3,40,50] sq)
      => (uint8[2,3,40,50] a, uint8[2,3,40,50] b, int8[2,3,40,50] c, uint8[2,3,40,50] d,
          float[2,3,40,50] e, uint8[2,3,40,50] f, float[2,3,40,50] cl) {
      x = DequantizeLinear(xq, xs, xz)
      s = Sigmoid(x)
      a = QuantizeLinear(s, as, az)
      h = HardSwish(x)
      b = QuantizeLinear(h, bs, bz)
      xi = DequantizeLinear(sq, ss, sz)
      l = LeakyRelu<alpha = 0.1>(xi)
      c = QuantizeLinear(l, cs, cz)
      sqr = Mul(xi, xi)
      d = QuantizeLinear(sqr, ds, dz)
      e = Tanh(x)
      cl = Clip(x, lo, hi)
      f = QuantizeLinear(cl, fs, fz)
    })");
  m.set_initializer("xs", scalar(0.05f));
  m.set_initializer("xz", code(DType::kUInt8, 131));
  m.set_initializer("as", scalar(1.f / 255));
  m.set_initializer("az", code(DType::kUInt8, 0));
  m.set_initializer("bs", scalar(0.03f));
  m.set_initializer("bz", code(DType::kUInt8, 20));
  m.set_initializer("ss", scalar(0.07f));
  m.set_initializer("sz", code(DType::kInt8, -9));
  m.set_initializer("cs", scalar(0.06f));
  m.set_initializer("cz", code(DType::kInt8, 5));
  m.set_initializer("ds", scalar(0.9f));
  m.set_initializer("dz", code(DType::kUInt8, 2));
  m.set_initializer("lo", scalar(-1.f));
  m.set_initializer("hi", scalar(2.5f));
  m.set_initializer("fs", scalar(0.02f));
  m.set_initializer("fz", code(DType::kUInt8, 60));
  const TensorMap feeds{{"xq", test::random_tensor_of(DType::kUInt8, {2, 3, 40, 50}, 1, 0, 255)},
                        {"sq", test::random_tensor_of(DType::kInt8, {2, 3, 40, 50}, 2, -128, 127)}};
  ExecutorOptions off;
  off.integer_qdq = false;  // the same kernels, no QDQ rewrites: the float chain
  const auto want = Executor(m, off).run(feeds);
  Executor fused(m);
  fused.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) {
    const auto got = fused.run(feeds);
    for (const char* out : {"a", "b", "c", "d"}) {
      ASSERT_EQ(got.at(out).dtype(), want.at(out).dtype()) << out;
      EXPECT_EQ(got.at(out).to_int64s(), want.at(out).to_int64s()) << out;
    }
    EXPECT_EQ(got.at("f").to_int64s(), want.at("f").to_int64s());
    EXPECT_EQ(test::max_abs_diff(got.at("e"), want.at("e")), 0.f);
    EXPECT_EQ(test::max_abs_diff(got.at("cl"), want.at("cl")), 0.f);
  }
  // four lookups; Tanh has no QuantizeLinear and Clip's float result is a graph output, so they
  // stay, and with them the uint8 DequantizeLinear; the int8 one only fed lookups
  auto types = step_types(fused);
  EXPECT_EQ(types["QLookup"], 4);
  EXPECT_EQ(types["Tanh"], 1);
  EXPECT_EQ(types["Clip"], 1);
  EXPECT_EQ(types["QuantizeLinear"], 1);
  EXPECT_EQ(types["DequantizeLinear"], 1);
  EXPECT_EQ(types.count("Sigmoid") + types.count("HardSwish") + types.count("LeakyRelu") + types.count("Mul"), 0u);
  // the tables did work: sigmoid codes spread over most of [0, 255], LeakyRelu kept negatives
  const auto a = want.at("a").to_int64s(), c = want.at("c").to_int64s();
  EXPECT_LT(*std::min_element(a.begin(), a.end()), 5);
  EXPECT_GT(*std::max_element(a.begin(), a.end()), 250);
  EXPECT_LT(*std::min_element(c.begin(), c.end()), -5);
}

// Between two integer convolutions the lookup reads the first one's output in its runtime layout
// and hands its own on in that layout; results equal the same executor without layouts.
TEST(QdqLookup, LookupBetweenIntegerConvolutionsKeepsTheLayout) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[1,16,12,12] xq) => (uint8[1,16,12,12] y) {
      x = DequantizeLinear(xq, s1, z1)
      w1 = DequantizeLinear<axis = 0>(w1q, ws)
      c1 = Conv<pads = [1,1,1,1]>(x, w1)
      q1 = QuantizeLinear(c1, s2, z2)
      d1 = DequantizeLinear(q1, s2, z2)
      sg = Sigmoid(d1)
      q2 = QuantizeLinear(sg, s3, z3)
      d2 = DequantizeLinear(q2, s3, z3)
      w2 = DequantizeLinear<axis = 0>(w2q, ws)
      c2 = Conv<pads = [1,1,1,1]>(d2, w2)
      y = QuantizeLinear(c2, s4, z4)
    })");
  m.set_initializer("s1", scalar(0.02f));
  m.set_initializer("z1", code(DType::kUInt8, 128));
  m.set_initializer("w1q", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 3, -64, 64));
  m.set_initializer("w2q", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 4, -64, 64));
  m.set_initializer("ws", test::random_tensor({16}, 5, 0.002f, 0.01f));
  m.set_initializer("s2", scalar(0.03f));
  m.set_initializer("z2", code(DType::kUInt8, 120));
  m.set_initializer("s3", scalar(1.f / 255));
  m.set_initializer("z3", code(DType::kUInt8, 0));
  m.set_initializer("s4", scalar(0.01f));
  m.set_initializer("z4", code(DType::kUInt8, 10));
  const TensorMap feeds{{"xq", test::random_tensor_of(DType::kUInt8, {1, 16, 12, 12}, 6, 0, 255)}};
  const auto want = test::codes_without_layouts(m, feeds, "y");
  Executor fused(m);
  fused.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) EXPECT_EQ(fused.run(feeds).at("y").to_int64s(), want);
  std::vector<std::string> steps;
  for (const auto& p : fused.profile()) steps.push_back(p.op_type + " " + p.layout);
  // oneDNN's integer convolution hands on its blocked layout (weights within [-64, 64]: exact
  // without VNNI too, runtime/kernels/qdq_common.h)
  EXPECT_EQ(steps, (std::vector<std::string>{"QDQConv layout out", "QLookup layout in+out", "QDQConv layout in"}));
}

// The kernel alone: the VBMI path (64 at a time, then the tail) equals the plain reference for
// both code types.
TEST(QdqLookup, KernelFastEqualsReference) {
  auto n = test::make_node("QLookup", 2, 1, "qtool");
  const Tensor table = test::random_tensor_of(DType::kInt8, {256}, 7, -128, 127);
  for (DType t : {DType::kUInt8, DType::kInt8}) {
    const Tensor x = t == DType::kUInt8 ? test::random_tensor_of(t, {3, 1000, 71}, 8, 0, 255)
                                        : test::random_tensor_of(t, {3, 1000, 71}, 8, -128, 127);
    test::expect_fast_matches_reference(n, 1, {x, table}, 0, 0);
    const auto y = test::run_op(n, 1, {x, table}, false)[0].tensor().to_int64s();
    const auto xs = x.to_int64s(), tv = table.to_int64s();
    const int64_t lowest = t == DType::kUInt8 ? 0 : -128;
    for (size_t i = 0; i < xs.size(); i += 997) ASSERT_EQ(y[i], tv[xs[i] - lowest]) << i;
  }
  EXPECT_THROW(test::run_op(n, 1, {Tensor(DType::kFloat, {4}), table}, false), InputError);
  EXPECT_THROW(test::run_op(n, 1, {Tensor(DType::kUInt8, {4}), Tensor(DType::kUInt8, {255})}, false), InputError);
}

// Two quantized operands: a squeeze-and-excitation scale and a residual Add compute on the codes
// (QMul, QAdd: runtime/qdq_add_fusion.cpp), other binary ops (Sub, broadcast) become one QLookup2
// step with a 256 x 256 table; SiLU written as x -> Sigmoid -> Mul(x, .) composes into one QLookup
// of x. All equal to the float chain exactly.
TEST(QdqLookup, TwoOperandChainsAndSiluCompose) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[2,8,5,6] aq, int8[2,8,1,1] sq, uint8[2,8,5,6] rq)
      => (uint8[2,8,5,6] se, int8[2,8,5,6] res, uint8[2,8,5,6] silu, int8[2,8,5,6] dif) {
      a = DequantizeLinear(aq, as, az)
      s = DequantizeLinear(sq, ss, sz)
      m = Mul(a, s)
      se = QuantizeLinear(m, ms, mz)
      r = DequantizeLinear(rq, rs, rz)
      ad = Add(r, a)
      res = QuantizeLinear(ad, ds, dz)
      sb = Sub(a, s)
      dif = QuantizeLinear(sb, ds, dz)
      sg = Sigmoid(a)
      sgq = QuantizeLinear(sg, gs, gz)
      sgd = DequantizeLinear(sgq, gs, gz)
      sl = Mul(a, sgd)
      silu = QuantizeLinear(sl, ls, lz)
    })");
  m.set_initializer("as", scalar(0.04f));
  m.set_initializer("az", code(DType::kUInt8, 100));
  m.set_initializer("ss", scalar(0.01f));
  m.set_initializer("sz", code(DType::kInt8, -20));
  m.set_initializer("ms", scalar(0.05f));
  m.set_initializer("mz", code(DType::kUInt8, 128));
  m.set_initializer("rs", scalar(0.03f));
  m.set_initializer("rz", code(DType::kUInt8, 7));
  m.set_initializer("ds", scalar(0.07f));
  m.set_initializer("dz", code(DType::kInt8, -3));
  m.set_initializer("gs", scalar(1.f / 255));
  m.set_initializer("gz", code(DType::kUInt8, 0));
  m.set_initializer("ls", scalar(0.03f));
  m.set_initializer("lz", code(DType::kUInt8, 10));
  const TensorMap feeds{{"aq", test::random_tensor_of(DType::kUInt8, {2, 8, 5, 6}, 11, 0, 255)},
                        {"sq", test::random_tensor_of(DType::kInt8, {2, 8, 1, 1}, 12, -128, 127)},
                        {"rq", test::random_tensor_of(DType::kUInt8, {2, 8, 5, 6}, 13, 0, 255)}};
  ExecutorOptions off;
  off.integer_qdq = false;
  const auto want = Executor(m, off).run(feeds);
  Executor fused(m);
  fused.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) {
    const auto got = fused.run(feeds);
    for (const char* out : {"se", "res", "silu", "dif"}) {
      ASSERT_EQ(got.at(out).dtype(), want.at(out).dtype()) << out;
      EXPECT_EQ(got.at(out).to_int64s(), want.at(out).to_int64s()) << out;
    }
  }
  auto types = step_types(fused);
  EXPECT_EQ(types["QMul"], 1);      // se
  EXPECT_EQ(types["QAdd"], 1);      // res
  EXPECT_EQ(types["QLookup2"], 1);  // dif
  EXPECT_EQ(types["QLookup"], 1);  // silu: the sigmoid's table composed into the Mul's
  EXPECT_EQ(types.size(), 4u);  // nothing else runs: no DequantizeLinear, Sigmoid, Mul, Add, Sub
  const auto se = want.at("se").to_int64s();
  EXPECT_GT(std::set<int64_t>(se.begin(), se.end()).size(), 40u);  // the table is not degenerate
}

// The two-operand kernel alone: every broadcast pattern of its rows (same shape, either operand
// fixed per row, general) equals the plain reference for both code types.
TEST(QdqLookup, TwoOperandKernelFastEqualsReference) {
  auto n = test::make_node("QLookup2", 3, 1, "qtool");
  Tensor table = test::random_tensor_of(DType::kUInt8, {2, 256, 256}, 21, 0, 255);
  auto* tp = static_cast<uint8_t*>(table.raw());
  for (int i = 0; i < 256; ++i)  // the second half is the transpose, as the rewrite writes it
    for (int j = 0; j < 256; ++j) tp[65536 + j * 256 + i] = tp[i * 256 + j];
  auto codes = [](DType t, Shape s, uint32_t seed) {
    return t == DType::kUInt8 ? test::random_tensor_of(t, s, seed, 0, 255) : test::random_tensor_of(t, s, seed, -128, 127);
  };
  const std::vector<std::pair<Shape, Shape>> shapes{{{2, 8, 50, 50}, {2, 8, 50, 50}},
                                                    {{2, 8, 50, 50}, {2, 8, 1, 1}},
                                                    {{1, 8, 1, 1}, {2, 8, 50, 50}},
                                                    {{4, 1, 6}, {1, 5, 1}}};
  for (DType ta : {DType::kUInt8, DType::kInt8})
    for (DType tb : {DType::kUInt8, DType::kInt8})
      for (const auto& [sa, sb] : shapes) {
        const Tensor a = codes(ta, sa, 22), b = codes(tb, sb, 23);
        test::expect_fast_matches_reference(n, 1, {a, b, table}, 0, 0);
      }
  // the reference indexes the table as documented: entry (0, a - lowest, b - lowest)
  const Tensor a = Tensor::from<int8_t>({2}, {-128, 5}), b = Tensor::from<uint8_t>({2}, {3, 255});
  const auto y = test::run_op(n, 1, {a, b, table}, true)[0].tensor().to_int64s();
  const auto t = table.to_int64s();
  EXPECT_EQ(y, (std::vector<int64_t>{t[0 * 256 + 3], t[133 * 256 + 255]}));
  EXPECT_THROW(test::run_op(n, 1, {a, b, Tensor(DType::kUInt8, {256, 256})}, false), InputError);
}

// A quantized squeeze-and-excitation block between integer convolutions: the DequantizeLinear
// before GlobalAveragePool keeps the convolution's nhwc layout (float32 values in the same
// layout), and the per-channel scale multiplies the nhwc tensor in place of a reorder to NCHW.
// Equal to the executor without layouts up to a code where the pooled mean rounds differently.
TEST(QdqLookup, SqueezeExcitationStaysInTheConvolutionLayout) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[1,16,10,10] xq) => (uint8[1,16,10,10] y) {
      x = DequantizeLinear(xq, s1, z1)
      w1 = DequantizeLinear<axis = 0>(w1q, ws)
      c1 = Conv<pads = [1,1,1,1]>(x, w1)
      q1 = QuantizeLinear(c1, s2, z2)
      d1 = DequantizeLinear(q1, s2, z2)
      p = GlobalAveragePool(d1)
      pq = QuantizeLinear(p, s2, z2)
      pd = DequantizeLinear(pq, s2, z2)
      wf = DequantizeLinear<axis = 0>(wfq, ws)
      f = Conv(pd, wf)
      fq = QuantizeLinear(f, s3, z3)
      fd = DequantizeLinear(fq, s3, z3)
      m = Mul(d1, fd)
      mq = QuantizeLinear(m, s4, z4)
      md = DequantizeLinear(mq, s4, z4)
      w2 = DequantizeLinear<axis = 0>(w2q, ws)
      c2 = Conv<pads = [1,1,1,1]>(md, w2)
      y = QuantizeLinear(c2, s5, z5)
    })");
  m.set_initializer("s1", scalar(0.02f));
  m.set_initializer("z1", code(DType::kUInt8, 128));
  m.set_initializer("w1q", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 31, -64, 64));
  m.set_initializer("wfq", test::random_tensor_of(DType::kInt8, {16, 16, 1, 1}, 32, -64, 64));
  m.set_initializer("w2q", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 33, -64, 64));
  m.set_initializer("ws", test::random_tensor({16}, 34, 0.002f, 0.01f));
  m.set_initializer("s2", scalar(0.03f));
  m.set_initializer("z2", code(DType::kUInt8, 120));
  m.set_initializer("s3", scalar(0.002f));
  m.set_initializer("z3", code(DType::kUInt8, 128));
  m.set_initializer("s4", scalar(0.0005f));
  m.set_initializer("z4", code(DType::kUInt8, 128));
  m.set_initializer("s5", scalar(0.001f));
  m.set_initializer("z5", code(DType::kUInt8, 100));
  const TensorMap feeds{{"xq", test::random_tensor_of(DType::kUInt8, {1, 16, 10, 10}, 35, 0, 255)}};
  const auto want = test::codes_without_layouts(m, feeds, "y");
  Executor fused(m);
  fused.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) {
    const auto got = fused.run(feeds).at("y").to_int64s();
    ASSERT_EQ(got.size(), want.size());
    int64_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_LE(std::llabs(got[i] - want[i]), 1) << i;
      differ += got[i] != want[i];
    }
    EXPECT_LT(differ, static_cast<int64_t>(want.size()) / 50);
  }
  std::map<std::string, std::string> layout;
  for (const auto& p : fused.profile()) layout[p.node + " " + p.op_type] = p.layout;
  EXPECT_EQ(layout["c1 QDQConv"], "layout out");
  EXPECT_EQ(layout["d1 DequantizeLinear"], "layout in+out");  // read by the pooling only
  EXPECT_EQ(layout["p GlobalAveragePool"], "layout in");
  EXPECT_EQ(layout["m QMul"], "layout in+out");              // q1 in nhwc against the plain scale
  EXPECT_EQ(layout["c2 QDQConv"], "layout in");
}

// The table's slot never takes over a model value that happens to have the name compilation
// would give it (a crafted file): the lookup gets its own slot, the model value stays.
TEST(QdqLookup, TableNameTakenByTheModelIsNotReused) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[4,5] xq, float[3] t) => (uint8[4,5] y, float[3] u) {
      x = DequantizeLinear(xq, xs, xz)
      s = Sigmoid(x)
      y = QuantizeLinear(s, ys, yz)
      u = Identity(t)
    })");
  const std::string taken = "y/qtool_lookup_table";
  m.graph().mutable_input(1)->set_name(taken);
  for (auto& n : *m.graph().mutable_node())
    if (n.op_type() == "Identity") n.set_input(0, taken);
  m.set_initializer("xs", scalar(0.05f));
  m.set_initializer("xz", code(DType::kUInt8, 128));
  m.set_initializer("ys", scalar(1.f / 255));
  m.set_initializer("yz", code(DType::kUInt8, 0));
  const TensorMap feeds{{"xq", test::random_tensor_of(DType::kUInt8, {4, 5}, 41, 0, 255)},
                        {taken, Tensor::from<float>({3}, {1.f, 2.f, 3.f})}};
  ExecutorOptions off;
  off.integer_qdq = false;
  const auto want = Executor(m, off).run(feeds);
  Executor fused(m);
  fused.set_profiling(true);
  const auto got = fused.run(feeds);
  EXPECT_EQ(got.at("y").to_int64s(), want.at("y").to_int64s());
  EXPECT_EQ(got.at("u").to_floats(), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(step_types(fused)["QLookup"], 1);
}

// An integer convolution's 8-bit output read by a layout-aware float op that also takes integers
// (uint8 Add): the operand arrives in nhwc and must be computed on as plain codes, not as floats.
TEST(QdqLookup, EightBitLayoutIntoIntegerAddIsComputedPlain) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[1,16,6,6] xq, uint8[1,16,6,6] other) => (uint8[1,16,6,6] y) {
      x = DequantizeLinear(xq, s1, z1)
      w = DequantizeLinear<axis = 0>(wq, ws)
      c = Conv<pads = [1,1,1,1]>(x, w)
      q = QuantizeLinear(c, s2, z2)
      y = Add(q, other)
    })");
  m.set_initializer("s1", scalar(0.02f));
  m.set_initializer("z1", code(DType::kUInt8, 128));
  m.set_initializer("wq", test::random_tensor_of(DType::kInt8, {16, 16, 3, 3}, 51, -64, 64));
  m.set_initializer("ws", test::random_tensor({16}, 52, 0.002f, 0.01f));
  m.set_initializer("s2", scalar(0.03f));
  m.set_initializer("z2", code(DType::kUInt8, 60));
  const TensorMap feeds{{"xq", test::random_tensor_of(DType::kUInt8, {1, 16, 6, 6}, 53, 0, 255)},
                        {"other", test::random_tensor_of(DType::kUInt8, {1, 16, 6, 6}, 54, 0, 40)}};
  const auto want = test::codes_without_layouts(m, feeds, "y");
  Executor fused(m);
  fused.set_profiling(true);
  EXPECT_EQ(fused.run(feeds).at("y").to_int64s(), want);
  std::map<std::string, std::string> layout;
  for (const auto& p : fused.profile()) layout[p.op_type] = p.layout;
  // the case under test: oneDNN's integer convolution hands nhwc codes to the Add
  EXPECT_EQ(layout["QDQConv"], "layout out");
}
