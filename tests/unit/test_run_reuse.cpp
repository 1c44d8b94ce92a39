// SPDX-License-Identifier: Apache-2.0
// What the executor keeps from one run to the next: oneDNN primitives with their memory objects
// (rebound to each run's buffers), the checked geometry of a convolution, tensor storage recycled
// by core/buffer_pool, and SerialScope's one-thread runs of small work. Every run must still see
// its own inputs: new values, a new batch size, and the old batch size again.
#include <gtest/gtest.h>
#include <omp.h>

#include "core/buffer_pool.h"
#include "core/parallel.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

// Conv (plain in, blocked out) -> Relu -> Conv + residual Add + Relu (a sum post-op) -> Conv with
// padding -> Flatten -> Gemm -> Softmax, plus MatMuls whose right operand is an input (2-D: one
// product over all rows; 3-D: the batched primitive).
Model small_cnn() {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 14]>
    g (float[N,3,12,12] x, float[N,4,5] a, float[5,6] b, float[N,5,6] bb) => (float[N,10] y, float[N,4,6] p, float[N,4,6] q) {
      c1 = Conv<pads = [1,1,1,1], strides = [2,2]>(x, w1, b1)
      r1 = Relu(c1)
      c2 = Conv<pads = [1,1,1,1]>(r1, w2, b2)
      s = Add(c2, r1)
      r2 = Relu(s)
      c3 = Conv<pads = [1,1,1,1], strides = [2,2]>(r2, w3)
      f = Flatten(c3)
      gm = Gemm<transB = 1>(f, wf, bf)
      y = Softmax(gm)
      p = MatMul(a, b)
      q = MatMul(a, bb)
    })");
  m.set_initializer("w1", test::random_tensor({16, 3, 3, 3}, 1, -0.4f, 0.4f));
  m.set_initializer("b1", test::random_tensor({16}, 2));
  m.set_initializer("w2", test::random_tensor({16, 16, 3, 3}, 3, -0.2f, 0.2f));
  m.set_initializer("b2", test::random_tensor({16}, 4));
  m.set_initializer("w3", test::random_tensor({8, 16, 3, 3}, 5, -0.2f, 0.2f));
  m.set_initializer("wf", test::random_tensor({10, 8 * 3 * 3}, 6, -0.3f, 0.3f));
  m.set_initializer("bf", test::random_tensor({10}, 7));
  return m;
}

}  // namespace

TEST(RunReuse, EveryRunSeesItsOwnInputs) {
  Model m = small_cnn();
  Executor fast(m);
  Executor reference(m, ExecutorOptions{false, false, true});
  uint32_t seed = 10;
  // every run's feeds stay alive, so no run's buffers can reuse an earlier run's addresses
  std::vector<std::map<std::string, Tensor>> all_feeds;
  for (int64_t batch : {1, 1, 3, 3, 1}) {  // new values each run; the batch changes and comes back
    const auto& feeds = all_feeds.emplace_back(std::map<std::string, Tensor>{{"x", test::random_tensor({batch, 3, 12, 12}, seed++, -2.f, 2.f)},
                                              {"a", test::random_tensor({batch, 4, 5}, seed++)},
                                              {"b", test::random_tensor({5, 6}, seed++)},
                                              {"bb", test::random_tensor({batch, 5, 6}, seed++)}});
    const auto got = fast.run(feeds);
    const auto want = reference.run(feeds);
    for (const char* name : {"y", "p", "q"}) {
      ASSERT_EQ(got.at(name).shape(), want.at(name).shape()) << name << " batch " << batch;
      EXPECT_LT(test::max_abs_diff(got.at(name), want.at(name)), 1e-5f) << name << " batch " << batch;
    }
  }
}

TEST(BufferPool, FreedStorageIsReusedAndTrimmed) {
  pooled_trim();
  const BufferPoolUser user;  // blocks are kept only while the pool has a user
  const Shape shape{3, 1000};
  void* first = nullptr;
  {
    Tensor t = Tensor::uninitialized(DType::kFloat, shape);
    first = t.raw();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % kTensorAlign, 0u);
  }
  if (pooled_caching_enabled()) {  // not under AddressSanitizer
    EXPECT_EQ(pooled_cached_bytes(), 12032u);  // 12000 bytes rounded up to 64
    Tensor again(DType::kFloat, shape);        // the same block, zeroed as asked
    EXPECT_EQ(again.raw(), first);
    EXPECT_EQ(pooled_cached_bytes(), 0u);
    for (float v : again.to_floats()) ASSERT_EQ(v, 0.f);
    again = Tensor();
    EXPECT_EQ(pooled_trim(), 12032u);
  }
  EXPECT_EQ(pooled_cached_bytes(), 0u);
}

TEST(BufferPool, CachingSwitchedOffKeepsNothing) {
  // as in the qtool executable, whose malloc (tcmalloc) recycles blocks itself
  pooled_trim();
  const BufferPoolUser user;
  const bool was = pooled_caching_enabled();
  if (was) {  // not under AddressSanitizer
    { Tensor t = Tensor::uninitialized(DType::kFloat, {1000}); }
    EXPECT_EQ(pooled_cached_bytes(), 4032u);
  }
  set_pooled_caching(false);  // frees what the cache holds
  EXPECT_FALSE(pooled_caching_enabled());
  EXPECT_EQ(pooled_cached_bytes(), 0u);
  { Tensor t = Tensor::uninitialized(DType::kFloat, {1000}); }
  EXPECT_EQ(pooled_cached_bytes(), 0u);
  set_pooled_caching(true);
  EXPECT_EQ(pooled_caching_enabled(), was);
  pooled_trim();
}

TEST(BufferPool, WithoutUsersNothingIsKept) {
  { Tensor t = Tensor::uninitialized(DType::kFloat, {100}); }
  EXPECT_EQ(pooled_cached_bytes(), 0u);
}

TEST(BufferPool, NoExecutorLeftMeansNothingCached) {
  {
    const Model m = small_cnn();
    Executor e(m);
    e.run({{"x", test::random_tensor({2, 3, 12, 12}, 1)},
           {"a", test::random_tensor({2, 4, 5}, 2)},
           {"b", test::random_tensor({5, 6}, 3)},
           {"bb", test::random_tensor({2, 5, 6}, 4)}});
  }
  EXPECT_EQ(pooled_cached_bytes(), 0u);
}

TEST(SerialScope, SmallWorkRunsOnTheCallingThreadAlone) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  {
    const SerialScope small(SerialScope::kSerialWork / 2);
    EXPECT_EQ(omp_get_max_threads(), 1);
    {
      const SerialScope nested(1e12);  // inside a serial scope nothing widens
      EXPECT_EQ(omp_get_max_threads(), 1);
    }
    EXPECT_EQ(omp_get_max_threads(), 1);
  }
  EXPECT_EQ(omp_get_max_threads(), 2);
  {
    const SerialScope large(SerialScope::kSerialWork * 2);
    EXPECT_EQ(omp_get_max_threads(), 2);
  }
  omp_set_num_threads(saved);
}

// A node of constant inputs whose result exceeds the fold limit (VGG-19's 411 MB fc6 weight made
// by ConstantOfShape from the Model Zoo's light files) is computed by the first run and kept: later
// runs hand out the same buffer, and every run's result is right.
TEST(RunReuse, ConstantNodeAboveTheFoldLimitRunsOnce) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 14]>
    g (float[N,64] x) => (float[N,64] y, float[64,64] w) {
      w = ConstantOfShape<value = float[1] {0.5}>(shape)
      y = MatMul(x, w)
    })");
  m.set_initializer("shape", Tensor::from<int64_t>({2}, {64, 64}));
  ExecutorOptions opts;
  opts.fold_limit_bytes = 1024;  // 16 KiB of weight: over the limit
  Executor exec(m, opts);
  exec.keep_values({"w"});
  std::vector<TensorMap> held;  // every run's results stay alive: no buffer can be recycled
  for (int run = 0; run < 3; ++run) {
    const Tensor x = test::random_tensor({run + 1, 64}, 20 + run);
    held.push_back(exec.run({{"x", x}}));
    const TensorMap& out = held.back();
    EXPECT_EQ(out.at("w").raw(), held.front().at("w").raw()) << "run " << run;  // the kept result
    const auto xs = x.to_floats(), ys = out.at("y").to_floats();
    for (int r = 0; r <= run; ++r) {
      float row = 0;
      for (int k = 0; k < 64; ++k) row += xs[r * 64 + k];
      for (int j = 0; j < 64; ++j) EXPECT_NEAR(ys[r * 64 + j], 0.5f * row, 1e-4f) << "run " << run;
    }
  }
  // under the limit it is folded at compile time: the same values
  Executor folded(m);
  EXPECT_EQ(folded.run({{"x", test::random_tensor({1, 64}, 30)}}).at("w").to_floats(),
            std::vector<float>(64 * 64, 0.5f));
}

// Shape -> Gather -> Unsqueeze -> Concat computes a Reshape target from the input's extents (as
// exporters write them): the chain runs again only when the extents change, and a shape computed
// from data (NonZero's count) is computed again whenever that shape changes.
TEST(RunReuse, ShapeComputationsRunAgainOnlyWhenTheirInputShapesChange) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 14]>
    g (float[N,C,4] x) => (float[N,M] y, float cnt) {
      s = Shape(x)
      n = Gather<axis = 0>(s, zero)
      nu = Unsqueeze(n, axes)
      t = Concat<axis = 0>(nu, minus1)
      y = Reshape(x, t)
      nz = NonZero(x)
      s2 = Shape(nz)
      c = Gather<axis = 0>(s2, one)
      cu = Unsqueeze(c, axes)
      z = ConstantOfShape<value = float[1] {1.0}>(cu)
      cnt = ReduceSum<keepdims = 0>(z)
    })");
  m.set_initializer("zero", Tensor::from<int64_t>({}, {0}));
  m.set_initializer("one", Tensor::from<int64_t>({}, {1}));
  m.set_initializer("axes", Tensor::from<int64_t>({1}, {0}));
  m.set_initializer("minus1", Tensor::from<int64_t>({1}, {-1}));
  Executor exec(m);
  exec.observe_values({"t"});
  Tensor t_seen;
  exec.set_hook([&](const std::string& name, const Tensor& v) {
    if (name == "t") t_seen = v;
  });
  const void* t_first = nullptr;
  for (int run = 0; run < 4; ++run) {
    const int64_t n = run < 3 ? 2 : 5;  // runs 0-2: [2,3,4], run 3: [5,3,4]
    Tensor x = test::random_tensor({n, 3, 4}, 40 + run, 0.5f, 1.f);
    for (int64_t i = 0; i < run; ++i) x.data<float>()[i * 5] = 0.f;  // run k: k zeros
    const TensorMap out = exec.run({{"x", x}});
    EXPECT_EQ(out.at("y").shape(), (Shape{n, 12})) << "run " << run;
    EXPECT_EQ(out.at("y").to_floats(), x.to_floats()) << "run " << run;
    EXPECT_EQ(out.at("cnt").to_floats(), std::vector<float>{static_cast<float>(n * 12 - run)}) << "run " << run;
    EXPECT_EQ(t_seen.to_int64s(), (std::vector<int64_t>{n, -1})) << "run " << run;
    if (run == 0) t_first = t_seen.raw();
    if (run < 3) EXPECT_EQ(t_seen.raw(), t_first) << "run " << run << ": the same extents reuse the target";
    else EXPECT_NE(t_seen.raw(), t_first) << "new extents compute it again";
  }
}
