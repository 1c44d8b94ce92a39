// SPDX-License-Identifier: Apache-2.0
// Image dimensions checked against the bytes that carry them, before a decoder allocates by the
// header: a 52-byte binary PPM whose header claims 236 x 232222 pixels made stb_image allocate
// 164 MB (found by fuzz_image). Each format stores a pixel in a bounded number of bits at best:
// binary PNM (P4 bitmap: 1 bit, P5/P6: 1 byte or more), BMP (1 bit uncompressed; stb_image reads no
// RLE BMP), PNG (deflate, at most 1032:1, of 1-bit rows), GIF (LZW: a 12-bit code emits at most
// 4096 pixels), JPEG (a DC-only block of 64 pixels in 2 bits, x4 for 2x2 chroma subsampling) and
// the RLE formats (TGA, PSD, HDR, PIC: at most 128 pixels per 2-byte run).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qtool {

// The most pixels (width x height) a stream of `size` bytes in its format can encode.
uint64_t max_pixels_in_stream(const uint8_t* data, size_t size);
// Empty when width x height fits max_pixels_in_stream; else what is wrong ("header claims
// 236x232222 pixels; 52 bytes of PNM hold at most 4148").
std::string image_size_problem(const uint8_t* data, size_t size, uint64_t width, uint64_t height);

}  // namespace qtool
