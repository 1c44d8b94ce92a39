// SPDX-License-Identifier: Apache-2.0
// numpy-style MatMul of float32 tensors through oneDNN (shared by MatMul and MatMulNBits).
#pragma once
#include "runtime/kernel.h"

namespace qtool {

// a [..., M, K] x b [..., K, N] with broadcast batch extents (1-D operands as numpy treats them).
// Errors name c's node.
Tensor matmul_f32(KernelContext& c, const Tensor& a, const Tensor& b);

}  // namespace qtool
