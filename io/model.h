// SPDX-License-Identifier: Apache-2.0
// Model: an ONNX ModelProto plus where it came from; load/validate/save.
//
// load_model accepts IR version >= 3 and ai.onnx opsets 7..28, resolves external data into
// raw_data, and runs onnx's checker (libonnx) when libonnx knows the model's opset.
// Errors: InputError whose message starts with the file path and says what was expected.
#pragma once
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>

#include "core/tensor.h"

namespace qtool {

constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 28;

struct Model {
  onnx::ModelProto proto;
  std::filesystem::path path;  // file it was loaded from (empty for in-memory models)

  int opset() const;  // version of the ai.onnx domain
  void set_opset(int version);
  onnx::GraphProto& graph() { return *proto.mutable_graph(); }
  const onnx::GraphProto& graph() const { return proto.graph(); }

  // Initializer access by name; nullptr / throws Error when absent.
  const onnx::TensorProto* find_initializer(const std::string& name) const;
  Tensor initializer(const std::string& name) const;
  // Replaces (or adds) an initializer with the given value (IR 3 models: also listed as an input).
  void set_initializer(const std::string& name, const Tensor& value);
  // Graph inputs that are real inputs (not initializers listed as inputs, as IR 3 models do).
  std::vector<const onnx::ValueInfoProto*> real_inputs() const;
  // Removes initializers from graph.input (IR >= 4 allows it; onnxruntime warns otherwise).
  void drop_initializer_inputs();
};

// Parses and validates; throws InputError for a missing, empty, truncated or non-ONNX file,
// an IR version < 3 or an opset outside kMinOpset..kMaxOpset. Weights held by Constant nodes
// (or Identity of initializers) become initializers (io/weights_to_initializers.h).
Model load_model(const std::filesystem::path& path);
// Same from bytes in memory; `label` names the source in error messages.
Model load_model_from_bytes(const std::string& bytes, const std::string& label);
// Runs onnx's checker; throws InputError "<label>: invalid model: ...".
void check_model(const Model& model, const std::string& label);

struct SaveOptions {
  // Tensors are moved to "<file>.data" when the serialized model would exceed this many bytes
  // (protobuf's hard limit is 2 GiB).
  size_t external_data_threshold = (size_t{1} << 31) - (size_t{1} << 20);
};
// Writes atomically (temporary file in the same folder + rename). Refuses (InputError) to write
// over the file the model was loaded from.
void save_model(const Model& model, const std::filesystem::path& out, const SaveOptions& opts = {});
// Atomic write of arbitrary bytes (used for JSON tables and reports too).
void write_file_atomic(const std::filesystem::path& out, const std::string& bytes);

}  // namespace qtool
