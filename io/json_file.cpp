// SPDX-License-Identifier: Apache-2.0
#include "io/json_file.h"

#include <fstream>

#include "core/error.h"

namespace qtool {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream f(path);
  if (!f) throw InputError(path + ": cannot open the " + what);
  try {
    nlohmann::json j;
    f >> j;
    return j;
  } catch (const std::exception& e) {
    throw InputError(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

}  // namespace qtool
