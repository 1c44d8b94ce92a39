// SPDX-License-Identifier: Apache-2.0
// The calibration image reader on hostile JPEG headers: a JPEG whose SOF claims 31000x31000 pixels
// is refused as bad input before decoding, and libjpeg's memory is released on that path (found by
// fuzz_image: LeakSanitizer reported libjpeg's allocator when the size check threw; the ASan build
// of this test, .ci/sanitize, fails on the leak).
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "core/error.h"
#include "io/image_bounds.h"

using namespace qtool;
namespace fs = std::filesystem;

namespace {

// An 8x8 gray baseline JPEG encoded with libjpeg.
std::vector<uint8_t> tiny_jpeg() {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = 8;
  c.image_height = 8;
  c.input_components = 1;
  c.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(8);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) row[x] = static_cast<uint8_t>(16 * x + y);
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&c);
  free(buf);
  return out;
}

}  // namespace

TEST(ImageDataset, JpegHeaderClaimingHugeImageIsRefusedAndFreed) {
  std::vector<uint8_t> jpg = tiny_jpeg();
  // SOF0 (FF C0): length(2) precision(1) height(2) width(2): claim 31000 x 31000
  size_t sof = 0;
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) { sof = i; break; }
  ASSERT_NE(sof, 0u) << "no SOF0 marker in the encoded JPEG";
  for (size_t k : {sof + 5, sof + 7}) {
    jpg[k] = 31000 >> 8;
    jpg[k + 1] = 31000 & 0xff;
  }
  const fs::path dir = fs::temp_directory_path() / ("qtool_test_jpeg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "big.jpg", std::ios::binary).write(reinterpret_cast<const char*>(jpg.data()), jpg.size());
  InputSpec spec{"x", DType::kFloat, {1, 1, 8, 8}};
  try {
    auto ds = open_image_dir(dir, spec, ImageOptions{});
    ds->batch(0, 1);
    ADD_FAILURE() << "a 31000x31000 JPEG header was decoded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("31000x31000"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ImageDataset, JpegClaimingMorePixelsThanItsBytesCodeIsRefused) {
  // found by fuzz_image: a 338-byte JPEG claiming 61952 x 516 (32M pixels, under the 2^28-byte
  // ceiling); libjpeg fills the data a truncated stream lacks, so it decoded 96 MB of gray
  std::vector<uint8_t> jpg = tiny_jpeg();
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 5] = 516 >> 8, jpg[i + 6] = 516 & 0xff, jpg[i + 7] = 61952 >> 8, jpg[i + 8] = 61952 & 0xff;
      break;
    }
  const fs::path dir = fs::temp_directory_path() / ("qtool_test_jpeg_strip_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "strip.jpg", std::ios::binary).write(reinterpret_cast<const char*>(jpg.data()), jpg.size());
  InputSpec spec{"x", DType::kFloat, {1, 1, 8, 8}};
  try {
    auto ds = open_image_dir(dir, spec, ImageOptions{});
    ds->batch(0, 1);
    ADD_FAILURE() << "a " << jpg.size() << "-byte JPEG claiming 61952x516 pixels was decoded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("61952x516"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("strip.jpg"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ImageDataset, PixelCountBeyondWhatTheBytesCanHoldIsRefused) {
  // found by fuzz_image: a 52-byte binary PPM claiming 236 x 232222 pixels (164 MB for stb_image);
  // stb_image decodes by content, so a folder's "photo.png" may hold any format it reads
  const std::string ppm = "P6\n236 232222\n255\n" + std::string(34, '\x7f');
  const fs::path dir = fs::temp_directory_path() / ("qtool_test_ppm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bomb.png", std::ios::binary) << ppm;
  InputSpec spec{"x", DType::kFloat, {1, 3, 8, 8}};
  try {
    auto ds = open_image_dir(dir, spec, ImageOptions{});
    ds->batch(0, 1);
    ADD_FAILURE() << "a PPM claiming 236x232222 pixels in 52 bytes was decoded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("236x232222"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bomb.png"), std::string::npos) << e.what();
  }
  // the same pixels present: decoded
  fs::remove(dir / "bomb.png");
  std::ofstream(dir / "ok.bmp", std::ios::binary) << "P6\n8 8\n255\n" + std::string(8 * 8 * 3, '\x40');
  auto ds = open_image_dir(dir, spec, ImageOptions{});
  EXPECT_EQ(ds->batch(0, 1).begin()->second.numel(), 3 * 8 * 8);
  fs::remove_all(dir);
}

TEST(ImageBounds, PixelsPerByteFollowTheFormat) {
  const std::string png = "\x89PNG\r\n\x1a\n", gif = "GIF89a", ppm = "P6\n", bmp = "BM", tga(3, '\0');
  auto most = [](const std::string& s) { return max_pixels_in_stream(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  EXPECT_EQ(most(ppm + std::string(997, 'x')), 1000u + 4096);
  EXPECT_EQ(most(bmp + std::string(998, 'x')), 8000u + 4096);
  EXPECT_EQ(most(png + std::string(992, 'x')), 8256000u + 4096);
  EXPECT_EQ(most(gif + std::string(994, 'x')), 4096000u + 4096);
  EXPECT_EQ(most(tga + std::string(997, 'x')), 64000u + 4096);
  const auto* p = reinterpret_cast<const uint8_t*>(ppm.data());
  EXPECT_EQ(image_size_problem(p, 3, 64, 64), "");
  EXPECT_NE(image_size_problem(p, 3, 65, 64), "");
  EXPECT_EQ(image_size_problem(p, 3, uint64_t{1} << 40, uint64_t{1} << 40).find("header claims"), 0u);  // no overflow
}

namespace {

// A 24-bit BMP of 1 x `rows` pixels, gray value gray(r) in image row r (top row 0).
std::string strip_bmp(int rows, int (*gray)(int)) {
  const uint32_t row_bytes = 4, data = row_bytes * static_cast<uint32_t>(rows), file = 54 + data;
  std::string b(54, '\0');
  auto put32 = [&](size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(v >> (8 * i)); };
  b[0] = 'B', b[1] = 'M';
  put32(2, file), put32(10, 54), put32(14, 40), put32(18, 1), put32(22, static_cast<uint32_t>(rows));
  b[26] = 1, b[28] = 24;
  put32(34, data);
  for (int r = rows - 1; r >= 0; --r) {  // bottom-up
    const char g = static_cast<char>(gray(r));
    b += std::string{g, g, g, '\0'};
  }
  return b;
}

}  // namespace

TEST(ImageDataset, ResizeShorterThenCropComputesOnlyTheCrop) {
  // found by fuzz_image: a 1 x 52736 image with --resize-shorter 20 was resized to 20 x 1054720
  // (250 MB of floats, 45 s under ASan) before the centre 16 x 16 was cut. With --resize-shorter 224
  // a 1 x 60000 strip would be 224 x 13.4M (36 GB); only the crop's pixels are computed now.
  constexpr int kRows = 60000, kSide = 224;
  auto gray = [](int r) { return (r * 7) % 256; };
  const fs::path dir = fs::temp_directory_path() / ("qtool_test_strip_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "strip.bmp", std::ios::binary) << strip_bmp(kRows, gray);
  InputSpec spec{"x", DType::kFloat, {1, 1, kSide, kSide}};
  ImageOptions o;
  o.resize_shorter = kSide;
  o.scale = 1.f;
  auto ds = open_image_dir(dir, spec, o);
  const Tensor x = ds->batch(0, 1).begin()->second;
  ASSERT_EQ(x.numel(), kSide * kSide);
  // torchvision Resize(224) + CenterCrop(224) with OpenCV-style bilinear taps: the resized image is
  // 224 x 13440000, the crop starts at row round((13440000 - 224) / 2); source row of output row y
  // f = (y0 + y + 0.5) * (60000 / 13440000) - 0.5; a width of 1 makes every column equal.
  const int64_t nh = int64_t{kSide} * kRows, y0 = (nh - kSide) / 2;
  const float* p = x.data<float>();
  for (int y = 0; y < kSide; ++y) {
    const double f = (static_cast<double>(y0 + y) + 0.5) * kRows / static_cast<double>(nh) - 0.5;
    const int i0 = static_cast<int>(std::floor(f));
    const double t = f - i0, want = (1 - t) * gray(i0) + t * gray(i0 + 1);
    for (int col = 0; col < kSide; ++col) ASSERT_NEAR(p[y * kSide + col], want, 1e-3) << "row " << y << " col " << col;
  }
  fs::remove_all(dir);
}
