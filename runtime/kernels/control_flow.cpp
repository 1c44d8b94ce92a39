// SPDX-License-Identifier: Apache-2.0
// Control-flow ops of the ONNX spec (onnx/defs/controlflow): If (1..25), Loop (1..25),
// Scan (8 with a batch axis and sequence_lens; 9..25 with scan_input_axes/directions and
// scan_output_axes/directions).
//
// The bodies are CompiledGraphs the executor built for the node's graph attributes
// (runtime/compiled_graph.h), already bound to the outer-scope values they read; a kernel runs
// one with KernelContext::subgraph(name). Loop-carried values and If results may be tensors,
// sequences or optionals (Loop 13 / 16, If 13 / 16); scan outputs are tensors. Where the spec
// leaves a choice, onnxruntime's CPU kernels decide:
//  - Loop: the condition the body returns always feeds the next iteration's test (also when the
//    node has no `cond` input); a Loop with neither M nor a condition that never turns false runs
//    until the body stops it, as in any runtime.
//  - Zero iterations: loop-carried outputs are the initial values, scan outputs are empty with
//    the body's declared element type and per-iteration shape (unknown extents as 0).
//  - Scan 8: positions past a batch entry's sequence_lens are zero in the scan outputs; the
//    reverse direction runs from its own sequence end.
// Malformed bodies (wrong number of inputs or outputs, a condition that is not a bool scalar,
// scan outputs whose shape changes between iterations) are InputErrors naming the node.
#include <algorithm>
#include <climits>

#include "runtime/kernels/subgraph_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace subgraph_util;

Tensor scalar_bool(bool v) {
  Tensor t(DType::kBool, {});
  t.data<bool>()[0] = v;
  return t;
}

Tensor scalar_int64(int64_t v) {
  Tensor t(DType::kInt64, {});
  t.data<int64_t>()[0] = v;
  return t;
}

// Value of a one-element bool tensor; fail()s for anything else.
bool bool_scalar(const KernelContext& c, const Value& v, const std::string& what) {
  if (!v.is_tensor() || v.tensor().dtype() != DType::kBool || v.tensor().numel() != 1)
    c.fail(what + " must be a bool tensor with one element, got " + v.describe());
  return v.tensor().data<bool>()[0];
}

// Inputs a graph takes from its caller (initializers listed as inputs, IR < 4 style, excluded).
int real_input_count(const onnx::GraphProto& g) {
  int n = 0;
  for (const auto& in : g.input()) {
    bool init = false;
    for (const auto& t : g.initializer())
      if (t.name() == in.name()) init = true;
    if (!init) ++n;
  }
  return n;
}

// Collects per-iteration scan outputs and checks that their dtype and shape never change.
struct ScanCollector {
  std::vector<std::vector<Tensor>> parts;
  explicit ScanCollector(size_t k) : parts(k) {}
  void add(const KernelContext& c, size_t k, const Value& v, int body_output) {
    if (!v.is_tensor())
      c.fail("body output #" + std::to_string(body_output) + " is a scan output and must be a tensor, got " +
             v.describe());
    const Tensor& t = v.tensor();
    if (!parts[k].empty()) {
      const Tensor& f = parts[k].front();
      if (f.dtype() != t.dtype() || f.shape() != t.shape())
        c.fail("body output #" + std::to_string(body_output) + " (a scan output) changes from " +
               dtype_name(f.dtype()) + " " + shape_str(f.shape()) + " to " + dtype_name(t.dtype()) + " " +
               shape_str(t.shape()) + " between iterations");
    }
    parts[k].push_back(t);
  }
};

// ---------------------------------------------------------------------------------------------
// If

void validate_if(KernelContext& c) {
  for (const char* name : {"then_branch", "else_branch"}) {
    const auto& g = graph_attr(c, name);
    if (real_input_count(g) != 0)
      c.fail(std::string("attribute '") + name + "': an If branch takes no inputs, this one declares " +
             std::to_string(real_input_count(g)));
    if (g.output_size() < c.node.output_size())
      c.fail(std::string("attribute '") + name + "': has " + std::to_string(g.output_size()) +
             " outputs, the node " + std::to_string(c.node.output_size()));
  }
  if (c.has(0)) bool_scalar(c, c.value(0), "input 'cond'");
}

void if_op(KernelContext& c) {
  const bool cond = bool_scalar(c, c.value(0), "input 'cond'");
  const char* name = cond ? "then_branch" : "else_branch";
  const Subgraph& branch = c.subgraph(name);
  if (branch.num_inputs() != 0 || branch.num_outputs() < c.outputs.size())
    c.fail(std::string("attribute '") + name + "': takes " + std::to_string(branch.num_inputs()) + " inputs and has " +
           std::to_string(branch.num_outputs()) + " outputs; an If branch takes none and has one per node output");
  auto out = run_body(c, branch, name, {});
  for (size_t i = 0; i < c.outputs.size(); ++i) c.outputs[i] = std::move(out[i]);
}

// ---------------------------------------------------------------------------------------------
// Loop: inputs (M, cond, v_initial...), body (iteration, cond, v...) -> (cond, v..., scan...)

struct LoopShape {
  int carried = 0, scans = 0;
};

LoopShape loop_shape(const KernelContext& c, int body_inputs, int body_outputs) {
  LoopShape s;
  s.carried = std::max(0, c.node.input_size() - 2);
  if (body_inputs != s.carried + 2)
    c.fail("attribute 'body': takes " + std::to_string(body_inputs) + " inputs; with " + std::to_string(s.carried) +
           " loop-carried values it must take " + std::to_string(s.carried + 2) +
           " (iteration number, condition, the values)");
  if (body_outputs < s.carried + 1)
    c.fail("attribute 'body': has " + std::to_string(body_outputs) + " outputs; it must return the condition and " +
           std::to_string(s.carried) + " loop-carried values");
  s.scans = body_outputs - 1 - s.carried;
  if (c.node.output_size() > s.carried + s.scans)
    c.fail("the node has " + std::to_string(c.node.output_size()) + " outputs, the body yields only " +
           std::to_string(s.carried) + " loop-carried values and " + std::to_string(s.scans) + " scan outputs");
  return s;
}

int64_t trip_count(const KernelContext& c) {
  const Tensor& m = c.in(0);
  if (!dtype_is_integer(m.dtype()) || m.numel() != 1)
    c.fail("input 'M' must be an integer tensor with one element, got " + c.value(0).describe());
  return m.to_int64s()[0];
}

void validate_loop(KernelContext& c) {
  const auto& g = graph_attr(c, "body");
  loop_shape(c, real_input_count(g), g.output_size());
  if (c.has(0)) trip_count(c);
  if (c.has(1)) bool_scalar(c, c.value(1), "input 'cond'");
}

void loop_op(KernelContext& c) {
  const Subgraph& body = c.subgraph("body");
  const LoopShape ls = loop_shape(c, static_cast<int>(body.num_inputs()), static_cast<int>(body.num_outputs()));
  const int64_t max_trip = c.has(0) ? trip_count(c) : INT64_MAX;
  Value cond_value = c.has(1) ? c.value(1) : Value(scalar_bool(true));
  bool cond = bool_scalar(c, cond_value, "input 'cond'");
  std::vector<Value> carried(ls.carried);
  for (int i = 0; i < ls.carried; ++i)
    if (c.has(2 + i)) carried[i] = c.value(2 + i);
  ScanCollector scans(ls.scans);
  int64_t it = 0;
  for (; it < max_trip && cond; ++it) {
    std::vector<Value> in;
    in.reserve(ls.carried + 2);
    in.emplace_back(scalar_int64(it));
    in.push_back(cond_value);
    for (auto& v : carried) in.push_back(std::move(v));
    auto out = run_body(c, body, "body", std::move(in), it);
    cond = bool_scalar(c, out[0], "body output #0 (the loop condition)");
    cond_value = out[0];
    for (int i = 0; i < ls.carried; ++i) carried[i] = std::move(out[1 + i]);
    for (int k = 0; k < ls.scans; ++k) scans.add(c, k, out[1 + ls.carried + k], 1 + ls.carried + k);
  }
  const int n_out = static_cast<int>(c.outputs.size());
  for (int i = 0; i < ls.carried && i < n_out; ++i) c.outputs[i] = std::move(carried[i]);
  const auto& g = graph_attr(c, "body");
  for (int k = 0; k < ls.scans && ls.carried + k < n_out; ++k) {
    if (c.node.output(ls.carried + k).empty()) continue;
    c.outputs[ls.carried + k] =
        it == 0 ? empty_scan_output(c, g.output(1 + ls.carried + k), 0) : stack_along(scans.parts[k], 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Scan

struct ScanAttrs {
  int first = 0;   // index of the first state input (1 for Scan 8: sequence_lens comes first)
  int states = 0;  // N
  int inputs = 0;  // M
  int outputs = 0; // K
  std::vector<int64_t> in_axes, in_rev, out_axes, out_rev;
};

ScanAttrs scan_attrs(const KernelContext& c, int body_inputs, int body_outputs) {
  ScanAttrs a;
  const bool v8 = c.version < 9;
  a.first = v8 ? 1 : 0;
  const auto* m_attr = find_attr(c.node, "num_scan_inputs");
  if (!m_attr) c.fail("attribute 'num_scan_inputs' is required");
  const int64_t m = attr_int(c.node, "num_scan_inputs", 0);
  const int given = c.node.input_size() - a.first;
  if (m < 1 || m > given)
    c.fail("attribute 'num_scan_inputs': " + std::to_string(m) + " is not in 1.." + std::to_string(std::max(given, 1)) +
           " (the node has " + std::to_string(std::max(given, 0)) + " state and scan inputs)");
  a.inputs = static_cast<int>(m);
  a.states = given - a.inputs;
  if (body_inputs != a.states + a.inputs)
    c.fail("attribute 'body': takes " + std::to_string(body_inputs) + " inputs, the node passes " +
           std::to_string(a.states) + " states and " + std::to_string(a.inputs) + " scan inputs");
  if (body_outputs < a.states)
    c.fail("attribute 'body': has " + std::to_string(body_outputs) + " outputs, fewer than the " +
           std::to_string(a.states) + " state variables");
  a.outputs = body_outputs - a.states;
  if (c.node.output_size() > a.states + a.outputs)
    c.fail("the node has " + std::to_string(c.node.output_size()) + " outputs, the body yields " +
           std::to_string(a.states + a.outputs));
  auto list = [&](const char* name, int n, bool flags) {
    auto v = attr_ints(c.node, name);
    if (v.empty()) return std::vector<int64_t>(n, 0);
    if (static_cast<int>(v.size()) != n)
      c.fail(std::string("attribute '") + name + "': has " + std::to_string(v.size()) + " values, expected " +
             std::to_string(n));
    if (flags)
      for (int64_t x : v)
        if (x != 0 && x != 1) c.fail(std::string("attribute '") + name + "': values must be 0 or 1, got " + std::to_string(x));
    return v;
  };
  if (v8) {
    a.in_rev = list("directions", a.inputs, true);
    a.in_axes.assign(a.inputs, 0);
    a.out_axes.assign(a.outputs, 0);
    a.out_rev.assign(a.outputs, 0);
  } else {
    a.in_axes = list("scan_input_axes", a.inputs, false);
    a.in_rev = list("scan_input_directions", a.inputs, true);
    a.out_axes = list("scan_output_axes", a.outputs, false);
    a.out_rev = list("scan_output_directions", a.outputs, true);
  }
  return a;
}

// Checks the scan inputs against the attributes; returns the sequence length (Scan 9: along each
// input's axis; Scan 8: axis 1 after the batch axis 0) and, for Scan 8, the batch size.
struct ScanExtent {
  int64_t length = 0, batch = 1;
  std::vector<int> axes;  // normalized per scan input
};

ScanExtent scan_extent(const KernelContext& c, const ScanAttrs& a) {
  ScanExtent e;
  const bool v8 = c.version < 9;
  for (int i = 0; i < a.inputs; ++i) {
    const int idx = a.first + a.states + i;
    const Tensor& x = c.in(idx);
    int axis;
    if (v8) {
      if (x.rank() < 2)
        c.fail("scan input #" + std::to_string(i) + " must have a batch and a sequence axis, got " + shape_str(x.shape()));
      axis = 1;
    } else {
      if (x.rank() < 1) c.fail("scan input #" + std::to_string(i) + " is a scalar; it needs an axis to scan");
      const int64_t ax = a.in_axes[i];
      if (ax < -x.rank() || ax >= x.rank())
        c.fail("attribute 'scan_input_axes': " + std::to_string(ax) + " is out of range for scan input #" +
               std::to_string(i) + " of rank " + std::to_string(x.rank()));
      axis = static_cast<int>(ax < 0 ? ax + x.rank() : ax);
    }
    e.axes.push_back(axis);
    if (i == 0) {
      e.length = x.dim(axis);
      if (v8) e.batch = x.dim(0);
    } else {
      if (x.dim(axis) != e.length)
        c.fail("scan inputs differ in sequence length: " + std::to_string(e.length) + " and " +
               std::to_string(x.dim(axis)) + " (scan input #" + std::to_string(i) + ")");
      if (v8 && x.dim(0) != e.batch)
        c.fail("scan inputs differ in batch size: " + std::to_string(e.batch) + " and " + std::to_string(x.dim(0)));
    }
  }
  for (int j = 0; j < a.states; ++j) {
    const Tensor& s = c.in(a.first + j);
    if (v8 && (s.rank() < 1 || s.dim(0) != e.batch))
      c.fail("initial state #" + std::to_string(j) + " " + shape_str(s.shape()) + " must have the batch size " +
             std::to_string(e.batch) + " as its first extent");
  }
  return e;
}

void validate_scan(KernelContext& c) {
  const auto& g = graph_attr(c, "body");
  const ScanAttrs a = scan_attrs(c, real_input_count(g), g.output_size());
  for (int i = 0; i < a.states + a.inputs; ++i)
    if (!c.has(a.first + i)) return;  // shapes unknown (a pass validating without values)
  const ScanExtent e = scan_extent(c, a);
  if (c.version < 9 && c.has(0)) {
    const Tensor& lens = c.in(0);
    if (!dtype_is_integer(lens.dtype()) || lens.rank() != 1 || lens.dim(0) != e.batch)
      c.fail("input 'sequence_lens' must be an integer tensor of shape [" + std::to_string(e.batch) + "], got " +
             c.value(0).describe());
  }
}

// Runs the body over `length` steps of one (batch-free) problem. `states` are updated in place.
void scan_iterate(const KernelContext& c, const Subgraph& body, const ScanAttrs& a, std::vector<Value>& states,
                  const std::vector<Tensor>& inputs, const std::vector<int>& axes, int64_t length,
                  ScanCollector& outs, int64_t& iteration) {
  for (int64_t t = 0; t < length; ++t, ++iteration) {
    std::vector<Value> in;
    in.reserve(a.states + a.inputs);
    for (auto& s : states) in.push_back(std::move(s));
    for (int i = 0; i < a.inputs; ++i) in.emplace_back(slice_along(inputs[i], axes[i], a.in_rev[i] ? length - 1 - t : t));
    auto out = run_body(c, body, "body", std::move(in), iteration);
    for (int j = 0; j < a.states; ++j) {
      if (!out[j].is_tensor()) c.fail("body output #" + std::to_string(j) + " is a state and must be a tensor, got " + out[j].describe());
      states[j] = std::move(out[j]);
    }
    for (int k = 0; k < a.outputs; ++k) outs.add(c, k, out[a.states + k], a.states + k);
  }
}

void scan9(KernelContext& c, const Subgraph& body, const ScanAttrs& a, const ScanExtent& e) {
  std::vector<Value> states;
  for (int j = 0; j < a.states; ++j) states.push_back(c.value(j));
  std::vector<Tensor> inputs;
  for (int i = 0; i < a.inputs; ++i) inputs.push_back(c.in(a.states + i));
  ScanCollector outs(a.outputs);
  int64_t iteration = 0;
  scan_iterate(c, body, a, states, inputs, e.axes, e.length, outs, iteration);
  const int n_out = static_cast<int>(c.outputs.size());
  for (int j = 0; j < a.states && j < n_out; ++j) c.outputs[j] = std::move(states[j]);
  const auto& g = graph_attr(c, "body");
  for (int k = 0; k < a.outputs && a.states + k < n_out; ++k) {
    const int64_t ax = a.out_axes[k];
    if (e.length == 0) {
      c.outputs[a.states + k] = empty_scan_output(c, g.output(a.states + k), ax);
      continue;
    }
    const int r = outs.parts[k].front().rank() + 1;
    if (ax < -r || ax >= r)
      c.fail("attribute 'scan_output_axes': " + std::to_string(ax) + " is out of range for scan output #" +
             std::to_string(k) + " of rank " + std::to_string(r));
    c.outputs[a.states + k] = stack_along(outs.parts[k], static_cast<int>(ax < 0 ? ax + r : ax), a.out_rev[k] != 0);
  }
}

// Scan 8: every input and output has a leading batch axis; each batch entry is scanned on its own
// for sequence_lens[b] steps (all of the sequence axis without sequence_lens).
void scan8(KernelContext& c, const Subgraph& body, const ScanAttrs& a, const ScanExtent& e) {
  std::vector<int64_t> lens(e.batch, e.length);
  if (c.has(0)) {
    const Tensor& lt = c.in(0);
    if (!dtype_is_integer(lt.dtype()) || lt.rank() != 1 || lt.dim(0) != e.batch)
      c.fail("input 'sequence_lens' must be an integer tensor of shape [" + std::to_string(e.batch) + "], got " +
             c.value(0).describe());
    lens = lt.to_int64s();
    for (int64_t l : lens)
      if (l < 0 || l > e.length)
        c.fail("input 'sequence_lens': " + std::to_string(l) + " is outside 0.." + std::to_string(e.length));
  }
  std::vector<std::vector<Tensor>> final_states(a.states);
  std::vector<std::vector<Tensor>> per_batch(a.outputs);  // [seq, ...] per batch entry, unpadded
  std::vector<int> axes(a.inputs, 0);
  int64_t iteration = 0;
  for (int64_t b = 0; b < e.batch; ++b) {
    std::vector<Value> states;
    for (int j = 0; j < a.states; ++j) states.emplace_back(slice_along(c.in(1 + j), 0, b));
    std::vector<Tensor> inputs;
    for (int i = 0; i < a.inputs; ++i) inputs.push_back(slice_along(c.in(1 + a.states + i), 0, b));
    ScanCollector outs(a.outputs);
    scan_iterate(c, body, a, states, inputs, axes, lens[b], outs, iteration);
    for (int j = 0; j < a.states; ++j) {
      const Tensor& s = states[j].tensor();
      if (!final_states[j].empty() && (final_states[j][0].shape() != s.shape() || final_states[j][0].dtype() != s.dtype()))
        c.fail("state #" + std::to_string(j) + " differs in type or shape between batch entries");
      final_states[j].push_back(s);
    }
    for (int k = 0; k < a.outputs; ++k) per_batch[k].push_back(lens[b] > 0 ? stack_along(outs.parts[k], 0) : Tensor());
  }
  const int n_out = static_cast<int>(c.outputs.size());
  for (int j = 0; j < a.states && j < n_out; ++j) {
    if (e.batch == 0) {
      const Tensor& init = c.in(1 + j);
      c.outputs[j] = init;
      continue;
    }
    c.outputs[j] = stack_along(final_states[j], 0);
  }
  const auto& g = graph_attr(c, "body");
  for (int k = 0; k < a.outputs && a.states + k < n_out; ++k) {
    const Tensor* model = nullptr;  // a [len, ...] result of some batch entry
    for (const auto& t : per_batch[k])
      if (!t.empty()) {
        if (model && (model->dtype() != t.dtype() || !std::equal(model->shape().begin() + 1, model->shape().end(),
                                                                 t.shape().begin() + 1, t.shape().end())))
          c.fail("scan output #" + std::to_string(k) + " differs in type or shape between batch entries");
        if (!model) model = &t;
      }
    if (!model) {  // no iteration at all: declared shape, [batch, seq, ...] of zeros
      Tensor one = empty_scan_output(c, g.output(a.states + k), 0);
      Shape s = one.shape();
      s[0] = e.length;
      s.insert(s.begin(), e.batch);
      c.outputs[a.states + k] = Tensor(one.dtype(), s);
      continue;
    }
    Shape s = model->shape();
    s[0] = e.length;
    s.insert(s.begin(), e.batch);
    Tensor y(model->dtype(), s);  // zero past each entry's length
    const size_t row = static_cast<size_t>(model->numel() / std::max<int64_t>(model->dim(0), 1)) * dtype_size(model->dtype());
    auto* dst = static_cast<uint8_t*>(y.raw());
    for (int64_t b = 0; b < e.batch; ++b) {
      const Tensor& t = per_batch[k][b];
      if (t.empty() || t.numel() == 0) continue;
      std::memcpy(dst + static_cast<size_t>(b * e.length) * row, t.raw(), static_cast<size_t>(t.dim(0)) * row);
    }
    c.outputs[a.states + k] = std::move(y);
  }
}

void scan_op(KernelContext& c) {
  const Subgraph& body = c.subgraph("body");
  const ScanAttrs a = scan_attrs(c, static_cast<int>(body.num_inputs()), static_cast<int>(body.num_outputs()));
  const ScanExtent e = scan_extent(c, a);
  if (c.version < 9) scan8(c, body, a, e);
  else scan9(c, body, a, e);
}

}  // namespace

void register_control_flow_ops(OpRegistry& r) {
  // Nodes with subgraphs are never folded (the executor runs their bodies at run time).
  r.add("", "If", {1, 11, 13, 16, 19, 21, 23, 24, 25}, OpDef{if_op, nullptr, validate_if, false, false});
  r.add("", "Loop", {1, 11, 13, 16, 19, 21, 23, 24, 25}, OpDef{loop_op, nullptr, validate_loop, false, false});
  r.add("", "Scan", {8, 9, 11, 16, 19, 21, 23, 24, 25}, OpDef{scan_op, nullptr, validate_scan, false, false});
}

}  // namespace qtool
