// SPDX-License-Identifier: Apache-2.0
#include "eval/inspect.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <memory>
#include <set>
#include <sstream>

#include "runtime/executor.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

int64_t stored_bytes(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (auto d : t.dims()) n *= d;
  return (n * dtype_bits(static_cast<DType>(t.data_type())) + 7) / 8;
}

std::vector<WeightInfo> weight_infos(const Model& model) {
  std::map<std::string, const onnx::NodeProto*> producer;
  for (const auto& n : model.graph().node())
    for (const auto& o : n.output()) producer[o] = &n;
  std::unique_ptr<Executor> exec;  // folds decode subgraphs, giving each weight's shape
  try {
    exec = std::make_unique<Executor>(model);
  } catch (const Error&) {
  }
  std::vector<WeightInfo> out;
  for (const auto& n : model.graph().node()) {
    const bool weighted = n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul" ||
                          n.op_type() == "MatMulNBits";
    if (!weighted || n.input_size() < 2) continue;
    WeightInfo w;
    w.node = n.name().empty() ? n.output(0) : n.name();
    w.op = n.op_type();
    // every initializer upstream of input 1 (stops at graph inputs)
    std::vector<const onnx::TensorProto*> inits;
    std::vector<std::string> stack{n.input(1)};
    std::set<std::string> seen;
    std::string decoder;
    std::set<std::string> chain_ops;
    bool from_input = false;
    if (n.op_type() == "MatMulNBits") {  // B, scales, zero points are all inputs of the node
      stack.clear();
      for (int i = 1; i < n.input_size(); ++i) stack.push_back(n.input(i));
      decoder = "MatMulNBits";
    }
    while (!stack.empty()) {
      std::string v = stack.back();
      stack.pop_back();
      if (v.empty() || !seen.insert(v).second) continue;
      if (auto* t = model.find_initializer(v)) {
        inits.push_back(t);
        continue;
      }
      auto it = producer.find(v);
      if (it == producer.end()) {
        from_input = true;
        continue;
      }
      chain_ops.insert(it->second->op_type());
      for (const auto& i : it->second->input()) stack.push_back(i);
    }
    if (from_input || inits.empty()) continue;  // an activation, not a weight
    if (decoder.empty())
      decoder = chain_ops.count("DequantizeLinear") ? "DequantizeLinear"
                : chain_ops.count("Mod")            ? "bit-unpack subgraph"
                : chain_ops.count("Cast")           ? "Cast"
                : chain_ops.empty()                 ? ""
                                                    : *chain_ops.begin();
    const onnx::TensorProto* big = inits[0];
    for (auto* t : inits) {
      w.bytes += stored_bytes(*t);
      if (stored_bytes(*t) > stored_bytes(*big)) big = t;
    }
    int64_t big_n = 1;
    for (auto d : big->dims()) big_n *= d;
    const Tensor* folded = exec && n.op_type() != "MatMulNBits" ? exec->constant(n.input(1)) : nullptr;
    if (folded) {
      w.shape = folded->shape();
      w.params = folded->numel();
    } else if (n.op_type() == "MatMulNBits") {
      w.params = attr_int(n, "K", 0) * attr_int(n, "N", 0);
      w.shape = {attr_int(n, "K", 0), attr_int(n, "N", 0)};
    } else {
      w.shape = Shape(big->dims().begin(), big->dims().end());
      w.params = big_n;
    }
    const std::string type = dtype_name(static_cast<DType>(big->data_type()));
    w.storage = decoder.empty() ? type : type + " via " + decoder;
    w.code_bits = w.params ? 8.0 * stored_bytes(*big) / w.params : 0;
    out.push_back(w);
  }
  return out;
}

}  // namespace

ModelSummary summarize(const Model& model) {
  ModelSummary s;
  std::error_code ec;
  if (!model.path.empty()) s.file_bytes = static_cast<int64_t>(std::filesystem::file_size(model.path, ec));
  s.ir_version = model.proto.ir_version();
  s.opset = model.opset();
  // every graph: the main one and the bodies of If/Loop/Scan (recursively)
  std::vector<std::pair<const onnx::GraphProto*, bool>> graphs{{&model.graph(), false}};
  while (!graphs.empty()) {
    const auto [g, nested] = graphs.back();
    graphs.pop_back();
    s.nodes += g->node_size();
    if (nested) s.subgraph_nodes += g->node_size();
    for (const auto& n : g->node()) {
      s.op_histogram[(n.domain().empty() || n.domain() == "ai.onnx" ? "" : n.domain() + ".") + n.op_type()]++;
      for (const auto& a : n.attribute()) {
        if (a.has_g()) graphs.emplace_back(&a.g(), true);
        for (const auto& sub : a.graphs()) graphs.emplace_back(&sub, true);
      }
    }
    for (const auto& t : g->initializer()) {
      int64_t n = 1;
      for (auto d : t.dims()) n *= d;
      const auto type = static_cast<DType>(t.data_type());
      s.parameters += n;
      s.params_by_dtype[dtype_name(type)] += n;
      s.bytes_by_dtype[dtype_name(type)] += stored_bytes(t);
    }
  }
  s.weights = weight_infos(model);
  return s;
}

std::string ModelSummary::to_text() const {
  std::ostringstream o;
  o << "file size:   " << file_bytes << " bytes\n";
  o << "IR version:  " << ir_version << ", opset " << opset << ", " << nodes << " nodes";
  if (subgraph_nodes) o << " (" << subgraph_nodes << " inside If/Loop/Scan bodies)";
  o << "\n";
  o << "parameters:  " << parameters << "\n";
  o << "ops:\n";
  for (const auto& [op, n] : op_histogram) o << "  " << op << std::string(op.size() < 22 ? 22 - op.size() : 1, ' ') << n << "\n";
  o << "initializer bytes by data type:\n";
  for (const auto& [t, b] : bytes_by_dtype)
    o << "  " << t << std::string(t.size() < 22 ? 22 - t.size() : 1, ' ') << b << " bytes (" << params_by_dtype.at(t)
      << " values)\n";
  if (!weights.empty()) {
    o << "weights (node, op, storage, shape, params, stored bytes, bits per weight incl. scales):\n";
    int64_t params = 0, bytes = 0;
    for (const auto& w : weights) {
      char b[32];
      std::snprintf(b, sizeof b, "%.2f", w.bits_per_weight());
      o << "  " << w.node << "  " << w.op << "  " << w.storage << "  " << shape_str(w.shape) << "  " << w.params << "  "
        << w.bytes << "  " << b << "\n";
      params += w.params;
      bytes += w.bytes;
    }
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", params ? 8.0 * bytes / params : 0.0);
    o << "  all weights: " << params << " params in " << bytes << " bytes = " << b << " bits per weight\n";
  }
  return o.str();
}

std::string ModelSummary::to_json() const {
  nlohmann::ordered_json j;
  j["file_bytes"] = file_bytes;
  j["ir_version"] = ir_version;
  j["opset"] = opset;
  j["nodes"] = nodes;
  j["subgraph_nodes"] = subgraph_nodes;
  j["ops"] = op_histogram;
  j["parameters"] = parameters;
  j["bytes_by_dtype"] = bytes_by_dtype;
  j["params_by_dtype"] = params_by_dtype;
  j["weights"] = nlohmann::ordered_json::array();
  for (const auto& w : weights)
    j["weights"].push_back({{"node", w.node}, {"op", w.op}, {"storage", w.storage}, {"shape", w.shape},
                            {"params", w.params}, {"bytes", w.bytes}, {"code_bits", w.code_bits},
                            {"bits_per_weight", w.bits_per_weight()}});
  return j.dump(2);
}

}  // namespace qtool
