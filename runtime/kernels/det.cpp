// SPDX-License-Identifier: Apache-2.0
// Det (ONNX 11, 22): determinants of the trailing M x M matrices of an input of shape [*, M, M]
// (output shape [*]), by LU decomposition with partial pivoting in double (numpy.linalg.det, as
// onnx/reference/ops/op_det.py). An empty matrix (M = 0) has determinant 1.
#include <cmath>

#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

void det_validate(KernelContext& c) {
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const Tensor& x = c.in(0);
  if (!dispatch<RealTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  if (x.rank() < 2 || x.dim(-1) != x.dim(-2))
    c.fail("input 'X' must have shape [*, M, M], got " + shape_str(x.shape()));
}

// Determinant of the m x m row-major matrix a (overwritten).
double lu_det(double* a, int64_t m) {
  double det = 1.0;
  for (int64_t k = 0; k < m; ++k) {
    int64_t piv = k;
    for (int64_t i = k + 1; i < m; ++i)
      if (std::fabs(a[i * m + k]) > std::fabs(a[piv * m + k])) piv = i;
    if (a[piv * m + k] == 0.0) return 0.0;
    if (piv != k) {
      for (int64_t j = 0; j < m; ++j) std::swap(a[k * m + j], a[piv * m + j]);
      det = -det;
    }
    const double d = a[k * m + k];
    det *= d;
    for (int64_t i = k + 1; i < m; ++i) {
      const double f = a[i * m + k] / d;
      if (f == 0.0) continue;
      for (int64_t j = k + 1; j < m; ++j) a[i * m + j] -= f * a[k * m + j];
    }
  }
  return det;
}

void det_run(KernelContext& c) {
  det_validate(c);
  const Tensor& x = c.in(0);
  const int64_t m = x.dim(-1);
  const Shape out_shape(x.shape().begin(), x.shape().end() - 2);
  const int64_t batch = shape_numel(out_shape);
  std::vector<double> xs = x.to_doubles(), dets(batch);
  for (int64_t b = 0; b < batch; ++b) dets[b] = lu_det(xs.data() + b * m * m, m);
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  dispatch<RealTypes>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* q = y.data<T>();
    for (int64_t b = 0; b < batch; ++b) q[b] = from_compute<T>(static_cast<Compute<T>>(dets[b]));
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_det_ops(OpRegistry& r) { r.add("", "Det", {11, 22}, OpDef{det_run, nullptr, det_validate}); }

}  // namespace qtool
