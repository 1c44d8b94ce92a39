// SPDX-License-Identifier: Apache-2.0
// Dataset: named model inputs, served in batches along a leading sample axis.
//
// Which inputs have a sample axis (has_sample_axis): an input whose declared first extent is
// symbolic or 1 is fed in batches of samples along that axis; an input declared without a
// leading batch axis — rank 0, a fixed first extent other than 1 (e.g. an RNN state [2,N,64]), or
// no declared shape — is fed whole: every batch gets the complete array, which must have the
// declared shape. When the sample inputs of an .npz disagree on their leading extent (a mask next
// to a sequence, say), no axis is shared and every array is fed whole as one sample. With
// `whole` (qtool run --whole, --whole on the other commands) every array is fed whole.
//
// Sources (open_dataset picks by path):
//   file.npy          one array [N, d1..dk] for a single-input model whose input is [b, d1..dk];
//                     rows are read on demand (memory does not grow with N)
//   file.npz          one array per model input, keyed by input name, each [N, ...]
//   dir of *.npy      one sample per file, shaped [d1..dk] or [1, d1..dk], sorted by file name
//   dir of images     JPEG/PNG/BMP (recursively, sorted by relative path), see ImageOptions
// Errors: InputError naming the file and the expected vs actual shape/dtype.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/executor.h"

namespace qtool {

struct ImageOptions {
  int width = 0, height = 0;          // --size WxH; 0 = take it from the model input
  // Geometry instead of a plain resize (calib/image_dataset.cpp):
  int resize_shorter = 0;             // --resize-shorter N: shorter side to N, aspect kept (then a center crop)
  int crop_width = 0, crop_height = 0;        // --center-crop WxH (default with --resize-shorter: the model's size)
  int letterbox_width = 0, letterbox_height = 0;  // --letterbox WxH: fit inside, aspect kept, pad the rest
  float pad_value = 114.f;            // --pad-value: letterbox padding, in pixel units 0..255 (YOLO: 114)
  std::vector<float> mean{0.f};       // per channel (or one value), applied after scale
  std::vector<float> std{1.f};
  float scale = 1.f / 255.f;          // pixel (0..255) * scale, then (x - mean) / std
  bool nchw = true;                   // --layout nchw|nhwc
  bool rgb = true;                    // --rgb | --bgr
  bool jpeg_fancy_upsampling = false; // --jpeg-fancy-upsampling (libjpeg default; PIL/OpenCV)
};

// Largest --size side, and the largest decoded image qtool accepts (bytes of 8-bit pixels): a
// header can claim any size, so decoders check it against these and the file's size first.
constexpr int kMaxImageSide = 65536;
constexpr uint64_t kMaxImageBytes = uint64_t{1} << 28;
// Calibration samples beyond this magnitude are refused like non-finite ones (a 3e38 value makes
// every other value quantize to zero).
constexpr double kMaxSampleMagnitude = 1e30;

// InputError for std = 0, non-finite mean/std/scale, or a size out of range.
void validate_image_options(const ImageOptions& opts);

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Samples [begin, begin + count) stacked along axis 0, one tensor per model input.
  virtual TensorMap batch(int64_t begin, int64_t count) = 0;
  // Source description for messages ("mnist.npy (10000 samples)").
  virtual std::string describe() const = 0;
};

// True when `spec` declares a leading sample axis (see the rule above).
bool has_sample_axis(const InputSpec& spec);

// `inputs` are the model's real inputs (Executor::inputs()); shapes are checked against them.
std::unique_ptr<Dataset> open_dataset(const std::filesystem::path& path, const std::vector<InputSpec>& inputs,
                                      const ImageOptions& image_opts = {}, bool whole = false);
// In-memory arrays keyed by input name, samples along axis 0 (shapes checked like .npz files).
std::unique_ptr<Dataset> memory_dataset(const TensorMap& arrays, const std::vector<InputSpec>& inputs,
                                        const std::string& label, bool whole = false);
// Calibration data check: every float value `inner` serves must be finite and within
// +-kMaxSampleMagnitude. skip = false: the first bad sample is an InputError naming the sample
// index and the input; skip = true (--skip-nonfinite): bad samples are dropped after one scan,
// *skipped says how many. The result refers to `inner`, which must outlive it.
std::unique_ptr<Dataset> finite_samples(Dataset& inner, bool skip, int64_t* skipped = nullptr);
// Wraps another dataset and serves samples [offset, offset + limit); InputError for a negative
// offset or a limit below -1 (-1 = all).
std::unique_ptr<Dataset> slice_dataset(std::unique_ptr<Dataset> inner, int64_t offset, int64_t limit);
// Image folder reader (calib/image_dataset.cpp).
std::unique_ptr<Dataset> open_image_dir(const std::filesystem::path& dir, const InputSpec& input,
                                        const ImageOptions& opts);
// Labels from class folders (torchvision ImageFolder): the class of an image is the index of its
// first folder under `dir` among the sorted folder names; images in the order open_image_dir serves
// them. `classes` (optional) receives the folder names. InputError when an image sits in `dir` itself.
std::vector<int64_t> image_folder_labels(const std::filesystem::path& dir, std::vector<std::string>* classes = nullptr);
// Labels for top-1: a 1-D integer .npy (or [N,1]); returns int64 class ids.
std::vector<int64_t> read_labels(const std::filesystem::path& path);
// Stacks single-sample tensors [d1..dk] (or [1,d1..dk]) into [n, d1..dk].
Tensor stack_samples(const std::vector<Tensor>& samples, const InputSpec& spec, const std::string& label);
// Checks that `sample_shape` (without the batch axis) fits the model input; throws InputError.
void check_sample_shape(const Shape& sample_shape, DType dtype, const InputSpec& spec, const std::string& label);

}  // namespace qtool
