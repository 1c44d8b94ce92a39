// SPDX-License-Identifier: Apache-2.0
// runtime_kernels: which Conv / ConvTranspose / MatMul / Gemm layers of a QDQ file a runtime will
// run as integer kernels, and why the others will not - a static reading of the graph with the
// runtime's fusion rules (`qtool inspect --runtime onnxruntime`).
//
// onnxruntime (CPU, 1.2x-1.3x QDQ selectors, onnxruntime/core/optimizer/qdq_transformer):
//   Conv   DQ(x: u8/s8), DQ(w: s8/u8), [DQ(b: int32)], output read only by QuantizeLinear (a Relu
//          or Clip between them is folded into the Q when its range allows) -> QLinearConv
//   MatMul DQ(a), DQ(b), 8-bit; output only to Q -> QLinearMatMul, else MatMulIntegerToFloat
//   Gemm   DQ(a), DQ(b), [DQ(c: int32)], output Q optional -> QGemm
//   ConvTranspose has no integer kernel on CPU.
// The tests check this reading against onnxruntime's optimized graph (optimized_model_filepath).
#pragma once
#include <string>
#include <vector>

#include "io/model.h"

namespace qtool {

struct LayerKernel {
  std::string node, op;
  std::string kernel;     // "QLinearConv", "MatMulIntegerToFloat", ... or "Conv" (float)
  bool integer = false;
  std::string reason;     // why not integer (empty when integer), or a note ("Relu folded into Q")
};

// Throws InputError for an unknown runtime name (known: onnxruntime).
std::vector<LayerKernel> runtime_kernels(const Model& model, const std::string& runtime);
std::string runtime_kernels_text(const std::vector<LayerKernel>& layers, const std::string& runtime);
std::string runtime_kernels_json(const std::vector<LayerKernel>& layers, const std::string& runtime);

}  // namespace qtool
