// SPDX-License-Identifier: Apache-2.0
#include "io/json_file.h"

#include "core/error.h"
#include "io/input_file.h"

namespace qtool {

nlohmann::json parse_json_text(const std::string& text, const std::string& label) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string msg = e.what();
    if (msg.rfind("[json.exception.", 0) == 0 && msg.find("] ") != std::string::npos) msg = msg.substr(msg.find("] ") + 2);
    throw InputError(label + ": not valid JSON (" + msg + ")");
  }
}

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  return parse_json_text(read_input_file(path, "the " + what + " (JSON)"), path);
}

std::string json_type_error(const nlohmann::json::exception& e) {
  std::string msg = e.what();
  if (msg.rfind("[json.exception.", 0) == 0 && msg.find("] ") != std::string::npos) msg = msg.substr(msg.find("] ") + 2);
  return msg;
}

}  // namespace qtool
