// SPDX-License-Identifier: Apache-2.0
#include "core/error.h"

namespace qtool {
std::string concat_message(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) out += p;
  return out;
}
}  // namespace qtool
