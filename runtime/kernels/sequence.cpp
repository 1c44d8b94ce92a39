// SPDX-License-Identifier: Apache-2.0
// Sequence ops of the ONNX spec (onnx/defs/sequence, opset 11; SplitToSequence 24 adds types;
// SequenceMap 17): SequenceConstruct, SequenceEmpty, SequenceAt, SequenceInsert, SequenceErase,
// SequenceLength, SplitToSequence, ConcatFromSequence, SequenceMap.
//
// Sequences are Value::sequence (core/value.h): an element type and an immutable list of shared
// tensors, so inserting or erasing copies the list, never the tensors. Every op is
// dtype-agnostic (tensors are moved or copied as bytes); positions may be negative (counted from
// the back) and are bounds-checked as the spec states: SequenceAt / SequenceErase in [-n, n-1],
// SequenceInsert in [-n, n].
#include <cstring>

#include "runtime/kernels/subgraph_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

// Input i as a sequence; fail()s for other kinds (an empty optional included).
const Value& seq_input(const KernelContext& c, int i) {
  const Value& v = c.value(i);
  if (!v.is_sequence()) c.fail("input #" + std::to_string(i) + " must be a sequence, got " + v.describe());
  return v;
}

// A position input (int32/int64, one element) checked against [lo, hi]; negative values count
// from the back (n added).
int64_t position(const KernelContext& c, int i, int64_t n, bool allow_end) {
  const Tensor& p = c.in(i);
  if ((p.dtype() != DType::kInt32 && p.dtype() != DType::kInt64) || p.numel() != 1)
    c.fail("input 'position' must be an int32 or int64 scalar, got " + c.value(i).describe());
  const int64_t pos = p.to_int64s()[0];
  const int64_t hi = allow_end ? n : n - 1;
  if (pos < -n || pos > hi)
    c.fail("input 'position': " + std::to_string(pos) + " is out of range [" + std::to_string(-n) + ", " +
           std::to_string(hi) + "] for a sequence of " + std::to_string(n));
  return pos < 0 ? pos + n : pos;
}

void sequence_construct(KernelContext& c) {
  if (c.num_inputs() == 0) c.fail("needs at least one input tensor");
  std::vector<Tensor> items;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const Tensor& t = c.in(i);
    if (i > 0 && t.dtype() != items[0].dtype())
      c.fail("input #" + std::to_string(i) + " is " + dtype_name(t.dtype()) + ", input #0 " +
             dtype_name(items[0].dtype()) + " (a sequence has one element type)");
    items.push_back(t);
  }
  const DType dt = items[0].dtype();
  c.outputs[0] = Value::sequence(dt, std::move(items));
}

DType empty_dtype(const KernelContext& c) {
  const auto dt = static_cast<DType>(attr_int(c.node, "dtype", static_cast<int64_t>(DType::kFloat)));
  if (!dtype_valid(dt)) c.fail("attribute 'dtype': " + std::to_string(static_cast<int>(dt)) + " is not a tensor type qtool holds");
  return dt;
}

void validate_sequence_empty(KernelContext& c) { empty_dtype(c); }

void sequence_empty(KernelContext& c) { c.outputs[0] = Value::sequence(empty_dtype(c), {}); }

void sequence_at(KernelContext& c) {
  const Value& s = seq_input(c, 0);
  const auto& items = s.items();
  c.outputs[0] = items[position(c, 1, static_cast<int64_t>(items.size()), false)];
}

void sequence_insert(KernelContext& c) {
  const Value& s = seq_input(c, 0);
  const Tensor& t = c.in(1);
  if (t.dtype() != s.elem_dtype() && s.elem_dtype() != DType::kUndefined)
    c.fail("input 'tensor' is " + dtype_name(t.dtype()) + ", the sequence holds " + dtype_name(s.elem_dtype()));
  std::vector<Tensor> items = s.items();
  const int64_t n = static_cast<int64_t>(items.size());
  const int64_t pos = c.has(2) ? position(c, 2, n, true) : n;
  items.insert(items.begin() + pos, t);
  c.outputs[0] = Value::sequence(t.dtype(), std::move(items));
}

void sequence_erase(KernelContext& c) {
  const Value& s = seq_input(c, 0);
  std::vector<Tensor> items = s.items();
  const int64_t n = static_cast<int64_t>(items.size());
  if (n == 0) c.fail("cannot erase from an empty sequence");
  const int64_t pos = c.has(1) ? position(c, 1, n, false) : n - 1;
  items.erase(items.begin() + pos);
  c.outputs[0] = Value::sequence(s.elem_dtype(), std::move(items));
}

void sequence_length(KernelContext& c) {
  Tensor t(DType::kInt64, {});
  t.data<int64_t>()[0] = static_cast<int64_t>(seq_input(c, 0).items().size());
  c.outputs[0] = std::move(t);
}

// ---------------------------------------------------------------------------------------------
// SplitToSequence: split scalar (equal chunks, the last may be smaller), 1-D (lengths summing to
// the extent) or absent (chunks of 1, squeezed when keepdims = 0).

void validate_split_to_sequence(KernelContext& c) {
  const int64_t keepdims = attr_int(c.node, "keepdims", 1);
  if (keepdims != 0 && keepdims != 1) c.fail("attribute 'keepdims': must be 0 or 1, got " + std::to_string(keepdims));
  if (!c.has(0)) return;
  const Tensor& x = c.in(0);
  if (x.rank() == 0) c.fail("input 'input' is a scalar; SplitToSequence needs at least one axis");
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
  if (!c.has(1)) return;
  const Tensor& sp = c.in(1);
  if ((sp.dtype() != DType::kInt32 && sp.dtype() != DType::kInt64) || sp.rank() > 1)
    c.fail("input 'split' must be an int32 or int64 scalar or 1-D tensor, got " + c.value(1).describe());
  const auto v = sp.to_int64s();
  const int64_t dim = x.dim(axis);
  if (sp.rank() == 0) {
    if (v[0] <= 0) c.fail("input 'split': the chunk length must be positive, got " + std::to_string(v[0]));
    return;
  }
  int64_t sum = 0;
  for (int64_t l : v) {
    if (l < 0) c.fail("input 'split': lengths must not be negative, got " + std::to_string(l));
    if (l > dim - sum) {  // also keeps the sum from overflowing
      sum = -1;
      break;
    }
    sum += l;
  }
  if (sum < 0) c.fail("input 'split': lengths sum to more than " + std::to_string(dim) + ", the extent of axis " + std::to_string(axis));
  if (sum != dim)
    c.fail("input 'split': lengths sum to " + std::to_string(sum) + ", the extent of axis " + std::to_string(axis) +
           " is " + std::to_string(dim));
}

void split_to_sequence(KernelContext& c) {
  validate_split_to_sequence(c);
  const Tensor& x = c.in(0);
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
  const int64_t dim = x.dim(axis);
  std::vector<int64_t> lengths;
  bool squeeze = false;
  if (!c.has(1)) {
    lengths.assign(dim, 1);
    squeeze = attr_int(c.node, "keepdims", 1) == 0;
  } else if (c.in(1).rank() == 0) {
    const int64_t l = c.in(1).to_int64s()[0];
    for (int64_t p = 0; p < dim; p += l) lengths.push_back(std::min(l, dim - p));
  } else {
    lengths = c.in(1).to_int64s();
  }
  int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(x.dtype()));
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const auto* src = static_cast<const uint8_t*>(x.raw());
  std::vector<Tensor> items;
  int64_t start = 0;
  for (int64_t l : lengths) {
    Shape s = x.shape();
    s[axis] = l;
    if (squeeze) s.erase(s.begin() + axis);
    Tensor y = Tensor::uninitialized(x.dtype(), s);
    if (y.numel() > 0) {
      auto* dst = static_cast<uint8_t*>(y.raw());
      for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * l * inner, src + (o * dim + start) * inner, l * inner);
    }
    items.push_back(std::move(y));
    start += l;
  }
  c.outputs[0] = Value::sequence(x.dtype(), std::move(items));
}

// ---------------------------------------------------------------------------------------------
// ConcatFromSequence: numpy.concatenate (new_axis = 0) or numpy.stack (new_axis = 1).

void concat_from_sequence(KernelContext& c) {
  if (!find_attr(c.node, "axis")) c.fail("attribute 'axis' is required");
  const int64_t new_axis = attr_int(c.node, "new_axis", 0);
  if (new_axis != 0 && new_axis != 1) c.fail("attribute 'new_axis': must be 0 or 1, got " + std::to_string(new_axis));
  const Value& s = seq_input(c, 0);
  const auto& items = s.items();
  if (items.empty()) c.fail("the input sequence is empty; there is nothing to concatenate");
  const Tensor& first = items[0];
  const int r = first.rank() + static_cast<int>(new_axis);
  if (r == 0) c.fail("cannot concatenate scalars without new_axis = 1");
  const int64_t axis_attr = attr_int(c.node, "axis", 0);
  if (axis_attr < -r || axis_attr >= r)
    c.fail("attribute 'axis': " + std::to_string(axis_attr) + " is out of range [" + std::to_string(-r) + ", " +
           std::to_string(r - 1) + "]");
  const int axis = static_cast<int>(axis_attr < 0 ? axis_attr + r : axis_attr);
  // Each item viewed as [outer, extent along axis, inner].
  int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(first.dtype()));
  for (int d = 0; d < axis; ++d) outer *= first.dim(d);
  for (int d = new_axis ? axis : axis + 1; d < first.rank(); ++d) inner *= first.dim(d);
  int64_t total = 0;
  std::vector<int64_t> ext;
  for (size_t i = 0; i < items.size(); ++i) {
    const Tensor& t = items[i];
    if (t.dtype() != first.dtype() || t.rank() != first.rank())
      c.fail("sequence items #0 and #" + std::to_string(i) + " differ in type or rank: " + dtype_name(first.dtype()) + " " +
             shape_str(first.shape()) + " and " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    for (int d = 0; d < t.rank(); ++d)
      if ((new_axis || d != axis) && t.dim(d) != first.dim(d))
        c.fail("sequence items #0 and #" + std::to_string(i) + " differ in shape off the axis: " +
               shape_str(first.shape()) + " and " + shape_str(t.shape()));
    ext.push_back(new_axis ? 1 : t.dim(axis));
    total += ext.back();
  }
  Shape out = first.shape();
  if (new_axis) out.insert(out.begin() + axis, total);
  else out[axis] = total;
  Tensor y = Tensor::uninitialized(first.dtype(), out);
  if (y.numel() > 0) {
    auto* dst = static_cast<uint8_t*>(y.raw());
    int64_t col = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const auto* src = static_cast<const uint8_t*>(items[i].raw());
      const int64_t chunk = ext[i] * inner;
      if (chunk > 0)
        for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + (o * total + col) * inner, src + o * chunk, chunk);
      col += ext[i];
    }
  }
  c.outputs[0] = std::move(y);
}

// ---------------------------------------------------------------------------------------------
// SequenceMap: the body runs once per item of the first input; other inputs are sequences of the
// same length (one item per run) or tensors (passed whole); each body output becomes a sequence.

void validate_sequence_map(KernelContext& c) {
  const auto& g = subgraph_util::graph_attr(c, "body");
  int body_inputs = 0;
  for (const auto& in : g.input()) {
    bool init = false;
    for (const auto& t : g.initializer()) init = init || t.name() == in.name();
    if (!init) ++body_inputs;
  }
  if (body_inputs != c.node.input_size())
    c.fail("attribute 'body': takes " + std::to_string(body_inputs) + " inputs, the node has " +
           std::to_string(c.node.input_size()));
  if (g.output_size() != c.node.output_size())
    c.fail("attribute 'body': has " + std::to_string(g.output_size()) + " outputs, the node " +
           std::to_string(c.node.output_size()));
}

void sequence_map(KernelContext& c) {
  validate_sequence_map(c);
  const Subgraph& body = c.subgraph("body");
  const Value& first = seq_input(c, 0);
  const size_t n = first.items().size();
  for (int i = 1; i < c.num_inputs(); ++i) {
    const Value& v = c.value(i);
    if (v.is_sequence() && v.items().size() != n)
      c.fail("input #" + std::to_string(i) + " is a sequence of " + std::to_string(v.items().size()) +
             ", the first input of " + std::to_string(n));
    if (!v.is_sequence() && !v.is_tensor()) c.fail("input #" + std::to_string(i) + " must be a tensor or a sequence, got " + v.describe());
  }
  const size_t n_out = c.outputs.size();
  std::vector<std::vector<Tensor>> results(n_out);
  for (size_t k = 0; k < n; ++k) {
    std::vector<Value> in;
    in.emplace_back(first.items()[k]);
    for (int i = 1; i < c.num_inputs(); ++i) {
      const Value& v = c.value(i);
      in.emplace_back(v.is_sequence() ? Value(v.items()[k]) : Value(v.tensor()));
    }
    auto out = subgraph_util::run_body(c, body, "body", std::move(in), static_cast<int64_t>(k));
    for (size_t j = 0; j < n_out; ++j) {
      if (!out[j].is_tensor())
        c.fail("body output #" + std::to_string(j) + " must be a tensor, got " + out[j].describe());
      if (!results[j].empty() && results[j][0].dtype() != out[j].tensor().dtype())
        c.fail("body output #" + std::to_string(j) + " changes its element type between items");
      results[j].push_back(out[j].tensor());
    }
  }
  const auto& g = subgraph_util::graph_attr(c, "body");
  for (size_t j = 0; j < n_out; ++j) {
    DType dt = results[j].empty() ? subgraph_util::declared_tensor(g.output(static_cast<int>(j))).dtype
                                  : results[j][0].dtype();
    if (dt == DType::kUndefined) dt = DType::kFloat;
    c.outputs[j] = Value::sequence(dt, std::move(results[j]));
  }
}

}  // namespace

void register_sequence_ops(OpRegistry& r) {
  r.add("SequenceConstruct", {11}, sequence_construct);
  r.add("", "SequenceEmpty", {11}, OpDef{sequence_empty, nullptr, validate_sequence_empty});
  r.add("SequenceAt", {11}, sequence_at);
  r.add("SequenceInsert", {11}, sequence_insert);
  r.add("SequenceErase", {11}, sequence_erase);
  r.add("SequenceLength", {11}, sequence_length);
  // 24 only widens the accepted element types; every type is copied as bytes either way.
  r.add("", "SplitToSequence", {11, 24}, OpDef{split_to_sequence, nullptr, validate_split_to_sequence});
  r.add("ConcatFromSequence", {11}, concat_from_sequence);
  r.add("", "SequenceMap", {17}, OpDef{sequence_map, nullptr, validate_sequence_map, false, false});
}

}  // namespace qtool
