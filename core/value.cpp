// SPDX-License-Identifier: Apache-2.0
#include "core/value.h"

#include "core/error.h"

namespace qtool {

Value Value::sequence(DType elem_dtype, std::vector<Tensor> items) {
  Value v;
  v.kind_ = Kind::kSequence;
  v.elem_ = elem_dtype;
  v.items_ = std::make_shared<const std::vector<Tensor>>(std::move(items));
  return v;
}

Value Value::none(DType elem_dtype, bool of_sequence) {
  Value v;
  v.kind_ = Kind::kNone;
  v.elem_ = elem_dtype;
  v.none_of_sequence_ = of_sequence;
  return v;
}

Value Value::as_optional() const {
  Value v = *this;
  if (v.kind_ != Kind::kAbsent) v.optional_ = true;
  return v;
}

const Tensor& Value::tensor() const {
  if (kind_ != Kind::kTensor) throw Error("expected a tensor, got " + describe());
  return tensor_;
}

Tensor& Value::tensor() {
  if (kind_ != Kind::kTensor) throw Error("expected a tensor, got " + describe());
  return tensor_;
}

const std::vector<Tensor>& Value::items() const {
  if (kind_ != Kind::kSequence) throw Error("expected a sequence, got " + describe());
  return *items_;
}

DType Value::elem_dtype() const { return kind_ == Kind::kTensor ? tensor_.dtype() : elem_; }

std::string Value::describe() const {
  switch (kind_) {
    case Kind::kAbsent: return "no value";
    case Kind::kTensor:
      return std::string(optional_ ? "optional " : "") + "tensor " + dtype_name(tensor_.dtype()) + " " +
             shape_str(tensor_.shape());
    case Kind::kSequence:
      return std::string(optional_ ? "optional " : "") + "sequence<" + dtype_name(elem_) + "> of " +
             std::to_string(items_->size());
    case Kind::kNone: return "empty optional";
  }
  return "?";
}

}  // namespace qtool
