// SPDX-License-Identifier: Apache-2.0
// Optional ops of the ONNX spec (onnx/defs/optional): Optional (15, 28), OptionalHasElement
// (15, 18, 28), OptionalGetElement (15, 18, 28).
//
// An optional is a Value marked optional (Value::as_optional) or an empty one (Value::none,
// which remembers whether it would hold a tensor or a sequence). Since 18 OptionalHasElement and
// OptionalGetElement also accept plain tensors and sequences (present values) and
// OptionalHasElement an omitted input (false); version 15 asks for an optional type, which the
// model checker enforces, so the kernels accept plain values at every version. 28 only widens
// the element types.
#include "runtime/op_registry.h"

namespace qtool {

namespace {

// The empty optional described by a TypeProto (optional's element: a tensor or a sequence).
Value none_of_type(const KernelContext& c, const onnx::TypeProto& tp) {
  const onnx::TypeProto* t = &tp;
  if (t->has_optional_type()) t = &t->optional_type().elem_type();  // tolerated: the optional itself
  bool of_sequence = false;
  if (t->has_sequence_type()) {
    of_sequence = true;
    t = &t->sequence_type().elem_type();
  }
  if (!t->has_tensor_type()) c.fail("attribute 'type': must describe a tensor or a sequence of tensors");
  const auto dt = static_cast<DType>(t->tensor_type().elem_type());
  if (!dtype_valid(dt)) c.fail("attribute 'type': element type " + std::to_string(static_cast<int>(dt)) + " is not supported");
  return Value::none(dt, of_sequence);
}

const onnx::TypeProto* type_attr(const KernelContext& c) {
  const auto* a = find_attr(c.node, "type");
  if (!a) return nullptr;
  if (a->type() != onnx::AttributeProto::TYPE_PROTO && !(a->type() == onnx::AttributeProto::UNDEFINED && a->has_tp()))
    c.fail("attribute 'type' has type " + onnx::AttributeProto::AttributeType_Name(a->type()) + ", expected TYPE_PROTO");
  return &a->tp();
}

void validate_optional(KernelContext& c) {
  const auto* tp = type_attr(c);
  if (tp) none_of_type(c, *tp);
  else if (c.node.input_size() == 0 || c.node.input(0).empty())
    c.fail("attribute 'type' is required when the input is omitted");
}

void optional_op(KernelContext& c) {
  if (c.has(0)) {
    const Value& v = c.value(0);
    if (v.is_none()) c.fail("input must be a tensor or a sequence, not an optional");
    if (const auto* tp = type_attr(c)) {
      const Value want = none_of_type(c, *tp);
      if (want.none_of_sequence() != v.is_sequence() || want.elem_dtype() != v.elem_dtype())
        c.fail("input is " + v.describe() + ", attribute 'type' says " +
               (want.none_of_sequence() ? "sequence<" : "tensor ") + dtype_name(want.elem_dtype()) +
               (want.none_of_sequence() ? ">" : ""));
    }
    c.outputs[0] = v.as_optional();
    return;
  }
  const auto* tp = type_attr(c);
  if (!tp) c.fail("attribute 'type' is required when the input is omitted");
  c.outputs[0] = none_of_type(c, *tp);
}

void optional_has_element(KernelContext& c) {
  Tensor t(DType::kBool, {});
  t.data<bool>()[0] = c.has(0) && !c.value(0).is_none();
  c.outputs[0] = std::move(t);
}

void optional_get_element(KernelContext& c) {
  const Value& v = c.value(0);
  if (v.is_none()) c.fail("the optional input is empty; there is no element to get");
  if (v.is_sequence()) c.outputs[0] = Value::sequence(v.elem_dtype(), v.items());
  else c.outputs[0] = Value(v.tensor());
}

}  // namespace

void register_optional_ops(OpRegistry& r) {
  r.add("", "Optional", {15, 28}, OpDef{optional_op, nullptr, validate_optional});
  r.add("OptionalHasElement", {15, 18, 28}, optional_has_element);
  r.add("OptionalGetElement", {15, 18, 28}, optional_get_element);
}

}  // namespace qtool
