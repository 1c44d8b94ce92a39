// SPDX-License-Identifier: Apache-2.0
// insert_qdq: per-channel int8 weights (DequantizeLinear with axis), int32 bias, and
// QuantizeLinear -> DequantizeLinear pairs on the activation tensors that quant/qdq_placement.h
// chooses for the target runtime, in the QDQ format that runtimes fuse into integer kernels
// (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, ...). One Q/DQ pair per tensor, placed right
// after its producer and read by every consumer (except --exclude'd nodes, which keep the float
// value); tensors of one scale group share their scale and zero point initializers.
// --target openvino with the symmetric grid stores signed tensors as uint8 with zero point 128 (the
// same values as int8 with zero point 0): OpenVINO 2026.4's CPU plugin computes a wrong result for an
// int8 (signed) QuantizeLinear -> DequantizeLinear on a Concat's output or inputs when the Concat
// feeds a Conv (UltraFace's RFB block: 31.7 dB instead of 45.5 dB SQNR), and runs uint8 as fast.
// Needs opset >= 13 (run upgrade_opset first). Activations need a calibration table; without
// one, only weights are quantized.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "io/onnx_tensor.h"
#include "quant/overflow_fix.h"
#include "quant/pass.h"
#include "quant/qdq_placement.h"
#include "quant/weight_storage.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

constexpr double kBiasCodeLimit = 1 << 30;  // |int32 bias code| bound, with headroom for the accumulator

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
  return place_qdq(model, opts).tensors;
}

void insert_qdq(Model& model, PassContext& ctx) {
  if (model.opset() < 13)
    throw Error("insert_qdq needs opset >= 13 for per-channel DequantizeLinear; run upgrade_opset first");
  const auto& opts = ctx.options;
  const ActType act_type = opts.act_type;
  auto& g = model.graph();
  std::vector<onnx::NodeProto> out_nodes;
  std::map<std::string, std::pair<std::string, std::vector<float>>> weight_dq;  // init -> (dq out, scales)
  std::set<std::string> replaced_inits;

  auto add_init = [&](const std::string& name, const Tensor& t) { *g.add_initializer() = tensor_to_proto(t, name); };
  auto label_of = [](const onnx::NodeProto& n) { return n.name().empty() ? n.output(0) : n.name(); };

  // Activations: the placement's tensors with calibrated ranges; a scale group quantizes with the
  // union of its members' ranges (equal scale and zero point, shared initializers).
  const CalibrationTable* table = opts.quantize_activations ? ctx.table : nullptr;
  std::map<std::string, QParams> act_qp;          // tensor -> its parameters
  std::map<std::string, std::string> act_group;   // tensor -> group representative
  if (table) {
    const QdqPlacement placement = place_qdq(model, opts);
    std::map<std::string, Range> group_range;
    for (const auto& t : placement.tensors) {
      auto rit = table->ranges.find(t);
      if (rit == table->ranges.end()) continue;
      const std::string& rep = placement.share.at(t);
      auto [git, fresh] = group_range.emplace(rep, rit->second);
      if (!fresh) {
        git->second.min = std::min(git->second.min, rit->second.min);
        git->second.max = std::max(git->second.max, rit->second.max);
      }
    }
    std::set<std::string> read;  // a Q/DQ that only --exclude'd nodes would read is not written
    for (const auto& n : g.node())
      if (!opts.exclude.count(label_of(n)))
        for (const auto& i : n.input()) read.insert(i);
    for (const auto& o : g.output()) read.insert(o.name());
    for (const auto& t : placement.tensors) {
      auto git = group_range.find(placement.share.at(t));
      if (!read.count(t)) continue;
      if (git == group_range.end()) continue;
      act_qp[t] = activation_qparams(git->second, act_type);
      if (opts.target == QdqTarget::kOpenVino && act_type == ActType::kSymmetric) act_qp[t] = as_uint8(act_qp[t]);
      check_scale(act_qp[t].scale, (model.path.empty() ? "" : model.path.string() + ": ") + "calibration range [" +
                                       std::to_string(git->second.min) + ", " + std::to_string(git->second.max) +
                                       "] of tensor '" + t + "'");
      act_group[t] = git->first;
    }
  }
  // A quantized graph output keeps its name on the DequantizeLinear; its producer writes t + "_float".
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  auto quantized_output = [&](const std::string& t) { return act_qp.count(t) && graph_outputs.count(t); };
  auto float_name = [&](const std::string& t) { return quantized_output(t) ? t + "_float" : t; };
  std::set<std::string> group_inits_done;
  auto emit_qdq = [&](const std::string& t) {
    const QParams& qp = act_qp.at(t);
    const std::string& rep = act_group.at(t);
    const std::string s_name = rep + "_scale", z_name = rep + "_zero_point";
    if (group_inits_done.insert(rep).second) {
      add_init(s_name, Tensor::from<float>({}, {qp.scale}));
      if (qp.is_unsigned) add_init(z_name, Tensor::from<uint8_t>({}, {static_cast<uint8_t>(qp.zero_point)}));
      else add_init(z_name, Tensor::from<int8_t>({}, {static_cast<int8_t>(qp.zero_point)}));
    }
    out_nodes.push_back(
        make_node("QuantizeLinear", t + "_QuantizeLinear", {float_name(t), s_name, z_name}, t + "_quantized"));
    out_nodes.push_back(make_node("DequantizeLinear", t + "_DequantizeLinear", {t + "_quantized", s_name, z_name},
                                  graph_outputs.count(t) ? t : t + "_dequantized"));
    ctx.stats.activations_quantized++;
  };
  auto dq_name = [&](const std::string& t) {
    return act_qp.count(t) && !graph_outputs.count(t) ? t + "_dequantized" : t;
  };

  const onnx::GraphProto original = g;
  for (const auto& in : original.input())
    if (act_qp.count(in.name())) emit_qdq(in.name());
  for (const auto& node : original.node()) {
    const std::string label = label_of(node);
    const bool excluded = opts.exclude.count(label) > 0;
    onnx::NodeProto q = node;
    if (!excluded)
      for (int i = 0; i < q.input_size(); ++i)
        if (!q.input(i).empty()) q.set_input(i, dq_name(q.input(i)));
    for (int i = 0; i < q.output_size(); ++i) q.set_output(i, float_name(q.output(i)));
    auto emit_outputs = [&] {
      for (const auto& o : node.output())
        if (act_qp.count(o)) emit_qdq(o);
    };
    auto finish = [&](const onnx::NodeProto& emitted) {
      out_nodes.push_back(emitted);
      emit_outputs();
    };
    const bool layer = node.domain().empty() &&
                       (node.op_type() == "Conv" || node.op_type() == "ConvTranspose" || node.op_type() == "Gemm" ||
                        node.op_type() == "MatMul");
    if (!layer || !opts.op_types.count(node.op_type())) {
      finish(q);
      continue;
    }
    if (excluded) {
      ctx.stats.kept_float.push_back(label + " (excluded)");
      onnx::NodeProto e = node;  // reads the float values; its outputs keep their Q/DQ
      for (int i = 0; i < e.output_size(); ++i) e.set_output(i, float_name(e.output(i)));
      finish(e);
      continue;
    }
    const LayerRoles r = layer_roles(model, node);
    if (r.weight < 0 && (r.acts.empty() || !table)) {  // e.g. weight-only runs of an activation x activation MatMul
      finish(q);
      continue;
    }
    bool acts_quantized = table != nullptr;
    float input_scale = 0.f;
    for (int i : r.acts) {
      if (!act_qp.count(node.input(i))) acts_quantized = false;
      else if (i == 0) input_scale = act_qp[node.input(i)].scale;
    }
    // An int32 bias has scale input_scale x weight_scale[c]; with a tiny input scale (activations
    // that all but vanish, e.g. randomly initialised deep networks) the bias would saturate int32
    // and the layer would lose it. Weight scales are raised so that |b[c]| / scale <= 2^30.
    std::vector<float> min_w_scale;
    if (r.bias >= 0 && acts_quantized && input_scale > 0 && is_float_init(model, node.input(r.bias))) {
      const auto b = model.initializer(node.input(r.bias)).to_floats();
      for (float v : b) min_w_scale.push_back(std::fabs(v) / (input_scale * kBiasCodeLimit));
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
        check_weight_values(wt, (model.path.empty() ? "" : model.path.string() + ": ") + "weight '" + w + "'", spec.format);
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
        emit_outputs();
        continue;
      }
      if (!weight_dq.count(key) && spec.format != "float") {
        const bool reuse_name = !weight_dq.empty() && std::any_of(weight_dq.begin(), weight_dq.end(), [&](const auto& kv) {
          return kv.first.rfind(w + "#", 0) == 0;
        });
        const std::string base = reuse_name ? w + "_" + spec.key() : w;
        const Tensor wt = model.initializer(w);
        check_weight_values(wt, (model.path.empty() ? "" : model.path.string() + ": ") + "weight '" + w + "'", spec.format);
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
            finish(q);
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
            // int8 x uint8 pairs that could saturate vpmaddubsw (quant/overflow_fix.h); depthwise
            // convolutions sum each channel's window in int32 and are left at full range
            const bool depthwise = node.op_type() == "Conv" && attr_int(node, "group", 1) > 1 && wt.rank() > 1 &&
                                   wt.dim(1) == 1;
            if (opts.overflow_fix && acts_quantized && spec.format == "int8" && !qw.group_size && !depthwise)
              ctx.stats.overflow_fixed_channels += raise_row_scales(qw, wt, pair_safe_min_scales(wt, qw.layout));
            if (!qw.group_size && static_cast<int64_t>(min_w_scale.size()) == qw.layout.rows) {
              const int64_t raised = raise_row_scales(qw, wt, min_w_scale);
              if (raised) {
                ctx.stats.bias_limited_channels += raised;
                spdlog::debug("{}: {} weight scales raised so the int32 bias fits (input scale {:g})", label, raised,
                              input_scale);
              }
            }
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
    finish(q);
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
