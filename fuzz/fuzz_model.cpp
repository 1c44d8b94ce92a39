// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: ONNX model bytes -> what `qtool run` / `qtool quantize` do before touching
// data: load_model_from_bytes (parse, validation before allocation, sparse densify, Constant ->
// initializer), check_model (structure + onnx checker), require_supported, the op registry's
// attribute validators (validate_node_attributes), the executor's compile (topological sort,
// constant folding under its size cap, subgraphs) and the prepare passes that do not need data
// (remove_initializer_inputs, fold_constants, fold_batchnorm, fold_bias_add). Nothing is run on
// inputs (a model may legitimately describe huge work). Seeds: real .onnx files (.ci/fuzz).
#include <cstdint>
#include <string>

#include "fuzz/fuzz_common.h"
#include "io/model.h"
#include "quant/pass.h"
#include "runtime/executor.h"

using namespace qtool;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::expect_only_input_errors([&] {
    const std::string label = "<fuzz>";
    Model m = load_model_from_bytes(std::string(reinterpret_cast<const char*>(data), size), label);
    check_model(m, label);
    (void)model_input_specs(m);
    require_supported(m);
    validate_node_attributes(m);
    { Executor exec(m); }
    PassContext ctx;
    for (const char* id : {"remove_initializer_inputs", "fold_constants", "fold_batchnorm", "fold_bias_add"})
      run_pass(id, m, ctx);
  });
  return 0;
}
