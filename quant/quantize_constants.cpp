// SPDX-License-Identifier: Apache-2.0
// quantize_constants: large float32 constants that are not layer weights - detector priors and
// anchors, embedding tables read by Gather, LSTM / GRU / RNN weight matrices - are stored as int8
// behind a DequantizeLinear (weight-only: the consuming op still computes in float, so every
// runtime accepts it). Runs after insert_qdq, with int8 weights only.
//   Gather data [V, D]           int8 symmetric per row (axis 0)
//   LSTM / GRU / RNN W, R        int8 symmetric per gate row (axis 1 of [dirs, gates*H, in])
//   anything else (>= kMinElements elements)   uint8 asymmetric per tensor
// A constant is kept float when its own quantization SQNR is below kMinSqnrDb (e.g. values spread
// over many orders of magnitude), or when a layer (Conv / Gemm / MatMul / ...) or a Q/DQ node
// reads it: layer weights follow the weight plan and --exclude.
#include <cmath>
#include <map>
#include <set>

#include "io/onnx_tensor.h"
#include "quant/pass.h"
#include "quant/qparams.h"

namespace qtool {

namespace {

constexpr int64_t kMinElements = 1024;
constexpr double kMinSqnrDb = 40.0;

const std::set<std::string> kLayerOps = {"Conv", "ConvTranspose", "Gemm", "MatMul", "MatMulNBits",
                                         "QuantizeLinear", "DequantizeLinear", "ConvInteger", "MatMulInteger"};

struct Encoded {
  Tensor codes, scale, zero;
  std::vector<float> decoded;
  int axis = -1;  // -1: per tensor
};

// Names read anywhere inside If / Loop / Scan bodies: such constants stay as they are (the
// renaming below only reaches the top-level graph).
void collect_subgraph_reads(const onnx::GraphProto& g, std::set<std::string>& names) {
  for (const auto& n : g.node())
    for (const auto& a : n.attribute()) {
      auto walk = [&](const onnx::GraphProto& sub) {
        for (const auto& sn : sub.node())
          for (const auto& in : sn.input()) names.insert(in);
        collect_subgraph_reads(sub, names);
      };
      if (a.has_g()) walk(a.g());
      for (const auto& sub : a.graphs()) walk(sub);
    }
}

Encoded per_tensor_uint8(const Tensor& t) {
  const auto v = t.to_floats();
  float lo = 0, hi = 0;
  for (float x : v) lo = std::min(lo, x), hi = std::max(hi, x);
  const QParams qp = activation_qparams({lo, hi}, ActType::kUInt8);
  Encoded e;
  e.codes = Tensor(DType::kUInt8, t.shape());
  uint8_t* c = e.codes.data<uint8_t>();
  e.decoded.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const float q = std::clamp(std::nearbyint(v[i] / qp.scale) + qp.zero_point, 0.f, 255.f);
    c[i] = static_cast<uint8_t>(q);
    e.decoded[i] = (q - qp.zero_point) * qp.scale;
  }
  e.scale = Tensor::from<float>({}, {qp.scale});
  e.zero = Tensor::from<uint8_t>({}, {static_cast<uint8_t>(qp.zero_point)});
  return e;
}

Encoded per_axis_int8(const Tensor& t, int axis) {
  ChannelQuant cq = quantize_per_channel(t.cast(DType::kFloat), axis);
  Encoded e;
  e.axis = axis;
  e.codes = cq.values;
  const int64_t ch = static_cast<int64_t>(cq.scales.size());
  e.scale = Tensor::from<float>({ch}, cq.scales);
  e.zero = Tensor(DType::kInt8, {ch});
  e.decoded = dequantize_per_channel(cq).to_floats();
  return e;
}

}  // namespace

void quantize_constants(Model& model, PassContext& ctx) {
  const auto& opts = ctx.options;
  if (!opts.quantize_constants || opts.weights.format != "int8") return;
  auto& g = model.graph();
  std::map<std::string, std::vector<std::pair<const onnx::NodeProto*, int>>> readers;
  for (const auto& n : g.node())
    for (int i = 0; i < n.input_size(); ++i) readers[n.input(i)].push_back({&n, i});
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  std::set<std::string> subgraph_reads;
  collect_subgraph_reads(g, subgraph_reads);

  std::vector<onnx::NodeProto> decoders;
  std::map<std::string, std::string> renamed;
  // by index over the initializers present now: the loop appends the codes / scales, which
  // reallocates the field's pointer array (a range-for iterator into it was left dangling: ASan
  // heap-use-after-free in the unit tests); the elements themselves do not move
  const int n_initializers = g.initializer_size();
  for (int k = 0; k < n_initializers; ++k) {
    const onnx::TensorProto& init = g.initializer(k);
    if (init.data_type() != onnx::TensorProto::FLOAT || graph_outputs.count(init.name()) ||
        subgraph_reads.count(init.name()))
      continue;
    auto rit = readers.find(init.name());
    if (rit == readers.end()) continue;
    int64_t numel = 1;
    for (auto d : init.dims()) numel *= d;
    if (numel < kMinElements) continue;
    bool layer_reads = false, embedding = true, recurrent = true;
    for (const auto& [n, slot] : rit->second) {
      layer_reads |= kLayerOps.count(n->op_type()) > 0 || !n->domain().empty();
      embedding &= n->op_type() == "Gather" && slot == 0;
      recurrent &= (n->op_type() == "LSTM" || n->op_type() == "GRU" || n->op_type() == "RNN") && (slot == 1 || slot == 2);
    }
    if (layer_reads) continue;
    const Tensor t = model.initializer(init.name());
    Encoded e = embedding && t.rank() == 2   ? per_axis_int8(t, 0)
                : recurrent && t.rank() == 3 ? per_axis_int8(t, 1)
                                             : per_tensor_uint8(t);
    const auto v = t.to_floats();
    if (sqnr_db(v.data(), e.decoded.data(), static_cast<int64_t>(v.size())) < kMinSqnrDb) {
      ctx.stats.kept_float.push_back("constant " + init.name() + " (int8 would lose too much: SQNR < 40 dB)");
      continue;
    }
    const std::string base = init.name();
    *g.add_initializer() = tensor_to_proto(e.codes, base + "_quantized");
    *g.add_initializer() = tensor_to_proto(e.scale, base + "_scale");
    *g.add_initializer() = tensor_to_proto(e.zero, base + "_zero_point");
    onnx::NodeProto dq;
    dq.set_op_type("DequantizeLinear");
    dq.set_name(base + "_DequantizeLinear");
    dq.add_input(base + "_quantized");
    dq.add_input(base + "_scale");
    dq.add_input(base + "_zero_point");
    dq.add_output(base + "_dequantized");
    if (e.axis >= 0) {
      auto* a = dq.add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(e.axis);
    }
    decoders.push_back(dq);
    renamed[init.name()] = base + "_dequantized";
    ctx.stats.constants_quantized++;
  }
  if (renamed.empty()) return;
  for (auto& n : *g.mutable_node())
    for (int i = 0; i < n.input_size(); ++i)
      if (renamed.count(n.input(i))) n.set_input(i, renamed[n.input(i)]);
  // decoders first (their inputs are initializers), then the graph as it was
  std::vector<onnx::NodeProto> nodes(decoders.begin(), decoders.end());
  for (auto& n : *g.mutable_node()) nodes.push_back(std::move(n));
  g.clear_node();
  for (auto& n : nodes) *g.add_node() = std::move(n);
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i)
    if (renamed.count(inits->Get(i).name())) inits->DeleteSubrange(i, 1);
}

}  // namespace qtool
