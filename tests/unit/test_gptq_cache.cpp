// SPDX-License-Identifier: Apache-2.0
// Sequential GPTQ with cached activations: waves after the first run only the part of the network
// past the cut (quant/model_cut) and give exactly the weights of re-running the whole prefix.
#include <gtest/gtest.h>

#include "calib/dataset.h"
#include "core/error.h"
#include "quant/gptq_sequential.h"
#include "quant/model_cut.h"
#include "runtime/executor.h"
#include "test_util.h"

namespace qtool {
namespace {

// fc1 -> Relu a -> fc2 -> Relu -> fc3 -> Add(., a) -> fc4: four waves; the skip connection keeps a
// in the cut until the Add is settled.
Model residual_mlp() {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[N,8] x) => (float[N,4] y) {
      h1 = Gemm<transB = 1>(x, w1)
      a = Relu(h1)
      h2 = Gemm<transB = 1>(a, w2)
      b = Relu(h2)
      c = Gemm<transB = 1>(b, w3)
      d = Add(c, a)
      y = Gemm<transB = 1>(d, w4)
    })");
  const char* names[] = {"fc1", "", "fc2", "", "fc3", "", "fc4"};
  for (int k = 0; k < 7; ++k) m.graph().mutable_node(k)->set_name(names[k]);
  m.set_initializer("w1", test::random_tensor({8, 8}, 1));
  m.set_initializer("w2", test::random_tensor({8, 8}, 2));
  m.set_initializer("w3", test::random_tensor({8, 8}, 3));
  m.set_initializer("w4", test::random_tensor({4, 8}, 4));
  return m;
}

std::map<std::string, QuantizedWeight> run(const Model& m, Dataset& data, int64_t cache_bytes, GptqRunInfo& info) {
  QuantOptions opts;
  opts.weights.format = "int4";
  GptqOptions g;
  g.cache_bytes = cache_bytes;
  return gptq_sequential(m, data, opts, g, nullptr, &info);
}

TEST(GptqCache, LaterWavesRunOnCachedActivationsWithTheSameResult) {
  const Model m = residual_mlp();
  auto data = memory_dataset({{"x", test::random_tensor({40, 8}, 9)}}, model_input_specs(m), "x");
  GptqRunInfo cached, rerun, tiny;
  const auto a = run(m, *data, -1, cached);
  const auto b = run(m, *data, 0, rerun);
  const auto c = run(m, *data, 64, tiny);  // 64 bytes: no cut fits
  EXPECT_EQ(cached.waves, 4);
  EXPECT_EQ(cached.waves_from_cache, 3);
  EXPECT_GT(cached.cache_bytes, 40u * 8 * 4 - 1);  // at least one [40, 8] float activation
  EXPECT_EQ(rerun.waves_from_cache, 0);
  EXPECT_EQ(tiny.waves_from_cache, 0);
  ASSERT_EQ(a.size(), 4u);
  for (const auto& [label, q] : a) {
    for (const auto* other : {&b, &c}) {
      const QuantizedWeight& r = other->at(label);
      ASSERT_EQ(q.codes.numel(), r.codes.numel()) << label;
      for (int64_t i = 0; i < q.codes.numel(); ++i)
        ASSERT_EQ(q.codes.data<int32_t>()[i], r.codes.data<int32_t>()[i]) << label << " code " << i;
      for (int64_t i = 0; i < q.scale.numel(); ++i)
        ASSERT_EQ(q.scale.data<float>()[i], r.scale.data<float>()[i]) << label << " scale " << i;
    }
  }
}

// An export that fixes the batch at 1 in a Reshape after the cut (the Model Zoo ResNet-50's
// Reshape to [1, 2048] before its Gemm): the prefixes run batched, the cache holds what the whole
// model accepts (one sample per batch), and the result equals the run without a cache.
TEST(GptqCache, ModelFixingTheBatchAfterTheCutIsCachedSampleBySample) {
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[N,8] x) => (float[1,4] y) {
      h1 = Gemm<transB = 1>(x, w1)
      a = Relu(h1)
      h2 = Gemm<transB = 1>(a, w2)
      b = Relu(h2)
      s = Constant<value = int64[2] {1, 8}>()
      r = Reshape(b, s)
      y = Gemm<transB = 1>(r, w3)
    })");
  const char* names[] = {"fc1", "", "fc2", "", "", "", "fc3"};
  for (int k = 0; k < 7; ++k) m.graph().mutable_node(k)->set_name(names[k]);
  m.set_initializer("w1", test::random_tensor({8, 8}, 1));
  m.set_initializer("w2", test::random_tensor({8, 8}, 2));
  m.set_initializer("w3", test::random_tensor({4, 8}, 3));
  auto data = memory_dataset({{"x", test::random_tensor({40, 8}, 9)}}, model_input_specs(m), "x");
  GptqRunInfo cached, rerun;
  const auto a = run(m, *data, -1, cached);
  const auto b = run(m, *data, 0, rerun);
  EXPECT_EQ(cached.waves, 3);
  EXPECT_EQ(cached.waves_from_cache, 2);
  ASSERT_EQ(a.size(), 3u);
  for (const auto& [label, q] : a)
    for (int64_t i = 0; i < q.codes.numel(); ++i)
      ASSERT_EQ(q.codes.data<int32_t>()[i], b.at(label).codes.data<int32_t>()[i]) << label << " code " << i;
}

TEST(ModelCut, KeepsTheRestFedByTheCut) {
  const Model m = residual_mlp();
  // fc1 and its Relu settled: the rest reads a (fc2 and the Add)
  std::vector<bool> keep = {false, false, true, true, true, true, true};
  Model after = model_after_cut(m, keep, {InputSpec{"a", DType::kFloat, {-1, 8}}});
  ASSERT_EQ(after.graph().node_size(), 5);
  ASSERT_EQ(after.graph().input_size(), 1);
  EXPECT_EQ(after.graph().input(0).name(), "a");
  EXPECT_EQ(after.find_initializer("w1"), nullptr);
  // the part after the cut fed with a equals the whole model
  const Tensor x = test::random_tensor({5, 8}, 3);
  Executor whole(m), rest(after);
  whole.keep_values({"a"});
  const TensorMap w = whole.run({{"x", x}});
  const Tensor y = rest.run({{"a", w.at("a")}}).at("y");
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], w.at("y").data<float>()[i]);
  // fc2's Relu settled too, but the Add still reads a: {b} alone is not a cut
  keep[3] = false;
  keep[2] = false;
  EXPECT_THROW(model_after_cut(m, keep, {InputSpec{"b", DType::kFloat, {-1, 8}}}), Error);
  EXPECT_THROW(model_after_cut(m, {true}, {}), Error);  // one flag per node
}

}  // namespace
}  // namespace qtool
