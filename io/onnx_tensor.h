// SPDX-License-Identifier: Apache-2.0
// Conversion between onnx::TensorProto and qtool::Tensor.
// Reads raw_data and the typed repeated fields (float_data, int32_data, int64_data, double_data);
// external data must have been resolved into raw_data by io::load_model first.
#pragma once
#include <onnx/onnx_pb.h>

#include "core/tensor.h"

namespace qtool {

// Throws InputError naming the tensor when its data type or payload is unsupported or inconsistent.
Tensor tensor_from_proto(const onnx::TensorProto& proto);
// Writes dims, data_type and raw_data (little-endian), with the given name. int4/uint4 tensors
// (one value per byte in memory) are packed two per byte, element 2i in the low nibble.
onnx::TensorProto tensor_to_proto(const Tensor& t, const std::string& name);

}  // namespace qtool
