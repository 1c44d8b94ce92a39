// SPDX-License-Identifier: Apache-2.0
// Pointwise ops of two operands on a runtime layout without reordering it: one operand in a dense
// strided layout (an integer convolution's nhwc output), the other plain and broadcast into it
// without expanding it, its axes of extent > 1 in the layout's order (a per-channel [N,C,1,1]
// scale, as squeeze-and-excitation multiplies by). Both are viewed transposed by the layout's axis
// order (the plain operand's data does not move); an op computed on the views with numpy
// broadcasting gives the big operand's layout, element for element. Used by qtool.QLookup2 and
// qtool.QAdd / QMul.
#pragma once
#include <vector>

#include "runtime/dnnl_util.h"

namespace qtool {

// Same-shaped operands of one type in one dense runtime layout: a pointwise op can run on their
// dense storage and give its result in that layout.
inline bool one_dense_layout(const Tensor& a, const Tensor& b) {
  return a.layout() && b.layout() && a.has_dense_layout() && a.shape() == b.shape() && a.dtype() == b.dtype() &&
         desc_of(a) == desc_of(b);
}

struct LayoutBroadcast {
  Tensor a, b;                // the operands' views, in the order given
  const Tensor* big = nullptr;  // the operand whose layout the result takes
};

// false: not that case (both or neither in a layout, an axis out of the layout's order, ...).
inline bool layout_broadcast_views(const Tensor& a, const Tensor& b, LayoutBroadcast* out) {
  if ((a.layout() != nullptr) == (b.layout() != nullptr)) return false;
  const bool a_big = a.layout() != nullptr;
  const Tensor& big = a_big ? a : b;
  const Tensor& small = a_big ? b : a;
  if (small.rank() > big.rank()) return false;
  const std::vector<int> order = layout_axis_order(big);
  if (order.empty()) return false;
  Shape aligned(big.rank() - small.rank(), 1);
  aligned.insert(aligned.end(), small.shape().begin(), small.shape().end());
  for (int d = 0; d < big.rank(); ++d)
    if (aligned[d] != 1 && aligned[d] != big.dim(d)) return false;
  int last = -1;
  for (int d : order)
    if (aligned[d] != 1) {
      if (d < last) return false;
      last = d;
    }
  Shape big_view, small_view;
  for (int d : order) {
    big_view.push_back(big.dim(d));
    small_view.push_back(aligned[d]);
  }
  const Tensor bv = big.dense_storage().reshaped(big_view), sv = small.reshaped(small_view);
  out->a = a_big ? bv : sv;
  out->b = a_big ? sv : bv;
  out->big = &big;
  return true;
}

}  // namespace qtool
