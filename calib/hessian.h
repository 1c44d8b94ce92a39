// SPDX-License-Identifier: Apache-2.0
// Layer-input second moments for GPTQ (quant/gptq.h): for each requested Conv / Gemm / MatMul node,
// H = 2/n * sum_x x x^T over every input row x the layer's weight multiplies, accumulated over the
// calibration set on the fp32 model. x is an im2col patch (input channels x kernel positions, in
// the weight's own order) for Conv, one row of the activation matrix for Gemm/MatMul. Convolution
// groups get one H each. Memory: K^2 doubles per layer and group, independent of the sample count.
// Time: only the nodes the layers' inputs depend on run (quant/model_prefix.h).
#pragma once
#include <Eigen/Core>
#include <map>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "runtime/executor.h"

namespace qtool {

struct LayerHessian {
  std::vector<Eigen::MatrixXd> h;  // one per convolution group, K x K
  int64_t rows = 0;                // input rows accumulated
  std::string same_as;             // another layer of the same collection whose Hessian this is (same
                                   // input and patches), or empty
};

// `nodes`: node labels (name, or first output when unnamed) of Conv (2-D), Gemm or MatMul nodes whose
// input 0 is an activation. Throws InputError for an unknown label or an unsupported node.
std::map<std::string, LayerHessian> collect_hessians(const Model& model, Dataset& data,
                                                     const std::vector<std::string>& nodes, int64_t max_batch = 16);
// The same on batches already in memory (feeds named like `model`'s graph inputs, run as given):
// GPTQ's later waves feed the activations cached at a cut of the model (quant/gptq_sequential.cpp).
std::map<std::string, LayerHessian> collect_hessians(const Model& model, const std::vector<TensorMap>& batches,
                                                     const std::vector<std::string>& nodes);

}  // namespace qtool
