// SPDX-License-Identifier: Apache-2.0
// Executor fusion (Conv+BN+activation) and runtime layouts (blocked tensors between convolutions):
// results must equal the plain, unfused executor, and nobody outside the executor sees either.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

// x -> Conv(3x3, 16->32) -> BN -> Relu -> Conv(1x1, 32->32) -> Clip(0,6) -> depthwise Conv(3x3) -> y
//                                    \-> also read by Add at the end (second reader of r1)
Model conv_chain() {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,16,9,11] x) => (float[2,32,9,11] y) {
      c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
      n1 = BatchNormalization(c1, s, t, mu, var)
      r1 = Relu(n1)
      c2 = Conv(r1, w2)
      r2 = Clip(c2, lo, hi)
      c3 = Conv<group = 32, pads = [1,1,1,1]>(r2, w3, b3)
      y = Add(c3, r1)
    })");
  m.set_initializer("w1", test::random_tensor({32, 16, 3, 3}, 1, -0.3f, 0.3f));
  m.set_initializer("b1", test::random_tensor({32}, 2));
  m.set_initializer("s", test::random_tensor({32}, 3, 0.5f, 1.5f));
  m.set_initializer("t", test::random_tensor({32}, 4));
  m.set_initializer("mu", test::random_tensor({32}, 5));
  m.set_initializer("var", test::random_tensor({32}, 6, 0.2f, 2.f));
  m.set_initializer("w2", test::random_tensor({32, 32, 1, 1}, 7, -0.3f, 0.3f));
  m.set_initializer("lo", Tensor::from<float>({}, {0.f}));
  m.set_initializer("hi", Tensor::from<float>({}, {6.f}));
  m.set_initializer("w3", test::random_tensor({32, 1, 3, 3}, 8));
  m.set_initializer("b3", test::random_tensor({32}, 9));
  return m;
}

using test::max_abs_diff;

}  // namespace

TEST(Fusion, FusedAndBlockedEqualPlainUnfused) {
  Model m = conv_chain();
  Tensor x = test::random_tensor({2, 16, 9, 11}, 10, -2.f, 2.f);
  Executor plain(m, ExecutorOptions{false, false});
  Executor fast(m);
  auto want = plain.run({{"x", x}}).at("y");
  for (int rep = 0; rep < 2; ++rep) {  // second run reuses cached primitives and weights
    auto got = fast.run({{"x", x}}).at("y");
    EXPECT_EQ(got.layout(), nullptr);
    EXPECT_LT(max_abs_diff(got, want), 1e-4f);
  }
  // the un-fused plain run really has negative values before Relu / above 6 before Clip
  plain.keep_values({"n1", "c2"});
  auto kept = plain.run({{"x", x}});
  auto n1 = kept.at("n1").to_floats(), c2 = kept.at("c2").to_floats();
  EXPECT_LT(*std::min_element(n1.begin(), n1.end()), 0.f);
  EXPECT_GT(*std::max_element(c2.begin(), c2.end()), 6.f);
}

TEST(Fusion, FusedValuesAreNotProducedButKeptOnesAre) {
  Model m = conv_chain();
  Tensor x = test::random_tensor({2, 16, 9, 11}, 11, -2.f, 2.f);
  Executor exec(m);
  std::vector<std::string> seen;
  exec.set_hook([&](const std::string& name, const Tensor& t) {
    seen.push_back(name);
    EXPECT_EQ(t.layout(), nullptr) << name;  // hooks always get plain tensors
  });
  exec.run({{"x", x}});
  EXPECT_EQ(seen, (std::vector<std::string>{"r1", "r2", "c3", "y"}));
  // asking for the BN output keeps it: the BN still folds into the Conv, Relu then runs alone
  exec.keep_values({"n1"});
  seen.clear();
  auto out = exec.run({{"x", x}});
  EXPECT_EQ(seen, (std::vector<std::string>{"n1", "r1", "r2", "c3", "y"}));
  Executor plain(m, ExecutorOptions{false, false});
  plain.keep_values({"n1"});
  EXPECT_LT(max_abs_diff(out.at("n1"), plain.run({{"x", x}}).at("n1")), 1e-4f);
}

TEST(Fusion, BlockedTensorsNeverReachPlainKernels) {
  // Conv -> Conv -> Reshape: the second conv's output goes to a non-layout-aware op
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,16,5,5] x) => (float[1,400] y) {
      a = Conv<pads = [1,1,1,1]>(x, w1)
      b = Conv<pads = [1,1,1,1]>(a, w2)
      y = Reshape(b, shape)
    })");
  m.set_initializer("w1", test::random_tensor({16, 16, 3, 3}, 12));
  m.set_initializer("w2", test::random_tensor({16, 16, 3, 3}, 13));
  m.set_initializer("shape", Tensor::from<int64_t>({2}, {1, 400}));
  Tensor x = test::random_tensor({1, 16, 5, 5}, 14);
  auto got = Executor(m).run({{"x", x}}).at("y");
  auto want = Executor(m, ExecutorOptions{false, false}).run({{"x", x}}).at("y");
  EXPECT_LT(max_abs_diff(got, want), 1e-4f);
}

// Residual blocks: Conv -> (BN) -> Add(other) -> Relu runs as one Conv step (oneDNN sum post-op)
// when `other` exists before the Conv; results equal the unfused plain executor.
TEST(Fusion, ResidualAddFusesIntoConv) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,16,9,11] x, float[1,16,1,1] zb) => (float[2,16,9,11] y, float[2,16,9,11] u) {
      a = Conv<pads = [1,1,1,1]>(x, w1, b1)
      ar = Relu(a)
      main = Conv<pads = [1,1,1,1]>(ar, w2)
      short = Conv(ar, w3, b3)
      s1 = Add(main, short)
      r1 = Relu(s1)
      c = Conv<pads = [1,1,1,1]>(r1, w4)
      n = BatchNormalization(c, s, t, mu, var)
      s2 = Add(r1, n)
      y = Clip(s2, lo, hi)
      d = Conv(y, w3)
      s3 = Add(d, zb)
      u = LeakyRelu<alpha = 0.1>(s3)
    })");
  m.set_initializer("w1", test::random_tensor({16, 16, 3, 3}, 31, -0.3f, 0.3f));
  m.set_initializer("b1", test::random_tensor({16}, 32));
  m.set_initializer("w2", test::random_tensor({16, 16, 3, 3}, 33, -0.3f, 0.3f));
  m.set_initializer("w3", test::random_tensor({16, 16, 1, 1}, 34, -0.3f, 0.3f));
  m.set_initializer("b3", test::random_tensor({16}, 35));
  m.set_initializer("w4", test::random_tensor({16, 16, 3, 3}, 36, -0.3f, 0.3f));
  m.set_initializer("s", test::random_tensor({16}, 37, 0.5f, 1.5f));
  m.set_initializer("t", test::random_tensor({16}, 38));
  m.set_initializer("mu", test::random_tensor({16}, 39));
  m.set_initializer("var", test::random_tensor({16}, 40, 0.2f, 2.f));
  m.set_initializer("lo", Tensor::from<float>({}, {0.f}));
  m.set_initializer("hi", Tensor::from<float>({}, {2.f}));
  const Tensor x = test::random_tensor({2, 16, 9, 11}, 41, -2.f, 2.f), zb = test::random_tensor({1, 16, 1, 1}, 42);
  Executor plain(m, ExecutorOptions{false, false});
  const auto want = plain.run({{"x", x}, {"zb", zb}});
  Executor fast(m);
  std::vector<std::string> seen;
  fast.set_hook([&](const std::string& name, const Tensor& t) {
    seen.push_back(name);
    EXPECT_EQ(t.layout(), nullptr) << name;
  });
  for (int rep = 0; rep < 2; ++rep) {
    seen.clear();
    const auto got = fast.run({{"x", x}, {"zb", zb}});
    EXPECT_LT(max_abs_diff(got.at("y"), want.at("y")), 1e-4f);
    EXPECT_LT(max_abs_diff(got.at("u"), want.at("u")), 1e-4f);
  }
  // `short` is computed after `main`, so the shortcut Conv takes the Add; main, the BN'd c and d
  // (broadcast summand) are fused away with their sums and activations
  EXPECT_EQ(seen, (std::vector<std::string>{"ar", "main", "r1", "y", "u"}));
  // the un-fused run really clips and leaks
  plain.keep_values({"s2", "s3"});
  const auto kept = plain.run({{"x", x}, {"zb", zb}});
  auto s2 = kept.at("s2").to_floats(), s3 = kept.at("s3").to_floats();
  EXPECT_GT(*std::max_element(s2.begin(), s2.end()), 2.f);
  EXPECT_LT(*std::min_element(s3.begin(), s3.end()), 0.f);
}

// MobileNetV3 / EfficientNet activations fuse into the Conv that feeds them (oneDNN eltwise
// post-ops): HardSwish, HardSigmoid, Tanh, Sigmoid, and SiLU written as Sigmoid -> Mul(x, sigmoid).
// A Sigmoid whose output has a second reader stays a step of its own, and so does the Mul.
// float32 runs the oneDNN post-ops, float64 the reference kernel's fused activations.
TEST(Fusion, MobileNetActivationsFuseIntoConv) {
  for (const std::string type : {"float", "double"}) {
  SCOPED_TRACE(type);
  const DType dt = type == "float" ? DType::kFloat : DType::kDouble;
  std::string text = R"(<ir_version: 8, opset_import: ["" : 14]>
    g (float[2,8,10,10] x) => (float[2,8,10,10] y, float[2,8,10,10] z) {
      c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
      h = HardSwish(c1)
      c2 = Conv<group = 8, pads = [1,1,1,1]>(h, w2, b2)
      sg = Sigmoid(c2)
      silu = Mul(sg, c2)
      c3 = Conv(silu, w3, b3)
      hs = HardSigmoid<alpha = 0.25, beta = 0.4>(c3)
      c4 = Conv(hs, w3)
      t = Tanh(c4)
      c5 = Conv(t, w3, b3)
      y = Sigmoid(c5)
      c6 = Conv(y, w3, b3)
      s6 = Sigmoid(c6)
      m6 = Mul(c6, s6)
      z = Add(m6, s6)
    })";
  for (size_t p = text.find("float["); p != std::string::npos; p = text.find("float[", p + 1)) text.replace(p, 5, type);
  Model m = test::parse_model(text.c_str());
  m.set_initializer("w1", test::random_tensor({8, 8, 3, 3}, 51, -0.4f, 0.4f).cast(dt));
  m.set_initializer("b1", test::random_tensor({8}, 52).cast(dt));
  m.set_initializer("w2", test::random_tensor({8, 1, 3, 3}, 53, -0.8f, 0.8f).cast(dt));
  m.set_initializer("b2", test::random_tensor({8}, 54).cast(dt));
  m.set_initializer("w3", test::random_tensor({8, 8, 1, 1}, 55, -0.8f, 0.8f).cast(dt));
  m.set_initializer("b3", test::random_tensor({8}, 56).cast(dt));
  const Tensor x = test::random_tensor({2, 8, 10, 10}, 57, -4.f, 4.f).cast(dt);
  ExecutorOptions ref_opts;
  ref_opts.reference_only = true;
  const auto want = Executor(m, ExecutorOptions{false, false}).run({{"x", x}});
  Executor fast(m), ref(m, ref_opts);
  fast.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) {
    const auto got = fast.run({{"x", x}});
    for (const char* out : {"y", "z"}) EXPECT_LT(max_abs_diff(got.at(out), want.at(out)), 1e-4f) << out;
  }
  const auto by_ref = ref.run({{"x", x}});  // the reference kernels' fused activations
  for (const char* out : {"y", "z"}) EXPECT_LT(max_abs_diff(by_ref.at(out), want.at(out)), 1e-4f) << out;
  std::vector<std::string> types;
  for (const auto& p : fast.profile()) {
    types.push_back(p.op_type);
    EXPECT_EQ(p.calls, 2) << p.node;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"Conv+HardSwish", "Conv+Swish", "Conv+HardSigmoid", "Conv+Tanh",
                                             "Conv+Sigmoid", "Conv", "Sigmoid", "Mul", "Add"}));
  // the activations had work to do: HardSwish's and HardSigmoid's both saturated regions are hit
  Executor plain(m, ExecutorOptions{false, false});
  plain.keep_values({"c1", "c3"});
  const auto kept = plain.run({{"x", x}});
  for (const char* v : {"c1", "c3"}) {
    auto f = kept.at(v).to_floats();
    EXPECT_LT(*std::min_element(f.begin(), f.end()), -3.f) << v;
    EXPECT_GT(*std::max_element(f.begin(), f.end()), 3.f) << v;
  }
}
}

// BatchNormalization as older exporters wrote it (Model Zoo Inception / DenseNet): Conv -> Mul(per
// channel) -> Add(per channel) -> Relu is one Conv step with the scale folded into the weights and
// the shift into the bias; a scalar scale too; a constant varying along a spatial axis is not
// per channel and stays a Mul of its own.
TEST(Fusion, ConstantScaleAndShiftFoldIntoConv) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,8,6,7] x) => (float[2,8,6,7] y, float[2,8,6,7] z) {
      c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
      m1 = Mul(c1, scale)
      a1 = Add(shift, m1)
      r1 = Relu(a1)
      c2 = Conv(r1, w2)
      m2 = Mul(c2, half)
      y = Add(m2, r1)
      c3 = Conv(r1, w2)
      z = Mul(c3, spatial)
    })");
  m.set_initializer("w1", test::random_tensor({8, 8, 3, 3}, 61, -0.4f, 0.4f));
  m.set_initializer("b1", test::random_tensor({8}, 62));
  m.set_initializer("scale", test::random_tensor({1, 8, 1, 1}, 63, -2.f, 2.f));
  m.set_initializer("shift", test::random_tensor({8, 1, 1}, 64));
  m.set_initializer("w2", test::random_tensor({8, 8, 1, 1}, 65, -0.4f, 0.4f));
  m.set_initializer("half", Tensor::from<float>({}, {0.5f}));
  m.set_initializer("spatial", test::random_tensor({1, 1, 6, 7}, 66));
  const Tensor x = test::random_tensor({2, 8, 6, 7}, 67, -2.f, 2.f);
  const auto want = Executor(m, ExecutorOptions{false, false}).run({{"x", x}});
  Executor fast(m);
  fast.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) {
    const auto got = fast.run({{"x", x}});
    for (const char* out : {"y", "z"}) EXPECT_LT(max_abs_diff(got.at(out), want.at(out)), 1e-4f) << out;
  }
  std::vector<std::string> types;
  for (const auto& p : fast.profile()) types.push_back(p.op_type);
  // c2 * 0.5 folds, then `y` is a graph output: the residual Add stays; c3's spatial Mul stays
  EXPECT_EQ(types, (std::vector<std::string>{"Conv+Relu", "Conv", "Add", "Conv", "Mul"}));
}

// DenseNet / Inception blocks: Concat of convolution outputs and the BatchNormalization after it
// read and write runtime layouts (oneDNN concat and batch normalization), also when one Concat
// input is plain (a graph input); results equal the plain executor.
// Concatenated convolution outputs of 8, 16 and 24 channels, two samples (DenseNet's and
// SqueezeNet's pattern): in a channel-blocked format the concatenation is a copy per (sample,
// input) of the storage; the result equals the plain executor's and stays in the layout.
TEST(Fusion, ConcatOfChannelBlockedConvolutionsEqualsPlain) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,16,9,11] x) => (float[2,8,9,11] y) {
      a = Conv<pads = [1,1,1,1]>(x, w1)
      b = Conv(x, w2)
      c = Conv(x, w3)
      cat = Concat<axis = 1>(a, b, c)
      y = Conv(cat, w4)
    })");
  m.set_initializer("w1", test::random_tensor({8, 16, 3, 3}, 81, -0.3f, 0.3f));
  m.set_initializer("w2", test::random_tensor({16, 16, 1, 1}, 82, -0.3f, 0.3f));
  m.set_initializer("w3", test::random_tensor({24, 16, 1, 1}, 83, -0.3f, 0.3f));
  m.set_initializer("w4", test::random_tensor({8, 48, 1, 1}, 84, -0.3f, 0.3f));
  const TensorMap feeds{{"x", test::random_tensor({2, 16, 9, 11}, 85)}};
  Executor plain(m, ExecutorOptions{false, false});
  plain.keep_values({"cat"});
  const auto want = plain.run(feeds);
  Executor fast(m);
  fast.set_profiling(true);
  fast.observe_values({"cat"});
  Tensor cat;
  fast.set_hook([&](const std::string& name, const Tensor& t) { if (name == "cat") cat = t; });
  for (int rep = 0; rep < 2; ++rep) {
    EXPECT_LT(max_abs_diff(fast.run(feeds).at("y"), want.at("y")), 1e-4f);
    EXPECT_LT(max_abs_diff(cat, want.at("cat")), 1e-5f);  // the hook sees it plain
  }
  for (const auto& p : fast.profile())
    if (p.op_type == "Concat") EXPECT_EQ(p.layout, "layout in+out");
}

TEST(Fusion, ConcatAndBatchNormKeepLayouts) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,16,9,11] x, float[2,8,9,11] side) => (float[2,16,9,11] y) {
      a = Conv<pads = [1,1,1,1]>(x, w1)
      b = Conv(x, w2)
      cat = Concat<axis = 1>(a, b, side)
      n = BatchNormalization(cat, s, t, mu, var)
      r = Relu(n)
      y = Conv(r, w3)
    })");
  m.set_initializer("w1", test::random_tensor({16, 16, 3, 3}, 71, -0.3f, 0.3f));
  m.set_initializer("w2", test::random_tensor({16, 16, 1, 1}, 72, -0.3f, 0.3f));
  m.set_initializer("s", test::random_tensor({40}, 73, 0.5f, 1.5f));
  m.set_initializer("t", test::random_tensor({40}, 74));
  m.set_initializer("mu", test::random_tensor({40}, 75));
  m.set_initializer("var", test::random_tensor({40}, 76, 0.2f, 2.f));
  m.set_initializer("w3", test::random_tensor({16, 40, 1, 1}, 77, -0.3f, 0.3f));
  const TensorMap feeds{{"x", test::random_tensor({2, 16, 9, 11}, 78)}, {"side", test::random_tensor({2, 8, 9, 11}, 79)}};
  const auto want = Executor(m, ExecutorOptions{false, false}).run(feeds).at("y");
  Executor fast(m);
  fast.set_profiling(true);
  for (int rep = 0; rep < 2; ++rep) EXPECT_LT(max_abs_diff(fast.run(feeds).at("y"), want), 1e-4f);
  std::map<std::string, std::string> layout;
  for (const auto& p : fast.profile()) layout[p.op_type] = p.layout;
  EXPECT_EQ(layout["Concat"], "layout in+out");
  EXPECT_EQ(layout["BatchNormalization"], "layout in+out");
  // asked for by name, the concatenation comes out plain and equal
  Executor kept(m);
  kept.keep_values({"cat", "n"});
  Executor plain(m, ExecutorOptions{false, false});
  plain.keep_values({"cat", "n"});
  const auto got = kept.run(feeds), ref = plain.run(feeds);
  for (const char* v : {"cat", "n"}) {
    EXPECT_EQ(got.at(v).layout(), nullptr) << v;
    EXPECT_LT(max_abs_diff(got.at(v), ref.at(v)), 1e-4f) << v;
  }
}

// A Conv's sum post-op writes over its residual operand's storage when this Conv is the operand's
// last reader and nothing else holds it (KernelContext::last_read); graph inputs, graph outputs
// and operands read again later are copied instead and stay as they were.
TEST(Fusion, ResidualOperandIsWrittenOverOnlyWhenNothingElseReadsIt) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,16,9,11] x) => (float[2,16,9,11] y, float[2,16,9,11] a) {
      a = Conv(x, w1, b1)
      p = Conv<pads = [1,1,1,1]>(a, w2)
      s1 = Add(p, a)
      r = Relu(s1)
      q = Conv<pads = [1,1,1,1]>(r, w3)
      s2 = Add(q, r)
      t = Conv(s2, w4)
      s3 = Add(t, x)
      k = Conv(s3, w4)
      s4 = Add(k, s2)
      y = Relu(s4)
    })");
  m.set_initializer("w1", test::random_tensor({16, 16, 1, 1}, 51, -0.3f, 0.3f));
  m.set_initializer("b1", test::random_tensor({16}, 52));
  m.set_initializer("w2", test::random_tensor({16, 16, 3, 3}, 53, -0.2f, 0.2f));
  m.set_initializer("w3", test::random_tensor({16, 16, 3, 3}, 54, -0.2f, 0.2f));
  m.set_initializer("w4", test::random_tensor({16, 16, 1, 1}, 55, -0.3f, 0.3f));
  const Tensor x = test::random_tensor({2, 16, 9, 11}, 56, -2.f, 2.f);
  const Tensor x_before = x.clone();
  Executor plain(m, ExecutorOptions{false, false});
  const auto want = plain.run({{"x", x}});
  Executor fast(m);
  for (int rep = 0; rep < 3; ++rep) {
    const auto got = fast.run({{"x", x}});
    EXPECT_LT(max_abs_diff(got.at("y"), want.at("y")), 1e-4f) << rep;
    EXPECT_LT(max_abs_diff(got.at("a"), want.at("a")), 1e-5f) << rep;  // the graph output a is a sum's operand
    EXPECT_EQ(max_abs_diff(x, x_before), 0.f) << rep;                   // the graph input x is another's
  }
}
