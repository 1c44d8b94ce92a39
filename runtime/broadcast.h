// SPDX-License-Identifier: Apache-2.0
// Numpy-style (multidirectional) broadcasting, as ONNX's Broadcasting.md defines it: shapes are
// aligned on their trailing axes, and each output extent is the common extent of the inputs, an
// input extent of 1 being repeated.
//
// BroadcastPlan<K> turns K input shapes and the output shape into the fewest loops: extents of 1
// are dropped and neighbouring axes that every input walks the same way (all contiguous, or all
// repeated) are merged, so [N,C,H,W] + [1,C,1,1] becomes rows of H*W elements against one value,
// and same-shape inputs become a single row. Kernels call for_each_row() and get, per row, each
// input's start offset and step (1 or 0); the inner loop then vectorizes.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace qtool {

// The broadcast shape of a and b; InputError when an axis differs and neither extent is 1.
inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw InputError("shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// The broadcast shape of any number of shapes (a scalar's shape for none).
inline Shape broadcast_shapes(const std::vector<Shape>& shapes) {
  Shape out;
  for (const auto& s : shapes) out = broadcast_shape(out, s);
  return out;
}

// True when `in` broadcasts to `out` without `out` changing (unidirectional broadcasting).
inline bool broadcasts_to(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != out[i + off]) return false;
  return true;
}

// Strides of `in` viewed with `out_shape` (0 on broadcast extents); out_shape's rank >= in's.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out_shape) {
  const size_t r = out_shape.size(), off = r - in.size();
  std::vector<int64_t> st(r, 0);
  int64_t s = 1;
  for (size_t i = in.size(); i-- > 0;) {
    st[i + off] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return st;
}

// Loops over an output of `out` shape reading K inputs that broadcast to it.
template <size_t K>
class BroadcastPlan {
 public:
  BroadcastPlan(const std::array<const Shape*, K>& in, const Shape& out) {
    numel_ = shape_numel(out);
    std::array<std::vector<int64_t>, K> st;
    for (size_t k = 0; k < K; ++k) st[k] = broadcast_strides(*in[k], out);
    // Drop extents of 1, then merge axis d into the previous one when every input continues there.
    for (size_t d = 0; d < out.size(); ++d) {
      if (out[d] == 1) continue;
      bool merge = !dims_.empty();
      for (size_t k = 0; merge && k < K; ++k) merge = strides_[k].back() == st[k][d] * out[d];
      if (merge) {
        dims_.back() *= out[d];
        for (size_t k = 0; k < K; ++k) strides_[k].back() = st[k][d];
      } else {
        dims_.push_back(out[d]);
        for (size_t k = 0; k < K; ++k) strides_[k].push_back(st[k][d]);
      }
    }
    if (dims_.empty()) {  // a single element
      dims_.push_back(1);
      for (size_t k = 0; k < K; ++k) strides_[k].push_back(0);
    }
  }

  int64_t numel() const { return numel_; }
  int64_t row_length() const { return dims_.back(); }
  int64_t rows() const { return dims_.back() == 0 ? 0 : numel_ / dims_.back(); }
  // Step of input k along a row: 1 (walks) or 0 (repeats one value); rows longer than 1 only.
  int64_t row_step(size_t k) const { return strides_[k].back(); }

  // body(row, out_offset, offsets) for rows [first, last): offsets[k] is input k's element offset
  // at the start of the row; the row has row_length() elements and input k advances row_step(k).
  template <typename Body>
  void for_each_row(int64_t first, int64_t last, Body&& body) const {
    if (first >= last) return;
    const int r = static_cast<int>(dims_.size());
    const int64_t len = dims_.back();
    std::vector<int64_t> idx(r > 1 ? r - 1 : 1, 0);
    std::array<int64_t, K> off{};
    int64_t rest = first;  // row index -> outer index vector
    for (int d = r - 2; d >= 0; --d) {
      idx[d] = rest % dims_[d];
      rest /= dims_[d];
      for (size_t k = 0; k < K; ++k) off[k] += idx[d] * strides_[k][d];
    }
    for (int64_t row = first; row < last; ++row) {
      body(row, row * len, off);
      for (int d = r - 2; d >= 0; --d) {  // advance the outer index
        ++idx[d];
        for (size_t k = 0; k < K; ++k) off[k] += strides_[k][d];
        if (idx[d] < dims_[d]) break;
        for (size_t k = 0; k < K; ++k) off[k] -= strides_[k][d] * dims_[d];
        idx[d] = 0;
      }
    }
  }
  template <typename Body>
  void for_each_row(Body&& body) const { for_each_row(0, rows(), std::forward<Body>(body)); }

 private:
  int64_t numel_ = 0;
  std::vector<int64_t> dims_;
  std::array<std::vector<int64_t>, K> strides_;
};

// out[i] = f(a[ia], b[ib]) over the broadcast shape `so` (a and b broadcast to it).
template <typename TA, typename TB, typename R, typename F>
void broadcast_binary(const TA* a, const Shape& sa, const TB* b, const Shape& sb, R* out, const Shape& so, F f) {
  const BroadcastPlan<2> plan({&sa, &sb}, so);
  if (plan.numel() == 0) return;
  const int64_t len = plan.row_length(), step_a = plan.row_step(0), step_b = plan.row_step(1);
  plan.for_each_row([&](int64_t, int64_t o, const std::array<int64_t, 2>& off) {
    const TA* pa = a + off[0];
    const TB* pb = b + off[1];
    R* po = out + o;
    if (step_a == 1 && step_b == 1) {
      for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j], pb[j]);
    } else if (step_a == 1) {
      const TB vb = *pb;
      for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j], vb);
    } else if (step_b == 1) {
      const TA va = *pa;
      for (int64_t j = 0; j < len; ++j) po[j] = f(va, pb[j]);
    } else {
      const R v = f(*pa, *pb);
      for (int64_t j = 0; j < len; ++j) po[j] = v;
    }
  });
}

}  // namespace qtool
