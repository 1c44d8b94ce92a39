// SPDX-License-Identifier: Apache-2.0
#include "io/onnx_tensor.h"

#include <cstring>

#include "core/error.h"

namespace qtool {

namespace {

// Values per byte in a file: 2 for the 4-bit types, 4 for the 2-bit ones, 1 otherwise.
int values_per_byte(DType t) {
  switch (t) {
    case DType::kInt4: case DType::kUInt4: case DType::kFloat4E2M1: return 2;
    case DType::kInt2: case DType::kUInt2: return 4;
    default: return 1;
  }
}

// Unpacks `n` sub-byte values (element k in the low bits first), sign-extending the signed ones.
void unpack(const uint8_t* packed, int64_t n, DType t, uint8_t* out) {
  const int per = values_per_byte(t), bits = 8 / per;
  const uint8_t mask = static_cast<uint8_t>((1u << bits) - 1), sign = static_cast<uint8_t>(1u << (bits - 1));
  const bool is_signed = t == DType::kInt4 || t == DType::kInt2;
  for (int64_t i = 0; i < n; ++i) {
    uint8_t v = static_cast<uint8_t>(packed[i / per] >> (bits * (i % per))) & mask;
    out[i] = is_signed && (v & sign) ? static_cast<uint8_t>(v | ~mask) : v;
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p) {
  const std::string name = "tensor '" + p.name() + "'";
  const auto dtype = static_cast<DType>(p.data_type());
  if (dtype == DType::kString) throw InputError(name + " holds strings, which qtool does not support");
  if (!dtype_valid(dtype) || dtype == DType::kFloat6E2M3 || dtype == DType::kFloat6E3M2)
    throw InputError(name + " has unsupported data type " + dtype_name(dtype));
  if (p.data_location() == onnx::TensorProto::EXTERNAL)
    throw InputError(name + " still refers to external data that was not loaded");
  Shape shape(p.dims().begin(), p.dims().end());
  int64_t n = 0;
  try {
    n = shape_numel(shape);
  } catch (const InputError& e) {
    throw InputError(name + ": " + e.what());
  }
  const int per = values_per_byte(dtype);
  const uint64_t packed_bytes = (static_cast<uint64_t>(n) + per - 1) / per;
  auto mismatch = [&](uint64_t got, const char* field) {
    throw InputError(name + " of shape " + shape_str(shape) + " and type " + dtype_name(dtype) + " needs " +
                     std::to_string(n) + " values, but its " + field + " holds " + std::to_string(got));
  };
  // Sizes are checked against the bytes present before anything is allocated.
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    const uint64_t want = per > 1 ? packed_bytes : static_cast<uint64_t>(n) * dtype_size(dtype);
    if (raw.size() != want) mismatch(per > 1 ? raw.size() * per : raw.size() / dtype_size(dtype), "raw_data");
    Tensor t = Tensor::uninitialized(dtype, shape);
    if (per > 1) unpack(reinterpret_cast<const uint8_t*>(raw.data()), n, dtype, static_cast<uint8_t*>(t.raw()));
    else if (n) std::memcpy(t.raw(), raw.data(), t.nbytes());
    return t;
  }
  switch (dtype) {
    case DType::kFloat: {
      if (p.float_data_size() != n) mismatch(p.float_data_size(), "float_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      return t;
    }
    case DType::kComplex64: {
      if (p.float_data_size() != 2 * n) mismatch(p.float_data_size() / 2, "float_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.float_data().begin(), p.float_data().end(), static_cast<float*>(t.raw()));
      return t;
    }
    case DType::kDouble: {
      if (p.double_data_size() != n) mismatch(p.double_data_size(), "double_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.double_data().begin(), p.double_data().end(), t.data<double>());
      return t;
    }
    case DType::kComplex128: {
      if (p.double_data_size() != 2 * n) mismatch(p.double_data_size() / 2, "double_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.double_data().begin(), p.double_data().end(), static_cast<double*>(t.raw()));
      return t;
    }
    case DType::kInt64: {
      if (p.int64_data_size() != n) mismatch(p.int64_data_size(), "int64_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<int64_t>());
      return t;
    }
    case DType::kUInt32: case DType::kUInt64: {
      if (p.uint64_data_size() != n) mismatch(p.uint64_data_size(), "uint64_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      const size_t es = dtype_size(dtype);
      auto* out = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) {
        const uint64_t v = p.uint64_data(static_cast<int>(i));
        std::memcpy(out + i * es, &v, es);  // little-endian: the low bytes hold the value
      }
      return t;
    }
    default: {
      // int32_data holds int32 and every narrower type (one value per entry; the sub-byte types
      // one packed byte per entry).
      const uint64_t want = per > 1 ? packed_bytes : static_cast<uint64_t>(n);
      if (static_cast<uint64_t>(p.int32_data_size()) != want)
        mismatch(static_cast<uint64_t>(p.int32_data_size()) * per, "int32_data");
      Tensor t = Tensor::uninitialized(dtype, shape);
      if (per > 1) {
        std::string packed(static_cast<size_t>(want), '\0');
        for (uint64_t i = 0; i < want; ++i) packed[i] = static_cast<char>(p.int32_data(static_cast<int>(i)));
        unpack(reinterpret_cast<const uint8_t*>(packed.data()), n, dtype, static_cast<uint8_t*>(t.raw()));
        return t;
      }
      const size_t es = dtype_size(dtype);
      auto* out = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) {
        const int32_t v = p.int32_data(static_cast<int>(i));
        std::memcpy(out + i * es, &v, es);
      }
      return t;
    }
  }
}

onnx::TensorProto tensor_to_proto(const Tensor& t, const std::string& name) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(static_cast<int32_t>(t.dtype()));
  for (auto d : t.shape()) p.add_dims(d);
  const int per = values_per_byte(t.dtype());
  if (per > 1) {
    const int bits = 8 / per;
    const uint8_t mask = static_cast<uint8_t>((1u << bits) - 1);
    std::string packed(static_cast<size_t>((t.numel() + per - 1) / per), '\0');
    const auto* v = static_cast<const uint8_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i)
      packed[i / per] = static_cast<char>(packed[i / per] | ((v[i] & mask) << (bits * (i % per))));
    p.set_raw_data(packed);
    return p;
  }
  p.set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
  return p;
}

}  // namespace qtool
