// SPDX-License-Identifier: Apache-2.0
#include "runtime/executor.h"

#include <set>

#include "core/buffer_pool.h"
#include "runtime/compiled_graph.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

std::map<std::string, int> model_opsets(const Model& model) {
  std::map<std::string, int> out;
  for (const auto& o : model.proto.opset_import()) out[canonical_domain(o.domain())] = static_cast<int>(o.version());
  if (!out.count("")) out[""] = model.opset();
  return out;
}

void find_unsupported(const onnx::GraphProto& g, const std::map<std::string, int>& opsets,
                      std::set<std::string>& seen, std::vector<std::string>& out) {
  const auto& reg = OpRegistry::instance();
  for (const auto& n : g.node()) {
    const std::string domain = canonical_domain(n.domain());
    auto it = opsets.find(domain);
    const int version = it == opsets.end() ? 1 : it->second;
    if (!reg.find(domain, n.op_type(), version).def) {
      std::string key = (domain.empty() ? "" : domain + ".") + n.op_type();
      // Known at other opsets (e.g. Upsample, removed at 10): say at which one it is missing.
      if (reg.find(domain, n.op_type(), 1 << 30).def) key += " (opset " + std::to_string(version) + ")";
      if (!seen.count(key)) {
        seen.insert(key);
        out.push_back(key + " (node '" + (n.name().empty() ? (n.output_size() ? n.output(0) : "?") : n.name()) + "')");
      }
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g()) find_unsupported(a.g(), opsets, seen, out);
      for (const auto& sub : a.graphs()) find_unsupported(sub, opsets, seen, out);
    }
  }
}

}  // namespace

std::vector<std::string> find_unsupported_ops(const Model& model) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  find_unsupported(model.graph(), model_opsets(model), seen, out);
  return out;
}

void require_supported(const Model& model) {
  auto bad = find_unsupported_ops(model);
  if (bad.empty()) return;
  std::string list;
  for (const auto& b : bad) list += (list.empty() ? "" : ", ") + b;
  throw InputError(model.path.string() + ": unsupported ops: " + list);
}

std::vector<InputSpec> model_input_specs(const Model& model) {
  std::vector<InputSpec> out;
  for (const auto* in : model.real_inputs()) {
    InputSpec spec{in->name(), DType::kUndefined, {}};
    const onnx::TypeProto* t = &in->type();
    if (t->has_optional_type()) {
      spec.optional = true;
      t = &t->optional_type().elem_type();
    }
    if (t->has_sequence_type()) {
      spec.kind = Value::Kind::kSequence;
      t = &t->sequence_type().elem_type();
    }
    if (t->has_tensor_type()) {
      spec.dtype = static_cast<DType>(t->tensor_type().elem_type());
      spec.rank_known = t->tensor_type().has_shape();
      for (const auto& d : t->tensor_type().shape().dim())
        spec.shape.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
    } else {
      spec.rank_known = false;
    }
    out.push_back(spec);
  }
  return out;
}

Executor::Executor(const Model& model, ExecutorOptions options) {
  require_supported(model);
  pool_user_ = std::make_unique<BufferPoolUser>();
  auto env = std::make_shared<CompiledGraph::Env>();
  env->opsets = model_opsets(model);
  env->options = options;
  env->label = model.path.string();
  graph_ = std::make_unique<CompiledGraph>(model.graph(), env, nullptr);
  inputs_ = model_input_specs(model);
}

Executor::~Executor() = default;
Executor::Executor(Executor&&) noexcept = default;

const std::vector<std::string>& Executor::output_names() const { return graph_->output_names(); }
void Executor::set_hook(Hook hook, bool any_layout) {
  hook_ = std::move(hook);
  hook_any_layout_ = any_layout;
}
void Executor::keep_values(std::vector<std::string> names) { graph_->keep_values(names); }
void Executor::observe_values(const std::vector<std::string>& names) { graph_->observe_values(names); }
bool Executor::has_value(const std::string& name) const { return graph_->has_value(name); }
const Tensor* Executor::constant(const std::string& name) const { return graph_->constant(name); }

ValueMap Executor::run_values(const ValueMap& feeds) {
  std::vector<Value> inputs;
  inputs.reserve(inputs_.size());
  for (const auto& spec : inputs_) {
    auto it = feeds.find(spec.name);
    if (it == feeds.end() || !it->second.present()) {
      if (spec.optional) {
        inputs.push_back(Value::none(spec.dtype, spec.kind == Value::Kind::kSequence));
        continue;
      }
      throw InputError("missing input '" + spec.name + "'");
    }
    const Value& v = it->second;
    if (v.is_tensor() && spec.kind == Value::Kind::kTensor && spec.dtype != DType::kUndefined) {
      const Tensor& t = v.tensor();
      bool ok = t.dtype() == spec.dtype && (!spec.rank_known || t.rank() == static_cast<int>(spec.shape.size()));
      for (size_t d = 0; ok && spec.rank_known && d < spec.shape.size(); ++d)
        if (spec.shape[d] >= 0 && spec.shape[d] != t.shape()[d] && !(d == 0 && spec.shape[d] == 1)) ok = false;
      if (!ok)
        throw InputError("input '" + spec.name + "' expects " + dtype_name(spec.dtype) + " " +
                         (spec.rank_known ? shape_str(spec.shape) : std::string("[any rank]")) + " (-1 = any), got " +
                         dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    } else if (v.is_sequence() != (spec.kind == Value::Kind::kSequence) && !v.is_none()) {
      throw InputError("input '" + spec.name + "' expects a " +
                       (spec.kind == Value::Kind::kSequence ? "sequence" : "tensor") + ", got " + v.describe());
    }
    inputs.push_back(v);
  }
  if (record_shapes_) value_shapes_.clear();
  CompiledGraph::Observer obs{&hook_, hook_any_layout_, record_shapes_ ? &value_shapes_ : nullptr,
                              profiling_ ? &profile_ : nullptr};
  auto slots = graph_->execute(std::move(inputs), {}, &obs);
  ValueMap out;  // graph outputs and kept values
  for (size_t id = 0; id < slots.size(); ++id)
    if (slots[id].present()) out[graph_->slot_name(static_cast<int>(id))] = std::move(slots[id]);
  return out;
}

void Executor::set_profiling(bool on) {
  profiling_ = on;
  profile_.clear();
}

TensorMap Executor::run(const TensorMap& feeds) {
  ValueMap in;
  for (const auto& [k, t] : feeds) in[k] = t;
  TensorMap out;
  for (auto& [k, v] : run_values(in)) {
    if (!v.is_tensor())
      throw InputError("output '" + k + "' is " + v.describe() +
                       ", not a tensor (qtool run writes such outputs to a folder of .pb files)");
    out[k] = v.tensor();
  }
  return out;
}

bool node_is_foldable(const onnx::NodeProto& node, int domain_opset) {
  auto m = OpRegistry::instance().find(node.domain(), node.op_type(), domain_opset);
  if (!m.def || !m.def->foldable) return false;
  for (const auto& a : node.attribute())
    if (a.has_g() || a.graphs_size() > 0) return false;
  return true;
}

std::vector<Value> run_node(const onnx::NodeProto& node, int domain_opset, const std::vector<const Value*>& inputs,
                            bool reference_only) {
  auto m = OpRegistry::instance().find(node.domain(), node.op_type(), domain_opset);
  if (!m.def) throw InputError(node_label(node) + ": unsupported op at opset " + std::to_string(domain_opset));
  KernelContext ctx(node, domain_opset, m.version);
  ctx.inputs = inputs;
  ctx.outputs.resize(node.output_size());
  if (m.def->validate) m.def->validate(ctx);
  if (reference_only || !(m.def->fast && m.def->fast(ctx))) {
    for (auto& o : ctx.outputs) o = Value();
    m.def->run(ctx);
  }
  return std::move(ctx.outputs);
}

}  // namespace qtool
