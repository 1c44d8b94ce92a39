// SPDX-License-Identifier: Apache-2.0
#include "io/png_chunks.h"

#include <cstring>

namespace qtool {

std::string png_chunk_problem(const uint8_t* data, size_t size) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return {};
  size_t pos = 8;
  while (size - pos >= 8) {
    const uint64_t len = (uint64_t{data[pos]} << 24) | (uint64_t{data[pos + 1]} << 16) |
                         (uint64_t{data[pos + 2]} << 8) | uint64_t{data[pos + 3]};
    const std::string type(reinterpret_cast<const char*>(data + pos + 4), 4);
    const uint64_t remain = size - pos - 8;
    if (len > remain)
      return "PNG chunk '" + type + "' claims " + std::to_string(len) + " bytes, " + std::to_string(remain) + " remain";
    if (type == "IEND") break;
    pos += 8 + static_cast<size_t>(len);
    if (size - pos < 4) break;  // a missing CRC is stb_image's to report
    pos += 4;
  }
  return {};
}

}  // namespace qtool
