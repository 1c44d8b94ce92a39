// SPDX-License-Identifier: Apache-2.0
// qtool inspect MODEL [--json]
#include <iostream>

#include "eval/inspect.h"
#include "runtime/executor.h"
#include "tools/commands.h"

namespace qtool::cli {

void add_inspect_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("inspect", "op histogram, parameter count and bytes by data type");
  cmd->add_option("model", *model, ".onnx model")->required();
  cmd->add_flag("--json", *json, "print as JSON");
  cmd->callback([model, json] {
    Model m = load_model(*model);
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
