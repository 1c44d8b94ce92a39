#include "io/onnx_tensor.h"

#include <cstring>

#include "core/error.h"

namespace qtool {

Tensor tensor_from_proto(const onnx::TensorProto& p) {
  Shape shape(p.dims().begin(), p.dims().end());
  auto dtype = static_cast<DType>(p.data_type());
  Tensor t;
  try {
    t = Tensor(dtype, shape);
  } catch (const Error& e) {
    throw InputError("tensor '" + p.name() + "': " + e.what());
  }
  const int64_t n = t.numel();
  auto mismatch = [&](size_t got) {
    throw InputError("tensor '" + p.name() + "' of shape " + shape_str(shape) + " holds " + std::to_string(got) +
                     " values, expected " + std::to_string(n));
  };
  if (p.data_location() == onnx::TensorProto::EXTERNAL)
    throw InputError("tensor '" + p.name() + "' still refers to external data that was not loaded");
  if (dtype == DType::kInt4 || dtype == DType::kUInt4) {
    // Two values per byte, element 2i in the low nibble (ONNX IR 10); sign-extended for int4.
    if (!p.has_raw_data()) throw InputError("tensor '" + p.name() + "': int4/uint4 data must be in raw_data");
    const std::string& raw = p.raw_data();
    if (raw.size() != static_cast<size_t>((n + 1) / 2)) mismatch(raw.size() * 2);
    auto* out = static_cast<uint8_t*>(t.raw());
    for (int64_t i = 0; i < n; ++i) {
      uint8_t nib = (static_cast<uint8_t>(raw[i / 2]) >> (4 * (i % 2))) & 0x0F;
      out[i] = dtype == DType::kInt4 && (nib & 0x08) ? static_cast<uint8_t>(nib | 0xF0) : nib;
    }
    return t;
  }
  if (p.has_raw_data()) {
    if (p.raw_data().size() != t.nbytes()) mismatch(p.raw_data().size() / dtype_size(dtype));
    if (t.nbytes()) std::memcpy(t.raw(), p.raw_data().data(), t.nbytes());
    return t;
  }
  switch (dtype) {
    case DType::kFloat:
      if (p.float_data_size() != n) mismatch(p.float_data_size());
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      break;
    case DType::kDouble:
      if (p.double_data_size() != n) mismatch(p.double_data_size());
      std::copy(p.double_data().begin(), p.double_data().end(), t.data<double>());
      break;
    case DType::kInt64:
      if (p.int64_data_size() != n) mismatch(p.int64_data_size());
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<int64_t>());
      break;
    case DType::kInt32: case DType::kInt8: case DType::kUInt8: case DType::kBool:
    case DType::kInt16: case DType::kUInt16: case DType::kFloat16: case DType::kBFloat16: {
      if (p.int32_data_size() != n) mismatch(p.int32_data_size());
      const size_t es = dtype_size(dtype);
      auto* out = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = p.int32_data(static_cast<int>(i));
        std::memcpy(out + i * es, &v, es);  // little-endian: low bytes hold the value
      }
      break;
    }
    default:
      throw InputError("tensor '" + p.name() + "' has unsupported data type " + dtype_name(dtype));
  }
  return t;
}

onnx::TensorProto tensor_to_proto(const Tensor& t, const std::string& name) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(static_cast<int32_t>(t.dtype()));
  for (auto d : t.shape()) p.add_dims(d);
  if (t.dtype() == DType::kInt4 || t.dtype() == DType::kUInt4) {
    std::string packed(static_cast<size_t>((t.numel() + 1) / 2), '\0');
    const auto* v = static_cast<const uint8_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) packed[i / 2] = static_cast<char>(packed[i / 2] | ((v[i] & 0x0F) << (4 * (i % 2))));
    p.set_raw_data(packed);
    return p;
  }
  p.set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
  return p;
}

}  // namespace qtool
