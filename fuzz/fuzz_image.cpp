// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: image file bytes -> both of qtool's image readers:
//   1. calibration / evaluation image folders (calib/image_dataset.cpp, --data/--calib <folder>):
//      the bytes as the folder's one image, named .jpg when they start like a JPEG (libjpeg-turbo)
//      else .png (stb_image sniffs PNG/BMP/... itself), served as a [1,3,16,16] float sample with
//      the plain resize, --resize-shorter + centre crop, or --letterbox (picked by the size);
//   2. the ImageDecoder kernel (runtime/kernels/image.cpp, ai.onnx 20): JPEG, PNG/BMP/..., WebP,
//      JPEG 2000 (JP2 and raw codestream), TIFF, in RGB and Grayscale.
// Header sizes are checked before decoding in both; an oversized header is an InputError.
// Seeds: real JPEGs (../shared/data) and PNG/WebP/JPEG 2000 files converted from them (.ci/fuzz).
#include <cstdint>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "fuzz/data_checks.h"
#include "fuzz/fuzz_common.h"
#include "runtime/executor.h"

using namespace qtool;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init();
  (void)fuzz::scratch_dir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = fuzz::scratch_dir() / "images";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const bool jpeg = size >= 2 && data[0] == 0xFF && data[1] == 0xD8;
  fuzz::write_bytes(dir / (jpeg ? "img.jpg" : "img.png"), data, size);
  fuzz::expect_only_input_errors([&] {
    ImageOptions o;
    if (size % 3 == 1) o.resize_shorter = 20;
    if (size % 3 == 2) o.letterbox_width = o.letterbox_height = 16;
    o.jpeg_fancy_upsampling = size % 2 == 0;
    InputSpec spec = fuzz::input_like("x", DType::kFloat, {1, 3, 16, 16});
    auto ds = open_dataset(dir, {spec}, o);
    fuzz::serve_some(*ds);
  });
  for (const char* fmt : {"RGB", "Grayscale"}) {
    fuzz::expect_only_input_errors([&] {
      onnx::NodeProto n;
      n.set_op_type("ImageDecoder");
      n.set_name("fuzz_decoder");
      n.add_input("encoded");
      n.add_output("image");
      auto* a = n.add_attribute();
      a->set_name("pixel_format");
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s(fmt);
      const Value in = Tensor::from<uint8_t>({static_cast<int64_t>(size)}, std::vector<uint8_t>(data, data + size));
      (void)run_node(n, 20, {&in}, true);
    });
  }
  return 0;
}
