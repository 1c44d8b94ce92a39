// SPDX-License-Identifier: Apache-2.0
// Model-local functions (ModelProto.functions, IR >= 8: what newer PyTorch / onnxscript /
// PaddlePaddle exporters write): every call is inlined at load, so the executor and every pass see
// plain nodes. Follows the ONNX IR spec's function semantics (docs/IR.md "Functions") and
// onnx's own inliner (onnx/inliner):
//  - a call binds the function's formal inputs and outputs by position (missing optional inputs
//    become "", unused outputs get fresh names);
//  - attributes that refer to the caller's (ref_attr_name) take the call's value, else the
//    function's default (FunctionProto.attribute_proto, IR 9), else are dropped;
//  - every other name in the body (nested subgraphs included) gets a fresh, model-unique name;
//  - calls inside function bodies and inside subgraphs (If / Loop / Scan bodies) are inlined
//    too; a function that calls itself, directly or not, is an InputError;
//  - overloads (NodeProto / FunctionProto.overload, IR 10) select among same-named functions;
//  - the functions' opset imports are added to the model's (a domain the model imports at
//    another version keeps the model's version, with a warning).
// The inlined functions are removed from the model.
#pragma once
#include <onnx/onnx_pb.h>

#include <string>

namespace qtool {

// Inlines every call of a model-local function in `model`, then drops model.functions.
// Returns the number of calls inlined. Throws InputError "<label>: ..." for recursive functions
// and calls with more inputs or outputs than the function declares.
int inline_model_functions(onnx::ModelProto& model, const std::string& label);

}  // namespace qtool
