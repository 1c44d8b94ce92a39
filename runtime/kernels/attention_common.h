// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the attention kernels (attention.cpp, attention_contrib.cpp,
// linear_attention.cpp, rotary_embedding.cpp, swiglu.cpp): rounding a value the way numpy's
// arithmetic in a given float type does, and numpy's pairwise summation (so sums over short rows
// match onnx's reference bit for bit).
#pragma once
#include <cmath>
#include <vector>

#include "runtime/kernel.h"

namespace qtool {

// v rounded to float type t (float32, float64, float16, bfloat16), as numpy stores the result of an
// operation computed on values of type t (float16 / bfloat16 results go through float32 as numpy
// and ml_dtypes compute them).
inline double round_as(DType t, double v) {
  switch (t) {
    case DType::kFloat: return static_cast<float>(v);
    case DType::kFloat16: return static_cast<float>(half(static_cast<float>(v)));
    case DType::kBFloat16: return static_cast<float>(bfloat16(static_cast<float>(v)));
    default: return v;
  }
}

// numpy.add.reduce over a contiguous row of type t: pairwise summation (8 partial sums per block of
// 128) accumulated in float32 for float16 / float32 and in float64 for float64; bfloat16 (an
// ml_dtypes type without a pairwise loop) adds sequentially, rounding every partial sum.
inline double numpy_sum(DType t, const double* a, int64_t n) {
  if (t == DType::kBFloat16) {
    double r = 0.0;
    for (int64_t i = 0; i < n; ++i) r = round_as(t, r + a[i]);
    return r;
  }
  const DType acc = t == DType::kDouble ? DType::kDouble : DType::kFloat;
  struct Pairwise {
    DType acc;
    double operator()(const double* x, int64_t len) const {
      if (len < 8) {
        double r = 0.0;
        for (int64_t i = 0; i < len; ++i) r = round_as(acc, r + x[i]);
        return r;
      }
      if (len <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = x[j];
        int64_t i = 8;
        for (; i < len - (len % 8); i += 8)
          for (int j = 0; j < 8; ++j) r[j] = round_as(acc, r[j] + x[i + j]);
        double res = round_as(acc, round_as(acc, round_as(acc, r[0] + r[1]) + round_as(acc, r[2] + r[3])) +
                                       round_as(acc, round_as(acc, r[4] + r[5]) + round_as(acc, r[6] + r[7])));
        for (; i < len; ++i) res = round_as(acc, res + x[i]);
        return res;
      }
      int64_t n2 = len / 2;
      n2 -= n2 % 8;
      return round_as(acc, (*this)(x, n2) + (*this)(x + n2, len - n2));
    }
  };
  return round_as(t, Pairwise{acc}(a, n));
}

// The wider of two float types in numpy's promotion (float16 with bfloat16 gives float32).
inline DType promote_float(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::kDouble || b == DType::kDouble) return DType::kDouble;
  return DType::kFloat;
}

}  // namespace qtool
