// SPDX-License-Identifier: Apache-2.0
// Executor rewrite of the residual add and the squeeze-and-excitation scale of QDQ models (compile
// time only; the model is not changed):
//
//   Add(DequantizeLinear(a), DequantizeLinear(b))  [-> Relu]  -> QuantizeLinear   -> qtool.QAdd
//   Mul(DequantizeLinear(a), DequantizeLinear(b))  [-> Relu]  -> QuantizeLinear   -> qtool.QMul
//
// with 8-bit codes, scalar float32 scales and scalar zero points: one step (runtime/kernels/qadd.cpp)
// computing the same float32 arithmetic per element in one pass over the codes instead of four
// passes over float tensors (onnxruntime's QLinearAdd / QLinearMul), bit-exact against the float
// chain. Runs before the lookup rewrite, which would otherwise make such an op a 256 x 256 table (a
// gather per element). A Mul of x and a pointwise function of x (SiLU's x * sigmoid(x), a written
// out hard-swish) is left to the lookups: compose_lookups makes it one 256-entry table of x. As in runtime/qdq_lookup_fusion.cpp, the Add's and the
// Relu's outputs must have one reader each and be neither graph outputs, kept values nor read by a
// subgraph; DequantizeLinear steps stay while others read them.
#include "runtime/compiled_graph.h"

namespace qtool {

namespace {

bool is_op(const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; }

// Attributes that would change the arithmetic (opset 21+: another output type, blocks, precision).
bool plain_qdq(const onnx::NodeProto& n) {
  return !find_attr(n, "output_dtype") && !find_attr(n, "block_size") && !find_attr(n, "precision");
}

}  // namespace

void CompiledGraph::fuse_qdq_add(std::vector<bool>& removed) {
  const auto def = OpRegistry::instance().find("qtool", "QAdd", 1);
  if (!def.def) return;
  const StepLinks links = step_links(&removed);
  // the one step reading `id` when it may be fused away
  const auto sole_reader = [&](int id) -> int {
    if (id < 0 || keep_[id] || links.readers[id].size() != 1) return -1;
    return static_cast<int>(links.readers[id][0]);
  };
  // whether the codes `codes` are QuantizeLinear(op(v)) for one pointwise step reading the value v
  // or the DequantizeLinear result of `other` (the other operand's codes) directly
  const auto function_of = [&](int codes, int v, int other) {
    const int qk = codes >= 0 ? links.producer[codes] : -1;
    if (qk < 0 || !is_op(*steps_[qk].node, "QuantizeLinear") || steps_[qk].in.empty() || steps_[qk].in[0] < 0)
      return false;
    const int fk = links.producer[steps_[qk].in[0]];
    if (fk < 0) return false;
    for (int id : steps_[fk].in) {
      if (id == v) return true;
      const int dk = id >= 0 ? links.producer[id] : -1;
      if (dk >= 0 && is_op(*steps_[dk].node, "DequantizeLinear") && !steps_[dk].in.empty() && steps_[dk].in[0] == other)
        return true;
    }
    return false;
  };
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& add = steps_[k];
    const bool mul = is_op(*add.node, "Mul");
    // (an op of a value with itself, x * x, is one 256-entry table: the lookups take it)
    if (removed[k] || !(mul || is_op(*add.node, "Add")) || add.in.size() != 2 || add.out.size() != 1 ||
        add.in[0] == add.in[1])
      continue;
    float sa = 0, sb = 0;
    const Step* da = per_tensor_codes(add.in[0], links, &sa);
    const Step* db = per_tensor_codes(add.in[1], links, &sb);
    if (!da || !db || !plain_qdq(*da->node) || !plain_qdq(*db->node)) continue;
    if (mul && (function_of(db->in[0], add.in[0], da->in[0]) || function_of(da->in[0], add.in[1], db->in[0]))) continue;
    int next = sole_reader(add.out[0]);
    if (next < 0 || removed[next]) continue;
    int relu = -1, from = add.out[0];
    if (is_op(*steps_[next].node, "Relu") && steps_[next].out.size() == 1) {
      relu = next;
      from = steps_[relu].out[0];
      next = sole_reader(from);
      if (next < 0 || removed[next]) continue;
    }
    const Step& q = steps_[next];
    if (!quantizes_to_codes(q, from) || !plain_qdq(*q.node)) continue;
    auto node = std::make_unique<onnx::NodeProto>();
    node->set_op_type(mul ? "QMul" : "QAdd");
    node->set_domain("qtool");
    node->set_name(add.node->name().empty() ? slot_names_[add.out[0]] : add.node->name());
    auto* ra = node->add_attribute();
    ra->set_name("relu");
    ra->set_type(onnx::AttributeProto::INT);
    ra->set_i(relu >= 0 ? 1 : 0);
    std::vector<int> in = {da->in[0], da->in[1], da->in[2], db->in[0], db->in[1], db->in[2], q.in[1], q.in[2]};
    const int out = q.out[0];
    removed[next] = true;
    if (relu >= 0) removed[relu] = true;
    // in the Add's place: a and b exist there, the readers of y come later
    add = internal_step(def, std::move(node), std::move(in), out);
  }
}

}  // namespace qtool
