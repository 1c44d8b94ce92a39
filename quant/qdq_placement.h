// SPDX-License-Identifier: Apache-2.0
// qdq_placement: which activation tensors get a QuantizeLinear -> DequantizeLinear pair, chosen so
// that the target runtime turns every quantized layer into an integer kernel. Pure analysis of a
// prepared (opset >= 13) graph; insert_qdq writes what it decides.
//
// Rules, both targets:
//   - layers: the activation inputs of Conv / ConvTranspose / Gemm / MatMul (in --op-types, not
//     --exclude'd) are quantized;
//   - demand flows backwards: a quantized tensor produced by a data-movement op (Reshape, Transpose,
//     Flatten, Squeeze, Unsqueeze, Slice, Gather, GatherElements, Split, MaxPool, Expand, Tile,
//     Resize, Pad, DepthToSpace, SpaceToDepth, Identity) quantizes that op's data input with the
//     SAME scale and zero point (onnxruntime's DropQDQ / Split selectors require equal parameters;
//     OpenVINO treats these ops as precision-preserving); onnxruntime: a quantized tensor produced by an op with
//     integer kernels (Add / Mul of two activations -> QLinearAdd / QLinearMul, Concat ->
//     QLinearConcat, AveragePool, GlobalAveragePool, Sigmoid, Softmax, LeakyRelu -> their QLinear
//     forms), directly or through a Relu / Clip that the runtime folds into the quantizer, quantizes
//     that op's activation inputs (each with its own range).
// onnxruntime only (its QDQ selectors need a QuantizeLinear after the layer; see onnxruntime's
// qdq_selector_action_transformer.cc: Conv -> QLinearConv only with Q on the output, MatMul ->
// QLinearMatMul with it, MatMulIntegerToFloat without):
//   - the output of each quantized Conv / MatMul is quantized, after its Relu / Clip when that is
//     the only consumer (ReluQuantFusion / ClipQuantFusion drop them), unless it is a graph output
//     (a Conv's graph output is quantized too: the DequantizeLinear then writes it);
//   - quantization is carried forward through lossless data movement (all of the above except
//     Resize other than nearest and Pad other than zero constant) with a shared scale, so those ops
//     run on uint8 instead of behind a DequantizeLinear.
// OpenVINO (low-precision transformations): quantizers on layer inputs only, carried backwards
// through data movement (it propagates dequantization through the graph itself); outputs are not
// requantized, and Add / Mul / Concat / pools / Sigmoid / Softmax / LeakyRelu get no quantizers of
// their own even when --op-types lists them: measured in OpenVINO 2026.4 (2 threads, f32 as the
// reference), EfficientNet-B0 with its SiLU's Sigmoid and Mul quantized ran at 0.87x of f32 and at
// 1.54x with layer inputs only; MobileNetV3-small 1.30x vs 1.52x; UltraFace unchanged.
// Other graph outputs are never given a Q/DQ of their own (their consumers inside the graph may
// read a quantized copy).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "quant/pass.h"

namespace qtool {

struct QdqPlacement {
  std::vector<std::string> tensors;          // activation tensors to quantize, in graph order
  std::map<std::string, std::string> share;  // tensor -> representative of its scale group
  std::map<std::string, std::string> why;    // tensor -> short reason ("input of Conv conv1", ...)
};

// Inputs of a Conv / ConvTranspose / Gemm / MatMul: which are activations (quantized per tensor),
// which is the weight (quantized per channel along `axis`) and which the 1-D bias (int32).
struct LayerRoles {
  std::vector<int> acts;
  int weight = -1;
  int axis = 0;
  int bias = -1;
};
LayerRoles layer_roles(const Model& model, const onnx::NodeProto& node);

QdqPlacement place_qdq(const Model& model, const QuantOptions& opts);

// True for op types whose output is a rearrangement (or selection) of input 0's values.
bool is_data_movement(const std::string& op_type);
// Ops with integer kernels in the target runtime (besides Conv/Gemm/MatMul).
const std::set<std::string>& integer_op_types();

}  // namespace qtool
