// SPDX-License-Identifier: Apache-2.0
// PNG chunk lengths checked against the bytes present, before stb_image sees the file: stb_image
// grows its IDAT buffer to a chunk's declared length (up to 2^31) before reading the chunk, so a
// 222-byte PNG declaring a 1 GiB IDAT made it allocate 1 GiB (found by fuzz_image). PNG format:
// 8-byte signature, then chunks of length (4 bytes, big-endian) + type (4) + data + CRC (4).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qtool {

// Empty when `data` is not a PNG, or every chunk up to IEND (or the end of the data) fits in
// the bytes that follow it; else what is wrong ("PNG chunk 'IDAT' claims 1073741824 bytes, 180
// remain").
std::string png_chunk_problem(const uint8_t* data, size_t size);

}  // namespace qtool
