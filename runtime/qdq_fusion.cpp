// SPDX-License-Identifier: Apache-2.0
// Executor rewrite of QDQ convolutions into integer convolutions (compile time only; the model
// is not changed). Matches what onnxruntime's QDQ transformers turn into QLinearConv:
//
//   DequantizeLinear(x: uint8/int8, scalar scale, scalar zero point)
//   DequantizeLinear(w: constant int8, scale scalar or [M] on axis 0, zero point 0)
//   DequantizeLinear(bias: constant int32, scale = x_scale * w_scale, zero point 0)   (optional)
//     -> Conv [-> Relu] [-> QuantizeLinear(scalar scale, uint8/int8 zero point)]
//
// becomes one qtool.QDQConv step (runtime/kernels/qdq_conv.cpp) reading x, the int8 weights and
// the int32 bias: a quantized output with QuantizeLinear (requantized as onnxruntime's
// QLinearConv), a float output without. A Relu between Conv and QuantizeLinear is applied in the
// integer domain (max(q, zero point) = QuantizeLinear(Relu(.)); onnxruntime drops such a Relu when
// the zero point is the type's minimum). A float output read only by a residual Add (or two-input
// Sum) whose one reader is a Relu takes the other summand as input 8 and the Relu along. Then
// DequantizeLinear -> pointwise op -> QuantizeLinear chains become table lookups
// (runtime/qdq_lookup_fusion.cpp). DequantizeLinear steps nobody reads any more are removed.
// Like runtime/fusion.cpp, a value disappears only when it has one reader and is neither a graph
// output, a kept value nor read by a subgraph.
#include <algorithm>
#include <cmath>

#include "runtime/compiled_graph.h"

namespace qtool {

namespace {

bool is_op(const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; }

}  // namespace

CompiledGraph::StepLinks CompiledGraph::step_links(const std::vector<bool>* removed) const {
  StepLinks l{std::vector<int>(slot_names_.size(), -1), std::vector<std::vector<size_t>>(slot_names_.size())};
  for (size_t k = 0; k < steps_.size(); ++k) {
    if (removed && (*removed)[k]) continue;
    for (int id : steps_[k].out)
      if (id >= 0) l.producer[id] = static_cast<int>(k);
    for (int id : steps_[k].in)
      if (id >= 0) l.readers[id].push_back(k);
    for (int id : steps_[k].implicit)
      if (id >= 0) l.readers[id].push_back(k);
  }
  return l;
}

std::vector<int> CompiledGraph::count_reads(const std::vector<bool>& removed) const {
  std::vector<int> reads(slot_names_.size(), 0);
  for (size_t k = 0; k < steps_.size(); ++k) {
    if (removed[k]) continue;
    for (int id : steps_[k].in)
      if (id >= 0) ++reads[id];
    for (int id : steps_[k].implicit)
      if (id >= 0) ++reads[id];
  }
  return reads;
}

const CompiledGraph::Step* CompiledGraph::dequantize_step(int id, const StepLinks& links) const {
  if (id < 0) return nullptr;
  if (links.producer[id] >= 0) {
    const Step& s = steps_[links.producer[id]];
    return is_op(*s.node, "DequantizeLinear") ? &s : nullptr;
  }
  auto it = folded_dq_.find(id);
  return it == folded_dq_.end() ? nullptr : &it->second;
}

const CompiledGraph::Step* CompiledGraph::per_tensor_codes(int id, const StepLinks& links, float* scale) const {
  if (id < 0 || links.producer[id] < 0) return nullptr;  // a step, not a folded constant
  const Step* dq = dequantize_step(id, links);
  if (!dq || dq->in.size() < 3 || dq->in[2] < 0) return nullptr;
  const Tensor *s = constant_tensor(dq->in[1]), *z = constant_tensor(dq->in[2]);
  if (!s || !z || s->dtype() != DType::kFloat || s->numel() != 1 || z->numel() != 1 ||
      (z->dtype() != DType::kUInt8 && z->dtype() != DType::kInt8))
    return nullptr;
  *scale = s->to_floats()[0];
  return dq;
}

bool CompiledGraph::quantizes_to_codes(const Step& q, int from) const {
  if (!is_op(*q.node, "QuantizeLinear") || q.in.size() < 3 || q.in[0] != from || q.out.size() != 1 || q.out[0] < 0)
    return false;
  const Tensor *s = constant_tensor(q.in[1]), *z = constant_tensor(q.in[2]);
  return s && z && s->dtype() == DType::kFloat && s->numel() == 1 && z->numel() == 1 &&
         (z->dtype() == DType::kUInt8 || z->dtype() == DType::kInt8) && attr_int(*q.node, "saturate", 1) == 1 &&
         s->to_floats()[0] > 0.f;
}

CompiledGraph::Step CompiledGraph::internal_step(const OpRegistry::Match& def, std::unique_ptr<onnx::NodeProto> node,
                                                 std::vector<int> in, int out) {
  Step s;
  s.def = def.def;
  s.version = def.version;
  s.domain_opset = 1;
  s.layout_aware = def.def->layout_aware;
  for (int id : in) node->add_input(id >= 0 ? slot_names_[id] : std::string());
  node->add_output(slot_names_[out]);
  s.in = std::move(in);
  s.out = {out};
  s.node = node.get();
  owned_nodes_.push_back(std::move(node));
  return s;
}

bool CompiledGraph::all_zero_constant(int id) const {
  if (id < 0) return true;
  const Tensor* t = constant_tensor(id);
  if (!t) return false;
  for (int64_t v : t->to_int64s())
    if (v != 0) return false;
  return true;
}

int CompiledGraph::int32_bias(int bias_id, float x_scale, const std::vector<float>& w_scale, int64_t m,
                              const StepLinks& links) const {
  const Step* db = dequantize_step(bias_id, links);
  if (!db || db->in.size() < 2) return -1;
  const Tensor *b = constant_tensor(db->in[0]), *bs = constant_tensor(db->in[1]);
  if (!b || !bs || b->dtype() != DType::kInt32 || b->rank() != 1 || b->dim(0) != m || bs->dtype() != DType::kFloat)
    return -1;
  if (db->in.size() > 2 && !all_zero_constant(db->in[2])) return -1;
  const auto bsv = bs->to_floats();
  if (bsv.size() != 1 && static_cast<int64_t>(bsv.size()) != m) return -1;
  for (int64_t o = 0; o < m; ++o) {
    const float want = x_scale * w_scale[w_scale.size() == 1 ? 0 : o];
    const float have = bsv[bsv.size() == 1 ? 0 : o];
    if (!(std::fabs(have - want) <= 1e-5f * std::fabs(want))) return -1;
  }
  return db->in[0];
}

void CompiledGraph::fuse_qdq() {
  const auto def = OpRegistry::instance().find("qtool", "QDQConv", 1);
  if (!def.def) return;  // (registered with the kernels, as QDQMatMul)
  const auto cten = [&](int id) { return constant_tensor(id); };
  const StepLinks links = step_links(nullptr);
  const std::vector<int>& producer = links.producer;
  const std::vector<std::vector<size_t>>& readers = links.readers;
  const auto dq_of = [&](int id) { return dequantize_step(id, links); };
  const auto all_zero = [&](int id) { return all_zero_constant(id); };
  // The one step reading `id` (or -1): never for outputs, kept values or body reads.
  const auto sole_reader = [&](int id) -> int {
    if (id < 0 || keep_[id] || readers[id].size() != 1) return -1;
    return static_cast<int>(readers[id][0]);
  };
  std::vector<bool> removed(steps_.size(), false);
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& conv = steps_[k];
    if (removed[k] || !is_op(*conv.node, "Conv") || conv.out.size() != 1 || conv.out[0] < 0 || conv.in.size() < 2)
      continue;
    if (attr_string(*conv.node, "auto_pad", "NOTSET") != "NOTSET" && attr_string(*conv.node, "auto_pad", "NOTSET") != "")
      continue;  // explicit pads only (what quantizers write); the rest stays float
    // activation: per-tensor uint8/int8 with a known zero point
    float x_scale = 0.f;
    const Step* dx = per_tensor_codes(conv.in[0], links, &x_scale);
    if (!dx) continue;
    // weights: constant int8, per output channel (axis 0) or per tensor, zero point 0
    const Step* dw = dq_of(conv.in[1]);
    if (!dw || dw->in.size() < 2) continue;
    const Tensor *w = cten(dw->in[0]), *ws = cten(dw->in[1]);
    if (!w || !ws || w->dtype() != DType::kInt8 || w->rank() < 3 || ws->dtype() != DType::kFloat) continue;
    const int64_t m = w->dim(0);
    if (ws->numel() != 1) {
      if (ws->rank() != 1 || ws->dim(0) != m) continue;
      const int64_t axis = attr_int(*dw->node, "axis", 1);
      if (axis != 0 && axis != -w->rank()) continue;
      if (attr_int(*dw->node, "block_size", 0) != 0) continue;
    }
    if (dw->in.size() > 2 && !all_zero(dw->in[2])) continue;
    const auto w_scale = ws->to_floats();
    // bias: constant int32 on the accumulator's scale
    int bias = -1;
    if (conv.in.size() > 2 && conv.in[2] >= 0) {
      bias = int32_bias(conv.in[2], x_scale, w_scale, m, links);
      if (bias < 0) continue;
    }
    // output: [Relu] [QuantizeLinear]
    int final_out = conv.out[0];
    bool relu = false;
    int relu_step = -1, q_step = -1;
    int r = sole_reader(final_out);
    if (r >= 0 && is_op(*steps_[r].node, "Relu") && steps_[r].in.size() == 1 && steps_[r].out.size() == 1 &&
        steps_[r].out[0] >= 0 && !removed[r]) {
      relu = true;
      relu_step = r;
      final_out = steps_[r].out[0];
      r = sole_reader(final_out);
    }
    if (r >= 0 && !removed[r] && quantizes_to_codes(steps_[r], final_out)) q_step = r;
    // float output: a residual Add / two-input Sum followed by Relu runs inside (oneDNN sum post-op)
    int sum = -1, add_step = -1;
    r = sole_reader(conv.out[0]);
    if (!relu && q_step < 0 && r >= 0 && !removed[r] && steps_[r].in.size() == 2 && steps_[r].out.size() == 1 &&
        steps_[r].out[0] >= 0 && (is_op(*steps_[r].node, "Add") || is_op(*steps_[r].node, "Sum"))) {
      const int other = steps_[r].in[0] == conv.out[0] ? steps_[r].in[1] : steps_[r].in[0];
      const int rr = sole_reader(steps_[r].out[0]);
      if (other >= 0 && other != conv.out[0] && !cten(other) && producer[other] < static_cast<int>(k) && rr >= 0 &&
          !removed[rr] && is_op(*steps_[rr].node, "Relu") && steps_[rr].out.size() == 1 && steps_[rr].out[0] >= 0 &&
          (producer[other] >= 0 || std::find(input_slots_.begin(), input_slots_.end(), other) != input_slots_.end())) {
        sum = other;
        add_step = r;
        relu = true;
        relu_step = rr;
        final_out = steps_[rr].out[0];
      }
    }
    // the fused node: Conv's attributes and relu
    auto node = std::make_unique<onnx::NodeProto>();
    node->set_op_type("QDQConv");
    node->set_domain("qtool");
    node->set_name(conv.node->name().empty() ? slot_names_[conv.out[0]] : conv.node->name());
    for (const auto& a : conv.node->attribute()) *node->add_attribute() = a;
    auto* ra = node->add_attribute();
    ra->set_name("relu");
    ra->set_type(onnx::AttributeProto::INT);
    ra->set_i(relu ? 1 : 0);
    std::vector<int> in = {dx->in[0], dx->in[1], dx->in[2], dw->in[0], dw->in[1], bias, -1, -1};
    if (q_step >= 0) {
      in[6] = steps_[q_step].in[1];
      in[7] = steps_[q_step].in[2];
      final_out = steps_[q_step].out[0];
    }
    if (sum >= 0) in.push_back(sum);
    conv = internal_step(def, std::move(node), std::move(in), final_out);
    if (relu_step >= 0) removed[relu_step] = true;
    if (q_step >= 0) removed[q_step] = true;
    if (add_step >= 0) removed[add_step] = true;
  }
  fuse_qdq_matmul(removed);
  fuse_qdq_data_movement(removed);
  fuse_qdq_add(removed);
  fuse_qdq_lookup(removed);
  // DequantizeLinear steps whose results nobody reads any more
  const std::vector<int> uses = count_reads(removed);
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& s = steps_[k];
    if (removed[k] || !is_op(*s.node, "DequantizeLinear") || s.out.size() != 1 || s.out[0] < 0) continue;
    if (uses[s.out[0]] == 0 && !keep_[s.out[0]]) removed[k] = true;
  }
  compose_lookups(removed);
  std::vector<Step> kept;
  for (size_t k = 0; k < steps_.size(); ++k)
    if (!removed[k]) kept.push_back(std::move(steps_[k]));
  steps_ = std::move(kept);
}

}  // namespace qtool
