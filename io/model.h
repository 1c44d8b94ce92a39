// SPDX-License-Identifier: Apache-2.0
// Model: an ONNX ModelProto plus where it came from; load/validate/save.
//
// load_model accepts IR version >= 3 and ai.onnx opsets 7..28 and validates before allocating:
// the file must be a regular file below 2 GiB; every tensor anywhere in the model (initializers,
// Constant attributes, sparse initializers, subgraphs) has its element count computed with
// overflow checks and compared with the bytes present (io/onnx_tensor.h); external data files are
// opened under the rules of io/external_data.h and stay on disk (read on demand, never copied
// into protobuf strings); sparse initializers are densified only within a size budget. Then
// qtool's structural checks and onnx's checker (libonnx, when it knows the model's opset) run.
// Errors: InputError whose message starts with the file path and says what was expected.
#pragma once
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/external_data.h"
#include "io/output_file.h"

namespace qtool {

constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 28;

struct Model {
  onnx::ModelProto proto;
  std::filesystem::path path;  // file it was loaded from (empty for in-memory models)
  // External data files the initializers read from (shared by copies of the model).
  std::vector<std::shared_ptr<const ExternalFile>> external_files;

  // Bytes of the model on disk: its file plus its external data files (0 for in-memory models).
  uint64_t bytes_on_disk() const;
  // Size of the model as one self-contained protobuf (external data counted in).
  uint64_t serialized_bytes() const;

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
// Same from bytes in memory; `label` names the source in error messages. External data is refused
// (there is no folder to read it from).
Model load_model_from_bytes(const std::string& bytes, const std::string& label);
// qtool's structural checks, then onnx's checker; throws InputError "<label>: invalid model: ...".
void check_model(const Model& model, const std::string& label);

// Sparse initializers are densified at load while their dense bytes stay within
// max(kMinExpansionBytes, kExpansionFactor x the model's bytes); beyond that the model is refused.
constexpr uint64_t kMinExpansionBytes = uint64_t{256} << 20;
constexpr uint64_t kExpansionFactor = 2;

struct SaveOptions {
  // Initializers over 1 KiB are moved to an external data file when the self-contained model
  // would exceed this many bytes (protobuf's hard limit is 2 GiB).
  uint64_t external_data_threshold = (uint64_t{1} << 31) - (uint64_t{1} << 20);
};
struct SaveResult {
  uint64_t model_bytes = 0;             // the .onnx file
  uint64_t data_bytes = 0;              // its external data file (0: none)
  std::filesystem::path data_file;      // empty when none
};
// Writes through OutputFile (io/output_file.h: temporary file + rename; symlinks followed,
// character devices written through). Refuses (InputError) to write over the file the model was
// loaded from or one of its external data files. A model over the threshold is written as
// "<out>" + "<out name>.<random>.data": the data file is complete and in place before the model is
// renamed over <out> (a single commit: a run killed in between leaves the old model and its data
// intact), and the data files the replaced model referred to are removed afterwards.
SaveResult save_model(const Model& model, const std::filesystem::path& out, const SaveOptions& opts = {});
// A copy of the model's proto in which every main-graph initializer holding at least `min_bytes`
// (and every external one) is a data-less stub (name, dims, data type), so tools that rewrite the
// graph (onnx's version converter, shape inference) neither copy the weights nor drop external
// ones. Stubbed names go to *stubbed; restore_stub_initializers moves the real tensors back.
onnx::ModelProto copy_with_stub_initializers(const Model& model, uint64_t min_bytes, std::set<std::string>* stubbed);
// Replaces the stubs in `converted` by `model`'s tensors of the same name (moved out of `model`).
void restore_stub_initializers(Model& model, onnx::ModelProto& converted, const std::set<std::string>& stubbed);

// The model as one self-contained protobuf (external data read in); InputError over 2 GiB.
std::string serialize_model(const Model& model);

}  // namespace qtool
