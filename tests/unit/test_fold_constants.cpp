// SPDX-License-Identifier: Apache-2.0
// quant/fold_constants: folds constant nodes into initializers; drops initializers nothing reads
// any more together with the graph inputs that only declared them (IR < 4), and keeps the ones read
// only inside If/Loop/Scan bodies.
#include <gtest/gtest.h>

#include <algorithm>

#include "io/model.h"
#include "quant/pass.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;
using qtool::test::parse_model;

namespace {

const char* kModel = R"(<ir_version: 3, opset_import: ["" : 13]>
g (float[3] x, bool c, float[3] u, float[3] w, float[3] k) => (float[3] y) <float[3] u = {9,9,9}, float[3] w = {1,2,3}, float[3] k = {2,2,2}> {
  kk = Neg(k)
  y = If (c) <then_branch = tb () => (float[3] o) { o = Add(x, w) },
              else_branch = eb () => (float[3] p) { p = Mul(x, kk) }>
}
)";

bool has_input(const Model& m, const std::string& name) {
  const auto& in = m.graph().input();
  return std::any_of(in.begin(), in.end(), [&](const auto& v) { return v.name() == name; });
}

TEST(FoldConstants, DropsUnreadInitializersAndTheirInputsKeepsSubgraphReads) {
  Model m = load_model_from_bytes(parse_model(kModel).proto.SerializeAsString(), "fold.onnx");
  PassContext ctx;
  fold_constants(m, ctx);
  EXPECT_EQ(m.find_initializer("u"), nullptr);
  EXPECT_FALSE(has_input(m, "u"));
  ASSERT_NE(m.find_initializer("w"), nullptr);  // read only by the then-branch
  ASSERT_NE(m.find_initializer("kk"), nullptr);  // Neg(k) folded, read only by the else-branch
  EXPECT_EQ(m.find_initializer("k"), nullptr);
  EXPECT_EQ(m.graph().node_size(), 1);
  Executor ex(m);
  const Tensor x = Tensor::from<float>({3}, {1, 1, 1});
  EXPECT_EQ(ex.run({{"x", x}, {"c", Tensor::from<bool>({}, {true})}}).at("y").to_floats(), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(ex.run({{"x", x}, {"c", Tensor::from<bool>({}, {false})}}).at("y").to_floats(), (std::vector<float>{-2, -2, -2}));
}

}  // namespace
