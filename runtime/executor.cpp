#include "runtime/executor.h"

#include <spdlog/spdlog.h>

#include <set>

#include "io/onnx_tensor.h"
#include "runtime/kernels/dnnl_util.h"
#include "runtime/op_registry.h"

namespace qtool {

std::vector<std::string> find_unsupported_ops(const Model& model) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  const auto& reg = OpRegistry::instance();
  for (const auto& n : model.graph().node()) {
    std::string key = (n.domain().empty() ? "" : n.domain() + ".") + n.op_type();
    if (reg.find(n.domain(), n.op_type()) || seen.count(key)) continue;
    seen.insert(key);
    out.push_back(key + " (node '" + (n.name().empty() ? n.output(0) : n.name()) + "')");
  }
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
    InputSpec spec{in->name(), static_cast<DType>(in->type().tensor_type().elem_type()), {}};
    for (const auto& d : in->type().tensor_type().shape().dim())
      spec.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
    out.push_back(spec);
  }
  return out;
}

int Executor::slot(const std::string& name) {
  auto it = slot_of_.find(name);
  if (it != slot_of_.end()) return it->second;
  int id = static_cast<int>(slot_names_.size());
  slot_of_[name] = id;
  slot_names_.push_back(name);
  constants_.emplace_back();
  return id;
}

Executor::Executor(const Model& model, ExecutorOptions options)
    : opset_(model.opset()), proto_(model.proto), options_(options) {
  require_supported(model);
  const auto& g = proto_.graph();
  std::set<std::string> init_names;
  for (const auto& t : g.initializer()) {
    constants_[slot(t.name())] = tensor_from_proto(t);
    init_names.insert(t.name());
  }
  inputs_ = model_input_specs(model);
  for (const auto& in : inputs_) slot(in.name);
  for (const auto& o : g.output()) outputs_.push_back(o.name());

  const auto& reg = OpRegistry::instance();
  for (const auto& n : g.node()) {
    Step s{&n, reg.find(n.domain(), n.op_type()), {}, {}, nullptr, {}, reg.layout_aware(n.domain(), n.op_type()),
           false};
    bool all_const = true;
    for (const auto& i : n.input()) {
      if (i.empty()) { s.in.push_back(-1); continue; }
      if (!slot_of_.count(i))
        throw InputError(model.path.string() + ": " + node_label(n) + " reads '" + i +
                         "', which no earlier node, input or initializer produces");
      int id = slot(i);
      s.in.push_back(id);
      if (constants_[id].empty()) all_const = false;
    }
    for (const auto& o : n.output()) s.out.push_back(o.empty() ? -1 : slot(o));
    if (all_const) {  // constant folding: compute once now
      execute(s, constants_, false);
      continue;
    }
    graph_steps_.push_back(std::move(s));
  }
  keep_.assign(slot_names_.size(), false);
  for (const auto& o : outputs_) {
    if (!slot_of_.count(o)) throw InputError(model.path.string() + ": graph output '" + o + "' is never produced");
    keep_[slot_of_.at(o)] = true;
  }
}

void Executor::keep_values(std::vector<std::string> names) {
  for (const auto& n : names) {
    auto it = slot_of_.find(n);
    if (it == slot_of_.end()) throw InputError("value '" + n + "' does not exist in the model");
    keep_[it->second] = true;
  }
  compiled_ = false;
}

void Executor::compile() {
  steps_ = graph_steps_;
  if (options_.fuse) fuse();
  last_use_.assign(slot_names_.size(), -1);
  // A value may stay in a runtime layout only when all of its readers are layout-aware.
  std::vector<int> readers(slot_names_.size(), 0), aware_readers(slot_names_.size(), 0);
  for (size_t k = 0; k < steps_.size(); ++k)
    for (int id : steps_[k].in)
      if (id >= 0) {
        last_use_[id] = static_cast<int>(k);
        ++readers[id];
        if (steps_[k].layout_aware) ++aware_readers[id];
      }
  for (auto& s : steps_) {
    const int o = s.out.empty() ? -1 : s.out[0];
    s.allow_layout_output = options_.layouts && s.layout_aware && s.out.size() == 1 && o >= 0 && readers[o] > 0 &&
                            readers[o] == aware_readers[o];  // kept values are made plain in run()
  }
  compiled_ = true;
}

void Executor::execute(const Step& s, std::vector<Tensor>& slots, bool cached) const {
  KernelContext ctx(*s.node, opset_);
  for (int id : s.in) {
    // Kernels that are not layout-aware read plain tensors: convert once, in the slot.
    if (id >= 0 && !s.layout_aware && slots[id].layout()) slots[id] = to_plain(slots[id]);
    ctx.inputs.push_back(id >= 0 && !slots[id].empty() ? &slots[id] : nullptr);
    ctx.constant.push_back(id >= 0 && !constants_[id].empty());
  }
  if (cached) ctx.state = &s.state;
  ctx.activation = s.activation;
  ctx.allow_layout_output = cached && s.allow_layout_output;
  ctx.outputs.resize(s.out.size());
  try {
    s.fn(ctx);
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("node '", 0) == 0) throw;
    throw Error(node_label(*s.node) + ": " + msg);
  }
  for (size_t k = 0; k < s.out.size(); ++k)
    if (s.out[k] >= 0) slots[s.out[k]] = std::move(ctx.outputs[k]);
}

TensorMap Executor::run(const TensorMap& feeds) {
  if (!compiled_) compile();
  std::vector<Tensor> slots = constants_;
  for (const auto& spec : inputs_) {
    auto it = feeds.find(spec.name);
    if (it == feeds.end()) throw InputError("missing input '" + spec.name + "'");
    const Tensor& t = it->second;
    bool ok = t.dtype() == spec.dtype && t.rank() == static_cast<int>(spec.shape.size());
    for (size_t d = 0; ok && d < spec.shape.size(); ++d)
      if (spec.shape[d] >= 0 && spec.shape[d] != t.shape()[d] && !(d == 0 && spec.shape[d] == 1)) ok = false;
    if (!ok) {
      Shape s = spec.shape;
      throw InputError("input '" + spec.name + "' expects " + dtype_name(spec.dtype) + " " + shape_str(s) +
                       " (-1 = any), got " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    }
    slots[slot_of_.at(spec.name)] = t;
  }
  if (record_shapes_) value_shapes_.clear();
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& s = steps_[k];
    execute(s, slots, true);
    for (int id : s.out) {
      if (id < 0 || slots[id].empty()) continue;
      if (hook_) hook_(slot_names_[id], slots[id].layout() ? to_plain(slots[id]) : slots[id]);
      if (record_shapes_) value_shapes_[slot_names_[id]] = {slots[id].dtype(), slots[id].shape()};
    }
    for (int id : s.in)  // release activations after their last reader
      if (id >= 0 && last_use_[id] == static_cast<int>(k) && !keep_[id] && constants_[id].empty()) slots[id] = Tensor();
  }
  TensorMap out;
  for (size_t id = 0; id < slots.size(); ++id)
    if (keep_[id]) out[slot_names_[id]] = to_plain(slots[id]);
  return out;
}

std::map<std::string, std::pair<DType, Shape>> value_shapes_on_zeros(const Model& model, ExecutorOptions options) {
  Executor exec(model, options);
  exec.record_shapes(true);
  TensorMap feeds;
  for (const auto& in : exec.inputs()) {
    Shape s = in.shape;
    for (auto& d : s) d = d < 0 ? 1 : d;
    feeds[in.name] = Tensor(in.dtype, s);
  }
  exec.run(feeds);
  return exec.last_value_shapes();
}

}  // namespace qtool
