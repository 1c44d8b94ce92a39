// SPDX-License-Identifier: Apache-2.0
// DequantizeLinear -> data movement -> QuantizeLinear with equal parameters runs on the codes
// (runtime/qdq_data_movement_fusion.cpp, OpDef::moves_data): the codes equal the float emulation
// exactly, the Q / DQ steps are gone, and what the rewrite may not take stays as written.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

std::vector<std::string> step_types(const Executor& e) {
  std::vector<std::string> t;
  for (const auto& p : e.profile()) t.push_back(p.op_type);
  return t;
}

// x -> Q -> DQ -> Transpose -> Q -> DQ -> Reshape -> Q -> DQ -> Gather -> Q(ys2) -> y, with the last
// QuantizeLinear's scale `last_scale` (equal to the others' or not).
Model chain(float last_scale) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[2,3,4] x) => (uint8[4,3] y) {
      q0 = QuantizeLinear(x, s, z)
      d0 = DequantizeLinear(q0, s, z)
      t = Transpose<perm = [0,2,1]>(d0)
      q1 = QuantizeLinear(t, s, z)
      d1 = DequantizeLinear(q1, s, z)
      r = Reshape(d1, shape)
      q2 = QuantizeLinear(r, s, z)
      d2 = DequantizeLinear(q2, s, z)
      gt = Gather<axis = 0>(d2, idx)
      y = QuantizeLinear(gt, s2, z)
    })");
  m.set_initializer("s", Tensor::from<float>({}, {0.02f}));
  m.set_initializer("s2", Tensor::from<float>({}, {last_scale}));
  m.set_initializer("z", Tensor::from<uint8_t>({}, {121}));
  m.set_initializer("shape", Tensor::from<int64_t>({2}, {8, 3}));
  m.set_initializer("idx", Tensor::from<int64_t>({4}, {7, 0, 3, 3}));
  return m;
}

}  // namespace

TEST(QdqDataMovement, RunsOnTheCodesAndEqualsTheEmulation) {
  const Model m = chain(0.02f);
  Executor fused(m);
  fused.set_profiling(true);
  ExecutorOptions off;
  off.integer_qdq = false;
  Executor emulated(m, off);
  const Tensor x = test::random_tensor({2, 3, 4}, 5, -3.f, 3.f);
  const Tensor got = fused.run({{"x", x}}).at("y");
  ASSERT_EQ(got.dtype(), DType::kUInt8);
  EXPECT_EQ(got.to_int64s(), emulated.run({{"x", x}}).at("y").to_int64s());
  EXPECT_EQ(step_types(fused), (std::vector<std::string>{"QuantizeLinear", "Transpose", "Reshape", "Gather"}));
}

TEST(QdqDataMovement, OtherParametersKeepTheirQuantizeLinear) {
  const Model m = chain(0.03f);  // the Gather's QuantizeLinear rescales: it stays, on floats
  Executor fused(m);
  fused.set_profiling(true);
  ExecutorOptions off;
  off.integer_qdq = false;
  const Tensor x = test::random_tensor({2, 3, 4}, 6, -3.f, 3.f);
  EXPECT_EQ(fused.run({{"x", x}}).at("y").to_int64s(), Executor(m, off).run({{"x", x}}).at("y").to_int64s());
  EXPECT_EQ(step_types(fused), (std::vector<std::string>{"QuantizeLinear", "Transpose", "Reshape", "DequantizeLinear",
                                                         "Gather", "QuantizeLinear"}));
}

// Codes whose type is not known at compile time (a graph input) are left alone: a DequantizeLinear
// whose zero point has another type than its input still fails, naming that node.
TEST(QdqDataMovement, CodesOfUnknownTypeAreLeftAlone) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (uint8[2,3] xq) => (int8[3,2] y) {
      d = DequantizeLinear(xq, s, z)
      t = Transpose(d)
      y = QuantizeLinear(t, s, z)
    })");
  m.set_initializer("s", Tensor::from<float>({}, {0.1f}));
  m.set_initializer("z", Tensor::from<int8_t>({}, {0}));
  Executor e(m);
  try {
    e.run({{"xq", Tensor::from<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6})}});
    FAIL() << "expected an input error";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("DequantizeLinear"), std::string::npos) << err.what();
  }
}
