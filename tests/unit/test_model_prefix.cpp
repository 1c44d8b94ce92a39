// SPDX-License-Identifier: Apache-2.0
// quant/model_prefix: the part of a graph that computes given values, and GPTQ Hessians collected
// on it equal those of the whole model.
#include <gtest/gtest.h>

#include "calib/dataset.h"
#include "calib/hessian.h"
#include "core/error.h"
#include "quant/model_prefix.h"
#include "runtime/executor.h"
#include "test_util.h"

namespace qtool {
namespace {

std::vector<std::string> node_ops(const Model& m) {
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}
std::vector<std::string> output_names(const Model& m) {
  std::vector<std::string> names;
  for (const auto& o : m.graph().output()) names.push_back(o.name());
  return names;
}

Model branchy() {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[2,3] x) => (float[2,3] y) {
      a = Relu(x)
      b = Neg(a)
      c = Add(x, w)
      y = Add(b, c)
    })");
  m.set_initializer("w", test::random_tensor({2, 3}, 3));
  return m;
}

TEST(ModelPrefix, KeepsOnlyTheNodesTheValuesNeed) {
  const Model m = branchy();
  Model p = model_prefix(m, {"a"});
  EXPECT_EQ(node_ops(p), (std::vector<std::string>{"Relu"}));
  EXPECT_EQ(output_names(p), (std::vector<std::string>{"a"}));
  EXPECT_EQ(p.graph().initializer_size(), 0);  // w feeds only the dropped branch

  p = model_prefix(m, {"a", "b"});  // a feeds Neg: only b is an output, a is still produced
  EXPECT_EQ(node_ops(p), (std::vector<std::string>{"Relu", "Neg"}));
  EXPECT_EQ(output_names(p), (std::vector<std::string>{"b"}));

  p = model_prefix(m, {"c"});
  EXPECT_EQ(node_ops(p), (std::vector<std::string>{"Add"}));
  EXPECT_EQ(p.graph().initializer_size(), 1);
  EXPECT_EQ(p.graph().input_size(), 1);  // the feeds of the whole model still run it

  p = model_prefix(m, {"x", "w"});  // graph input and initializer: nothing to run
  EXPECT_EQ(p.graph().node_size(), 0);
  EXPECT_EQ(p.graph().output_size(), 0);
  EXPECT_THROW(model_prefix(m, {"nope"}), InputError);
}

TEST(ModelPrefix, RunsToTheSameValuesAsTheWholeModel) {
  const Model m = branchy();
  Tensor x = test::random_tensor({2, 3}, 4);
  Executor whole(m);
  whole.keep_values({"b", "c"});
  auto want = whole.run({{"x", x}});
  const Model p = model_prefix(m, {"b", "c"});
  Executor part(p);
  auto got = part.run({{"x", x}});
  for (const char* v : {"b", "c"}) {
    ASSERT_TRUE(got.count(v)) << v;
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(got.at(v).data<float>()[i], want.at(v).data<float>()[i]) << v;
  }
}

TEST(ModelPrefix, FollowsOuterScopeReadsOfSubgraphs) {
  // the If's branches read `s` from the enclosing graph: Sqrt must stay
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[2] x, bool cond) => (float[2] y) {
      s = Sqrt(x)
      t = Neg(x)
      y = If(cond) <then_branch = g1 () => (float[2] r1) { r1 = Abs(s) },
                    else_branch = g2 () => (float[2] r2) { r2 = Identity(s) }>
    })");
  Model p = model_prefix(m, {"y"});
  EXPECT_EQ(node_ops(p), (std::vector<std::string>{"Sqrt", "If"}));
}

TEST(Hessian, SecondLayerOnThePrefixEqualsTheWholeModel) {
  // fc2 reads Relu(fc1(x)); the model goes on past it. H = 2/n sum a a^T with a from the whole model.
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[6,3] x) => (float[6,2] y) {
      h = Gemm<transB = 1>(x, w1)
      a = Relu(h)
      z = Gemm<transB = 1>(a, w2)
      y = Sigmoid(z)
    })");
  m.graph().mutable_node(0)->set_name("fc1");
  m.graph().mutable_node(2)->set_name("fc2");
  m.set_initializer("w1", test::random_tensor({5, 3}, 5));
  m.set_initializer("w2", test::random_tensor({2, 5}, 6));
  Tensor x = test::random_tensor({6, 3}, 7);
  auto data = memory_dataset({{"x", x}}, model_input_specs(m), "x");
  auto hs = collect_hessians(m, *data, {"fc2"});
  Executor whole(m, ExecutorOptions{/*fuse=*/false});
  whole.keep_values({"a"});
  const Tensor a = whole.run({{"x", x}}).at("a");
  Eigen::MatrixXd want = Eigen::MatrixXd::Zero(5, 5);
  for (int r = 0; r < 6; ++r) {
    Eigen::VectorXd v(5);
    for (int k = 0; k < 5; ++k) v[k] = a.data<float>()[r * 5 + k];
    want += v * v.transpose();
  }
  want *= 2.0 / 6;
  ASSERT_EQ(hs.at("fc2").h.size(), 1u);
  EXPECT_LT((hs.at("fc2").h[0] - want).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_EQ(hs.at("fc2").rows, 6);
}

}  // namespace
}  // namespace qtool
