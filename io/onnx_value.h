// SPDX-License-Identifier: Apache-2.0
// ONNX test-data files (.pb) as used by the ONNX backend test suite (test_data_set_N/input_K.pb):
// a serialized TensorProto, SequenceProto or OptionalProto (onnx-data.proto) per value.
// Errors: InputError naming the file.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "core/value.h"
#include "runtime/executor.h"

namespace qtool {

// Parses `bytes` as the proto the input's declared type calls for (OptionalProto for optional
// types, SequenceProto for sequences, TensorProto otherwise). `name` receives the proto's name.
Value value_from_pb(const std::string& bytes, const InputSpec& spec, const std::string& label, std::string* name);
// Serializes a value (TensorProto / SequenceProto / OptionalProto) named `name`.
std::string value_to_pb(const Value& value, const std::string& name);
// The .pb files of a folder in input order: input_0.pb, input_1.pb, ... (numeric order), or every
// *.pb sorted by name when there are no input_K.pb files (output_K.pb, the expected outputs of an
// ONNX test-data folder, excluded: a model without inputs reads none).
std::vector<std::filesystem::path> list_pb_files(const std::filesystem::path& dir, const std::string& prefix);

}  // namespace qtool
