// SPDX-License-Identifier: Apache-2.0
// insert_qdq: per-channel int8 weights (DequantizeLinear with axis), int32 bias, and
// QuantizeLinear -> DequantizeLinear pairs on the activation inputs of Conv / Gemm / MatMul / Add
// (Add only when both inputs are activations),
// in the QDQ format that onnxruntime fuses into integer kernels (QLinearConv, QGemm, ...).
// Needs opset >= 13 (run upgrade_opset first). Activations need a calibration table; without
// one, only weights are quantized.
#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "io/onnx_tensor.h"
#include "quant/pass.h"
#include "quant/weight_storage.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

struct Roles {
  std::vector<int> acts;  // input indices quantized per tensor with calibration ranges
  int weight = -1;        // input index quantized per channel
  int axis = 0;           // channel axis of the weight
  int bias = -1;          // input index of a 1-D bias
};

Roles roles_of(const Model& m, const onnx::NodeProto& n) {
  Roles r;
  auto is_init = [&](int i) { return i < n.input_size() && !n.input(i).empty() && m.find_initializer(n.input(i)); };
  if (n.op_type() == "Conv") {
    r.acts = {0};
    if (is_init(1)) r.weight = 1, r.axis = 0;
    if (is_init(2)) r.bias = 2;
  } else if (n.op_type() == "Gemm") {
    r.acts = {0};
    if (is_init(1)) r.weight = 1, r.axis = attr_int(n, "transB", 0) ? 0 : 1;
    else r.acts.push_back(1);
    if (is_init(2) && attr_float(n, "alpha", 1.f) == 1.f && attr_float(n, "beta", 1.f) == 1.f &&
        m.find_initializer(n.input(2))->dims_size() == 1)
      r.bias = 2;
  } else if (n.op_type() == "MatMul") {
    r.acts = {0};
    if (is_init(1) && m.find_initializer(n.input(1))->dims_size() >= 2)
      r.weight = 1, r.axis = m.find_initializer(n.input(1))->dims_size() - 1;
    else r.acts.push_back(1);
  } else if (n.op_type() == "Add") {
    // Residual adds: with both inputs quantized, runtimes run the add in int8 (QLinearAdd) and
    // the convolutions feeding it get a quantized output (QLinearConv) instead of staying float.
    const bool binary = n.input_size() == 2 && !n.input(0).empty() && !n.input(1).empty();
    if (binary && !is_init(0) && !is_init(1)) r.acts = {0, 1};
    return r;
  }
  if (r.acts.size() == 2 && is_init(0)) r.acts = {1};
  return r;
}

bool is_float_init(const Model& m, const std::string& name) {
  auto* t = m.find_initializer(name);
  return t && t->data_type() == onnx::TensorProto::FLOAT;
}

onnx::NodeProto make_node(const std::string& op, const std::string& name, std::vector<std::string> in,
                          const std::string& out, int axis = -999) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : in) n.add_input(i);
  n.add_output(out);
  if (axis != -999) {
    auto* a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
  }
  return n;
}

// MatMul with a 2-D weight, or Gemm computing A x W (+ bias) with transA = 0 and alpha = beta = 1.
bool nbits_eligible(const Model& m, const onnx::NodeProto& n) {
  auto* w = n.input_size() > 1 ? m.find_initializer(n.input(1)) : nullptr;
  if (!w || w->dims_size() != 2) return false;
  if (n.op_type() == "MatMul") return true;
  if (n.op_type() != "Gemm" || attr_int(n, "transA", 0) || attr_float(n, "alpha", 1.f) != 1.f ||
      attr_float(n, "beta", 1.f) != 1.f)
    return false;
  if (n.input_size() > 2 && !n.input(2).empty()) {
    auto* b = m.find_initializer(n.input(2));
    return b && b->dims_size() == 1;
  }
  return true;
}

bool weight_quantized(const onnx::NodeProto& q, const onnx::NodeProto& original) {
  for (int i = 0; i < q.input_size(); ++i)
    if (q.input(i) != original.input(i)) return true;
  return false;
}

}  // namespace

std::vector<std::string> qdq_activation_tensors(const Model& model, const QuantOptions& opts) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& n : model.graph().node()) {
    if (!opts.op_types.count(n.op_type())) continue;
    for (int i : roles_of(model, n).acts)
      if (i < n.input_size() && !n.input(i).empty() && !model.find_initializer(n.input(i)) && seen.insert(n.input(i)).second)
        out.push_back(n.input(i));
  }
  return out;
}

void insert_qdq(Model& model, PassContext& ctx) {
  if (model.opset() < 13)
    throw Error("insert_qdq needs opset >= 13 for per-channel DequantizeLinear; run upgrade_opset first");
  const auto& opts = ctx.options;
  const ActType act_type = opts.act_type;
  auto& g = model.graph();
  std::vector<onnx::NodeProto> out_nodes;
  std::map<std::string, std::string> act_dq;           // tensor -> its DequantizeLinear output
  std::map<std::string, QParams> act_qp;
  std::map<std::string, std::pair<std::string, std::vector<float>>> weight_dq;  // init -> (dq out, scales)
  std::set<std::string> replaced_inits;

  auto add_init = [&](const std::string& name, const Tensor& t) { *g.add_initializer() = tensor_to_proto(t, name); };

  const onnx::GraphProto original = g;
  for (const auto& node : original.node()) {
    if (!opts.op_types.count(node.op_type())) {
      out_nodes.push_back(node);
      continue;
    }
    const std::string label = node.name().empty() ? node.output(0) : node.name();
    if (opts.exclude.count(label)) {
      ctx.stats.kept_float.push_back(label + " (excluded)");
      out_nodes.push_back(node);
      continue;
    }
    Roles r = roles_of(model, node);
    const bool acts_possible = opts.quantize_activations && ctx.table;
    if (r.weight < 0 && (r.acts.empty() || !acts_possible)) {  // e.g. Add of a constant, or weight-only runs
      out_nodes.push_back(node);
      continue;
    }
    onnx::NodeProto q = node;
    // Activations: one Q/DQ pair per tensor, shared by all consumers.
    const CalibrationTable* table = opts.quantize_activations ? ctx.table : nullptr;
    bool acts_quantized = table != nullptr;
    float input_scale = 0.f;
    for (int i : r.acts) {
      const std::string t = node.input(i);
      if (!table) break;
      auto rit = table->ranges.find(t);
      if (rit == table->ranges.end()) {
        acts_quantized = false;
        continue;
      }
      if (!act_dq.count(t)) {
        QParams qp = activation_qparams(rit->second, act_type);
        const std::string s_name = t + "_scale", z_name = t + "_zero_point";
        add_init(s_name, Tensor::from<float>({}, {qp.scale}));
        if (act_type == ActType::kUInt8) add_init(z_name, Tensor::from<uint8_t>({}, {static_cast<uint8_t>(qp.zero_point)}));
        else add_init(z_name, Tensor::from<int8_t>({}, {static_cast<int8_t>(qp.zero_point)}));
        out_nodes.push_back(make_node("QuantizeLinear", t + "_QuantizeLinear", {t, s_name, z_name}, t + "_quantized"));
        out_nodes.push_back(make_node("DequantizeLinear", t + "_DequantizeLinear", {t + "_quantized", s_name, z_name},
                                      t + "_dequantized"));
        act_dq[t] = t + "_dequantized";
        act_qp[t] = qp;
        ctx.stats.activations_quantized++;
      }
      q.set_input(i, act_dq[t]);
      if (i == 0) input_scale = act_qp[t].scale;
    }
    // Weights: the node's WeightSpec (int8 per channel by default); see quant/weight_storage.h.
    std::vector<float> w_scales;
    if (r.weight >= 0 && is_float_init(model, node.input(r.weight))) {
      const std::string w = node.input(r.weight);
      const WeightSpec spec = opts.layer_weights.count(label) ? opts.layer_weights.at(label) : opts.weights;
      const std::string key = w + "#" + std::to_string(r.axis) + "#" + spec.key();
      if (opts.matmulnbits && spec.format == "int4" && nbits_eligible(model, node)) {
        // onnxruntime's 4-bit MatMul kernel: the node itself changes, nothing is shared
        const Tensor wt = model.initializer(w);
        const bool pre = ctx.quantized && ctx.quantized->count(label);
        QuantizedWeight qw = pre ? ctx.quantized->at(label)
                                 : quantize_rtn(wt, r.axis, make_weight_format("int4", spec.symmetric), spec.group_size);
        if (pre) ctx.stats.gptq_layers++;
        const auto nb = emit_matmulnbits_weight(model, qw, label);
        onnx::NodeProto mm;
        mm.set_op_type("MatMulNBits");
        mm.set_domain("com.microsoft");
        mm.set_name(label + "_MatMulNBits");
        for (const auto& in : {q.input(0), nb.b, nb.scales, nb.zero_points}) mm.add_input(in);
        const bool has_bias = node.op_type() == "Gemm" && node.input_size() > 2 && !node.input(2).empty();
        mm.add_output(has_bias ? node.output(0) + "_nobias" : node.output(0));
        for (auto [name, v] : std::vector<std::pair<std::string, int64_t>>{
                 {"K", nb.k}, {"N", nb.n}, {"bits", 4}, {"block_size", nb.block_size}}) {
          auto* a = mm.add_attribute();
          a->set_name(name);
          a->set_type(onnx::AttributeProto::INT);
          a->set_i(v);
        }
        out_nodes.push_back(mm);
        if (has_bias) out_nodes.push_back(make_node("Add", label + "_bias", {mm.output(0), q.input(2)}, node.output(0)));
        bool have_domain = false;
        for (const auto& o : model.proto.opset_import()) have_domain |= o.domain() == "com.microsoft";
        if (!have_domain) {
          auto* o = model.proto.add_opset_import();
          o->set_domain("com.microsoft");
          o->set_version(1);
        }
        replaced_inits.insert(w);
        ctx.stats.weights_quantized++;
        ctx.stats.weight_params["int4"] += wt.numel();
        ctx.stats.nodes_quantized++;
        continue;
      }
      if (!weight_dq.count(key) && spec.format != "float") {
        const bool reuse_name = !weight_dq.empty() && std::any_of(weight_dq.begin(), weight_dq.end(), [&](const auto& kv) {
          return kv.first.rfind(w + "#", 0) == 0;
        });
        const std::string base = reuse_name ? w + "_" + spec.key() : w;
        const Tensor wt = model.initializer(w);
        EmittedWeight em;
        std::vector<float> scales;
        if (spec.format == "fp16" || spec.format == "bf16") {
          em = emit_half_weight(model, wt, spec.format == "fp16" ? DType::kFloat16 : DType::kBFloat16, base);
        } else {
          std::shared_ptr<const WeightFormat> fmt = make_weight_format(spec.format, spec.symmetric);
          bool layout_ok = true;
          try {
            WeightLayout::of(wt.shape(), r.axis);
          } catch (const Error&) {
            layout_ok = false;
          }
          if (!layout_ok && spec.format != "int8") {
            ctx.stats.kept_float.push_back(label + " (weight " + shape_str(wt.shape()) + " has no " + spec.format +
                                           " layout)");
            out_nodes.push_back(node);
            continue;
          }
          if (!layout_ok) {  // e.g. batched MatMul weights: the classic per-channel int8 path
            ChannelQuant cq = quantize_per_channel(wt, r.axis);
            const int64_t ch = static_cast<int64_t>(cq.scales.size());
            add_init(base + "_quantized", cq.values);
            add_init(base + "_scale", Tensor::from<float>({ch}, cq.scales));
            add_init(base + "_zero_point", Tensor(DType::kInt8, {ch}));
            em.value = base + "_dequantized";
            em.nodes.push_back(make_node("DequantizeLinear", base + "_DequantizeLinear",
                                         {base + "_quantized", base + "_scale", base + "_zero_point"}, em.value, r.axis));
            scales = cq.scales;
          } else {
            const bool pre = ctx.quantized && ctx.quantized->count(label);
            QuantizedWeight qw = pre ? ctx.quantized->at(label) : quantize_rtn(wt, r.axis, fmt, spec.group_size);
            if (pre) ctx.stats.gptq_layers++;
            em = emit_quantized_weight(model, qw, base);
            if (!qw.group_size && fmt->signed_codes() && (spec.format == "int8" || spec.format == "int4"))
              scales = qw.scale.to_floats();
          }
        }
        for (auto& n : em.nodes) out_nodes.push_back(std::move(n));
        weight_dq[key] = {em.value, scales};
        replaced_inits.insert(w);
        ctx.stats.weights_quantized++;
        ctx.stats.weight_params[spec.format] += wt.numel();
      }
      if (weight_dq.count(key)) {
        q.set_input(r.weight, weight_dq[key].first);
        w_scales = weight_dq[key].second;
      }
    }
    // Bias: int32 with scale = input scale x weight scale, when both are quantized.
    if (r.bias >= 0 && acts_quantized && input_scale > 0 && !w_scales.empty() && is_float_init(model, node.input(r.bias))) {
      const std::string b = node.input(r.bias);
      Tensor bias = model.initializer(b);
      if (bias.numel() == static_cast<int64_t>(w_scales.size())) {
        std::vector<float> b_scales;
        Tensor qb = quantize_bias(bias, input_scale, w_scales, &b_scales);
        const std::string base = label + "_bias";
        add_init(base + "_quantized", qb);
        add_init(base + "_scale", Tensor::from<float>({qb.numel()}, b_scales));
        add_init(base + "_zero_point", Tensor(DType::kInt32, {qb.numel()}));
        out_nodes.push_back(make_node("DequantizeLinear", base + "_DequantizeLinear",
                                      {base + "_quantized", base + "_scale", base + "_zero_point"},
                                      base + "_dequantized", 0));
        q.set_input(r.bias, base + "_dequantized");
        replaced_inits.insert(b);
        ctx.stats.biases_quantized++;
      }
    }
    if (w_scales.empty() && !acts_quantized && !weight_quantized(q, node))
      ctx.stats.kept_float.push_back(label + " (nothing to quantize)");
    else ctx.stats.nodes_quantized++;
    out_nodes.push_back(q);
  }
  g.clear_node();
  for (auto& n : out_nodes) *g.add_node() = std::move(n);
  // Remove float initializers that no node reads any more.
  std::set<std::string> used;
  for (const auto& n : g.node())
    for (const auto& i : n.input()) used.insert(i);
  for (const auto& o : g.output()) used.insert(o.name());
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i)
    if (replaced_inits.count(inits->Get(i).name()) && !used.count(inits->Get(i).name())) inits->DeleteSubrange(i, 1);
}

}  // namespace qtool
