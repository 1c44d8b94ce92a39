// SPDX-License-Identifier: Apache-2.0
// KernelContext accessors and attribute helpers.
#include "runtime/kernel.h"

namespace qtool {

const Tensor& KernelContext::in(int i) const {
  if (!has(i)) fail("missing required input #" + std::to_string(i));
  if (!inputs[i]->is_tensor()) fail("input #" + std::to_string(i) + " must be a tensor, got " + inputs[i]->describe());
  return inputs[i]->tensor();
}

const Value& KernelContext::value(int i) const {
  if (!has(i)) fail("missing required input #" + std::to_string(i));
  return *inputs[i];
}

const Subgraph& KernelContext::subgraph(const std::string& name) const {
  if (subgraphs)
    for (const auto& [n, g] : *subgraphs)
      if (n == name) return *g;
  fail("has no subgraph attribute '" + name + "'");
}

void KernelContext::fail(const std::string& what) const { throw InputError(node_label(node) + ": " + what); }

void KernelContext::fail_dtype(int input, DType t) const {
  fail("input #" + std::to_string(input) + " has type " + dtype_name(t) + ", which " + node.op_type() +
       " does not accept");
}

std::string node_label(const onnx::NodeProto& n) {
  std::string name = n.name().empty() ? (n.output_size() ? n.output(0) : std::string("?")) : n.name();
  return "node '" + name + "' (" + n.op_type() + ")";
}

namespace {
// The attribute when present; InputError when it has a type other than `want` (an attribute
// without a type, as some old exporters write, is read from the field asked for).
const onnx::AttributeProto* typed_attr(const onnx::NodeProto& n, const std::string& name,
                                       onnx::AttributeProto::AttributeType want) {
  const auto* a = find_attr(n, name);
  if (a && a->type() != want && a->type() != onnx::AttributeProto::UNDEFINED)
    throw InputError(node_label(n) + ": attribute '" + name + "' has type " +
                     onnx::AttributeProto::AttributeType_Name(a->type()) + ", expected " +
                     onnx::AttributeProto::AttributeType_Name(want));
  return a;
}
}  // namespace

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::INT);
  return a ? a->i() : def;
}

float attr_float(const onnx::NodeProto& n, const std::string& name, float def) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::FLOAT);
  return a ? a->f() : def;
}

std::string attr_string(const onnx::NodeProto& n, const std::string& name, const std::string& def) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::STRING);
  return a ? a->s() : def;
}

std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> def) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::INTS);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
}

std::vector<float> attr_floats(const onnx::NodeProto& n, const std::string& name, std::vector<float> def) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::FLOATS);
  return a ? std::vector<float>(a->floats().begin(), a->floats().end()) : def;
}

std::vector<std::string> attr_strings(const onnx::NodeProto& n, const std::string& name,
                                      std::vector<std::string> def) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::STRINGS);
  return a ? std::vector<std::string>(a->strings().begin(), a->strings().end()) : def;
}

const onnx::TensorProto* attr_tensor(const onnx::NodeProto& n, const std::string& name) {
  auto* a = typed_attr(n, name, onnx::AttributeProto::TENSOR);
  return a && a->has_t() ? &a->t() : nullptr;
}

int normalize_axis(int64_t axis, int rank, const onnx::NodeProto& n) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw InputError(node_label(n) + ": axis " + std::to_string(axis) + " is out of range for rank " +
                     std::to_string(rank));
  return static_cast<int>(a);
}

}  // namespace qtool
