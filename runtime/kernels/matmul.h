// SPDX-License-Identifier: Apache-2.0
// Matrix-multiplication building blocks of the matmul family, shared by MatMul / Gemm
// (matmul.cpp), MatMulInteger / QLinearMatMul (matmul_integer.cpp), Attention (attention.cpp),
// Einsum (einsum.cpp) and MatMulNBits (matmul_nbits.cpp): numpy matmul shape rules
// (numpy.matmul: 1-D operands promoted and their axis dropped, batch axes broadcast) and float32
// products through cached oneDNN primitives.
#pragma once
#include <memory>
#include <vector>

#include "runtime/kernel.h"

namespace qtool {

// Shapes of a numpy matmul a [..., M, K] x b [..., K, N].
struct MatMulDims {
  int64_t M = 1, K = 1, N = 1;
  Shape batch;            // broadcast batch extents
  Shape a_batch, b_batch; // each operand's batch extents, left-padded with 1 to batch's rank
  Shape out;              // result shape (axes of 1-D operands dropped)
  int64_t batches() const { return shape_numel(batch); }
};

// fail()s naming both shapes when K differs or batch extents do not broadcast.
MatMulDims matmul_dims(const KernelContext& c, const Shape& a, const Shape& b);

// Element offset of each broadcast batch (in row-major order of `batch`) into an operand whose
// batch extents are `op_batch` (same rank as batch, extents equal or 1) and whose matrices hold
// `matrix_elems` elements.
std::vector<int64_t> batch_offsets(const Shape& op_batch, const Shape& batch, int64_t matrix_elems);

// a [..., M, K] x b [..., K, N] in float32 with numpy's rules, through oneDNN. Errors name c's node.
Tensor matmul_f32(KernelContext& c, const Tensor& a, const Tensor& b);

// y[M, N] = alpha * op(A) x op(B) (+ bias[N]) in float32 through a oneDNN primitive kept in `slot`
// (rebuilt when the shapes or flags change). A is row-major [M, K] ([K, M] with trans_a); B is the
// tensor b viewed as [K, N] ([N, K] with trans_b). While b_constant, B is reordered once into the
// primitive's preferred layout and reused for every call with the same buffer. Returns false when
// oneDNN cannot build such a primitive (the caller falls back to its reference kernel).
bool dense_f32(std::shared_ptr<void>& slot, const float* a, bool trans_a, const Tensor& b, bool b_constant,
               bool trans_b, int64_t M, int64_t K, int64_t N, float alpha, const float* bias, float* y);

// c[i] = a[i] x b[i] for i < batch in float32 through oneDNN: a[i] is [M, K] with element (m, k) at
// a + i * a_strides[0] + m * a_strides[1] + k * a_strides[2], b[i] is [K, N] likewise, c dense
// [batch, M, N]. False when oneDNN refuses.
bool strided_bmm_f32(int64_t batch, int64_t M, int64_t K, int64_t N, const float* a, const int64_t a_strides[3],
                     const float* b, const int64_t b_strides[3], float* c);

// Permutes the axes of t (any dtype): out.dim(i) = t.dim(perm[i]).
Tensor permute_axes(const Tensor& t, const std::vector<int>& perm);

}  // namespace qtool
