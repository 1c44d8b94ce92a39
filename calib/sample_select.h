// SPDX-License-Identifier: Apache-2.0
// Sample selection of a data set (the CLI's --offset / --limit / --sample / --seed, the C API's
// qt_data_open options of the same names): which samples of a data set of n are used, and a data
// set serving exactly those. One implementation for the CLI (tools/common_options.cpp) and the C
// API (capi/qtool.cpp), so a Ray sweep (python/qtool/distributed.py) sees the samples a local one does.
//   first    samples offset .. offset+limit-1 (default)
//   every-k  limit samples spread evenly over [offset, n): offset + floor(i * (n - offset) / limit)
//   random   limit samples drawn without replacement (std::mt19937_64 seeded with `seed`, std::shuffle),
//            served in file order
// Errors: InputError for an unknown `sample`, a negative offset or a limit below -1 (-1 = all).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "calib/dataset.h"

namespace qtool {

struct SampleSelection {
  int64_t offset = 0;
  int64_t limit = -1;            // -1: every sample from offset on
  std::string sample = "first";  // first | every-k | random
  uint64_t seed = 0;             // for random
  bool selects() const { return offset > 0 || limit >= 0; }
};

// The indices (ascending) of the samples `s` selects from a data set of n.
std::vector<int64_t> select_samples(int64_t n, const SampleSelection& s);

// `ds` restricted to the samples `s` selects. `inputs` and `whole` are those `ds` was opened with
// (inputs fed whole are served unchanged with every batch). Returns `ds` itself when nothing is selected.
std::unique_ptr<Dataset> select_dataset(std::unique_ptr<Dataset> ds, const SampleSelection& s,
                                        const std::vector<InputSpec>& inputs, bool whole);

// Top-1 labels of the samples `s` selects from the data at `data_path` (opened with inputs, image
// options and whole as for select_dataset): `labels` is a 1-D integer .npy of class ids, either for the
// whole data set or already for the selection, or "folders" (the class folders of an image folder,
// ImageFolder order). "" gives {}. InputError when the counts do not fit or the file is not labels.
std::vector<int64_t> select_labels(const std::string& labels, const std::string& data_path,
                                   const std::vector<InputSpec>& inputs, const ImageOptions& image, bool whole,
                                   const SampleSelection& s);

}  // namespace qtool
