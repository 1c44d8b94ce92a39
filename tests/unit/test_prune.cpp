// SPDX-License-Identifier: Apache-2.0
// Pruning invariants: exact sparsity, N:M groups, channel surgery keeps the graph valid and the
// kept channels' outputs unchanged, sparse storage round trip, allocation.
#include <gtest/gtest.h>

#include <cmath>

#include "io/onnx_tensor.h"
#include "prune/prune.h"
#include "prune/sensitivity.h"
#include "prune/sparse_storage.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {
Model mlp() {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[2,16] x) => (float[2,4] y) {
      h = Gemm<transB = 1>(x, w1, b1)
      r = Relu(h)
      y = MatMul(r, w2)
    })");
  m.graph().mutable_node(0)->set_name("fc1");
  m.graph().mutable_node(2)->set_name("fc2");
  m.set_initializer("w1", test::random_tensor({12, 16}, 1));
  m.set_initializer("b1", test::random_tensor({12}, 2));
  m.set_initializer("w2", test::random_tensor({12, 4}, 3));
  return m;
}
int64_t zeros(const Tensor& t) {
  int64_t z = 0;
  for (float v : t.to_floats()) z += v == 0.f;
  return z;
}
}  // namespace

TEST(Prune, UnstructuredLayerAndGlobalHitTheirSparsity) {
  Model m = mlp();
  PruneOptions o;
  o.sparsity = 0.5;
  auto rep = prune_model(m, o);
  EXPECT_EQ(zeros(m.initializer("w1")), 96);
  EXPECT_EQ(zeros(m.initializer("w2")), 24);
  EXPECT_EQ(rep.masks.at("w1").numel(), 192);
  // the smallest magnitudes went: every kept |w| >= every pruned original |w|
  Model g = mlp();
  o.scope = "global";
  o.sparsity = 0.75;
  prune_model(g, o);
  EXPECT_EQ(zeros(g.initializer("w1")) + zeros(g.initializer("w2")), 180);
  auto before = mlp().initializer("w1").to_floats(), after = g.initializer("w1").to_floats();
  float max_pruned = 0, min_kept = 1e9;
  for (size_t i = 0; i < before.size(); ++i)
    (after[i] == 0.f ? max_pruned : min_kept) =
        after[i] == 0.f ? std::max(max_pruned, std::fabs(before[i])) : std::min(min_kept, std::fabs(before[i]));
  EXPECT_LE(max_pruned, min_kept);
}

TEST(Prune, NMKeepsNOfEveryMAlongTheInputAxis) {
  Model m = mlp();
  PruneOptions o;
  o.pattern = "2:4";
  prune_model(m, o);
  auto w1 = m.initializer("w1").to_floats();  // Gemm transB=1 [12, 16]: input axis is the last one
  for (int r = 0; r < 12; ++r)
    for (int g = 0; g < 4; ++g) {
      int nz = 0;
      for (int k = 0; k < 4; ++k) nz += w1[r * 16 + g * 4 + k] != 0.f;
      EXPECT_EQ(nz, 2);
    }
  auto w2 = m.initializer("w2").to_floats();  // MatMul [K=12, N=4]: groups run down axis 0
  for (int n = 0; n < 4; ++n)
    for (int g = 0; g < 3; ++g) {
      int nz = 0;
      for (int k = 0; k < 4; ++k) nz += w2[(g * 4 + k) * 4 + n] != 0.f;
      EXPECT_EQ(nz, 2);
    }
  int n = 0, mm = 0;
  EXPECT_TRUE(parse_nm("2:4", n, mm));
  EXPECT_FALSE(parse_nm("4:2", n, mm));
  EXPECT_THROW(find_pruner("3of4"), InputError);
}

TEST(Prune, ChannelSurgeryThroughBatchNormDepthwiseAndFlatten) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[1,3,6,6] x) => (float[1,5] y) {
      c1 = Conv<pads = [1,1,1,1]>(x, w1, b1)
      n1 = BatchNormalization(c1, s, t, mu, var)
      r1 = Relu(n1)
      d1 = Conv<group = 8, pads = [1,1,1,1]>(r1, wd, bd)
      c2 = Conv(d1, w2)
      p = MaxPool<kernel_shape = [2,2], strides = [2,2]>(c2)
      f = Flatten(p)
      y = Gemm<transB = 1>(f, w3, b3)
    })");
  m.graph().mutable_node(0)->set_name("conv1");
  m.set_initializer("w1", test::random_tensor({8, 3, 3, 3}, 4));
  m.set_initializer("b1", test::random_tensor({8}, 5));
  m.set_initializer("s", test::random_tensor({8}, 6, 0.5f, 1.5f));
  m.set_initializer("t", test::random_tensor({8}, 7));
  m.set_initializer("mu", test::random_tensor({8}, 8));
  m.set_initializer("var", test::random_tensor({8}, 9, 0.5f, 1.5f));
  m.set_initializer("wd", test::random_tensor({8, 1, 3, 3}, 10));
  m.set_initializer("bd", test::random_tensor({8}, 11));
  m.set_initializer("w2", test::random_tensor({6, 8, 1, 1}, 12));
  m.set_initializer("w3", test::random_tensor({5, 54}, 13));  // 6 channels x 3 x 3
  m.set_initializer("b3", test::random_tensor({5}, 14));
  PruneOptions o;
  o.pattern = "channel";
  o.sparsity = 0.25;
  auto rep = prune_model(m, o);
  EXPECT_EQ(m.initializer("w1").shape(), (Shape{6, 3, 3, 3}));
  EXPECT_EQ(m.initializer("var").shape(), (Shape{6}));
  EXPECT_EQ(m.initializer("wd").shape(), (Shape{6, 1, 3, 3}));
  EXPECT_EQ(attr_int(m.graph().node(3), "group", 0), 6);
  EXPECT_EQ(m.initializer("w2").shape(), (Shape{4, 6, 1, 1}));  // c2's own filters: round(0.25 * 6) = 2 go
  EXPECT_EQ(m.initializer("w3").shape(), (Shape{5, 36}));       // 4 kept channels x 3x3 after Flatten; y is
                                                                 // a graph output, so the Gemm keeps its 5 neurons
  ASSERT_EQ(rep.skipped.size(), 1u);
  EXPECT_NE(rep.skipped[0].find("graph output"), std::string::npos);
  EXPECT_LT(rep.dense_params_after, rep.dense_params_before);
  check_model(m, "pruned");
  auto y = Executor(m).run({{"x", test::random_tensor({1, 3, 6, 6}, 15)}}).at("y");
  EXPECT_EQ(y.shape(), (Shape{1, 5}));
}

TEST(Prune, PrunedChannelsChangeNothingWhenTheyWereDead) {
  // Filters that are exactly zero contribute nothing: removing them keeps the output identical.
  Model m = mlp();
  Tensor w1 = m.initializer("w1");
  for (int r : {2, 7, 9})
    for (int k = 0; k < 16; ++k) w1.data<float>()[r * 16 + k] = 0.f;
  m.set_initializer("w1", w1);
  Tensor b1 = m.initializer("b1");
  for (int r : {2, 7, 9}) b1.data<float>()[r] = 0.f;
  m.set_initializer("b1", b1);
  Tensor x = test::random_tensor({2, 16}, 16);
  auto want = Executor(m).run({{"x", x}}).at("y").to_floats();
  PruneOptions o;
  o.pattern = "channel";
  o.sparsity = 0.25;
  o.exclude = {"fc2"};
  prune_model(m, o);
  EXPECT_EQ(m.initializer("w1").shape(), (Shape{9, 16}));
  EXPECT_EQ(m.initializer("w2").shape(), (Shape{9, 4}));
  auto got = Executor(m).run({{"x", x}}).at("y").to_floats();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5);
}

TEST(Prune, SparseStorageRoundTripsThroughTheLoader) {
  Model m = mlp();
  PruneOptions o;
  o.sparsity = 0.8;
  prune_model(m, o);
  const Tensor w1 = m.initializer("w1");
  auto st = store_sparse_initializers(m);
  EXPECT_EQ(st.tensors, 1);  // w1 (192 values); w2 has 48 < 64 values
  EXPECT_EQ(m.graph().sparse_initializer_size(), 1);
  std::string bytes;
  m.proto.SerializeToString(&bytes);
  Model back = load_model_from_bytes(bytes, "sparse");
  EXPECT_EQ(back.graph().sparse_initializer_size(), 0);
  EXPECT_EQ(back.initializer("w1").to_floats(), w1.to_floats());
  EXPECT_LT(zip_bytes(std::string(10000, 'a')), 200);
}

TEST(Prune, AllocationMeetsTheTargetAndSparesSensitiveLayers) {
  SensitivityTable t;
  t.metric = "top1";
  t.levels = {0.5, 0.9};
  t.rows = {{"fragile", 100, {0.5, 0.1}, {0.4, 0.8}}, {"robust", 100, {0.9, 0.89}, {0.0, 0.01}}};
  auto a = allocate_sparsity(t, 0.6);
  EXPECT_NEAR((a["fragile"] * 100 + a["robust"] * 100) / 200, 0.6, 1e-3);
  EXPECT_GT(a["robust"], a["fragile"]);
  EXPECT_THROW(allocate_sparsity(t, 0.95), InputError);
}
