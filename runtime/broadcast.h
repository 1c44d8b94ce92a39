// SPDX-License-Identifier: Apache-2.0
// Numpy-style (multidirectional) broadcasting helpers shared by elementwise kernels.
#pragma once
#include <algorithm>

#include "core/error.h"
#include "core/tensor.h"

namespace qtool {

Shape broadcast_shape(const Shape& a, const Shape& b);
// Strides of `in` viewed with `out_shape` (0 on broadcast extents); out_shape's rank >= in's.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out_shape);

// out[i] = f(a[ia], b[ib]) over the broadcast shape.
template <typename T, typename R, typename F>
void broadcast_binary(const T* a, const Shape& sa, const T* b, const Shape& sb, R* out, const Shape& so, F f) {
  const int64_t n = shape_numel(so);
  if (sa == so && sb == so) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  if (shape_numel(sb) == 1 && sa == so) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
    return;
  }
  if (shape_numel(sa) == 1 && sb == so) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
    return;
  }
  const int r = static_cast<int>(so.size());
  if (r == 0) { out[0] = f(a[0], b[0]); return; }
  auto st_a = broadcast_strides(sa, so), st_b = broadcast_strides(sb, so);
  const int64_t inner = so[r - 1], ia = st_a[r - 1], ib = st_b[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t base = 0; base < n; base += inner) {
    for (int64_t j = 0; j < inner; ++j) out[base + j] = f(a[oa + j * ia], b[ob + j * ib]);
    for (int d = r - 2; d >= 0; --d) {  // advance the outer index
      ++idx[d];
      oa += st_a[d];
      ob += st_b[d];
      if (idx[d] < so[d]) break;
      oa -= st_a[d] * so[d];
      ob -= st_b[d] * so[d];
      idx[d] = 0;
    }
  }
}

}  // namespace qtool
