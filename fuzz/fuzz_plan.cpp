// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: quantization plan bytes (JSON, quant/plan.h) -> what `qtool quantize --plan`
// does: read_plan (file, JSON parse, every spec checked), validate(), then compress() of a small
// model (fuzz/tiny_model.h) with the plan's per-layer formats (weights only, no data: round to
// nearest). Seeds: plans `qtool auto --plan` writes (.ci/fuzz).
#include <cstdint>

#include "fuzz/fuzz_common.h"
#include "fuzz/tiny_model.h"
#include "quant/compress.h"
#include "quant/plan.h"

using namespace qtool;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::write_tiny_model_if_asked();
  fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Model model = fuzz::tiny_model();
  const auto path = fuzz::scratch_dir() / "plan.json";
  fuzz::write_bytes(path, data, size);
  fuzz::expect_only_input_errors([&] {
    CompressOptions opts;
    read_plan(path.string(), opts);
    validate(opts);
    (void)compress(model, opts, nullptr);
  });
  return 0;
}
