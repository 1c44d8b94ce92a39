// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the reduction / normalization / softmax / loss kernel files
// (reduce.cpp, arg_topk.cpp, cumulative.cpp, softmax.cpp, normalization.cpp, loss.cpp, det.cpp):
// requested-output checks, axis lists, saturating float -> integer conversion, wrapping integer
// arithmetic (numpy's modulo-2^n results without signed-overflow UB), broadcast offsets and the
// blocked float32 sums of the fast kernels.
#pragma once
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernel.h"

namespace qtool {
namespace reduce_util {

// Output k is requested by the node (present and named).
inline bool wants_output(const KernelContext& c, int k) {
  return k >= 0 && k < c.node.output_size() && !c.node.output(k).empty();
}

// Float element types the normalization / softmax / loss ops take.
using RealTypes = FloatTypes;

// Marks `axes` (each in [-rank, rank)) in a mask of length rank; fails on an out-of-range or
// repeated axis, naming `what` ("attribute 'axes'", "input 'axes'").
inline std::vector<bool> axes_mask(const KernelContext& c, const std::vector<int64_t>& axes, int rank,
                                   const std::string& what) {
  std::vector<bool> m(rank, false);
  for (int64_t a : axes) {
    const int64_t n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank)
      c.fail(what + ": axis " + std::to_string(a) + " is out of range for an input of rank " + std::to_string(rank));
    if (m[n]) c.fail(what + ": axis " + std::to_string(a) + " is given twice");
    m[n] = true;
  }
  return m;
}

// Normalizes an axis attribute against rank (range [-rank, rank)), failing with the attribute named.
inline int checked_axis(const KernelContext& c, int64_t axis, int rank, const std::string& attr = "axis") {
  const int64_t n = axis < 0 ? axis + rank : axis;
  if (n < 0 || n >= rank)
    c.fail("attribute '" + attr + "': " + std::to_string(axis) + " is out of range for an input of rank " +
           std::to_string(rank));
  return static_cast<int>(n);
}

// double -> integer T: truncation toward zero, saturating at T's range, NaN -> 0.
template <typename T>
inline T saturate_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// Integer arithmetic modulo 2^bits (numpy's wrap-around) without signed overflow.
template <typename T>
inline T wrap_add(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
}
template <typename T>
inline T wrap_mul(T a, T b) {
  using U = std::make_unsigned_t<T>;
  using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;  // avoid int promotion
  return static_cast<T>(static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
}

// Row-major strides of `shape`.
inline std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

// True when `in` broadcasts to `out` (numpy rules, in's rank <= out's rank, unidirectional).
inline bool broadcastable_to(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != out[i + off]) return false;
  return true;
}

// Offsets into a tensor of shape `in` broadcast (unidirectionally) to `out`, walked in out's
// row-major order: next() returns the offset of the current element and advances.
class BroadcastWalker {
 public:
  BroadcastWalker(const Shape& in, const Shape& out) : ext_(out), idx_(out.size(), 0), st_(out.size(), 0) {
    if (!broadcastable_to(in, out)) throw Error("shape " + shape_str(in) + " does not broadcast to " + shape_str(out));
    const size_t off = out.size() - in.size();
    int64_t s = 1;
    for (size_t i = in.size(); i-- > 0;) {
      st_[i + off] = in[i] == 1 ? 0 : s;
      s *= in[i];
    }
  }
  int64_t next() {
    const int64_t r = pos_;
    for (size_t d = ext_.size(); d-- > 0;) {
      pos_ += st_[d];
      if (++idx_[d] < ext_[d]) break;
      pos_ -= st_[d] * ext_[d];
      idx_[d] = 0;
    }
    return r;
  }

 private:
  Shape ext_;
  std::vector<int64_t> idx_, st_;
  int64_t pos_ = 0;
};

// Whether `t` holds integers (for inputs like CumSum's axis, TopK's K).
inline bool is_integer_tensor(const Tensor& t) { return dtype_is_integer(t.dtype()); }

// A scalar integer input (rank 0, or one element), failing with the input named.
inline int64_t scalar_int_input(const KernelContext& c, int i, const std::string& name) {
  const Tensor& t = c.in(i);
  if (!is_integer_tensor(t)) c.fail("input '" + name + "' must be an integer tensor, got " + dtype_name(t.dtype()));
  if (t.numel() != 1 || t.rank() > 1)
    c.fail("input '" + name + "' must hold one value, got shape " + shape_str(t.shape()));
  return t.to_int64s()[0];
}

// float32 sums for the fast kernels: Eigen's vectorized float sums over blocks of 1024, the
// blocks added in double (accurate for long rows, still at memory speed).
inline double sum_f32(const float* p, int64_t n) {
  constexpr int64_t kBlock = 1024;
  double s = 0.0;
  for (int64_t i = 0; i < n; i += kBlock) s += Eigen::Map<const Eigen::ArrayXf>(p + i, std::min(kBlock, n - i)).sum();
  return s;
}
// Sum of (p[i] - m)^2.
inline double sum_sq_dev_f32(const float* p, int64_t n, float m) {
  constexpr int64_t kBlock = 1024;
  double s = 0.0;
  for (int64_t i = 0; i < n; i += kBlock)
    s += (Eigen::Map<const Eigen::ArrayXf>(p + i, std::min(kBlock, n - i)) - m).square().sum();
  return s;
}

}  // namespace reduce_util
}  // namespace qtool
