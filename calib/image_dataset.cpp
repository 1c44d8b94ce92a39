// SPDX-License-Identifier: Apache-2.0
// Folder of images -> float tensors: decode (JPEG: libjpeg-turbo; PNG/BMP: stb_image), resize to
// WxH with bilinear interpolation (OpenCV INTER_LINEAR semantics: half-pixel centres, no
// antialiasing, as in cv2.resize), channel order RGB or BGR, x = (pixel * scale - mean[c]) / std[c],
// laid out NCHW or NHWC to match the model input. Files are sorted by relative path and decoded
// when a batch is requested.
//
// JPEG chroma upsampling: by default libjpeg's plain (replicating) upsampling, which matches the
// pure-JS decoders (jpeg-js / pdf.js) the shared data's reference accuracies were measured with;
// ImageOptions::jpeg_fancy_upsampling selects libjpeg's default "fancy" upsampling (PIL, OpenCV).
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>

#include "calib/dataset.h"

namespace fs = std::filesystem;

namespace qtool {

namespace {

struct JpegErrorManager {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Decodes to 8-bit pixels with `channels` (1 = gray, 3 = RGB) interleaved.
std::vector<uint8_t> decode_jpeg(const fs::path& f, int channels, bool fancy, int* w, int* h) {
  FILE* fp = std::fopen(f.c_str(), "rb");
  if (!fp) throw InputError(f.string() + ": cannot open image");
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  std::vector<uint8_t> px;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::fclose(fp);
    throw InputError(f.string() + ": cannot decode JPEG (" + err.message + ")");
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, fp);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.do_fancy_upsampling = fancy ? TRUE : FALSE;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  *w = static_cast<int>(cinfo.output_width);
  *h = static_cast<int>(cinfo.output_height);
  const size_t row = static_cast<size_t>(*w) * channels;
  px.resize(row * *h);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW r = px.data() + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  std::fclose(fp);
  return px;
}

std::vector<uint8_t> decode_image(const fs::path& f, int channels, bool fancy, int* w, int* h) {
  std::string ext = f.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  if (ext == ".jpg" || ext == ".jpeg") return decode_jpeg(f, channels, fancy, w, h);
  int n;
  unsigned char* img = stbi_load(f.c_str(), w, h, &n, channels);
  if (!img) throw InputError(f.string() + ": cannot decode image (" + stbi_failure_reason() + ")");
  std::vector<uint8_t> px(img, img + static_cast<size_t>(*w) * *h * channels);
  stbi_image_free(img);
  return px;
}

// Bilinear resize with OpenCV INTER_LINEAR's coordinate mapping: src = (dst + 0.5) * in/out - 0.5,
// clamped at the borders; returns float pixels (0..255) to avoid a second rounding.
struct Tap {
  int i0, i1;
  double frac;
};

// Source taps for one output coordinate along an axis of `n_in` pixels.
Tap bilinear_tap(int dst, int n_in, double ratio) {
  const double f = (dst + 0.5) * ratio - 0.5;
  Tap t{static_cast<int>(std::floor(f)), 0, 0.0};
  t.frac = f - t.i0;
  if (t.i0 < 0) { t.i0 = 0; t.frac = 0; }
  if (t.i0 >= n_in - 1) { t.i0 = n_in - 1; t.frac = 0; }
  t.i1 = std::min(t.i0 + 1, n_in - 1);
  return t;
}

std::vector<float> resize_bilinear(const std::vector<uint8_t>& src, int w, int h, int c, int ow, int oh) {
  std::vector<float> out(static_cast<size_t>(ow) * oh * c);
  auto at = [&](int yy, int xx, int k) { return static_cast<double>(src[(static_cast<size_t>(yy) * w + xx) * c + k]); };
  for (int y = 0; y < oh; ++y) {
    const Tap ty = bilinear_tap(y, h, static_cast<double>(h) / oh);
    for (int x = 0; x < ow; ++x) {
      const Tap tx = bilinear_tap(x, w, static_cast<double>(w) / ow);
      for (int k = 0; k < c; ++k) {
        const double top = (1 - tx.frac) * at(ty.i0, tx.i0, k) + tx.frac * at(ty.i0, tx.i1, k);
        const double bot = (1 - tx.frac) * at(ty.i1, tx.i0, k) + tx.frac * at(ty.i1, tx.i1, k);
        out[(static_cast<size_t>(y) * ow + x) * c + k] = static_cast<float>((1 - ty.frac) * top + ty.frac * bot);
      }
    }
  }
  return out;
}

class ImageDirDataset : public Dataset {
 public:
  ImageDirDataset(const fs::path& dir, const InputSpec& spec, const ImageOptions& opts)
      : dir_(dir), spec_(spec), opts_(opts) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") files_.push_back(e.path());
    }
    std::sort(files_.begin(), files_.end());
    if (spec.shape.size() != 4)
      throw InputError(dir.string() + ": images need a 4-D model input, but '" + spec.name + "' is " +
                       shape_str(spec.shape));
    const int c_axis = opts.nchw ? 1 : 3, h_axis = opts.nchw ? 2 : 1, w_axis = opts.nchw ? 3 : 2;
    channels_ = static_cast<int>(spec.shape[c_axis]);
    height_ = opts.height ? opts.height : static_cast<int>(spec.shape[h_axis]);
    width_ = opts.width ? opts.width : static_cast<int>(spec.shape[w_axis]);
    if (channels_ != 1 && channels_ != 3)
      throw InputError(dir.string() + ": model input '" + spec.name + "' " + shape_str(spec.shape) + " has " +
                       std::to_string(channels_) + " channels on the " + (opts.nchw ? "NCHW" : "NHWC") +
                       " channel axis; images give 1 or 3 (try --layout " + (opts.nchw ? "nhwc" : "nchw") + ")");
    if (height_ <= 0 || width_ <= 0)
      throw InputError(dir.string() + ": the model input has no fixed height/width; pass --size WxH");
    if ((spec.shape[h_axis] > 0 && spec.shape[h_axis] != height_) || (spec.shape[w_axis] > 0 && spec.shape[w_axis] != width_))
      throw InputError(dir.string() + ": --size " + std::to_string(width_) + "x" + std::to_string(height_) +
                       " does not match model input '" + spec.name + "' " + shape_str(spec.shape));
    auto per_channel = [&](const std::vector<float>& v, const char* what) {
      if (v.size() != 1 && static_cast<int>(v.size()) != channels_)
        throw InputError(std::string("--") + what + " needs 1 or " + std::to_string(channels_) + " values");
      return v.size() == 1 ? std::vector<float>(channels_, v[0]) : v;
    };
    mean_ = per_channel(opts.mean, "mean");
    std_ = per_channel(opts.std, "std");
  }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  std::string describe() const override {
    return dir_.string() + " (" + std::to_string(size()) + " images, " + std::to_string(width_) + "x" +
           std::to_string(height_) + ")";
  }
  TensorMap batch(int64_t begin, int64_t count) override {
    Shape s = opts_.nchw ? Shape{count, channels_, height_, width_} : Shape{count, height_, width_, channels_};
    Tensor t(DType::kFloat, s);
    float* out = t.data<float>();
    const int64_t plane = static_cast<int64_t>(height_) * width_, per = plane * channels_;
    for (int64_t i = 0; i < count; ++i) {
      const fs::path& f = files_[begin + i];
      int w, h;
      std::vector<uint8_t> img = decode_image(f, channels_, opts_.jpeg_fancy_upsampling, &w, &h);
      std::vector<float> px = (w != width_ || h != height_) ? resize_bilinear(img, w, h, channels_, width_, height_)
                                                           : std::vector<float>(img.begin(), img.end());
      float* o = out + i * per;
      for (int64_t p = 0; p < plane; ++p)
        for (int c = 0; c < channels_; ++c) {
          const int src_c = (channels_ == 3 && !opts_.rgb) ? 2 - c : c;
          const float v = (px[p * channels_ + src_c] * opts_.scale - mean_[c]) / std_[c];
          o[opts_.nchw ? c * plane + p : p * channels_ + c] = v;
        }
    }
    return {{spec_.name, t}};
  }

 private:
  fs::path dir_;
  InputSpec spec_;
  ImageOptions opts_;
  std::vector<fs::path> files_;
  int channels_ = 3, height_ = 0, width_ = 0;
  std::vector<float> mean_, std_;
};

}  // namespace

std::unique_ptr<Dataset> open_image_dir(const fs::path& dir, const InputSpec& input, const ImageOptions& opts) {
  return std::make_unique<ImageDirDataset>(dir, input, opts);
}

}  // namespace qtool
