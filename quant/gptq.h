// SPDX-License-Identifier: Apache-2.0
// GPTQ: error-compensating rounding of one layer's weights (Frantar, Ashkboos, Hoefler & Alistarh,
// "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers", ICLR 2023).
//
// The layer's output error on calibration inputs X is ||W X - Q X||^2, whose Hessian per output row
// is H = 2 X X^T (K x K, K = input channels x kernel positions). GPTQ quantizes one input column at a
// time and moves the rounding error of that column onto the columns not yet quantized, weighted by
// the Cholesky factor of H^-1, so later columns absorb what earlier ones lost. Options as in the
// reference implementation: dampening 1% of mean(diag H); "act order" (columns by decreasing
// diag H) for per-channel grids; for groups, each group's scale/zero is fit when the algorithm
// reaches the group's first column, from the weights as updated so far.
// qtool collects H on the fp32 model's layer inputs in one pass over the calibration data
// (calib/hessian.h); all layers are quantized from those.
#pragma once
#include <Eigen/Core>
#include <vector>

#include "quant/quantized_weight.h"

namespace qtool {

struct GptqOptions {
  double damp = 0.01;     // fraction of mean(diag H) added to the diagonal
  bool act_order = true;  // per-channel grids only
  // Sequential GPTQ (quant/gptq_sequential.h) caches the activations at the cut after each wave
  // when they fit in this many bytes (-1: as much as the calibration data, 64 MiB .. 1 GiB; 0: never),
  // so later waves run only the rest of the network.
  int64_t cache_bytes = -1;
};

// h: one K x K Hessian per convolution group (1 for Gemm/MatMul), columns in natural weight order
// (input channel major, kernel position minor). Rows of group g are the output channels
// [g*rows/G, (g+1)*rows/G). Throws Error when the sizes do not match the weight. h is taken by
// value: a caller that moves its Hessians in lets each be freed once its permuted copy exists (peak
// memory two K x K doubles per group, not four).
// mask (optional, uint8 of w's shape, 0 = pruned): pruned weights are quantized to exactly zero and
// their error is compensated like any other column's (the SparseGPT idea, Frantar & Alistarh 2023),
// so the zero pattern survives. Throws Error when the format has no exact zero (binary).
// factors (optional) carries what GPTQ derives from each group's Hessian (column order, columns
// whose inputs were always zero, the inverse-Hessian factor) between layers that have the same
// Hessians, group size and options (layers reading one input through the same patches): empty, it
// receives this call's; holding one per group, they are used and h is not read (it may be empty).
struct GptqFactor {
  std::vector<int64_t> order;  // order[j] = natural column quantized j-th
  std::vector<int64_t> dead;   // positions j (in that order) whose Hessian diagonal was 0
  Eigen::MatrixXd u;           // gptq_inverse_hessian_factor of the permuted Hessian
};
QuantizedWeight quantize_gptq(const Tensor& w, int out_axis, std::shared_ptr<const WeightFormat> format,
                              int64_t group_size, std::vector<Eigen::MatrixXd> h, const GptqOptions& opts = {},
                              const Tensor* mask = nullptr, std::vector<GptqFactor>* factors = nullptr);

// Upper-triangular U with U^T U = (h + damp * mean(diag h) * I)^-1, the factor GPTQ's column updates
// use (K x K, double). Dampening grows 10x per retry (up to 6) while h + damp is not positive
// definite; throws Error after that. The rvalue overload works in h's own storage (the factor is
// one more K x K matrix, not two); the column blocks of the triangular inverse are solved on the
// calling thread's budget of threads.
Eigen::MatrixXd gptq_inverse_hessian_factor(const Eigen::MatrixXd& h, double damp);
Eigen::MatrixXd gptq_inverse_hessian_factor(Eigen::MatrixXd&& h, double damp);

// Layer reconstruction error trace((W - Q) H (W - Q)^T) summed over groups: what GPTQ minimises.
double layer_error(const Tensor& w, const Tensor& q, int out_axis, const std::vector<Eigen::MatrixXd>& h);

}  // namespace qtool
