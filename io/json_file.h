// SPDX-License-Identifier: Apache-2.0
// Reading a JSON file with errors that name the file (plans, sparsity maps, calibration tables).
// Regular files only (a FIFO is refused, not waited on); nlohmann's exceptions become InputError.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace qtool {

// Throws InputError "<path>: cannot open the <what> ..." / "<path>: not valid JSON (...)".
nlohmann::json read_json_file(const std::string& path, const std::string& what);
nlohmann::json parse_json_text(const std::string& text, const std::string& label);
// nlohmann's message without its "[json.exception.type_error.302] " prefix.
std::string json_type_error(const nlohmann::json::exception& e);

}  // namespace qtool
