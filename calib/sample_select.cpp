// SPDX-License-Identifier: Apache-2.0
// Sample selection (calib/sample_select.h).
#include "calib/sample_select.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"

namespace qtool {

namespace {

// Serves the samples `indices` of `inner` (in that order); runs of consecutive indices are read
// with one inner batch and the runs concatenated along axis 0. Inputs in `split` are the ones with
// a sample axis; the others are fed whole (every batch gets the same array) and are not stacked.
class IndexDataset : public Dataset {
 public:
  IndexDataset(std::unique_ptr<Dataset> inner, std::vector<int64_t> indices, std::set<std::string> split,
               std::string how)
      : inner_(std::move(inner)), idx_(std::move(indices)), split_(std::move(split)), how_(std::move(how)) {}
  int64_t size() const override { return static_cast<int64_t>(idx_.size()); }
  std::string describe() const override {
    return inner_->describe() + ", " + std::to_string(idx_.size()) + " samples " + how_;
  }
  TensorMap batch(int64_t begin, int64_t count) override {
    std::vector<TensorMap> parts;
    for (int64_t i = begin; i < begin + count;) {
      int64_t j = i + 1;
      while (j < begin + count && idx_[j] == idx_[j - 1] + 1) ++j;
      parts.push_back(inner_->batch(idx_[i], j - i));
      i = j;
    }
    if (parts.size() == 1) return parts[0];
    TensorMap out;
    for (const auto& [name, first] : parts[0]) {
      if (!split_.count(name)) {  // fed whole
        out[name] = first;
        continue;
      }
      Shape s = first.shape();
      s[0] = count;
      Tensor t(first.dtype(), s);
      size_t off = 0;
      for (const auto& p : parts) {
        const Tensor& x = p.at(name);
        std::memcpy(static_cast<uint8_t*>(t.raw()) + off, x.raw(), x.nbytes());
        off += x.nbytes();
      }
      out[name] = std::move(t);
    }
    return out;
  }

 private:
  std::unique_ptr<Dataset> inner_;
  std::vector<int64_t> idx_;
  std::set<std::string> split_;
  std::string how_;
};

void check(const SampleSelection& s) {
  if (s.sample != "first" && s.sample != "every-k" && s.sample != "random")
    throw InputError("--sample must be first, every-k or random, got '" + s.sample + "'");
  if (s.offset < 0) throw InputError("--offset must be >= 0, got " + std::to_string(s.offset));
  if (s.limit < -1) throw InputError("--limit must be >= 0, got " + std::to_string(s.limit));
}

}  // namespace

std::vector<int64_t> select_samples(int64_t n, const SampleSelection& s) {
  check(s);
  const int64_t off = std::min(std::max<int64_t>(s.offset, 0), n), avail = n - off;
  const int64_t k = s.limit < 0 ? avail : std::min(s.limit, avail);
  std::vector<int64_t> out;
  if (s.sample == "first" || k == avail) {
    for (int64_t i = 0; i < k; ++i) out.push_back(off + i);
  } else if (s.sample == "every-k") {  // evenly spread: floor(i * avail / k)
    for (int64_t i = 0; i < k; ++i) out.push_back(off + i * avail / k);
  } else {  // a seeded sample without replacement, served in file order
    std::vector<int64_t> all(static_cast<size_t>(avail));
    std::iota(all.begin(), all.end(), off);
    std::mt19937_64 rng(s.seed);
    std::shuffle(all.begin(), all.end(), rng);
    out.assign(all.begin(), all.begin() + k);
    std::sort(out.begin(), out.end());
  }
  return out;
}

std::unique_ptr<Dataset> select_dataset(std::unique_ptr<Dataset> ds, const SampleSelection& s,
                                        const std::vector<InputSpec>& inputs, bool whole) {
  check(s);
  if (s.sample == "first") return s.selects() ? slice_dataset(std::move(ds), s.offset, s.limit) : std::move(ds);
  auto idx = select_samples(ds->size(), s);
  const std::string how = s.sample == "random" ? "sampled at random (seed " + std::to_string(s.seed) + ")"
                                               : "spread evenly (--sample every-k)";
  std::set<std::string> split;
  for (const auto& spec : inputs)
    if (!whole && has_sample_axis(spec)) split.insert(spec.name);
  return std::make_unique<IndexDataset>(std::move(ds), std::move(idx), std::move(split), how);
}

std::vector<int64_t> select_labels(const std::string& labels, const std::string& data_path,
                                   const std::vector<InputSpec>& inputs, const ImageOptions& image, bool whole,
                                   const SampleSelection& s) {
  if (labels.empty()) return {};
  std::vector<int64_t> all;
  if (labels == "folders") {
    if (!std::filesystem::is_directory(data_path))
      throw InputError("--labels folders needs an image folder with one subfolder per class; " + data_path +
                       " is not a folder");
    all = image_folder_labels(data_path);
  } else {
    all = read_labels(labels);
  }
  const int64_t n = open_dataset(data_path, inputs, image, whole)->size();
  const auto idx = select_samples(n, s);
  if (static_cast<int64_t>(all.size()) == n) {
    std::vector<int64_t> out;
    for (int64_t i : idx) out.push_back(all[i]);
    return out;
  }
  if (all.size() == idx.size()) return all;  // labels given for the selection itself
  throw InputError(labels + ": " + std::to_string(all.size()) + " labels, but " + data_path + " has " +
                   std::to_string(n) + " samples (" + std::to_string(idx.size()) + " selected)");
}

}  // namespace qtool
