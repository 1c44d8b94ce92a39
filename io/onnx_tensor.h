// SPDX-License-Identifier: Apache-2.0
// Conversion between onnx::TensorProto and qtool::Tensor.
// Reads raw_data, the typed repeated fields (float_data, int32_data, int64_data, uint64_data,
// double_data) and external data opened by load_model (io/external_data.h, read with pread).
// Every size is validated before anything is allocated: the element count is computed with
// overflow checks (shape_numel) and compared with the bytes or values actually present.
#pragma once
#include <onnx/onnx_pb.h>

#include "core/tensor.h"

namespace qtool {

// What a TensorProto holds, as validated by check_tensor_proto (nothing allocated).
struct TensorProtoInfo {
  DType dtype = DType::kUndefined;
  Shape shape;
  int64_t numel = 0;
  uint64_t stored_bytes = 0;  // bytes of its payload in a file (sub-byte types packed)
  bool external = false;
};
// Throws InputError "tensor '<name>' ..." when the dims are negative or their product overflows,
// or the payload (raw_data, typed field, string_data, or external file range) does not hold
// exactly the values the dims imply. Accepts every ONNX type, strings included (their count is
// checked); types qtool cannot hold in a Tensor are refused by tensor_from_proto.
TensorProtoInfo check_tensor_proto(const onnx::TensorProto& proto);

// Throws InputError naming the tensor when its data type or payload is unsupported or inconsistent.
Tensor tensor_from_proto(const onnx::TensorProto& proto);
// Writes dims, data_type and raw_data (little-endian), with the given name. int4/uint4 tensors
// (one value per byte in memory) are packed two per byte, element 2i in the low nibble.
onnx::TensorProto tensor_to_proto(const Tensor& t, const std::string& name);

// A sparse tensor (values [NNZ], indices [NNZ] linear or [NNZ, rank] coordinates) as a dense
// one. InputError naming the tensor for malformed indices (wrong shape, out of range, repeated
// rank mismatch) or when the dense tensor would take more than `max_bytes`.
Tensor densify_sparse_tensor(const onnx::SparseTensorProto& sparse, uint64_t max_bytes);

// The payload bytes as a file stores them in raw_data (sub-byte types packed, external data read),
// for tensors of any type but strings.
std::string tensor_proto_bytes(const onnx::TensorProto& proto);

}  // namespace qtool
