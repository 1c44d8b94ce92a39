// SPDX-License-Identifier: Apache-2.0
// Reading a JSON file with errors that name the file (plans, sparsity maps, calibration tables).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace qtool {

// Throws InputError "<path>: cannot open the <what>" / "<path>: not valid JSON (...)".
nlohmann::json read_json_file(const std::string& path, const std::string& what);

}  // namespace qtool
