// SPDX-License-Identifier: Apache-2.0
// What the CLI does with a data set once it is open (fuzz_npy, fuzz_npz, fuzz_image): the
// calibration data check (finite_samples, with --skip-nonfinite and without) and the first two
// batches, so the readers' lazy paths (pread rows, image decode on demand) run too.
#pragma once
#include <algorithm>
#include <memory>

#include "calib/dataset.h"

namespace qtool::fuzz {

inline void serve_some(Dataset& ds) {
  const int64_t n = ds.size();
  if (n > 0) (void)ds.batch(0, std::min<int64_t>(n, 2));
  for (bool skip : {false, true}) {
    int64_t skipped = 0;
    auto checked = finite_samples(ds, skip, &skipped);
    const int64_t m = checked->size();
    if (m > 0) (void)checked->batch(0, std::min<int64_t>(m, 2));
  }
}

// A model input declared like the array (leading sample axis symbolic), so the shape checks pass
// and the reading code runs.
inline InputSpec input_like(const std::string& name, DType dtype, const Shape& shape) {
  InputSpec s;
  s.name = name;
  s.dtype = dtype;
  s.shape = shape;
  if (!s.shape.empty()) s.shape[0] = -1;
  return s;
}

}  // namespace qtool::fuzz
