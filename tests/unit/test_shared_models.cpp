// SPDX-License-Identifier: Apache-2.0
// Integration: every model in ../shared/data loads, passes the checker and runs in the executor
// (numerical agreement with onnxruntime is checked in tests/python/test_executor_vs_ort.py).
#include <gtest/gtest.h>

#include <filesystem>

#include "quant/quantize_model.h"
#include "runtime/executor.h"

using namespace qtool;
namespace fs = std::filesystem;

TEST(SharedModels, LoadPrepareAndRun) {
  const fs::path root = QTOOL_SHARED_DATA;
  if (!fs::exists(root)) GTEST_SKIP() << "../shared/data is absent: skipping real-model integration tests";
  int count = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".onnx") continue;
    SCOPED_TRACE(e.path().string());
    Model m = load_model(e.path());
    Executor exec(m);
    TensorMap feeds;
    for (const auto& in : exec.inputs()) {
      Shape s = in.shape;
      for (auto& d : s) d = d < 0 ? 2 : d;
      feeds[in.name] = Tensor(in.dtype, s);
    }
    auto out = exec.run(feeds);
    EXPECT_EQ(out.size(), exec.output_names().size());
    PassContext ctx;
    Model prepared = prepare_for_quantization(m, ctx);  // opset upgrade works on every model
    EXPECT_GE(prepared.opset(), 13);
    ++count;
  }
  EXPECT_GE(count, 7);
}
