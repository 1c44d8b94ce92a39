// SPDX-License-Identifier: Apache-2.0
// Random ops (runtime/kernels/random.cpp): seeded runs are deterministic and equal numpy's
// RandomState values (what onnx.reference produces), dtype / shape rules, never constant-folded,
// Bernoulli and Multinomial edge cases, invalid attributes.
#include "../kernel_test_util.h"
#include "runtime/op_registry.h"

using namespace qtool;
using namespace qtool::test;

TEST(RandomKernels, SeededValuesEqualNumpyRandomState) {
  // numpy.random.RandomState(0).rand(3) and .randn(3)
  auto u = make_node("RandomUniform", 0, 1);
  set_attr(u, "seed", 0.f);
  set_attr(u, "shape", std::vector<int64_t>{3});
  set_attr(u, "dtype", int64_t{11});
  const auto uv = run_op(u, 22, {}, true)[0].tensor().to_doubles();
  const std::vector<double> want_u = {0.5488135039273248, 0.7151893663724195, 0.6027633760716439};
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(uv[i], want_u[i]);
  auto g = make_node("RandomNormal", 0, 1);
  set_attr(g, "seed", 0.f);
  set_attr(g, "shape", std::vector<int64_t>{3});
  set_attr(g, "dtype", int64_t{11});
  const auto gv = run_op(g, 22, {}, true)[0].tensor().to_doubles();
  const std::vector<double> want_g = {1.764052345967664, 0.4001572083672233, 0.9787379841057392};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(gv[i], want_g[i], 1e-15);
  // scale / mean and low / high in the output type; float32 by default
  set_attr(g, "mean", 1.f);
  set_attr(g, "scale", 2.f);
  g.mutable_attribute(2)->set_i(1);  // dtype float
  const Tensor gf = run_op(g, 1, {}, true)[0].tensor();
  EXPECT_EQ(gf.dtype(), DType::kFloat);
  EXPECT_FLOAT_EQ(gf.to_floats()[0], static_cast<float>(1.764052345967664) * 2.f + 1.f);
}

TEST(RandomKernels, SeedMakesRunsRepeatableAndUnseededRunsDiffer) {
  auto u = make_node("RandomUniform", 0, 1);
  set_attr(u, "shape", std::vector<int64_t>{64});
  const auto a = run_op(u, 22, {}, true)[0].tensor().to_floats();
  const auto b = run_op(u, 22, {}, true)[0].tensor().to_floats();
  EXPECT_NE(a, b);
  set_attr(u, "seed", 3.f);
  const auto c = run_op(u, 22, {}, true)[0].tensor().to_floats();
  EXPECT_EQ(c, run_op(u, 22, {}, true)[0].tensor().to_floats());
  for (float v : c) {
    EXPECT_GE(v, 0.f);
    EXPECT_LT(v, 1.f);
  }
}

TEST(RandomKernels, LikeOpsTakeShapeAndType) {
  const Tensor x = random_tensor_of(DType::kFloat16, {2, 3}, 1);
  auto n = make_node("RandomNormalLike", 1, 1);
  const Tensor y = run_op(n, 22, {x}, true)[0].tensor();
  EXPECT_EQ(y.dtype(), DType::kFloat16);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  auto m = make_node("RandomUniformLike", 1, 1);
  set_attr(m, "dtype", int64_t{16});
  set_attr(m, "low", 5.f);
  set_attr(m, "high", 6.f);
  const Tensor z = run_op(m, 22, {random_tensor_of(DType::kInt32, {4}, 1)}, true)[0].tensor();
  EXPECT_EQ(z.dtype(), DType::kBFloat16);
  for (float v : z.to_floats()) {
    EXPECT_GE(v, 5.f);
    EXPECT_LE(v, 6.f);
  }
  // an integer input without a dtype has no float type to produce
  auto k = make_node("RandomUniformLike", 1, 1);
  EXPECT_THROW(run_op(k, 22, {random_tensor_of(DType::kInt32, {4}, 1)}, true), InputError);
}

TEST(RandomKernels, BernoulliAndMultinomial) {
  auto b = make_node("Bernoulli", 1, 1);
  set_attr(b, "seed", 1.f);
  set_attr(b, "dtype", int64_t{9});
  const Tensor p = Tensor::from<float>({6}, {0, 1, 0, 1, 0, 1});
  const Tensor r = run_op(b, 22, {p}, true)[0].tensor();
  EXPECT_EQ(r.dtype(), DType::kBool);
  EXPECT_EQ(r.to_int64s(), (std::vector<int64_t>{0, 1, 0, 1, 0, 1}));
  // numpy: RandomState(0).binomial(1, [0.5, 0.9, 0.1, 0.6]) == [1, 1, 0, 1]
  auto b0 = make_node("Bernoulli", 1, 1);
  set_attr(b0, "seed", 0.f);
  EXPECT_EQ(run_op(b0, 15, {Tensor::from<double>({4}, {0.5, 0.9, 0.1, 0.6})}, true)[0].tensor().to_int64s(),
            (std::vector<int64_t>{1, 1, 0, 1}));
  EXPECT_THROW(run_op(b, 22, {Tensor::from<float>({1}, {1.5f})}, true), InputError);
  EXPECT_THROW(run_op(b, 22, {Tensor::from<float>({1}, {NAN})}, true), InputError);

  auto m = make_node("Multinomial", 1, 1);
  set_attr(m, "sample_size", int64_t{5});
  set_attr(m, "dtype", int64_t{7});
  // log-probabilities: only class 2 (row 0) and class 0 (row 1) have mass
  const Tensor lp = Tensor::from<float>({2, 3}, {-INFINITY, -INFINITY, 0.f, 3.f, -INFINITY, -INFINITY});
  const Tensor s = run_op(m, 22, {lp}, true)[0].tensor();
  EXPECT_EQ(s.dtype(), DType::kInt64);
  EXPECT_EQ(s.to_int64s(), (std::vector<int64_t>{2, 2, 2, 2, 2, 0, 0, 0, 0, 0}));
  // roughly uniform over two equal classes
  auto u = make_node("Multinomial", 1, 1);
  set_attr(u, "sample_size", int64_t{2000});
  set_attr(u, "seed", 7.f);
  const auto draws = run_op(u, 7, {Tensor::from<float>({1, 2}, {1.f, 1.f})}, true)[0].tensor();
  EXPECT_EQ(draws.dtype(), DType::kInt32);
  int64_t ones = 0;
  for (int64_t v : draws.to_int64s()) ones += v;
  EXPECT_GT(ones, 850);
  EXPECT_LT(ones, 1150);
  m.mutable_attribute(1)->set_i(1);  // dtype float: not an index type
  EXPECT_THROW(run_op(m, 22, {lp}, true), InputError);
  auto all_neg_inf = make_node("Multinomial", 1, 1);
  EXPECT_THROW(run_op(all_neg_inf, 22, {Tensor::from<float>({1, 2}, {-INFINITY, -INFINITY})}, true), InputError);
}

TEST(RandomKernels, NeverFoldedAndInvalidAttributes) {
  auto u = make_node("RandomUniform", 0, 1);
  set_attr(u, "shape", std::vector<int64_t>{2});
  for (const char* op : {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial"}) {
    auto n = make_node(op, 0, 1);
    EXPECT_FALSE(node_is_foldable(n, 22)) << op;
    EXPECT_FALSE(node_is_foldable(n, 15)) << op;
  }
  auto no_shape = make_node("RandomNormal", 0, 1);
  EXPECT_THROW(run_op(no_shape, 22, {}, true), InputError);
  auto neg = make_node("RandomNormal", 0, 1);
  set_attr(neg, "shape", std::vector<int64_t>{2, -1});
  EXPECT_THROW(run_op(neg, 22, {}, true), InputError);
  set_attr(u, "dtype", int64_t{6});
  EXPECT_THROW(run_op(u, 22, {}, true), InputError);
}
