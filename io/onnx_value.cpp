// SPDX-License-Identifier: Apache-2.0
#include "io/onnx_value.h"

#include <onnx/onnx-data.pb.h>

#include <algorithm>
#include <regex>

#include "core/error.h"
#include "io/onnx_tensor.h"

namespace fs = std::filesystem;

namespace qtool {

namespace {

Value from_sequence(const onnx::SequenceProto& s, DType elem, const std::string& label) {
  if (s.elem_type() != onnx::SequenceProto::TENSOR && s.elem_type() != onnx::SequenceProto::UNDEFINED)
    throw InputError(label + ": only sequences of tensors are supported");
  std::vector<Tensor> items;
  for (const auto& t : s.tensor_values()) items.push_back(tensor_from_proto(t));
  if (!items.empty()) elem = items[0].dtype();
  return Value::sequence(elem, std::move(items));
}

void to_sequence(const Value& v, onnx::SequenceProto& s) {
  s.set_elem_type(onnx::SequenceProto::TENSOR);
  for (const auto& t : v.items()) *s.add_tensor_values() = tensor_to_proto(t, "");
}

}  // namespace

Value value_from_pb(const std::string& bytes, const InputSpec& spec, const std::string& label, std::string* name) {
  try {
    if (spec.optional) {
      onnx::OptionalProto o;
      if (!o.ParseFromString(bytes)) throw InputError(label + ": not a serialized OptionalProto");
      if (name) *name = o.name();
      if (o.has_tensor_value()) return Value(tensor_from_proto(o.tensor_value())).as_optional();
      if (o.has_sequence_value()) return from_sequence(o.sequence_value(), spec.dtype, label).as_optional();
      return Value::none(spec.dtype, spec.kind == Value::Kind::kSequence);
    }
    if (spec.kind == Value::Kind::kSequence) {
      onnx::SequenceProto s;
      if (!s.ParseFromString(bytes)) throw InputError(label + ": not a serialized SequenceProto");
      if (name) *name = s.name();
      return from_sequence(s, spec.dtype, label);
    }
    onnx::TensorProto t;
    if (!t.ParseFromString(bytes)) throw InputError(label + ": not a serialized TensorProto");
    if (name) *name = t.name();
    return tensor_from_proto(t);
  } catch (const InputError& e) {
    const std::string msg = e.what();
    if (msg.rfind(label, 0) == 0) throw;
    throw InputError(label + ": " + msg);
  }
}

std::string value_to_pb(const Value& value, const std::string& name) {
  if (value.is_optional()) {
    onnx::OptionalProto o;
    o.set_name(name);
    if (value.is_none()) {
      o.set_elem_type(value.none_of_sequence() ? onnx::OptionalProto::SEQUENCE : onnx::OptionalProto::TENSOR);
    } else if (value.is_sequence()) {
      o.set_elem_type(onnx::OptionalProto::SEQUENCE);
      to_sequence(value, *o.mutable_sequence_value());
    } else {
      o.set_elem_type(onnx::OptionalProto::TENSOR);
      *o.mutable_tensor_value() = tensor_to_proto(value.tensor(), "");
    }
    return o.SerializeAsString();
  }
  if (value.is_sequence()) {
    onnx::SequenceProto s;
    s.set_name(name);
    to_sequence(value, s);
    return s.SerializeAsString();
  }
  return tensor_to_proto(value.tensor(), name).SerializeAsString();
}

std::vector<fs::path> list_pb_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<long, fs::path>> numbered;
  std::vector<fs::path> all;
  const std::regex re(prefix + "_([0-9]+)\\.pb");
  const std::regex expected("output_[0-9]+\\.pb");  // expected outputs of an ONNX test-data folder
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".pb") continue;
    std::smatch m;
    const std::string fname = e.path().filename().string();
    if (std::regex_match(fname, m, re)) numbered.emplace_back(std::stol(m[1]), e.path());
    else if (!std::regex_match(fname, expected)) all.push_back(e.path());
  }
  std::vector<fs::path> out;
  if (!numbered.empty()) {
    std::sort(numbered.begin(), numbered.end());
    for (auto& [k, p] : numbered) out.push_back(p);
  } else {
    std::sort(all.begin(), all.end());
    out = all;
  }
  return out;
}

}  // namespace qtool
