// SPDX-License-Identifier: Apache-2.0
#include "calib/dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "core/float_scan.h"
#include "io/npy.h"

namespace fs = std::filesystem;

namespace qtool {

bool has_sample_axis(const InputSpec& spec) {
  return spec.rank_known && !spec.shape.empty() && (spec.shape[0] < 0 || spec.shape[0] == 1);
}

namespace {
// A whole array must have the declared shape (symbolic extents match anything).
void check_whole_shape(const Tensor& t, const InputSpec& spec, const std::string& label) {
  bool ok = !spec.rank_known || t.rank() == static_cast<int>(spec.shape.size());
  for (size_t i = 0; ok && spec.rank_known && i < spec.shape.size(); ++i)
    if (spec.shape[i] >= 0 && spec.shape[i] != t.shape()[i]) ok = false;
  if (!ok)
    throw InputError(label + ": array shape " + shape_str(t.shape()) + " does not match model input '" + spec.name +
                     "' " + shape_str(spec.shape) + ", which has no sample axis and is fed whole (-1 = any)");
  if (t.dtype() != spec.dtype && spec.dtype != DType::kUndefined)
    throw InputError(label + ": data type " + dtype_name(t.dtype()) + " does not match model input '" + spec.name +
                     "' (" + dtype_name(spec.dtype) + ")");
}
}  // namespace

void check_sample_shape(const Shape& sample_shape, DType dtype, const InputSpec& spec, const std::string& label) {
  Shape want(spec.shape.begin() + (spec.shape.empty() ? 0 : 1), spec.shape.end());
  bool ok = sample_shape.size() == want.size();
  for (size_t i = 0; ok && i < want.size(); ++i)
    if (want[i] >= 0 && want[i] != sample_shape[i]) ok = false;
  if (!ok)
    throw InputError(label + ": sample shape " + shape_str(sample_shape) + " does not match model input '" + spec.name +
                     "' " + shape_str(spec.shape) + " (expected [N" + (want.empty() ? "" : ",") +
                     shape_str(want).substr(1) + " with the sample axis first; -1 = any)");
  if (dtype != spec.dtype)
    throw InputError(label + ": data type " + dtype_name(dtype) + " does not match model input '" + spec.name + "' (" +
                     dtype_name(spec.dtype) + ")");
}

Tensor stack_samples(const std::vector<Tensor>& samples, const InputSpec& spec, const std::string& label) {
  if (samples.empty()) throw Error(label + ": no samples");
  Shape s = samples[0].shape();
  const size_t want_rank = spec.shape.empty() ? 0 : spec.shape.size() - 1;
  if (s.size() == want_rank + 1 && !s.empty() && s[0] == 1) s.erase(s.begin());
  check_sample_shape(s, samples[0].dtype(), spec, label);
  Shape out_shape{static_cast<int64_t>(samples.size())};
  out_shape.insert(out_shape.end(), s.begin(), s.end());
  Tensor out(samples[0].dtype(), out_shape);
  const size_t row = samples[0].nbytes();
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].nbytes() != row) throw InputError(label + ": samples differ in shape");
    std::memcpy(static_cast<uint8_t*>(out.raw()) + i * row, samples[i].raw(), row);
  }
  return out;
}

namespace {

// .npy for one input; reads only the requested rows (memory does not grow with N). The file is
// opened once (regular files only: a FIFO would block) and read with pread.
class NpyDataset : public Dataset {
 public:
  NpyDataset(fs::path path, const InputSpec& spec) : path_(std::move(path)), spec_(spec) {
    const std::string label = path_.string();
    fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) throw InputError(label + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))
      throw InputError(label + ": is not a regular file (a folder, FIFO or device), expected a .npy file");
    std::string head(65536, '\0');
    const ssize_t got = ::pread(fd_, head.data(), head.size(), 0);
    head.resize(got > 0 ? static_cast<size_t>(got) : 0);
    NpyHeader h = parse_npy_header(head, label);
    shape_ = h.shape;
    dtype_ = h.dtype;
    data_offset_ = h.data_offset;
    if (shape_.empty()) throw InputError(label + ": a scalar is not a data set; expected [N, ...]");
    check_sample_shape(Shape(shape_.begin() + 1, shape_.end()), dtype_, spec_, label);
    row_bytes_ = dtype_size(dtype_) * static_cast<size_t>(shape_numel(Shape(shape_.begin() + 1, shape_.end())));
    const uint64_t fsize = static_cast<uint64_t>(st.st_size);
    // parse_npy_header checked that numel * dtype size fits in 64 bits
    const uint64_t need = static_cast<uint64_t>(shape_numel(shape_)) * dtype_size(dtype_);
    if (fsize < data_offset_ || fsize - data_offset_ < need)
      throw InputError(label + ": file is truncated (" + std::to_string(fsize) + " bytes for shape " + shape_str(shape_) + ")");
  }
  ~NpyDataset() override {
    if (fd_ >= 0) ::close(fd_);
  }
  int64_t size() const override { return shape_[0]; }
  std::string describe() const override { return path_.string() + " (" + std::to_string(size()) + " samples)"; }
  TensorMap batch(int64_t begin, int64_t count) override {
    if (begin < 0 || count < 0 || begin > size() || count > size() - begin)
      throw Error(path_.string() + ": samples " + std::to_string(begin) + "+" + std::to_string(count) + " out of range");
    Shape s = shape_;
    s[0] = count;
    Tensor t = Tensor::uninitialized(dtype_, s);
    size_t done = 0;
    const size_t want = row_bytes_ * static_cast<size_t>(count);
    while (done < want) {
      const ssize_t n = ::pread(fd_, static_cast<char*>(t.raw()) + done, want - done,
                                static_cast<off_t>(data_offset_ + row_bytes_ * begin + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw InputError(path_.string() + ": read failed (the file changed during the run?)");
      done += static_cast<size_t>(n);
    }
    return {{spec_.name, t}};
  }

 private:
  fs::path path_;
  InputSpec spec_;
  Shape shape_;
  DType dtype_ = DType::kUndefined;
  size_t data_offset_ = 0, row_bytes_ = 0;
  int fd_ = -1;
};

// Slices rows [begin, begin+count) of an in-memory [N, ...] tensor.
Tensor take_rows(const Tensor& t, int64_t begin, int64_t count) {
  Shape s = t.shape();
  s[0] = count;
  Tensor out(t.dtype(), s);
  const size_t row = t.nbytes() / std::max<int64_t>(t.dim(0), 1);
  std::memcpy(out.raw(), static_cast<const uint8_t*>(t.raw()) + row * begin, row * count);
  return out;
}

// Arrays held in memory, one per model input (.npz files, C API buffers): inputs with a sample
// axis are served in batches along axis 0, the others whole with every batch.
class MemoryDataset : public Dataset {
 public:
  MemoryDataset(const TensorMap& arrays, const std::vector<InputSpec>& inputs, std::string label, bool whole)
      : label_(std::move(label)) {
    std::vector<std::pair<const InputSpec*, Tensor>> found;
    for (const auto& spec : inputs) {
      auto it = arrays.find(spec.name);
      if (it == arrays.end()) {
        std::string keys;
        for (const auto& [k, v] : arrays) keys += (keys.empty() ? "" : ", ") + k;
        throw InputError(label_ + ": no array named '" + spec.name + "' (the model input); has: " + keys);
      }
      found.emplace_back(&spec, it->second);
    }
    // Sample inputs must agree on their leading extent; if they do not, everything is fed whole.
    std::set<int64_t> leading;
    for (const auto& [spec, t] : found)
      if (!whole && has_sample_axis(*spec) && t.rank() == static_cast<int>(spec->shape.size())) leading.insert(t.dim(0));
    const bool all_whole = whole || leading.size() != 1;
    n_ = all_whole ? 1 : *leading.begin();
    for (const auto& [spec, t] : found) {
      const std::string where = label_ + ":" + spec->name;
      if (!all_whole && has_sample_axis(*spec)) {
        if (t.rank() == 0) throw InputError(where + ": a scalar is not a data set");
        check_sample_shape(Shape(t.shape().begin() + 1, t.shape().end()), t.dtype(), *spec, where);
        arrays_[spec->name] = t;
      } else {
        check_whole_shape(t, *spec, where);
        whole_[spec->name] = t;
      }
    }
  }
  int64_t size() const override { return n_; }
  std::string describe() const override {
    return label_ + (arrays_.empty() ? " (whole arrays)" : " (" + std::to_string(n_) + " samples)");
  }
  TensorMap batch(int64_t begin, int64_t count) override {
    TensorMap out = whole_;
    for (const auto& [k, t] : arrays_) out[k] = take_rows(t, begin, count);
    return out;
  }

 private:
  std::string label_;
  TensorMap arrays_, whole_;
  int64_t n_ = 0;
};

class NpyDirDataset : public Dataset {
 public:
  NpyDirDataset(const fs::path& dir, std::vector<fs::path> files, const InputSpec& spec)
      : dir_(dir), files_(std::move(files)), spec_(spec) {
    stack_samples({read_npy(files_[0])}, spec_, files_[0].string());  // validates the first file's shape
  }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  std::string describe() const override { return dir_.string() + " (" + std::to_string(size()) + " .npy files)"; }
  TensorMap batch(int64_t begin, int64_t count) override {
    std::vector<Tensor> samples;
    for (int64_t i = begin; i < begin + count; ++i) samples.push_back(read_npy(files_[i]));
    return {{spec_.name, stack_samples(samples, spec_, files_[begin].string())}};
  }

 private:
  fs::path dir_;
  std::vector<fs::path> files_;
  InputSpec spec_;
};

class SliceDataset : public Dataset {
 public:
  SliceDataset(std::unique_ptr<Dataset> inner, int64_t offset, int64_t limit) : inner_(std::move(inner)) {
    if (offset < 0) throw InputError("--offset must be >= 0, got " + std::to_string(offset));
    if (limit < -1) throw InputError("--limit must be >= 0, got " + std::to_string(limit));
    offset_ = std::min(std::max<int64_t>(offset, 0), inner_->size());
    n_ = limit < 0 ? inner_->size() - offset_ : std::min(limit, inner_->size() - offset_);
  }
  int64_t size() const override { return n_; }
  std::string describe() const override {
    return inner_->describe() + ", samples " + std::to_string(offset_) + ".." + std::to_string(offset_ + n_ - 1);
  }
  TensorMap batch(int64_t begin, int64_t count) override { return inner_->batch(offset_ + begin, count); }

 private:
  std::unique_ptr<Dataset> inner_;
  int64_t offset_ = 0, n_ = 0;
};

const InputSpec& single_input(const std::vector<InputSpec>& inputs, const std::string& label) {
  if (inputs.size() != 1)
    throw InputError(label + ": the model has " + std::to_string(inputs.size()) +
                     " inputs; use an .npz keyed by input name");
  return inputs[0];
}

bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp";
}

}  // namespace

void validate_image_options(const ImageOptions& o) {
  auto finite = [](const std::vector<float>& v, const char* what) {
    for (float x : v)
      if (!std::isfinite(x)) throw InputError(std::string("--") + what + " values must be finite numbers");
  };
  if (o.mean.empty() || o.std.empty()) throw InputError("--mean and --std need at least one value");
  finite(o.mean, "mean");
  finite(o.std, "std");
  for (float s : o.std)
    if (s == 0.f) throw InputError("--std values must be non-zero");
  if (!std::isfinite(o.scale) || o.scale == 0.f) throw InputError("--scale must be a finite, non-zero number");
  if (o.width < 0 || o.height < 0 || o.width > kMaxImageSide || o.height > kMaxImageSide)
    throw InputError("--size " + std::to_string(o.width) + "x" + std::to_string(o.height) + " is out of range (1.." +
                     std::to_string(kMaxImageSide) + " pixels per side)");
}

namespace {

// Serves the inner data set's samples after checking their float values (see finite_samples).
class FiniteSamples : public Dataset {
 public:
  FiniteSamples(Dataset& inner, bool skip) : inner_(inner), skip_(skip) {
    if (!skip_) return;
    const int64_t n = inner_.size();
    for (int64_t b = 0; b < n; b += 64) {
      const int64_t c = std::min<int64_t>(64, n - b);
      const std::vector<int64_t> bad = bad_rows(inner_.batch(b, c), c);
      for (int64_t i = 0; i < c; ++i)
        if (!std::binary_search(bad.begin(), bad.end(), i)) keep_.push_back(b + i);
      skipped_ += static_cast<int64_t>(bad.size());
    }
  }
  int64_t size() const override { return skip_ ? static_cast<int64_t>(keep_.size()) : inner_.size(); }
  std::string describe() const override {
    return inner_.describe() + (skipped_ ? ", " + std::to_string(skipped_) + " non-finite samples skipped" : "");
  }
  int64_t skipped() const { return skipped_; }
  TensorMap batch(int64_t begin, int64_t count) override {
    if (!skip_) {
      TensorMap m = inner_.batch(begin, count);
      bad_rows(m, count, begin);  // throws on the first bad sample
      return m;
    }
    // runs of consecutive kept samples, stacked
    std::vector<TensorMap> parts;
    for (int64_t i = begin; i < begin + count;) {
      int64_t j = i + 1;
      while (j < begin + count && keep_[j] == keep_[j - 1] + 1) ++j;
      parts.push_back(inner_.batch(keep_[i], j - i));
      i = j;
    }
    if (parts.size() == 1) return parts[0];
    TensorMap out;
    for (const auto& [name, first] : parts[0]) {
      Shape s = first.shape();
      int64_t rows = 0;
      for (const auto& p : parts) rows += p.at(name).dim(0);
      if (rows != count) {  // a whole (non-sample) input: every batch gets it as it is
        out[name] = first;
        continue;
      }
      s[0] = rows;
      Tensor t = Tensor::uninitialized(first.dtype(), s);
      size_t off = 0;
      for (const auto& p : parts) {
        const Tensor& x = p.at(name);
        std::memcpy(static_cast<uint8_t*>(t.raw()) + off, x.raw(), x.nbytes());
        off += x.nbytes();
      }
      out[name] = t;
    }
    return out;
  }

 private:
  // Rows (of `count`) holding a non-finite or extreme float value; with begin >= 0 the first one
  // is an InputError instead.
  std::vector<int64_t> bad_rows(const TensorMap& m, int64_t count, int64_t begin = -1) const {
    std::vector<int64_t> bad;
    for (const auto& [name, t] : m) {
      if (t.dtype() != DType::kFloat && t.dtype() != DType::kDouble && t.dtype() != DType::kFloat16 &&
          t.dtype() != DType::kBFloat16)
        continue;
      const bool rows = t.rank() > 0 && t.dim(0) == count && count > 0;
      const int64_t n = t.numel(), per = rows ? n / count : n;
      if (t.dtype() == DType::kFloat && all_abs_within(t.data<float>(), n, static_cast<float>(kMaxSampleMagnitude)))
        continue;  // the common case, one vectorised pass without a copy
      const std::vector<double> v = t.dtype() == DType::kDouble ? t.to_doubles() : std::vector<double>();
      const std::vector<float> f = t.dtype() == DType::kDouble ? std::vector<float>() : t.to_floats();
      for (int64_t k = 0; k < n; ++k) {
        const double x = v.empty() ? f[static_cast<size_t>(k)] : v[static_cast<size_t>(k)];
        if (std::isfinite(x) && std::fabs(x) <= kMaxSampleMagnitude) continue;
        const int64_t row = rows ? k / per : 0;
        if (begin >= 0) {
          char val[64];
          std::snprintf(val, sizeof val, "%g", x);
          throw InputError(inner_.describe() + ": sample " + std::to_string(begin + row) + " of input '" + name +
                           "' holds " + val + (std::isfinite(x) ? " (beyond +-1e30)" : "") +
                           "; calibration needs finite data (--skip-nonfinite drops such samples)");
        }
        bad.push_back(rows ? row : -1);
        if (rows) k = (row + 1) * per - 1;  // next row
        else break;
      }
    }
    if (std::find(bad.begin(), bad.end(), -1) != bad.end()) {  // a whole input is bad: every sample is
      bad.clear();
      for (int64_t i = 0; i < count; ++i) bad.push_back(i);
    }
    std::sort(bad.begin(), bad.end());
    bad.erase(std::unique(bad.begin(), bad.end()), bad.end());
    return bad;
  }

  Dataset& inner_;
  bool skip_;
  std::vector<int64_t> keep_;
  int64_t skipped_ = 0;
};

}  // namespace

std::unique_ptr<Dataset> finite_samples(Dataset& inner, bool skip, int64_t* skipped) {
  auto d = std::make_unique<FiniteSamples>(inner, skip);
  if (skipped) *skipped = d->skipped();
  if (skip && d->size() == 0) throw InputError(inner.describe() + ": every sample holds non-finite values");
  return d;
}

std::unique_ptr<Dataset> open_dataset(const fs::path& path, const std::vector<InputSpec>& inputs,
                                      const ImageOptions& image_opts, bool whole) {
  validate_image_options(image_opts);
  std::error_code ec;
  const std::string label = path.string();
  if (!fs::exists(path, ec)) throw InputError(label + ": no such file or folder");
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> npys, images;
    try {
      for (const auto& e : fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied)) {
        std::error_code fe;
        if (!e.is_regular_file(fe)) continue;
        if (e.path().extension() == ".npy") npys.push_back(e.path());
        else if (is_image(e.path())) images.push_back(e.path());
      }
    } catch (const fs::filesystem_error& e) {
      throw InputError(label + ": cannot list the folder: " + e.code().message());
    }
    if (!npys.empty()) {
      std::sort(npys.begin(), npys.end());
      return std::make_unique<NpyDirDataset>(path, npys, single_input(inputs, label));
    }
    if (!images.empty()) return open_image_dir(path, single_input(inputs, label), image_opts);
    throw InputError(label + ": folder holds no .npy files and no images (.jpg/.jpeg/.png/.bmp)");
  }
  if (path.extension() == ".npy") {
    const InputSpec& spec = single_input(inputs, label);
    if (whole || !has_sample_axis(spec))
      return std::make_unique<MemoryDataset>(TensorMap{{spec.name, read_npy(path)}}, inputs, label, true);
    return std::make_unique<NpyDataset>(path, spec);
  }
  if (path.extension() == ".npz") return std::make_unique<MemoryDataset>(read_npz(path), inputs, path.string(), whole);
  throw InputError(label + ": unknown data format; expected .npy, .npz, a folder of .npy files or a folder of images");
}

std::unique_ptr<Dataset> memory_dataset(const TensorMap& arrays, const std::vector<InputSpec>& inputs,
                                        const std::string& label, bool whole) {
  return std::make_unique<MemoryDataset>(arrays, inputs, label, whole);
}

std::unique_ptr<Dataset> slice_dataset(std::unique_ptr<Dataset> inner, int64_t offset, int64_t limit) {
  return std::make_unique<SliceDataset>(std::move(inner), offset, limit);
}

std::vector<int64_t> read_labels(const fs::path& path) {
  Tensor t = read_npy(path);
  if (t.rank() > 2 || (t.rank() == 2 && t.dim(1) != 1) || !dtype_is_integer(t.dtype()))
    throw InputError(path.string() + ": labels must be a 1-D integer array [N], got " + dtype_name(t.dtype()) + " " +
                     shape_str(t.shape()));
  std::vector<int64_t> labels = t.to_int64s();
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0)
      throw InputError(path.string() + ": label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                       "; class ids are >= 0");
  return labels;
}

}  // namespace qtool
