// SPDX-License-Identifier: Apache-2.0
// ImageDecoder (runtime/kernels/image.cpp): PNG (written with stb_image_write), PPM, BMP and TIFF
// bytes built here, and lossless WebP / JPEG 2000 files embedded below, decode to the exact pixels in
// RGB / BGR / Grayscale; JPEG decodes close to the source; oversized headers are refused before
// decoding; garbage gives the spec's empty image.
#include <stb/stb_image_write.h>

#include <cstring>

#include "../kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

// 3 x 2 RGB test image
const std::vector<uint8_t> kPixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3};

// cwebp -lossless -exact -z 9 -metadata none kPixels.ppm (webp 1.2.4), 62 bytes
const std::vector<uint8_t> kWebpLossless = {
    0x52, 0x49, 0x46, 0x46, 0x36, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
    0x29, 0x00, 0x00, 0x00, 0x2f, 0x02, 0x40, 0x00, 0x00, 0x20, 0xc8, 0xb6, 0x59, 0xc6, 0x30, 0xc4,
    0xfb, 0x2b, 0x5c, 0x83, 0x4c, 0xda, 0xa6, 0x7d, 0xeb, 0x5f, 0xd4, 0x5c, 0x8d, 0x40, 0x80, 0x22,
    0xfc, 0x30, 0xc2, 0xff, 0x6f, 0xfa, 0x1f, 0x9c, 0x03, 0xbc, 0xba, 0x4d, 0x03, 0x00,
};
// opj_compress -i kPixels.ppm -o x.jp2 -n 2 (reversible 5-3 DWT; libopenjp2-tools 2.5.0), 279 bytes
const std::vector<uint8_t> kJp2Lossless = {
    0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a, 0x00, 0x00, 0x00, 0x14,
    0x66, 0x74, 0x79, 0x70, 0x6a, 0x70, 0x32, 0x20, 0x00, 0x00, 0x00, 0x00, 0x6a, 0x70, 0x32, 0x20,
    0x00, 0x00, 0x00, 0x2d, 0x6a, 0x70, 0x32, 0x68, 0x00, 0x00, 0x00, 0x16, 0x69, 0x68, 0x64, 0x72,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 0x07, 0x07, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x0f, 0x63, 0x6f, 0x6c, 0x72, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    0xca, 0x6a, 0x70, 0x32, 0x63, 0xff, 0x4f, 0xff, 0x51, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x07,
    0x01, 0x01, 0x07, 0x01, 0x01, 0x07, 0x01, 0x01, 0xff, 0x52, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01,
    0x01, 0x01, 0x04, 0x04, 0x00, 0x01, 0xff, 0x5c, 0x00, 0x07, 0x40, 0x40, 0x48, 0x48, 0x50, 0xff,
    0x64, 0x00, 0x25, 0x00, 0x01, 0x43, 0x72, 0x65, 0x61, 0x74, 0x65, 0x64, 0x20, 0x62, 0x79, 0x20,
    0x4f, 0x70, 0x65, 0x6e, 0x4a, 0x50, 0x45, 0x47, 0x20, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e,
    0x20, 0x32, 0x2e, 0x35, 0x2e, 0x30, 0xff, 0x90, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4f,
    0x00, 0x01, 0xff, 0x93, 0xc7, 0xd4, 0x06, 0x08, 0xc2, 0x3f, 0xcf, 0xb4, 0x0c, 0x06, 0x36, 0xa3,
    0xcf, 0xb4, 0x0c, 0x0b, 0xb4, 0x0f, 0xc7, 0xda, 0x05, 0x0f, 0xa8, 0x0e, 0x0f, 0xa8, 0x08, 0x02,
    0xbf, 0x0b, 0xda, 0xb7, 0x04, 0x3f, 0xcf, 0xc0, 0x0a, 0x7e, 0x00, 0x73, 0xf3, 0x02, 0x08, 0x13,
    0x02, 0xe3, 0xdf, 0x02, 0xcb, 0xcf, 0xc0, 0x0a, 0x7e, 0x00, 0x93, 0xf3, 0x02, 0x07, 0x2b, 0x0b,
    0x08, 0xc8, 0xbf, 0x00, 0x70, 0xff, 0xd9,
};
// opj_compress -i gray8x8.pgm -o x.j2k -n 3: raw codestream of gray_8x8(), 208 bytes
const std::vector<uint8_t> kJ2kGray = {
    0xff, 0x4f, 0xff, 0x51, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x01, 0xff, 0x52, 0x00,
    0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x04, 0x04, 0x00, 0x01, 0xff, 0x5c, 0x00, 0x0a, 0x40,
    0x40, 0x48, 0x48, 0x50, 0x48, 0x48, 0x50, 0xff, 0x64, 0x00, 0x25, 0x00, 0x01, 0x43, 0x72, 0x65,
    0x61, 0x74, 0x65, 0x64, 0x20, 0x62, 0x79, 0x20, 0x4f, 0x70, 0x65, 0x6e, 0x4a, 0x50, 0x45, 0x47,
    0x20, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x20, 0x32, 0x2e, 0x35, 0x2e, 0x30, 0xff, 0x90,
    0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x00, 0x01, 0xff, 0x93, 0xcf, 0xb4, 0x10, 0x07,
    0x69, 0x5b, 0xa7, 0xc7, 0xda, 0x0b, 0x1f, 0x68, 0x2c, 0x7e, 0x00, 0xc0, 0x05, 0x47, 0x30, 0xe2,
    0xfc, 0x0c, 0x5e, 0x10, 0x4e, 0x8a, 0x07, 0xc1, 0xa9, 0x6b, 0xdc, 0xaf, 0xcf, 0xc0, 0x46, 0x3e,
    0xd0, 0xf9, 0xf9, 0x84, 0x80, 0x00, 0x11, 0x79, 0x16, 0x59, 0x92, 0x0d, 0x69, 0x81, 0x36, 0xba,
    0xdf, 0x73, 0x9d, 0xa2, 0xc5, 0x80, 0x06, 0xb9, 0xd8, 0x9e, 0x72, 0x19, 0x26, 0x71, 0xfd, 0x39,
    0xc7, 0x57, 0x99, 0xa5, 0xf7, 0x1f, 0x9f, 0xaf, 0x2c, 0xa4, 0xfa, 0xae, 0x0e, 0xbf, 0xff, 0xd9,
};

// 8 x 8 gray image of kJ2kGray: ((37 x + 11 y) * 3) mod 256
std::vector<uint8_t> gray_8x8() {
  std::vector<uint8_t> g;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) g.push_back(static_cast<uint8_t>(((37 * x + 11 * y) * 3) % 256));
  return g;
}

// Writes a big-endian 32-bit value (JPEG 2000 marker segments).
void put_be32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int k = 0; k < 4; ++k) v[at + k] = static_cast<uint8_t>(x >> (24 - 8 * k));
}

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
           {"png", encode_png()}, {"ppm", encode_ppm(3, 2, kPixels)}, {"tiff", encode_tiff(3, 2, kPixels)},
           {"webp", kWebpLossless}, {"jp2", kJp2Lossless}}) {
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

TEST(ImageDecoderKernel, Jpeg2000CodestreamGrayDecodesExactly) {
  const Tensor gray = decode(kJ2kGray, "Grayscale");
  ASSERT_EQ(gray.shape(), (Shape{8, 8, 1}));
  EXPECT_EQ(bytes_of(gray), gray_8x8());
  const Tensor rgb = decode(kJ2kGray);
  ASSERT_EQ(rgb.shape(), (Shape{8, 8, 3}));
  const auto got = bytes_of(rgb), want = gray_8x8();
  for (size_t i = 0; i < want.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(got[3 * i + c], want[i]) << i;
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
  // found by fuzz_image: a 338-byte JPEG claiming 61952 x 516 (under the 2^28-byte ceiling) that
  // libjpeg decodes by filling the missing data (32M pixels); JPEG codes at most 512 pixels a byte
  for (size_t i = 0; i + 8 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && (jpg[i + 1] == 0xC0 || jpg[i + 1] == 0xC2)) {
      jpg[i + 5] = 516 >> 8, jpg[i + 6] = 516 & 255, jpg[i + 7] = 61952 >> 8, jpg[i + 8] = 61952 & 255;
      break;
    }
  try {
    decode(jpg);
    ADD_FAILURE() << "a " << jpg.size() << "-byte JPEG claiming 61952x516 pixels was decoded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("61952x516"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode(encode_tiff(40000, 40000, kPixels)), InputError);
  // Lossless WebP whose VP8L header (14-bit width - 1, height - 1 after the 0x2f signature at byte
  // 20) claims 16384 x 16384
  auto webp = kWebpLossless;
  ASSERT_EQ(webp[20], 0x2f);
  uint32_t bits = webp[21] | (webp[22] << 8) | (webp[23] << 16) | (uint32_t{webp[24]} << 24);
  bits = (bits & ~((1u << 28) - 1)) | 16383u | (16383u << 14);
  for (int k = 0; k < 4; ++k) webp[21 + k] = static_cast<uint8_t>(bits >> (8 * k));
  EXPECT_THROW(decode(webp), InputError);
  // J2K codestream whose SIZ segment (after FF4F FF51 Lsiz Rsiz) claims one 40000 x 40000 tile
  auto j2k = kJ2kGray;
  ASSERT_EQ(j2k[2], 0xFF);
  ASSERT_EQ(j2k[3], 0x51);
  for (size_t at : {8, 12, 24, 28}) put_be32(j2k, at, 40000);  // Xsiz, Ysiz, XTsiz, YTsiz
  EXPECT_THROW(decode(j2k), InputError);
}

TEST(ImageDecoderKernel, UndecodableStreamsGiveAnEmptyImage) {
  const auto tiff = encode_tiff(3, 2, kPixels);
  const auto png = encode_png();
  for (const auto& bytes : std::vector<std::vector<uint8_t>>{
           {1, 2, 3, 4, 5},                                       // unknown format
           {0xFF, 0xD8, 0xFF, 0xE0, 0, 16},                       // truncated JPEG
           {'I', 'I', 42, 0, 200, 0, 0, 0},                       // TIFF directory out of range
           std::vector<uint8_t>(tiff.begin(), tiff.end() - 4),    // TIFF strip cut short
           std::vector<uint8_t>(png.begin(), png.begin() + 40),   // truncated PNG
           std::vector<uint8_t>(kWebpLossless.begin(), kWebpLossless.begin() + 24),  // WebP cut in its header
           std::vector<uint8_t>(kWebpLossless.begin(), kWebpLossless.end() - 20),    // WebP cut in its data
           std::vector<uint8_t>(kJp2Lossless.begin(), kJp2Lossless.begin() + 100),   // JP2 cut in its header
           std::vector<uint8_t>(kJ2kGray.begin(), kJ2kGray.begin() + 30)}) {         // J2K cut in SIZ
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
