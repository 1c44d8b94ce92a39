// SPDX-License-Identifier: Apache-2.0
// Value: what an ONNX graph value holds at run time — a tensor, a sequence of tensors
// (ONNX sequence type), or an optional (ONNX optional type) that is empty or holds one of those.
//
// Values are cheap to copy: tensors share their buffers and sequences share their item list
// (immutable once built; sequence ops build new lists of shared tensors).
#pragma once
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace qtool {

class Value {
 public:
  enum class Kind : uint8_t {
    kAbsent,    // no value (an omitted optional input)
    kTensor,
    kSequence,
    kNone,      // an optional without a value
  };

  Value() = default;
  Value(Tensor t) : kind_(Kind::kTensor), tensor_(std::move(t)) {}  // NOLINT: implicit by design
  static Value sequence(DType elem_dtype, std::vector<Tensor> items);
  // An empty optional; `of_sequence` tells whether it would hold a sequence (for writing it out).
  static Value none(DType elem_dtype, bool of_sequence = false);
  // The same value marked as an optional (OptionalProto when written out).
  Value as_optional() const;

  Kind kind() const { return kind_; }
  bool present() const { return kind_ != Kind::kAbsent; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_optional() const { return optional_ || kind_ == Kind::kNone; }
  // kNone: whether the empty optional is of a sequence type.
  bool none_of_sequence() const { return none_of_sequence_; }

  // Throw Error when the value is of another kind.
  const Tensor& tensor() const;
  Tensor& tensor();
  const std::vector<Tensor>& items() const;
  // Element type of a sequence (also when empty) or of an empty optional; a tensor's dtype.
  DType elem_dtype() const;

  // "tensor float32 [1,3]", "sequence<float32> of 2", "optional (empty)" for messages.
  std::string describe() const;

 private:
  Kind kind_ = Kind::kAbsent;
  bool optional_ = false;
  bool none_of_sequence_ = false;
  DType elem_ = DType::kUndefined;
  Tensor tensor_;
  std::shared_ptr<const std::vector<Tensor>> items_;
};

}  // namespace qtool
