// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the kernels that run subgraphs (control_flow.cpp: If, Loop, Scan;
// sequence.cpp: SequenceMap): the GraphProto of a subgraph attribute (for its declared input and
// output types), running a body with the enclosing node named in errors, and byte-wise slicing
// and stacking of tensors along an axis (scan inputs and outputs).
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace qtool::subgraph_util {

// The GRAPH attribute `name` of the node; fail()s when it is missing or not a graph.
inline const onnx::GraphProto& graph_attr(const KernelContext& c, const std::string& name) {
  const auto* a = find_attr(c.node, name);
  if (!a || !(a->type() == onnx::AttributeProto::GRAPH || (a->type() == onnx::AttributeProto::UNDEFINED && a->has_g())))
    c.fail("attribute '" + name + "': a graph is required");
  return a->g();
}

// Runs `body` once. Errors raised inside already name the body's node; the enclosing node and
// the iteration are appended so a failure deep in nested bodies can be traced.
inline std::vector<Value> run_body(const KernelContext& c, const Subgraph& body, const std::string& attr,
                                   std::vector<Value> inputs, int64_t iteration = -1) {
  auto where = [&] {
    return " (in '" + attr + "' of " + node_label(c.node) +
           (iteration >= 0 ? ", iteration " + std::to_string(iteration) : std::string()) + ")";
  };
  try {
    return body.run(std::move(inputs));
  } catch (const AllocationCapExceeded&) {
    throw;
  } catch (const InputError& e) {
    throw InputError(e.what() + where());
  } catch (const Error& e) {
    throw Error(e.what() + where());
  }
}

// Element type and shape a ValueInfoProto declares for a tensor (or the tensors of a sequence):
// kUndefined when it states none; unknown extents as -1; `rank_known` false without a shape.
struct DeclaredTensor {
  DType dtype = DType::kUndefined;
  Shape shape;
  bool rank_known = false;
};
inline DeclaredTensor declared_tensor(const onnx::ValueInfoProto& vi) {
  DeclaredTensor d;
  const onnx::TypeProto* t = &vi.type();
  if (t->has_optional_type()) t = &t->optional_type().elem_type();
  if (t->has_sequence_type()) t = &t->sequence_type().elem_type();
  if (!t->has_tensor_type()) return d;
  d.dtype = static_cast<DType>(t->tensor_type().elem_type());
  if (!dtype_valid(d.dtype)) d.dtype = DType::kUndefined;
  d.rank_known = t->tensor_type().has_shape();
  for (const auto& dim : t->tensor_type().shape().dim())
    d.shape.push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value() : -1);
  return d;
}

// An empty scan output for zero iterations: the body's declared per-iteration shape (unknown
// extents as 0, as onnxruntime does) with an extent of 0 inserted at `axis` (negative counts
// from the back of the result's rank); rank 1 ([0]) when the body declares no shape, float32
// when it declares no element type.
inline Tensor empty_scan_output(const KernelContext& c, const onnx::ValueInfoProto& vi, int64_t axis) {
  DeclaredTensor d = declared_tensor(vi);
  const DType dt = d.dtype == DType::kUndefined ? DType::kFloat : d.dtype;
  if (!d.rank_known) return Tensor(dt, {0});
  Shape s;
  for (int64_t e : d.shape) s.push_back(e < 0 ? 0 : e);
  const int r = static_cast<int>(s.size()) + 1;
  const int a = normalize_axis(axis, r, c.node);
  s.insert(s.begin() + a, 0);
  return Tensor(dt, s);
}

// x with `axis` removed, at position `index` along it (a copy).
inline Tensor slice_along(const Tensor& x, int axis, int64_t index) {
  Shape s = x.shape();
  const int64_t n = s[axis];
  s.erase(s.begin() + axis);
  int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(x.dtype()));
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  Tensor y = Tensor::uninitialized(x.dtype(), s);
  if (y.numel() == 0) return y;
  auto* dst = static_cast<uint8_t*>(y.raw());
  const auto* src = static_cast<const uint8_t*>(x.raw());
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * inner, src + (o * n + index) * inner, inner);
  return y;
}

// Stacks equally shaped tensors along a new `axis` (0..rank); `reverse` puts the last first.
// The caller has checked that every part has the dtype and shape of parts[0].
inline Tensor stack_along(const std::vector<Tensor>& parts, int axis, bool reverse = false) {
  const Tensor& first = parts.at(0);
  const int64_t n = static_cast<int64_t>(parts.size());
  Shape s = first.shape();
  s.insert(s.begin() + axis, n);
  int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(first.dtype()));
  for (int d = 0; d < axis; ++d) outer *= first.dim(d);
  for (int d = axis; d < first.rank(); ++d) inner *= first.dim(d);
  Tensor y = Tensor::uninitialized(first.dtype(), s);
  if (y.numel() == 0) return y;
  auto* dst = static_cast<uint8_t*>(y.raw());
  for (int64_t j = 0; j < n; ++j) {
    const int64_t p = reverse ? n - 1 - j : j;
    const auto* src = static_cast<const uint8_t*>(parts[j].raw());
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + (o * n + p) * inner, src + o * inner, inner);
  }
  return y;
}

}  // namespace qtool::subgraph_util
