// SPDX-License-Identifier: Apache-2.0
#include "io/onnx_tensor.h"

#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/external_data.h"

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

// The repeated field a type's values go to when raw_data is not used (ONNX TensorProto).
enum class Field { kFloat, kInt32, kInt64, kUInt64, kDouble, kString };
Field typed_field(DType t) {
  switch (t) {
    case DType::kFloat: case DType::kComplex64: return Field::kFloat;
    case DType::kDouble: case DType::kComplex128: return Field::kDouble;
    case DType::kInt64: return Field::kInt64;
    case DType::kUInt32: case DType::kUInt64: return Field::kUInt64;
    case DType::kString: return Field::kString;
    default: return Field::kInt32;
  }
}
uint64_t field_size(const onnx::TensorProto& p, Field f) {
  switch (f) {
    case Field::kFloat: return static_cast<uint64_t>(p.float_data_size());
    case Field::kDouble: return static_cast<uint64_t>(p.double_data_size());
    case Field::kInt64: return static_cast<uint64_t>(p.int64_data_size());
    case Field::kUInt64: return static_cast<uint64_t>(p.uint64_data_size());
    case Field::kString: return static_cast<uint64_t>(p.string_data_size());
    default: return static_cast<uint64_t>(p.int32_data_size());
  }
}
const char* field_name(Field f) {
  switch (f) {
    case Field::kFloat: return "float_data";
    case Field::kDouble: return "double_data";
    case Field::kInt64: return "int64_data";
    case Field::kUInt64: return "uint64_data";
    case Field::kString: return "string_data";
    default: return "int32_data";
  }
}
bool is_complex(DType t) { return t == DType::kComplex64 || t == DType::kComplex128; }

}  // namespace

TensorProtoInfo check_tensor_proto(const onnx::TensorProto& p) {
  const std::string name = "tensor '" + p.name() + "'";
  TensorProtoInfo info;
  const int32_t type_value = p.data_type();
  if (type_value <= 0 || type_value > kMaxDTypeValue)
    throw InputError(name + " has data type " + std::to_string(type_value) + ", which ONNX does not define");
  info.dtype = static_cast<DType>(type_value);
  info.shape.assign(p.dims().begin(), p.dims().end());
  try {
    info.numel = shape_numel(info.shape);
  } catch (const InputError& e) {
    throw InputError(name + ": " + e.what());
  }
  const uint64_t n = static_cast<uint64_t>(info.numel);
  auto mismatch = [&](uint64_t got, const char* field) {
    throw InputError(name + " of shape " + shape_str(info.shape) + " and type " + dtype_name(info.dtype) + " needs " +
                     std::to_string(n) + " values, but its " + field + " holds " + std::to_string(got));
  };
  if (info.dtype == DType::kString) {
    if (p.data_location() == onnx::TensorProto::EXTERNAL || p.has_raw_data())
      throw InputError(name + " holds strings in raw_data or external data, which ONNX does not allow");
    if (field_size(p, Field::kString) != n) mismatch(field_size(p, Field::kString), "string_data");
    for (const auto& s : p.string_data()) info.stored_bytes += s.size();
    return info;
  }
  const uint64_t bits = static_cast<uint64_t>(dtype_bits(info.dtype));
  if (n > std::numeric_limits<uint64_t>::max() / 128)
    throw InputError(name + " of shape " + shape_str(info.shape) + " is too large");
  info.stored_bytes = (n * bits + 7) / 8;
  const int per = values_per_byte(info.dtype);
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    info.external = true;
    const ExternalRef ref = external_ref(p, name);
    if (!ref.file)
      throw InputError(name + " refers to external data '" + ref.location +
                       "', which was not loaded (a model read from memory cannot have external data; load it from "
                       "its file)");
    if (ref.length >= 0 && static_cast<uint64_t>(ref.length) != info.stored_bytes)
      throw InputError(name + " of shape " + shape_str(info.shape) + " and type " + dtype_name(info.dtype) + " needs " +
                       std::to_string(info.stored_bytes) + " bytes, but its external data length in '" + ref.location +
                       "' is " + std::to_string(ref.length));
    if (ref.offset > ref.file->size() || info.stored_bytes > ref.file->size() - ref.offset)
      throw InputError(name + ": external data " + ref.file->path().string() + " is too short: the tensor needs " +
                       std::to_string(info.stored_bytes) + " bytes at offset " + std::to_string(ref.offset) +
                       ", the file has " + std::to_string(ref.file->size()));
    return info;
  }
  if (p.has_raw_data()) {
    const uint64_t got = p.raw_data().size();
    if (got != info.stored_bytes) mismatch(per > 1 ? got * per : got * 8 / bits, "raw_data");
    return info;
  }
  const Field f = typed_field(info.dtype);
  // sub-byte types: one packed byte per int32_data entry; complex: two entries per value
  const uint64_t want = per > 1 ? info.stored_bytes : is_complex(info.dtype) ? 2 * n : n;
  if (field_size(p, f) != want) mismatch(per > 1 ? field_size(p, f) * per : is_complex(info.dtype) ? field_size(p, f) / 2 : field_size(p, f), field_name(f));
  return info;
}

Tensor tensor_from_proto(const onnx::TensorProto& p) {
  const std::string name = "tensor '" + p.name() + "'";
  const TensorProtoInfo info = check_tensor_proto(p);  // every size checked before allocating
  const DType dtype = info.dtype;
  if (dtype == DType::kString) throw InputError(name + " holds strings, which qtool does not support");
  if (!dtype_valid(dtype) || dtype == DType::kFloat6E2M3 || dtype == DType::kFloat6E3M2)
    throw InputError(name + " has unsupported data type " + dtype_name(dtype));
  const Shape& shape = info.shape;
  const int64_t n = info.numel;
  const int per = values_per_byte(dtype);
  if (info.external) {
    const ExternalRef ref = external_ref(p, name);
    Tensor t = Tensor::uninitialized(dtype, shape);
    if (per > 1) {
      std::string packed(static_cast<size_t>(info.stored_bytes), '\0');
      ref.file->read(ref.offset, info.stored_bytes, packed.data());
      unpack(reinterpret_cast<const uint8_t*>(packed.data()), n, dtype, static_cast<uint8_t*>(t.raw()));
    } else if (info.stored_bytes) {
      ref.file->read(ref.offset, info.stored_bytes, t.raw());
    }
    return t;
  }
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    Tensor t = Tensor::uninitialized(dtype, shape);
    if (per > 1) unpack(reinterpret_cast<const uint8_t*>(raw.data()), n, dtype, static_cast<uint8_t*>(t.raw()));
    else if (n) std::memcpy(t.raw(), raw.data(), t.nbytes());
    return t;
  }
  switch (dtype) {
    case DType::kFloat: {
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      return t;
    }
    case DType::kComplex64: {
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.float_data().begin(), p.float_data().end(), static_cast<float*>(t.raw()));
      return t;
    }
    case DType::kDouble: {
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.double_data().begin(), p.double_data().end(), t.data<double>());
      return t;
    }
    case DType::kComplex128: {
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.double_data().begin(), p.double_data().end(), static_cast<double*>(t.raw()));
      return t;
    }
    case DType::kInt64: {
      Tensor t = Tensor::uninitialized(dtype, shape);
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<int64_t>());
      return t;
    }
    case DType::kUInt32: case DType::kUInt64: {
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
      Tensor t = Tensor::uninitialized(dtype, shape);
      if (per > 1) {
        std::string packed(static_cast<size_t>(info.stored_bytes), '\0');
        for (uint64_t i = 0; i < info.stored_bytes; ++i) packed[i] = static_cast<char>(p.int32_data(static_cast<int>(i)));
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

Tensor densify_sparse_tensor(const onnx::SparseTensorProto& sp, uint64_t max_bytes) {
  const auto& v = sp.values();
  const std::string name = "sparse tensor '" + v.name() + "'";
  const Shape dims(sp.dims().begin(), sp.dims().end());
  int64_t n = 0;
  try {
    n = shape_numel(dims);
  } catch (const InputError& e) {
    throw InputError(name + ": " + e.what());
  }
  const TensorProtoInfo vi = check_tensor_proto(v), ii = check_tensor_proto(sp.indices());
  if (vi.shape.size() != 1) throw InputError(name + ": values must be 1-D [NNZ], got " + shape_str(vi.shape));
  const int64_t nnz = vi.shape[0];
  const int64_t rank = static_cast<int64_t>(dims.size());
  const bool linear = ii.shape.size() == 1 && ii.shape[0] == nnz;
  const bool coords = ii.shape.size() == 2 && ii.shape[0] == nnz && ii.shape[1] == rank;
  if (!linear && !coords)
    throw InputError(name + ": indices of shape " + shape_str(ii.shape) + " do not fit " + std::to_string(nnz) +
                     " values of a rank-" + std::to_string(rank) + " tensor (expected [" + std::to_string(nnz) + "] or [" +
                     std::to_string(nnz) + "," + std::to_string(rank) + "])");
  if (!dtype_is_integer(ii.dtype)) throw InputError(name + ": indices must be integers, got " + dtype_name(ii.dtype));
  if (nnz > n) throw InputError(name + ": " + std::to_string(nnz) + " values for a tensor of " + std::to_string(n));
  if (!dtype_valid(vi.dtype)) throw InputError(name + " has unsupported data type " + dtype_name(vi.dtype));
  const uint64_t es = dtype_size(vi.dtype);
  if (static_cast<uint64_t>(n) > max_bytes / es)
    throw InputError(name + " of shape " + shape_str(dims) + " would take " + std::to_string(static_cast<uint64_t>(n) * es) +
                     " bytes dense, more than qtool expands a model by (" + std::to_string(max_bytes) + ")");
  const Tensor values = tensor_from_proto(v);
  const std::vector<int64_t> idx = tensor_from_proto(sp.indices()).to_int64s();
  Tensor dense(vi.dtype, dims);
  for (int64_t i = 0; i < nnz; ++i) {
    int64_t lin = 0;
    if (linear) {
      lin = idx[static_cast<size_t>(i)];
      if (lin < 0 || lin >= n) throw InputError(name + ": index " + std::to_string(lin) + " is out of range [0, " + std::to_string(n) + ")");
    } else {
      for (int64_t d = 0; d < rank; ++d) {
        const int64_t c = idx[static_cast<size_t>(i * rank + d)];
        if (c < 0 || c >= dims[d])
          throw InputError(name + ": coordinate " + std::to_string(c) + " on axis " + std::to_string(d) +
                           " is out of range [0, " + std::to_string(dims[d]) + ")");
        lin = lin * dims[d] + c;
      }
    }
    std::memcpy(static_cast<uint8_t*>(dense.raw()) + lin * es, static_cast<const uint8_t*>(values.raw()) + i * es, es);
  }
  return dense;
}

std::string tensor_proto_bytes(const onnx::TensorProto& p) {
  const TensorProtoInfo info = check_tensor_proto(p);
  if (info.dtype == DType::kString) throw InputError("tensor '" + p.name() + "' holds strings, which have no raw bytes");
  if (info.external) {
    const ExternalRef ref = external_ref(p, "tensor '" + p.name() + "'");
    std::string out(static_cast<size_t>(info.stored_bytes), '\0');
    ref.file->read(ref.offset, info.stored_bytes, out.data());
    return out;
  }
  if (p.has_raw_data()) return p.raw_data();
  return tensor_to_proto(tensor_from_proto(p), p.name()).raw_data();
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
