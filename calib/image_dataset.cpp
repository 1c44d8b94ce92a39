// SPDX-License-Identifier: Apache-2.0
// Folder of images -> float tensors: decode (JPEG: libjpeg-turbo; PNG/BMP: stb_image), geometry,
// channel order RGB or BGR, x = (pixel * scale - mean[c]) / std[c], laid out NCHW or NHWC to match
// the model input. Files are sorted by relative path (ImageFolder order) and decoded when a batch
// is requested. Geometry, one of:
//   resize      to WxH (--size, default the model input's), aspect not kept;
//   shorter + center crop (ImageNet evaluation, torchvision Resize(N) + CenterCrop): the shorter
//               side to N, the longer int(N * long / short), then the centre WxH (offsets
//               round((in - out) / 2), half to even as Python's round); a crop alone cuts the
//               original image and resizes the crop when it is not the target size;
//   letterbox   (YOLO): scale r = min(W / w, H / h), resize to round(w r) x round(h r), centre it on
//               a WxH canvas of pad_value (left/top = round(pad / 2 - 0.1) as ultralytics).
// Every resize is bilinear with OpenCV INTER_LINEAR semantics (half-pixel centres, no antialiasing,
// as cv2.resize).
//
// JPEG chroma upsampling: by default libjpeg's plain (replicating) upsampling, which matches the
// pure-JS decoders (jpeg-js / pdf.js) the shared data's reference accuracies were measured with;
// ImageOptions::jpeg_fancy_upsampling selects libjpeg's default "fancy" upsampling (PIL, OpenCV).
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <limits>

#include "calib/dataset.h"
#include "io/input_file.h"
#include "io/npy.h"
#include "io/image_bounds.h"
#include "io/png_chunks.h"

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

// Warnings about corrupt data are errors: a truncated file would otherwise decode to a gray image
// of whatever size its header claims (and be accepted as a calibration sample).
void jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit(cinfo);
}

// Pixels a decoded image may hold: the ceiling kMaxImageBytes, and for formats whose compression
// ratio is bounded, what the file can encode.
void check_image_size(const fs::path& f, uint64_t w, uint64_t h, uint64_t channels, uint64_t max_bytes) {
  if (w == 0 || h == 0) throw InputError(f.string() + ": image header says " + std::to_string(w) + "x" + std::to_string(h));
  const uint64_t bytes = w * h * channels;  // w, h < 2^24: no overflow
  if (bytes > max_bytes)
    throw InputError(f.string() + ": image header claims " + std::to_string(w) + "x" + std::to_string(h) + " pixels (" +
                     std::to_string(bytes) + " bytes decoded), more than qtool decodes from this file (" +
                     std::to_string(max_bytes) + " bytes)");
}

// Decodes to 8-bit pixels with `channels` (1 = gray, 3 = RGB) interleaved.
std::vector<uint8_t> decode_jpeg(const fs::path& f, const std::string& data, int channels, bool fancy, int* w, int* h) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_emit_message;
  std::vector<uint8_t> px;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw InputError(f.string() + ": cannot decode JPEG (" + err.message + ")");
  }
  jpeg_create_decompress(&cinfo);
  // a C++ exception (the size check, bad_alloc) leaves through here: libjpeg's memory is freed
  // (longjmp from libjpeg goes to the setjmp above, which frees it; no destructor is skipped)
  try {
    // libjpeg's own buffers (a progressive image's coefficients) are bounded too
    cinfo.mem->max_memory_to_use = static_cast<long>(2 * kMaxImageBytes);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(data.data()), static_cast<unsigned long>(data.size()));
    jpeg_read_header(&cinfo, TRUE);
    check_image_size(f, cinfo.image_width, cinfo.image_height, static_cast<uint64_t>(channels), kMaxImageBytes);
    {  // more pixels than the bytes can encode: a truncated stream, which libjpeg would fill
      const std::string problem = image_size_problem(reinterpret_cast<const uint8_t*>(data.data()), data.size(),
                                                     cinfo.image_width, cinfo.image_height);
      if (!problem.empty()) throw InputError(f.string() + ": " + problem);
    }
    cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    cinfo.do_fancy_upsampling = fancy ? TRUE : FALSE;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    *w = static_cast<int>(cinfo.output_width);
    *h = static_cast<int>(cinfo.output_height);
    const size_t row = static_cast<size_t>(*w) * channels;
    while (cinfo.output_scanline < cinfo.output_height) {
      // grows with the rows really decoded (a truncated file stops early)
      if (px.size() < row * (cinfo.output_scanline + 1))
        px.resize(std::min<size_t>(row * cinfo.output_height, std::max(px.size() * 2, row * (cinfo.output_scanline + 16))));
      JSAMPROW r = px.data() + row * cinfo.output_scanline;
      jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  jpeg_destroy_decompress(&cinfo);
  px.resize(static_cast<size_t>(*w) * channels * *h);
  return px;
}

std::vector<uint8_t> decode_image(const fs::path& f, int channels, bool fancy, int* w, int* h) {
  const std::string data = read_input_file(f, "an image");
  std::string ext = f.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  if (ext == ".jpg" || ext == ".jpeg") return decode_jpeg(f, data, channels, fancy, w, h);
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw InputError(f.string() + ": image file over 2 GiB");
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::string png_problem = png_chunk_problem(bytes, data.size());
  if (!png_problem.empty()) throw InputError(f.string() + ": " + png_problem);
  int n = 0;
  if (!stbi_info_from_memory(bytes, static_cast<int>(data.size()), w, h, &n))
    throw InputError(f.string() + ": cannot decode image (" + stbi_failure_reason() + ")");
  const std::string size_problem = image_size_problem(bytes, data.size(), static_cast<uint64_t>(std::max(*w, 0)),
                                                     static_cast<uint64_t>(std::max(*h, 0)));
  if (!size_problem.empty()) throw InputError(f.string() + ": " + size_problem);
  // PNG pixels are deflated: at most ~1032 bytes out per byte in (plus a filter byte per row)
  const bool png = data.size() >= 8 && data.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
  const uint64_t limit = png ? std::min<uint64_t>(kMaxImageBytes, 1100 * static_cast<uint64_t>(data.size()) + 4096)
                             : kMaxImageBytes;
  check_image_size(f, static_cast<uint64_t>(*w), static_cast<uint64_t>(*h),
                   static_cast<uint64_t>(std::max(channels, n)), limit);
  unsigned char* img = stbi_load_from_memory(bytes, static_cast<int>(data.size()), w, h, &n, channels);
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
Tap bilinear_tap(int64_t dst, int n_in, double ratio) {
  const double f = (static_cast<double>(dst) + 0.5) * ratio - 0.5;
  Tap t{0, 0, 0.0};
  if (f > 0) {
    const double fl = std::floor(f);
    t.i0 = fl >= n_in - 1 ? n_in - 1 : static_cast<int>(fl);
    t.frac = fl >= n_in - 1 ? 0.0 : f - fl;
  }
  t.i1 = std::min(t.i0 + 1, n_in - 1);
  return t;
}

// The window [x0, x0 + cw) x [y0, y0 + ch) of `src` (w x h x c) resized to ow x oh, zero where the
// window leaves the resized image: a resize followed by a crop, computed for the window's pixels
// only (the resized image of a 1 x 50000 strip resized by its shorter side is never materialized).
std::vector<float> resize_bilinear_window(const std::vector<float>& src, int w, int h, int c, int64_t ow, int64_t oh,
                                          int64_t x0, int64_t y0, int cw, int ch) {
  std::vector<float> out(static_cast<size_t>(cw) * ch * c, 0.f);
  auto at = [&](int yy, int xx, int k) { return static_cast<double>(src[(static_cast<size_t>(yy) * w + xx) * c + k]); };
  std::vector<Tap> xs(cw);
  for (int x = 0; x < cw; ++x) xs[x] = bilinear_tap(x0 + x, w, static_cast<double>(w) / static_cast<double>(ow));
  for (int y = 0; y < ch; ++y) {
    if (y0 + y < 0 || y0 + y >= oh) continue;
    const Tap ty = bilinear_tap(y0 + y, h, static_cast<double>(h) / static_cast<double>(oh));
    for (int x = 0; x < cw; ++x) {
      if (x0 + x < 0 || x0 + x >= ow) continue;
      const Tap& tx = xs[x];
      for (int k = 0; k < c; ++k) {
        const double top = (1 - tx.frac) * at(ty.i0, tx.i0, k) + tx.frac * at(ty.i0, tx.i1, k);
        const double bot = (1 - tx.frac) * at(ty.i1, tx.i0, k) + tx.frac * at(ty.i1, tx.i1, k);
        out[(static_cast<size_t>(y) * cw + x) * c + k] = static_cast<float>((1 - ty.frac) * top + ty.frac * bot);
      }
    }
  }
  return out;
}

std::vector<float> resize_bilinear(const std::vector<float>& src, int w, int h, int c, int ow, int oh) {
  return resize_bilinear_window(src, w, h, c, ow, oh, 0, 0, ow, oh);
}

// Python's round(): half to even (std::nearbyint in the default rounding mode).
int64_t round_half_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

// The window [x0, x0 + cw) x [y0, y0 + ch) of an image (clamped to it; outside: zero).
std::vector<float> crop(const std::vector<float>& px, int w, int h, int c, int x0, int y0, int cw, int ch) {
  std::vector<float> out(static_cast<size_t>(cw) * ch * c, 0.f);
  for (int y = 0; y < ch; ++y)
    for (int x = 0; x < cw; ++x) {
      const int sx = x0 + x, sy = y0 + y;
      if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
      for (int k = 0; k < c; ++k)
        out[(static_cast<size_t>(y) * cw + x) * c + k] = px[(static_cast<size_t>(sy) * w + sx) * c + k];
    }
  return out;
}

// Decoded pixels (0..255) -> `out_w` x `out_h` by the geometry in `o` (see the file comment).
std::vector<float> apply_geometry(std::vector<float> px, int w, int h, int c, const ImageOptions& o, int out_w,
                                  int out_h) {
  if (o.letterbox_width) {
    const double r = std::min(static_cast<double>(out_w) / w, static_cast<double>(out_h) / h);
    const int nw = std::max(1, static_cast<int>(std::lround(w * r))), nh = std::max(1, static_cast<int>(std::lround(h * r)));
    if (nw != w || nh != h) px = resize_bilinear(px, w, h, c, nw, nh);
    const double dw = (out_w - nw) / 2.0, dh = (out_h - nh) / 2.0;
    const int left = static_cast<int>(std::lround(dw - 0.1)), top = static_cast<int>(std::lround(dh - 0.1));
    std::vector<float> canvas(static_cast<size_t>(out_w) * out_h * c, o.pad_value);
    for (int y = 0; y < nh; ++y)
      for (int x = 0; x < nw; ++x)
        for (int k = 0; k < c; ++k)
          canvas[(static_cast<size_t>(y + top) * out_w + x + left) * c + k] = px[(static_cast<size_t>(y) * nw + x) * c + k];
    return canvas;
  }
  const int cw = o.crop_width ? o.crop_width : out_w, ch = o.crop_height ? o.crop_height : out_h;
  if (o.resize_shorter) {  // shorter side to n, then the centre cw x ch of that
    const int64_t n = o.resize_shorter;
    const int64_t nw = w <= h ? n : n * w / h, nh = w <= h ? n * h / w : n;
    const int64_t x0 = round_half_even(static_cast<double>(nw - cw) / 2.0);
    const int64_t y0 = round_half_even(static_cast<double>(nh - ch) / 2.0);
    if (nw == w && nh == h)
      px = crop(px, w, h, c, static_cast<int>(x0), static_cast<int>(y0), cw, ch);
    else
      px = resize_bilinear_window(px, w, h, c, nw, nh, x0, y0, cw, ch);
    w = cw;
    h = ch;
  } else if (o.crop_width) {
    px = crop(px, w, h, c, static_cast<int>(round_half_even((w - cw) / 2.0)), static_cast<int>(round_half_even((h - ch) / 2.0)), cw,
              ch);
    w = cw;
    h = ch;
  }
  if (w != out_w || h != out_h) px = resize_bilinear(px, w, h, c, out_w, out_h);
  return px;
}

std::string join_floats(const std::vector<float>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char b[32];
    std::snprintf(b, sizeof b, "%s%g", i ? "," : "", v[i]);
    o += b;
  }
  return o + "]";
}

class ImageDirDataset : public Dataset {
 public:
  ImageDirDataset(const fs::path& dir, const InputSpec& spec, const ImageOptions& opts)
      : dir_(dir), spec_(spec), opts_(opts) {
    for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied)) {
      std::error_code fe;
      if (!e.is_regular_file(fe)) continue;
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
    if (opts.letterbox_width) {  // the canvas is the tensor
      width_ = opts.letterbox_width;
      height_ = opts.letterbox_height;
    } else if (opts.crop_width && !opts.width) {  // the crop is the tensor unless --size resizes it
      width_ = opts.crop_width;
      height_ = opts.crop_height;
    }
    if (channels_ != 1 && channels_ != 3)
      throw InputError(dir.string() + ": model input '" + spec.name + "' " + shape_str(spec.shape) + " has " +
                       std::to_string(channels_) + " channels on the " + (opts.nchw ? "NCHW" : "NHWC") +
                       " channel axis; images give 1 or 3 (try --layout " + (opts.nchw ? "nhwc" : "nchw") + ")");
    if (height_ <= 0 || width_ <= 0)
      throw InputError(dir.string() + ": the model input has no fixed height/width; pass --size WxH");
    if (height_ > kMaxImageSide || width_ > kMaxImageSide ||
        static_cast<uint64_t>(height_) * static_cast<uint64_t>(width_) * static_cast<uint64_t>(channels_) > kMaxImageBytes)
      throw InputError(dir.string() + ": images of " + std::to_string(width_) + "x" + std::to_string(height_) +
                       " pixels are larger than qtool decodes (" + std::to_string(kMaxImageBytes) + " bytes)");
    if ((spec.shape[h_axis] > 0 && spec.shape[h_axis] != height_) || (spec.shape[w_axis] > 0 && spec.shape[w_axis] != width_))
      throw InputError(dir.string() + ": images of " + std::to_string(width_) + "x" + std::to_string(height_) + " (" +
                       (opts.letterbox_width ? "--letterbox" : opts.crop_width ? "--center-crop" : "--size") +
                       ") do not match model input '" + spec.name + "' " + shape_str(spec.shape));
    if (opts.resize_shorter < 0) throw InputError("--resize-shorter must be positive");
    auto per_channel = [&](const std::vector<float>& v, const char* what) {
      if (v.size() != 1 && static_cast<int>(v.size()) != channels_)
        throw InputError(std::string("--") + what + " needs 1 or " + std::to_string(channels_) + " values");
      return v.size() == 1 ? std::vector<float>(channels_, v[0]) : v;
    };
    mean_ = per_channel(opts.mean, "mean");
    std_ = per_channel(opts.std, "std");
  }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  // path, count, geometry and normalisation, so summaries echo the preprocessing used
  std::string describe() const override {
    const auto wh = [](int w, int h) { return std::to_string(w) + "x" + std::to_string(h); };
    std::string geo;
    if (opts_.letterbox_width) {
      geo = "letterbox " + wh(width_, height_) + " (pad " + join_floats({opts_.pad_value}).substr(1);
      geo.back() = ')';
    } else if (opts_.resize_shorter) {
      geo = "shorter side " + std::to_string(opts_.resize_shorter) + ", center crop " +
            wh(opts_.crop_width ? opts_.crop_width : width_, opts_.crop_height ? opts_.crop_height : height_);
    } else if (opts_.crop_width) {
      geo = "center crop " + wh(opts_.crop_width, opts_.crop_height);
      if (opts_.width) geo += ", resized to " + wh(width_, height_);
    } else {
      geo = "resized to " + wh(width_, height_);
    }
    char scale[32];
    std::snprintf(scale, sizeof scale, "%g", opts_.scale);
    return dir_.string() + " (" + std::to_string(size()) + " images; " + geo + "; (pixel * " + scale + " - mean " +
           join_floats(mean_) + ") / std " + join_floats(std_) + "; " + (opts_.nchw ? "NCHW" : "NHWC") + " " +
           (channels_ == 1 ? "gray" : opts_.rgb ? "RGB" : "BGR") + ")";
  }
  TensorMap batch(int64_t begin, int64_t count) override {
    if (begin < 0 || count < 0 || begin > size() || count > size() - begin)
      throw Error(dir_.string() + ": batch [" + std::to_string(begin) + ", +" + std::to_string(count) + ") outside its " +
                  std::to_string(size()) + " images");
    Shape s = opts_.nchw ? Shape{count, channels_, height_, width_} : Shape{count, height_, width_, channels_};
    Tensor t(DType::kFloat, s);
    float* out = t.data<float>();
    const int64_t plane = static_cast<int64_t>(height_) * width_, per = plane * channels_;
    for (int64_t i = 0; i < count; ++i) {
      const fs::path& f = files_[begin + i];
      int w, h;
      std::vector<uint8_t> img = decode_image(f, channels_, opts_.jpeg_fancy_upsampling, &w, &h);
      std::vector<float> px = apply_geometry(std::vector<float>(img.begin(), img.end()), w, h, channels_, opts_,
                                             width_, height_);
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

std::vector<int64_t> image_folder_labels(const fs::path& dir, std::vector<std::string>* classes_out) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // the order ImageDirDataset serves them in
  std::vector<std::string> first;
  for (const auto& f : files) {
    const fs::path rel = f.lexically_relative(dir);
    if (std::distance(rel.begin(), rel.end()) < 2)
      throw InputError(f.string() + ": --labels folders needs every image inside a class folder (" + dir.string() +
                       "/<class>/...), as torchvision's ImageFolder");
    first.push_back(rel.begin()->string());
  }
  std::vector<std::string> classes = first;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  std::vector<int64_t> labels;
  for (const auto& c : first)
    labels.push_back(std::lower_bound(classes.begin(), classes.end(), c) - classes.begin());
  if (classes_out) *classes_out = classes;
  return labels;
}

std::unique_ptr<Dataset> open_image_dir(const fs::path& dir, const InputSpec& input, const ImageOptions& opts) {
  return std::make_unique<ImageDirDataset>(dir, input, opts);
}

}  // namespace qtool
