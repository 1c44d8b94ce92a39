// SPDX-License-Identifier: Apache-2.0
#include "runtime/compiled_graph.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <new>

#include "io/onnx_tensor.h"
#include "runtime/dnnl_util.h"

namespace qtool {

namespace {

void collect_graph_attrs(const onnx::NodeProto& n, std::vector<std::pair<std::string, const onnx::GraphProto*>>& out) {
  for (const auto& a : n.attribute()) {
    if (a.type() == onnx::AttributeProto::GRAPH || (a.type() == onnx::AttributeProto::UNDEFINED && a.has_g()))
      out.emplace_back(a.name(), &a.g());
    for (const auto& g : a.graphs()) out.emplace_back(a.name(), &g);
  }
}

// Names a node reads: its inputs and what its subgraphs need from outside.
std::vector<std::string> node_reads(const onnx::NodeProto& n) {
  std::vector<std::string> r;
  for (const auto& i : n.input())
    if (!i.empty()) r.push_back(i);
  std::vector<std::pair<std::string, const onnx::GraphProto*>> bodies;
  collect_graph_attrs(n, bodies);
  for (const auto& [name, g] : bodies)
    for (const auto& f : graph_free_names(*g)) r.push_back(f);
  return r;
}

}  // namespace

std::set<std::string> graph_free_names(const onnx::GraphProto& g) {
  std::set<std::string> defined, free;
  for (const auto& i : g.input()) defined.insert(i.name());
  for (const auto& t : g.initializer()) defined.insert(t.name());
  for (const auto& t : g.sparse_initializer()) defined.insert(t.values().name());
  for (const auto& n : g.node())
    for (const auto& o : n.output())
      if (!o.empty()) defined.insert(o);
  for (const auto& n : g.node())
    for (const auto& r : node_reads(n))
      if (!defined.count(r)) free.insert(r);
  for (const auto& o : g.output())
    if (!defined.count(o.name())) free.insert(o.name());
  return free;
}

int CompiledGraph::slot(const std::string& name) {
  auto it = slot_of_.find(name);
  if (it != slot_of_.end()) return it->second;
  const int id = static_cast<int>(slot_names_.size());
  slot_of_[name] = id;
  slot_names_.push_back(name);
  constants_.emplace_back();
  return id;
}

int CompiledGraph::made_slot(const std::string& name) {
  std::string n = name;
  for (int k = 2; slot_of_.count(n) && !made_slots_.count(slot_of_.at(n)); ++k) n = name + "#" + std::to_string(k);
  const int id = slot(n);
  made_slots_.insert(id);
  if (keep_.size() < slot_names_.size()) keep_.resize(slot_names_.size(), false);
  return id;
}

int CompiledGraph::slot_of(const std::string& name) const {
  auto it = slot_of_.find(name);
  return it == slot_of_.end() ? -1 : it->second;
}

const Tensor* CompiledGraph::constant(const std::string& name) const {
  auto it = slot_of_.find(name);
  if (it == slot_of_.end() || !constants_[it->second].is_tensor()) return nullptr;
  return &constants_[it->second].tensor();
}

CompiledGraph::CompiledGraph(const onnx::GraphProto& graph, std::shared_ptr<const Env> env,
                             const std::set<std::string>* outer, const std::map<std::string, Value>* outer_constants)
    : env_(std::move(env)) {
  compile(graph, outer, outer_constants);
  finish();
}

void CompiledGraph::compile(const onnx::GraphProto& g, const std::set<std::string>* outer,
                            const std::map<std::string, Value>* outer_constants) {
  subgraph_ = outer != nullptr;
  const std::string& label = env_->label;
  auto where = [&](const onnx::NodeProto& n) { return (label.empty() ? "" : label + ": ") + node_label(n); };
  for (const auto& t : g.initializer()) {
    if (slot_of_.count(t.name()))
      throw InputError(label + ": initializer '" + t.name() + "' is defined twice");
    constants_[slot(t.name())] = tensor_from_proto(t);
  }
  if (g.sparse_initializer_size() > 0)
    throw InputError(label + ": sparse initializers inside subgraphs are not supported");
  for (const auto& in : g.input()) {
    if (slot_of_.count(in.name()) && constants_[slot_of_.at(in.name())].present()) continue;  // IR < 4 style
    if (slot_of_.count(in.name())) throw InputError(label + ": graph input '" + in.name() + "' is declared twice");
    input_names_.push_back(in.name());
    input_slots_.push_back(slot(in.name()));
  }

  // Topological order (stable: a model already in order keeps it).
  const int n_nodes = g.node_size();
  std::map<std::string, int> producer;
  for (int k = 0; k < n_nodes; ++k)
    for (const auto& o : g.node(k).output())
      if (!o.empty()) {
        if (producer.count(o) || slot_of_.count(o))
          throw InputError(where(g.node(k)) + ": output '" + o + "' is already defined (ONNX values are assigned once)");
        producer[o] = k;
      }
  std::vector<std::vector<int>> users(n_nodes);
  std::vector<int> pending(n_nodes, 0);
  for (int k = 0; k < n_nodes; ++k) {
    std::set<int> deps;
    for (const auto& r : node_reads(g.node(k))) {
      auto it = producer.find(r);
      if (it != producer.end() && it->second != k) deps.insert(it->second);
    }
    pending[k] = static_cast<int>(deps.size());
    for (int d : deps) users[d].push_back(k);
  }
  std::vector<int> order;
  {
    std::set<int> ready;
    for (int k = 0; k < n_nodes; ++k)
      if (pending[k] == 0) ready.insert(k);
    while (!ready.empty()) {
      const int k = *ready.begin();
      ready.erase(ready.begin());
      order.push_back(k);
      for (int u : users[k])
        if (--pending[u] == 0) ready.insert(u);
    }
  }
  if (static_cast<int>(order.size()) != n_nodes) {
    for (int k = 0; k < n_nodes; ++k)
      if (pending[k] > 0) throw InputError(where(g.node(k)) + ": is part of a cycle (the graph is not a DAG)");
  }

  const auto& reg = OpRegistry::instance();
  auto resolve = [&](const std::string& name, const onnx::NodeProto& n) -> int {
    auto it = slot_of_.find(name);
    if (it != slot_of_.end()) return it->second;
    if (outer && outer->count(name)) {
      const int id = slot(name);
      if (outer_constants) {
        auto c = outer_constants->find(name);
        if (c != outer_constants->end()) {  // known at compile time: a constant of this graph too
          constants_[id] = c->second;
          return id;
        }
      }
      free_vars_.push_back(name);
      free_slots_.push_back(id);
      return id;
    }
    throw InputError(where(n) + " reads '" + name + "', which no earlier node, input or initializer produces");
  };
  for (int k : order) {
    const auto& n = g.node(k);
    const std::string domain = canonical_domain(n.domain());
    auto op = env_->opsets.find(domain);
    const int domain_opset = op == env_->opsets.end() ? 1 : op->second;
    auto m = reg.find(domain, n.op_type(), domain_opset);
    if (!m.def)
      throw InputError(where(n) + ": unsupported op " + (domain.empty() ? "" : domain + ".") + n.op_type() +
                       " at opset " + std::to_string(domain_opset));
    Step s;
    s.node = &n;
    s.def = m.def;
    s.version = m.version;
    s.domain_opset = domain_opset;
    s.layout_aware = m.def->layout_aware;
    s.pointwise = m.def->pointwise;
    bool all_const = m.def->foldable;
    for (const auto& i : n.input()) {
      if (i.empty()) {
        s.in.push_back(-1);
        continue;
      }
      const int id = resolve(i, n);
      s.in.push_back(id);
      if (!constants_[id].present()) all_const = false;
    }
    std::vector<std::pair<std::string, const onnx::GraphProto*>> bodies;
    collect_graph_attrs(n, bodies);
    if (!bodies.empty()) {
      all_const = false;
      for (const auto& [attr, body] : bodies) {
        // What the body reads from enclosing scopes and can see there (this graph's names shadow
        // outer ones), with the values known at compile time. Only the names it reads are
        // passed down, so a graph with many bodies does not copy its whole scope for each.
        std::set<std::string> visible;
        std::map<std::string, Value> known;
        for (const auto& f : graph_free_names(*body)) {
          auto it = slot_of_.find(f);
          if (it != slot_of_.end()) {
            visible.insert(f);
            if (constants_[it->second].present()) known[f] = constants_[it->second];
          } else if (outer && outer->count(f)) {
            visible.insert(f);
            if (outer_constants) {
              auto c = outer_constants->find(f);
              if (c != outer_constants->end()) known[f] = c->second;
            }
          }
        }
        Body b{attr, std::make_shared<CompiledGraph>(*body, env_, &visible, &known), {}};
        for (const auto& f : b.graph->free_vars()) {
          const int id = resolve(f, n);
          b.outer_slots.push_back(id);
          s.implicit.push_back(id);
        }
        s.bodies.push_back(std::move(b));
      }
    }
    for (const auto& o : n.output()) s.out.push_back(o.empty() ? -1 : slot(o));
    if (all_const && try_fold(s, &s.constant_inputs)) {
      // quantized weights stay visible to the integer rewrite (qdq_fusion.cpp)
      if (n.op_type() == "DequantizeLinear" && domain.empty() && s.out.size() == 1 && s.out[0] >= 0)
        folded_dq_[s.out[0]] = std::move(s);
      continue;
    }
    graph_steps_.push_back(std::move(s));
  }
  for (const auto& o : g.output()) {
    auto it = slot_of_.find(o.name());
    int id = -1;
    if (it != slot_of_.end()) id = it->second;
    else if (outer && outer->count(o.name())) id = resolve(o.name(), g.node_size() ? g.node(0) : onnx::NodeProto());
    else throw InputError(label + ": graph output '" + o.name() + "' is never produced");
    output_names_.push_back(o.name());
    output_slots_.push_back(id);
  }
  keep_.assign(slot_names_.size(), false);
  for (int id : output_slots_) keep_[id] = true;
}

bool CompiledGraph::try_fold(Step& s, bool* too_big) {
  try {
    AllocationCap cap(env_->options.fold_limit_bytes);
    run_step(s, constants_, false);
  } catch (const AllocationCapExceeded&) {
    spdlog::debug("{}: not folded, a result would exceed {} bytes", node_label(*s.node), env_->options.fold_limit_bytes);
    if (too_big) *too_big = true;
    for (int id : s.out)
      if (id >= 0) constants_[id] = Value();
    return false;
  } catch (const Error& e) {
    // In a body (an If branch that may never be taken, a Loop that may run zero times) a node
    // that fails on its constant inputs fails only if it runs, as in the model's semantics.
    if (!subgraph_) throw;
    spdlog::debug("{}: not folded: {}", node_label(*s.node), e.what());
    for (int id : s.out)
      if (id >= 0) constants_[id] = Value();
    return false;
  }
  return true;
}

void CompiledGraph::keep_values(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto it = slot_of_.find(n);
    if (it == slot_of_.end()) throw InputError("value '" + n + "' does not exist in the model");
    keep_[it->second] = true;
  }
  finish();
}

void CompiledGraph::observe_values(const std::vector<std::string>& names) {
  observed_.resize(slot_names_.size(), false);
  for (const auto& n : names) {
    auto it = slot_of_.find(n);
    if (it == slot_of_.end()) throw InputError("value '" + n + "' does not exist in the model");
    observed_[it->second] = true;
  }
  finish();
}

void CompiledGraph::finish() {
  steps_ = graph_steps_;
  if (env_->options.fuse && !env_->options.reference_only) {
    // Values that subgraphs read (implicit inputs) must survive fusion like kept values do.
    std::vector<bool> kept = keep_;
    keep_.resize(slot_names_.size(), false);
    for (const auto& s : steps_)
      for (int id : s.implicit) keep_[id] = true;
    for (size_t id = 0; id < observed_.size() && id < keep_.size(); ++id)
      if (observed_[id]) keep_[id] = true;
    if (env_->options.integer_qdq) fuse_qdq();
    fuse();
    keep_ = std::move(kept);
  }
  if (keep_.size() < slot_names_.size()) keep_.resize(slot_names_.size(), false);
  last_use_.assign(slot_names_.size(), -1);
  // A value may stay in a runtime layout only when all of its readers are layout-aware.
  std::vector<int> readers(slot_names_.size(), 0), aware_readers(slot_names_.size(), 0);
  for (size_t k = 0; k < steps_.size(); ++k) {
    for (int id : steps_[k].in)
      if (id >= 0) {
        last_use_[id] = static_cast<int>(k);
        ++readers[id];
        if (steps_[k].layout_aware) ++aware_readers[id];
      }
    for (int id : steps_[k].implicit) {
      last_use_[id] = static_cast<int>(k);
      ++readers[id];  // a body reads it as a plain tensor
    }
  }
  const bool layouts = env_->options.layouts && !env_->options.reference_only;
  // A pointwise step reads layouts (counts as an aware reader) only when no constant operand (a
  // per-channel bias or scale) would need broadcasting; computed operands are checked when it runs.
  for (auto& s : steps_) {
    if (!s.pointwise || s.layout_aware) continue;
    for (int id : s.in)
      if (id >= 0 && constants_[id].is_tensor() && constants_[id].tensor().numel() != 1) s.pointwise = false;
    if (s.pointwise)
      for (int id : s.in)
        if (id >= 0) ++aware_readers[id];
  }
  for (auto& s : steps_) {
    const int o = s.out.empty() ? -1 : s.out[0];
    s.allow_layout_output = layouts && (s.layout_aware || s.pointwise) && s.out.size() == 1 && o >= 0 && readers[o] > 0 &&
                            readers[o] == aware_readers[o];  // kept values are made plain in execute()
  }
  // Inputs a step may take the storage of: computed in the run (not graph inputs, outer values or
  // constants), not kept, read last and once by the step, and not by its bodies.
  std::vector<bool> produced(slot_names_.size(), false);
  for (const auto& st : steps_)
    for (int id : st.out)
      if (id >= 0 && !constants_[id].present()) produced[id] = true;
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& s = steps_[k];
    s.last_read.assign(s.in.size(), false);
    for (size_t i = 0; i < s.in.size(); ++i) {
      const int id = s.in[i];
      s.last_read[i] = id >= 0 && produced[id] && !keep_[id] && last_use_[id] == static_cast<int>(k) &&
                       std::count(s.in.begin(), s.in.end(), id) == 1 &&
                       std::find(s.implicit.begin(), s.implicit.end(), id) == s.implicit.end();
    }
  }
  // Values that depend on input extents only: constants, Shape / Size results and what is computed
  // from them alone. Their steps keep their results while their inputs stay the same (run_step);
  // values the caller receives (kept, graph outputs) are computed afresh.
  std::vector<bool> shape_only(slot_names_.size(), false);
  for (size_t id = 0; id < slot_names_.size(); ++id) shape_only[id] = constants_[id].present();
  for (auto& s : steps_) {
    s.shape_memo = s.memo_source = false;
    if (!s.bodies.empty() || !s.def->foldable || s.out.empty() || s.in.empty()) continue;
    const bool source = canonical_domain(s.node->domain()).empty() &&
                        (s.node->op_type() == "Shape" || s.node->op_type() == "Size") && s.in.size() == 1 && s.in[0] >= 0;
    bool derived = !source, computed = false;
    for (int id : s.in)
      if (id >= 0) {
        derived = derived && shape_only[id];
        computed = computed || !constants_[id].present();
      }
    if (!source && !(derived && computed)) continue;
    if (std::any_of(s.out.begin(), s.out.end(), [&](int id) { return id >= 0 && keep_[id]; })) continue;
    s.shape_memo = true;
    s.memo_source = source;
    for (int id : s.out)
      if (id >= 0) shape_only[id] = true;
  }
}

bool CompiledGraph::memo_hit(const Step& s, const std::vector<Value>& slots) const {
  if (!s.memo_valid || s.memo_shapes.size() != s.in.size()) return false;
  const bool source = s.memo_source;
  for (size_t i = 0; i < s.in.size(); ++i) {
    const int id = s.in[i];
    if (id < 0 || constants_[id].present()) continue;
    if (!slots[id].is_tensor()) return false;
    const Tensor& t = slots[id].tensor();
    if (t.shape() != s.memo_shapes[i] || (!source && t.raw() != s.memo_inputs[i].tensor().raw())) return false;
  }
  return true;
}

void CompiledGraph::memo_record(const Step& s, const std::vector<Value>& slots, const std::vector<Value>& outputs) const {
  s.memo_valid = false;
  s.kept_outputs.clear();
  size_t bytes = 0;
  for (const Value& v : outputs) {
    if (!v.is_tensor() || v.tensor().layout()) return;
    bytes += v.tensor().nbytes();
  }
  if (bytes > env_->options.fold_limit_bytes) return;
  const bool source = s.memo_source;
  s.memo_shapes.assign(s.in.size(), Shape{});
  s.memo_inputs.assign(source ? 0 : s.in.size(), Value());
  for (size_t i = 0; i < s.in.size(); ++i) {
    const int id = s.in[i];
    if (id < 0 || constants_[id].present()) continue;
    if (!slots[id].is_tensor()) return;
    s.memo_shapes[i] = slots[id].tensor().shape();
    if (source) continue;
    bytes += slots[id].tensor().nbytes();
    if (bytes > env_->options.fold_limit_bytes) return;
    s.memo_inputs[i] = slots[id];
  }
  s.kept_outputs = outputs;
  s.memo_valid = true;
}

struct CompiledGraph::BoundBody : Subgraph {
  const CompiledGraph* graph = nullptr;
  std::vector<const Value*> outer;
  size_t num_inputs() const override { return graph->input_names().size(); }
  size_t num_outputs() const override { return graph->output_names().size(); }
  std::vector<Value> run(std::vector<Value> inputs) const override {
    if (inputs.size() != graph->input_names().size())
      throw InputError("subgraph expects " + std::to_string(graph->input_names().size()) + " inputs, got " +
                       std::to_string(inputs.size()));
    return graph->outputs_of(graph->execute(std::move(inputs), outer));
  }
};

void CompiledGraph::run_step(const Step& s, std::vector<Value>& slots, bool cached) const {
  if (cached && s.constant_inputs && !s.kept_outputs.empty()) {  // the first run's results (tensors share buffers)
    for (size_t k = 0; k < s.out.size(); ++k)
      if (s.out[k] >= 0) slots[s.out[k]] = s.kept_outputs[k];
    return;
  }
  if (cached && s.shape_memo && memo_hit(s, slots)) {  // the same inputs as the kept results'
    for (size_t k = 0; k < s.out.size(); ++k)
      if (s.out[k] >= 0) slots[s.out[k]] = s.kept_outputs[k];
    return;
  }
  KernelContext ctx(*s.node, s.domain_opset, s.version);
  const bool plain_only = !s.layout_aware || env_->options.reference_only;
  // A pointwise step whose operands share one dense layout runs on their storage as plain
  // tensors (views in `dense`) and labels its result with that layout.
  std::shared_ptr<const Layout> common = s.pointwise && !env_->options.reference_only ? common_dense_layout(s, slots)
                                                                                      : nullptr;
  std::vector<Value> dense(common ? s.in.size() : 0);
  ctx.inputs.reserve(s.in.size());
  for (size_t i = 0; i < s.in.size(); ++i) {
    const int id = s.in[i];
    if (id >= 0 && constants_[id].present()) {  // constants stay in constants_ (execute() does not copy them)
      ctx.inputs.push_back(&constants_[id]);
      ctx.constant.push_back(true);
      continue;
    }
    if (id < 0 || !slots[id].present()) {
      ctx.inputs.push_back(nullptr);
      ctx.constant.push_back(false);
      continue;
    }
    if (common && slots[id].tensor().layout()) {
      dense[i] = slots[id].tensor().dense_storage();
      ctx.inputs.push_back(&dense[i]);
      ctx.constant.push_back(false);
      continue;
    }
    // Kernels that are not layout-aware read plain tensors: convert once, in the slot.
    if (plain_only && slots[id].is_tensor() && slots[id].tensor().layout()) slots[id] = to_plain(slots[id].tensor());
    ctx.inputs.push_back(&slots[id]);
    ctx.constant.push_back(false);
  }
  if (cached) {  // inputs whose storage the kernel may take over: the slot itself, not a view of it
    ctx.last_read = s.last_read;
    for (size_t i = 0; i < s.in.size(); ++i)
      if (ctx.last_read[i] && ctx.inputs[i] != &slots[s.in[i]]) ctx.last_read[i] = false;
  }
  std::vector<BoundBody> bound(s.bodies.size());
  std::vector<std::pair<std::string, const Subgraph*>> bodies;
  for (size_t b = 0; b < s.bodies.size(); ++b) {
    bound[b].graph = s.bodies[b].graph.get();
    for (int id : s.bodies[b].outer_slots) {
      if (constants_[id].present()) {
        bound[b].outer.push_back(&constants_[id]);
        continue;
      }
      if (slots[id].is_tensor() && slots[id].tensor().layout()) slots[id] = to_plain(slots[id].tensor());
      bound[b].outer.push_back(&slots[id]);
    }
    bodies.emplace_back(s.bodies[b].attr, &bound[b]);
  }
  if (!bodies.empty()) ctx.subgraphs = &bodies;
  if (cached) ctx.state = &s.state;
  ctx.activation = s.activation;
  ctx.allow_layout_output = cached && s.allow_layout_output;
  ctx.outputs.resize(s.out.size());
  try {
    if (s.def->validate) {
      bool same = s.validated && s.validated_shapes.size() == ctx.inputs.size();
      for (size_t i = 0; same && i < ctx.inputs.size(); ++i) {
        const Value* v = ctx.inputs[i];
        same = v && v->is_tensor() ? s.validated_shapes[i] == v->tensor().shape() : s.validated_shapes[i].empty();
      }
      if (!same || !cached) {
        s.def->validate(ctx);
        s.validated_shapes.clear();
        for (const Value* v : ctx.inputs) s.validated_shapes.push_back(v && v->is_tensor() ? v->tensor().shape() : Shape{});
        // inputs that are not tensors are validated every time
        s.validated = std::all_of(ctx.inputs.begin(), ctx.inputs.end(), [](const Value* v) { return !v || v->is_tensor(); });
      }
    }
    bool done = false;
    if (s.def->fast && !env_->options.reference_only) {
      done = s.def->fast(ctx);
      if (!done)
        for (auto& o : ctx.outputs) o = Value();
    }
    if (!done) {
      // reference kernels read plain tensors: a layout-aware step whose fast kernel declined gets
      // plain copies of inputs that arrived in runtime layouts
      std::vector<Value> plain;
      if (!plain_only) {
        plain.resize(ctx.inputs.size());
        for (size_t i = 0; i < ctx.inputs.size(); ++i)
          if (ctx.inputs[i] && ctx.inputs[i]->is_tensor() && ctx.inputs[i]->tensor().layout()) {
            plain[i] = to_plain(ctx.inputs[i]->tensor());
            ctx.inputs[i] = &plain[i];
          }
      }
      s.def->run(ctx);
    }
  } catch (const InputError&) {
    throw;
  } catch (const AllocationCapExceeded&) {
    throw;
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("node '", 0) == 0) throw;
    throw Error(node_label(*s.node) + ": " + msg);
  } catch (const std::bad_alloc&) {
    throw Error(node_label(*s.node) + ": out of memory");
  } catch (const std::exception& e) {
    throw Error(node_label(*s.node) + ": " + e.what());
  }
  if (common) {  // the result is in the operands' layout order
    if (ctx.outputs.size() != 1 || !ctx.outputs[0].is_tensor() || ctx.outputs[0].tensor().dtype() != DType::kFloat)
      throw Error(node_label(*s.node) + ": a pointwise kernel gave an unexpected result");
    Tensor y = ctx.outputs[0].tensor().relabelled(common);
    ctx.outputs[0] = ctx.allow_layout_output ? std::move(y) : to_plain(y);
  }
  if (cached && s.constant_inputs) s.kept_outputs = ctx.outputs;
  if (cached && s.shape_memo) memo_record(s, slots, ctx.outputs);
  for (size_t k = 0; k < s.out.size(); ++k)
    if (s.out[k] >= 0) slots[s.out[k]] = std::move(ctx.outputs[k]);
}

std::shared_ptr<const Layout> CompiledGraph::common_dense_layout(const Step& s, const std::vector<Value>& slots) const {
  const Tensor* first = nullptr;
  for (int id : s.in) {
    if (id < 0) continue;
    const Value& v = constants_[id].present() ? constants_[id] : slots[id];
    if (!v.present()) continue;
    if (!v.is_tensor()) return nullptr;
    const Tensor& t = v.tensor();
    if (!t.layout()) continue;
    if (!t.has_dense_layout() || t.dtype() != DType::kFloat) return nullptr;
    if (!first) first = &t;
    else if (t.shape() != first->shape() || !(t.layout() == first->layout() || desc_of(t) == desc_of(*first)))
      return nullptr;
  }
  if (!first) return nullptr;
  // plain operands: single elements only, which broadcast alike in any order
  for (int id : s.in) {
    if (id < 0) continue;
    const Value& v = constants_[id].present() ? constants_[id] : slots[id];
    if (!v.present()) continue;
    const Tensor& t = v.tensor();
    if (!t.layout() && (t.numel() != 1 || t.rank() > first->rank())) return nullptr;
  }
  return first->shared_layout();
}

std::vector<Value> CompiledGraph::execute(std::vector<Value> inputs, const std::vector<const Value*>& outer,
                                          const Observer* observer) const {
  // constants are read from constants_ in place (run_step): copying them into every run's slots
  // cost an allocation per constant
  std::vector<Value> slots(constants_.size());
  for (size_t i = 0; i < input_slots_.size() && i < inputs.size(); ++i) slots[input_slots_[i]] = std::move(inputs[i]);
  for (size_t i = 0; i < free_slots_.size(); ++i) {
    if (i >= outer.size() || !outer[i]) throw Error("subgraph value '" + free_vars_[i] + "' is not bound");
    slots[free_slots_[i]] = *outer[i];
  }
  std::vector<StepProfile>* profile = observer ? observer->profile : nullptr;
  if (profile && profile->size() != steps_.size()) *profile = step_profile_table();
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& s = steps_[k];
    if (profile) {
      bool layout_in = false;
      for (int id : s.in) layout_in |= id >= 0 && slots[id].is_tensor() && slots[id].tensor().layout() != nullptr;
      const auto t0 = std::chrono::steady_clock::now();
      run_step(s, slots, true);
      auto& p = (*profile)[k];
      p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++p.calls;
      const bool layout_out = !s.out.empty() && s.out[0] >= 0 && slots[s.out[0]].is_tensor() &&
                              slots[s.out[0]].tensor().layout() != nullptr;
      p.layout = layout_in && layout_out ? "layout in+out" : layout_in ? "layout in" : layout_out ? "layout out" : "plain";
    } else {
      run_step(s, slots, true);
    }
    if (observer)
      for (int id : s.out) {
        if (id < 0 || !slots[id].is_tensor()) continue;
        const Tensor& t = slots[id].tensor();
        if (observer->hook && *observer->hook) (*observer->hook)(slot_names_[id], t.layout() && !(observer->any_layout && t.has_dense_layout()) ? to_plain(t) : t);
        if (observer->shapes) (*observer->shapes)[slot_names_[id]] = {t.dtype(), t.shape()};
      }
    auto release = [&](int id) {
      if (id >= 0 && last_use_[id] == static_cast<int>(k) && !keep_[id] && !constants_[id].present()) slots[id] = Value();
    };
    for (int id : s.in) release(id);
    for (int id : s.implicit) release(id);
  }
  for (size_t id = 0; id < slots.size(); ++id) {
    if (!keep_[id]) {
      slots[id] = Value();
      continue;
    }
    if (constants_[id].present()) {
      slots[id] = constants_[id];
      continue;
    }
    if (slots[id].is_tensor() && slots[id].tensor().layout()) slots[id] = to_plain(slots[id].tensor());
  }
  return slots;
}

std::vector<StepProfile> CompiledGraph::step_profile_table() const {
  static const char* const kActivation[] = {"",         "+Relu",        "+LeakyRelu", "+Clip", "+Tanh",
                                            "+Sigmoid", "+HardSigmoid", "+HardSwish", "+Swish"};
  static_assert(sizeof kActivation / sizeof kActivation[0] == FusedActivation::kSwish + 1, "one name per kind");
  std::vector<StepProfile> table(steps_.size());
  for (size_t k = 0; k < steps_.size(); ++k) {
    const auto& n = *steps_[k].node;
    table[k].node = !n.name().empty() ? n.name() : n.output_size() > 0 ? n.output(0) : std::string();
    table[k].op_type = n.op_type() + kActivation[steps_[k].activation.kind];
  }
  return table;
}

std::vector<Value> CompiledGraph::outputs_of(const std::vector<Value>& slots) const {
  std::vector<Value> out;
  out.reserve(output_slots_.size());
  for (int id : output_slots_) out.push_back(slots[id]);
  return out;
}

}  // namespace qtool
