// SPDX-License-Identifier: Apache-2.0
// Streaming accuracy metrics.
//   top-1:     argmax over each sample's output (all values after the batch axis) == label
//   agreement: argmax equal to the reference model's argmax
//   SQNR (dB): 10 log10(sum ref^2 / sum (ref - out)^2) accumulated over all samples
//   cosine:    sum(ref*out) / (|ref| |out|) accumulated over all samples
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace qtool {

// Per-sample argmax of a [N, ...] float tensor.
std::vector<int64_t> argmax_per_sample(const Tensor& t);

class ErrorAccumulator {
 public:
  void add(const float* ref, const float* out, int64_t n);
  double sqnr_db() const;
  double cosine() const;

 private:
  double signal_ = 0, noise_ = 0, dot_ = 0, ref_sq_ = 0, out_sq_ = 0;
};

}  // namespace qtool
