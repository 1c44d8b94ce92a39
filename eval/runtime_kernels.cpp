// SPDX-License-Identifier: Apache-2.0
#include "eval/runtime_kernels.h"

#include <onnx/shape_inference/implementation.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

struct Graph {
  const Model& model;
  std::map<std::string, int> rank;  // from onnx shape inference, where known
  std::map<std::string, const onnx::NodeProto*> producer;
  std::map<std::string, std::vector<const onnx::NodeProto*>> consumers;
  std::set<std::string> outputs;

  explicit Graph(const Model& m) : model(m) {
    for (const auto& n : m.graph().node()) {
      for (const auto& o : n.output()) producer[o] = &n;
      for (const auto& i : n.input()) consumers[i].push_back(&n);
    }
    for (const auto& o : m.graph().output()) outputs.insert(o.name());
    onnx::ModelProto work = m.proto;
    try {
      onnx::shape_inference::InferShapes(work);
    } catch (const std::exception&) {
    }
    for (const auto* list : {&work.graph().value_info(), &work.graph().input(), &work.graph().output()})
      for (const auto& v : *list)
        if (v.type().tensor_type().has_shape()) rank[v.name()] = v.type().tensor_type().shape().dim_size();
  }
  const onnx::NodeProto* made_by(const std::string& v, const char* op) const {
    auto it = producer.find(v);
    return it != producer.end() && it->second->op_type() == op && it->second->domain().empty() ? it->second : nullptr;
  }
  // Element type of a quantized value: an initializer's, or a QuantizeLinear output's (its zero point's).
  int qtype(const std::string& v) const {
    if (auto* t = model.find_initializer(v)) return t->data_type();
    if (auto* q = made_by(v, "QuantizeLinear")) {
      if (q->input_size() > 2 && !q->input(2).empty())
        if (auto* z = model.find_initializer(q->input(2))) return z->data_type();
      return onnx::TensorProto::UINT8;
    }
    return onnx::TensorProto::UNDEFINED;
  }
  float scalar(const std::string& v, float def) const {
    if (v.empty()) return def;
    auto* t = model.find_initializer(v);
    if (!t) return def;
    const auto f = model.initializer(v).cast(DType::kFloat).to_floats();
    return f.empty() ? def : f[0];
  }
};

bool eight_bit(int t) { return t == onnx::TensorProto::UINT8 || t == onnx::TensorProto::INT8; }

std::string type_name(int t) {
  switch (t) {
    case 22: return "int4";  // INT4, UINT4 (the pinned protobuf schema may predate them)
    case 21: return "uint4";
    case onnx::TensorProto::INT16: return "int16";
    case onnx::TensorProto::UINT16: return "uint16";
    case onnx::TensorProto::INT32: return "int32";
    case onnx::TensorProto::FLOAT16: return "float16";
    default: return "type " + std::to_string(t);
  }
}

// "" when input `i` of `n` comes from an 8-bit DequantizeLinear, else the reason it does not.
std::string dq_input(const Graph& g, const onnx::NodeProto& n, int i, const char* what) {
  auto* dq = g.made_by(n.input(i), "DequantizeLinear");
  if (!dq) return std::string(what) + " is float (no DequantizeLinear)";
  const int t = g.qtype(dq->input(0));
  if (!eight_bit(t)) return std::string(what) + " is " + type_name(t) + " (integer kernels take 8-bit values)";
  return "";
}

// Whether every reader of `y` is a QuantizeLinear, looking through one Relu / Clip that
// onnxruntime folds into the quantizer (ReluQuantFusion / ClipQuantFusion). `note` says which.
std::string quantized_output(const Graph& g, const std::string& y, std::string* note) {
  if (g.outputs.count(y)) return "its output is a graph output";
  auto it = g.consumers.find(y);
  if (it == g.consumers.end() || it->second.empty()) return "its output is not read";
  const auto& readers = it->second;
  bool all_q = true;
  for (auto* r : readers) all_q = all_q && r->op_type() == "QuantizeLinear";
  if (all_q) return "";
  if (readers.size() == 1 && (readers[0]->op_type() == "Relu" || readers[0]->op_type() == "Clip")) {
    const auto* act = readers[0];
    const std::string& a = act->output(0);
    auto ct = g.consumers.find(a);
    if (!g.outputs.count(a) && ct != g.consumers.end() && ct->second.size() == 1 &&
        ct->second[0]->op_type() == "QuantizeLinear") {
      const auto* q = ct->second[0];
      const int t = g.qtype(q->output(0));
      const float qmin = t == onnx::TensorProto::INT8 ? -128.f : 0.f, qmax = t == onnx::TensorProto::INT8 ? 127.f : 255.f;
      const float scale = g.scalar(q->input(1), 1.f), zp = g.scalar(q->input_size() > 2 ? q->input(2) : "", 0.f);
      bool folds = false;
      if (act->op_type() == "Relu") {
        folds = zp == qmin;
      } else {
        float lo = -INFINITY, hi = INFINITY;
        if (act->input_size() > 1) lo = g.scalar(act->input(1), lo);
        if (act->input_size() > 2) hi = g.scalar(act->input(2), hi);
        if (act->input_size() == 1) lo = attr_float(*act, "min", lo), hi = attr_float(*act, "max", hi);
        folds = lo <= (qmin - zp) * scale && hi >= (qmax - zp) * scale;
      }
      if (folds) {
        *note = act->op_type() + " folded into the QuantizeLinear";
        return "";
      }
      return "its " + act->op_type() + " cannot fold into the QuantizeLinear (range/zero point)";
    }
  }
  std::string list;
  for (auto* r : readers)
    if (r->op_type() != "QuantizeLinear") list += (list.empty() ? "" : ", ") + r->op_type();
  return "its output is not quantized (read by " + list + ")";
}

LayerKernel onnxruntime_layer(const Graph& g, const onnx::NodeProto& n) {
  LayerKernel k;
  k.node = n.name().empty() ? n.output(0) : n.name();
  k.op = n.op_type();
  k.kernel = n.op_type();
  if (n.op_type() == "ConvTranspose") {
    k.reason = "onnxruntime's CPU provider has no integer ConvTranspose kernel";
    return k;
  }
  const bool gemm = n.op_type() == "Gemm", conv = n.op_type() == "Conv";
  std::string why = dq_input(g, n, 0, conv ? "the input" : "input A");
  if (why.empty() && n.input_size() > 1) why = dq_input(g, n, 1, conv ? "the weight" : "input B");
  if (why.empty() && (conv || gemm) && n.input_size() > 2 && !n.input(2).empty()) {
    auto* dq = g.made_by(n.input(2), "DequantizeLinear");
    if (!dq || g.qtype(dq->input(0)) != onnx::TensorProto::INT32) why = "the bias is not an int32 DequantizeLinear";
  }
  if (!why.empty()) {
    k.reason = why;
    return k;
  }
  std::string note;
  const std::string out = gemm ? "" : quantized_output(g, n.output(0), &note);
  if (conv) {
    if (!out.empty()) {
      k.reason = out;
      return k;
    }
    k.kernel = "QLinearConv";
  } else if (gemm) {
    k.kernel = "QGemm";
  } else {
    // onnxruntime's MatMulAddFusion (level 1, before the QDQ rules) turns a 2-D MatMul whose only
    // reader is an Add of a constant into a float Gemm
    auto readers = g.consumers.find(n.output(0));
    auto r = g.rank.find(n.input(0));
    if (!out.empty() && r != g.rank.end() && r->second == 2 && readers != g.consumers.end() &&
        readers->second.size() == 1 && readers->second[0]->op_type() == "Add" && !g.outputs.count(n.output(0))) {
      const auto* add = readers->second[0];
      const std::string other = add->input(0) == n.output(0) ? add->input(1) : add->input(0);
      if (g.model.find_initializer(other)) {
        k.kernel = "Gemm";
        k.reason = "onnxruntime fuses this 2-D MatMul and the Add of a constant into a float Gemm first "
                   "(fold the bias into a Gemm: qtool's fold_bias_add does)";
        return k;
      }
    }
    k.kernel = out.empty() ? "QLinearMatMul" : "MatMulIntegerToFloat";
    if (!out.empty()) note = "float output: " + out;
  }
  k.integer = true;
  k.reason = note;
  return k;
}

}  // namespace

std::vector<LayerKernel> runtime_kernels(const Model& model, const std::string& runtime) {
  if (runtime != "onnxruntime") throw InputError("--runtime: unknown runtime '" + runtime + "' (known: onnxruntime)");
  const Graph g(model);
  std::vector<LayerKernel> out;
  for (const auto& n : model.graph().node()) {
    if (!n.domain().empty()) continue;
    if (n.op_type() != "Conv" && n.op_type() != "ConvTranspose" && n.op_type() != "MatMul" && n.op_type() != "Gemm")
      continue;
    out.push_back(onnxruntime_layer(g, n));
  }
  return out;
}

std::string runtime_kernels_text(const std::vector<LayerKernel>& layers, const std::string& runtime) {
  std::ostringstream s;
  int integer = 0;
  for (const auto& l : layers) integer += l.integer;
  s << runtime << ": " << integer << " of " << layers.size() << " Conv/ConvTranspose/MatMul/Gemm layers run as integer kernels\n";
  for (const auto& l : layers) {
    s << "  " << (l.integer ? "int   " : "float ") << l.node << " (" << l.op << " -> " << l.kernel << ")";
    if (!l.reason.empty()) s << ": " << l.reason;
    s << "\n";
  }
  return s.str();
}

std::string runtime_kernels_json(const std::vector<LayerKernel>& layers, const std::string& runtime) {
  nlohmann::ordered_json j;
  j["runtime"] = runtime;
  int integer = 0;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) {
    integer += l.integer;
    j["layers"].push_back({{"node", l.node}, {"op", l.op}, {"kernel", l.kernel}, {"integer", l.integer},
                           {"reason", l.reason}});
  }
  j["integer"] = integer;
  j["total"] = layers.size();
  return j.dump(2);
}

}  // namespace qtool
