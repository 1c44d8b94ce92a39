// SPDX-License-Identifier: Apache-2.0
// qtool ops [--json]: the operators qtool's executor runs, by domain, with the ONNX since-versions
// each definition implements and whether an optimized kernel backs it.
#include <iostream>
#include <nlohmann/json.hpp>

#include "runtime/op_registry.h"
#include "tools/commands.h"

namespace qtool::cli {

void add_ops_command(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("ops", "list the operators (domain, type, ONNX since-versions) qtool runs");
  cmd->add_flag("--json", *json, "machine-readable list");
  cmd->callback([json] {
    const auto entries = OpRegistry::instance().entries();
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& e : entries) {
        bool fast = false;
        for (bool f : e.has_fast) fast = fast || f;
        out.push_back({{"domain", e.domain}, {"op_type", e.op_type}, {"since_versions", e.versions}, {"fast", fast}});
      }
      std::cout << out.dump(1) << "\n";
      return;
    }
    for (const auto& e : entries) {
      std::string versions;
      for (size_t i = 0; i < e.versions.size(); ++i)
        versions += (i ? "," : "") + std::to_string(e.versions[i]) + (e.has_fast[i] ? "*" : "");
      std::cout << (e.domain.empty() ? "ai.onnx" : e.domain) << "\t" << e.op_type << "\t" << versions << "\n";
    }
    std::cout << entries.size() << " operators (* = optimized kernel)\n";
  });
}

}  // namespace qtool::cli
