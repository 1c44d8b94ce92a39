// Folder of images -> float tensors: decode (stb_image), resize to WxH (stb_image_resize,
// triangle filter), channel order RGB or BGR, x = (pixel * scale - mean[c]) / std[c],
// laid out NCHW or NHWC to match the model input. Files are sorted by relative path and
// decoded when a batch is requested.
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>

#include "calib/dataset.h"

namespace fs = std::filesystem;

namespace qtool {

namespace {

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
      int w, h, n;
      unsigned char* img = stbi_load(f.c_str(), &w, &h, &n, channels_);
      if (!img) throw InputError(f.string() + ": cannot decode image (" + stbi_failure_reason() + ")");
      std::vector<unsigned char> resized;
      const unsigned char* px = img;
      if (w != width_ || h != height_) {
        resized.resize(static_cast<size_t>(per));
        stbir_resize_uint8_generic(img, w, h, 0, resized.data(), width_, height_, 0, channels_, -1, 0,
                                   STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr);
        px = resized.data();
      }
      float* o = out + i * per;
      for (int64_t p = 0; p < plane; ++p)
        for (int c = 0; c < channels_; ++c) {
          const int src_c = (channels_ == 3 && !opts_.rgb) ? 2 - c : c;
          const float v = (px[p * channels_ + src_c] * opts_.scale - mean_[c]) / std_[c];
          o[opts_.nchw ? c * plane + p : p * channels_ + c] = v;
        }
      stbi_image_free(img);
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
