#include "eval/inspect.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

namespace qtool {

ModelSummary summarize(const Model& model) {
  ModelSummary s;
  std::error_code ec;
  if (!model.path.empty()) s.file_bytes = static_cast<int64_t>(std::filesystem::file_size(model.path, ec));
  s.ir_version = model.proto.ir_version();
  s.opset = model.opset();
  s.nodes = model.graph().node_size();
  for (const auto& n : model.graph().node()) s.op_histogram[n.op_type()]++;
  for (const auto& t : model.graph().initializer()) {
    int64_t n = 1;
    for (auto d : t.dims()) n *= d;
    const auto type = static_cast<DType>(t.data_type());
    s.parameters += n;
    s.params_by_dtype[dtype_name(type)] += n;
    s.bytes_by_dtype[dtype_name(type)] += n * static_cast<int64_t>(dtype_size(type));
  }
  return s;
}

std::string ModelSummary::to_text() const {
  std::ostringstream o;
  o << "file size:   " << file_bytes << " bytes\n";
  o << "IR version:  " << ir_version << ", opset " << opset << ", " << nodes << " nodes\n";
  o << "parameters:  " << parameters << "\n";
  o << "ops:\n";
  for (const auto& [op, n] : op_histogram) o << "  " << op << std::string(op.size() < 22 ? 22 - op.size() : 1, ' ') << n << "\n";
  o << "initializer bytes by data type:\n";
  for (const auto& [t, b] : bytes_by_dtype)
    o << "  " << t << std::string(t.size() < 22 ? 22 - t.size() : 1, ' ') << b << " bytes (" << params_by_dtype.at(t)
      << " values)\n";
  return o.str();
}

std::string ModelSummary::to_json() const {
  nlohmann::ordered_json j;
  j["file_bytes"] = file_bytes;
  j["ir_version"] = ir_version;
  j["opset"] = opset;
  j["nodes"] = nodes;
  j["ops"] = op_histogram;
  j["parameters"] = parameters;
  j["bytes_by_dtype"] = bytes_by_dtype;
  j["params_by_dtype"] = params_by_dtype;
  return j.dump(2);
}

}  // namespace qtool
