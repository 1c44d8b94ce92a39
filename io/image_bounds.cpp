// SPDX-License-Identifier: Apache-2.0
#include "io/image_bounds.h"

#include <cstring>
#include <limits>

namespace qtool {

namespace {
struct Format {
  const char* name;
  uint64_t pixels_per_byte;
};

Format format_of(const uint8_t* d, size_t n) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(d, magic, len) == 0; };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return {"PNG", 8 * 1032};
  if (starts("GIF8", 4)) return {"GIF", 4096};
  if (starts("\xff\xd8", 2)) return {"JPEG", 128 * 4};
  if (starts("BM", 2)) return {"BMP", 8};
  if (starts("P4", 2)) return {"PNM", 8};
  if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') return {"PNM", 1};
  // TGA (no magic), PSD, HDR, PIC, anything else stb_image reads: run-length coded at best
  return {"this format", 64};
}
}  // namespace

uint64_t max_pixels_in_stream(const uint8_t* data, size_t size) {
  const uint64_t ratio = format_of(data, size).pixels_per_byte;
  const uint64_t n = static_cast<uint64_t>(size);
  if (n > (std::numeric_limits<uint64_t>::max() - 4096) / ratio) return std::numeric_limits<uint64_t>::max();
  return ratio * n + 4096;  // headers of tiny images
}

std::string image_size_problem(const uint8_t* data, size_t size, uint64_t width, uint64_t height) {
  const uint64_t most = max_pixels_in_stream(data, size);
  if (width == 0 || height == 0 || width <= most / height) return {};
  return "header claims " + std::to_string(width) + "x" + std::to_string(height) + " pixels; " + std::to_string(size) +
         " bytes of " + format_of(data, size).name + " hold at most " + std::to_string(most);
}

}  // namespace qtool
