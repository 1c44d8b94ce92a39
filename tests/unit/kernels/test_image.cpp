// SPDX-License-Identifier: Apache-2.0
// ImageDecoder (runtime/kernels/image.cpp): PNG (written with stb_image_write), PPM, BMP and TIFF
// bytes built here decode to the exact pixels in RGB / BGR / Grayscale; JPEG decodes close to the
// source; oversized headers are refused before decoding; garbage gives the spec's empty image.
#include <stb/stb_image_write.h>

#include <cstring>

#include "../kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

// 3 x 2 RGB test image
const std::vector<uint8_t> kPixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3};

Tensor bytes_tensor(const std::vector<uint8_t>& b) { return Tensor::from<uint8_t>({static_cast<int64_t>(b.size())}, b); }

void append_to(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<uint8_t>*>(ctx);
  v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

std::vector<uint8_t> encode_png() {
  std::vector<uint8_t> out;
  stbi_write_png_to_func(append_to, &out, 3, 2, 3, kPixels.data(), 9);
  return out;
}

std::vector<uint8_t> encode_ppm(int w, int h, const std::vector<uint8_t>& px) {
  const std::string head = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  std::vector<uint8_t> out(head.begin(), head.end());
  out.insert(out.end(), px.begin(), px.end());
  return out;
}

void put16(std::vector<uint8_t>& v, uint32_t x) { v.push_back(x & 255); v.push_back(x >> 8); }
void put32(std::vector<uint8_t>& v, uint32_t x) { put16(v, x & 0xffff); put16(v, x >> 16); }

// Little-endian baseline TIFF: 8-bit RGB, one uncompressed strip.
std::vector<uint8_t> encode_tiff(uint32_t w, uint32_t h, const std::vector<uint8_t>& px) {
  std::vector<uint8_t> t = {'I', 'I', 42, 0};
  const uint32_t n_entries = 8, ifd = 8, bits_at = ifd + 2 + 12 * n_entries + 4, data_at = bits_at + 6;
  put32(t, ifd);
  put16(t, n_entries);
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t count, uint32_t value) {
    put16(t, tag);
    put16(t, type);
    put32(t, count);
    if (type == 3 && count == 1) {
      put16(t, value);
      put16(t, 0);
    } else {
      put32(t, value);
    }
  };
  entry(256, 4, 1, w);
  entry(257, 4, 1, h);
  entry(258, 3, 3, bits_at);  // three SHORTs do not fit inline
  entry(259, 3, 1, 1);
  entry(262, 3, 1, 2);
  entry(273, 4, 1, data_at);
  entry(277, 3, 1, 3);
  entry(279, 4, 1, static_cast<uint32_t>(px.size()));
  put32(t, 0);  // no next IFD
  for (int i = 0; i < 3; ++i) put16(t, 8);
  t.insert(t.end(), px.begin(), px.end());
  return t;
}

Tensor decode(const std::vector<uint8_t>& bytes, const std::string& fmt = "RGB") {
  auto n = make_node("ImageDecoder", 1, 1);
  set_attr(n, "pixel_format", fmt);
  return run_op(n, 20, {bytes_tensor(bytes)}, true)[0].tensor();
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const uint8_t* p = t.data<uint8_t>();
  return std::vector<uint8_t>(p, p + t.numel());
}

}  // namespace

TEST(ImageDecoderKernel, LosslessFormatsDecodeExactly) {
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::vector<uint8_t>>>{
           {"png", encode_png()}, {"ppm", encode_ppm(3, 2, kPixels)}, {"tiff", encode_tiff(3, 2, kPixels)}}) {
    SCOPED_TRACE(name);
    const Tensor rgb = decode(bytes);
    ASSERT_EQ(rgb.shape(), (Shape{2, 3, 3}));
    EXPECT_EQ(bytes_of(rgb), kPixels);
    const Tensor bgr = decode(bytes, "BGR");
    const auto b = bytes_of(bgr);
    for (size_t i = 0; i < 6; ++i) {
      EXPECT_EQ(b[3 * i], kPixels[3 * i + 2]);
      EXPECT_EQ(b[3 * i + 2], kPixels[3 * i]);
    }
    const Tensor gray = decode(bytes, "Grayscale");
    ASSERT_EQ(gray.shape(), (Shape{2, 3, 1}));
    const auto g = bytes_of(gray);
    // PIL's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16
    EXPECT_EQ(g[0], 76);   // red
    EXPECT_EQ(g[1], 150);  // green
    EXPECT_EQ(g[2], 29);   // blue
    EXPECT_EQ(g[4], (19595 * 200 + 38470 * 100 + 7471 * 50 + 32768) >> 16);
  }
}

TEST(ImageDecoderKernel, JpegDecodesCloseToTheSource) {
  std::vector<uint8_t> px(16 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) px[(y * 16 + x) * 3 + c] = static_cast<uint8_t>(c == 0 ? 16 * x : c == 1 ? 16 * y : 128);
  std::vector<uint8_t> jpg;
  stbi_write_jpg_to_func(append_to, &jpg, 16, 16, 3, px.data(), 100);
  const Tensor rgb = decode(jpg);
  ASSERT_EQ(rgb.shape(), (Shape{16, 16, 3}));
  const auto got = bytes_of(rgb);
  for (size_t i = 0; i < px.size(); ++i) EXPECT_NEAR(got[i], px[i], 12) << i;
}

TEST(ImageDecoderKernel, OversizedHeadersAreRefusedBeforeDecoding) {
  // A PPM header claiming 31000 x 31000 with a few bytes of data
  EXPECT_THROW(decode(encode_ppm(31000, 31000, std::vector<uint8_t>(888, 7))), InputError);
  // A JPEG of a few hundred bytes whose frame header claims 31000 x 31000
  std::vector<uint8_t> jpg;
  stbi_write_jpg_to_func(append_to, &jpg, 8, 8, 3, std::vector<uint8_t>(8 * 8 * 3, 90).data(), 50);
  bool patched = false;
  for (size_t i = 0; i + 8 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && (jpg[i + 1] == 0xC0 || jpg[i + 1] == 0xC2)) {  // SOF0 / SOF2: height, width at +5
      jpg[i + 5] = 31000 >> 8, jpg[i + 6] = 31000 & 255, jpg[i + 7] = 31000 >> 8, jpg[i + 8] = 31000 & 255;
      patched = true;
      break;
    }
  ASSERT_TRUE(patched);
  EXPECT_THROW(decode(jpg), InputError);
  EXPECT_THROW(decode(encode_tiff(40000, 40000, kPixels)), InputError);
}

TEST(ImageDecoderKernel, UndecodableStreamsGiveAnEmptyImage) {
  const auto tiff = encode_tiff(3, 2, kPixels);
  const auto png = encode_png();
  for (const auto& bytes : std::vector<std::vector<uint8_t>>{
           {1, 2, 3, 4, 5},                                       // unknown format
           {0xFF, 0xD8, 0xFF, 0xE0, 0, 16},                       // truncated JPEG
           {'I', 'I', 42, 0, 200, 0, 0, 0},                       // TIFF directory out of range
           std::vector<uint8_t>(tiff.begin(), tiff.end() - 4),    // TIFF strip cut short
           std::vector<uint8_t>(png.begin(), png.begin() + 40)}) {  // truncated PNG
    const Tensor t = decode(bytes);
    EXPECT_EQ(t.shape(), (Shape{0, 0, 3}));
    EXPECT_EQ(t.dtype(), DType::kUInt8);
  }
  EXPECT_EQ(decode({9, 9}, "Grayscale").shape(), (Shape{0, 0, 1}));
}

TEST(ImageDecoderKernel, InvalidInputsAreInputErrors) {
  auto n = make_node("ImageDecoder", 1, 1);
  set_attr(n, "pixel_format", std::string("RGBA"));
  EXPECT_THROW(run_op(n, 20, {bytes_tensor(encode_png())}, true), InputError);
  auto m = make_node("ImageDecoder", 1, 1);
  EXPECT_THROW(run_op(m, 20, {Tensor::from<int8_t>({2}, {1, 2})}, true), InputError);
  EXPECT_THROW(run_op(m, 20, {Tensor::from<uint8_t>({1, 2}, {1, 2})}, true), InputError);
}
