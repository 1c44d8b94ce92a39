// SPDX-License-Identifier: Apache-2.0
// qtool inspect MODEL [--json] [--runtime onnxruntime]
#include <iostream>

#include "eval/inspect.h"
#include "eval/runtime_kernels.h"
#include "runtime/executor.h"
#include "tools/commands.h"

namespace qtool::cli {

void add_inspect_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto runtime = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("inspect", "op histogram, parameter count and bytes by data type");
  cmd->add_option("model", *model, ".onnx model")->required();
  cmd->add_flag("--json", *json, "print as JSON");
  cmd->add_option("--runtime", *runtime,
                  "onnxruntime: which Conv/MatMul/Gemm layers that runtime will run as integer kernels (QLinearConv, "
                  "QLinearMatMul, MatMulIntegerToFloat, QGemm) and why the others will not");
  cmd->callback([model, json, runtime] {
    Model m = load_model(*model);
    if (!runtime->empty()) {
      const auto layers = runtime_kernels(m, *runtime);
      std::cout << (*json ? runtime_kernels_json(layers, *runtime) + "\n" : *model + "\n" + runtime_kernels_text(layers, *runtime));
      return;
    }
    ModelSummary s = summarize(m);
    if (*json) {
      std::cout << s.to_json() << "\n";
      return;
    }
    std::cout << *model << "\n" << s.to_text();
    auto bad = find_unsupported_ops(m);
    for (const auto& b : bad) std::cout << "unsupported by qtool's executor: " << b << "\n";
  });
}

}  // namespace qtool::cli
