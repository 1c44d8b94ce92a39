// SPDX-License-Identifier: Apache-2.0
// Element types of tensors (ONNX TensorProto.DataType values, IR 12) and their C++ storage types.
//
// In memory every element has its own byte(s): 4-bit, 2-bit, float8, float6 and float4 values take
// one byte each (the low bits hold the code); files pack them (io/onnx_tensor.h). The small float
// formats are stored as their bit patterns (core/small_float.h converts them, ONNX Cast rules);
// float16 / bfloat16 are Eigen::half / Eigen::bfloat16.
#pragma once
#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qtool {

// Values equal onnx::TensorProto_DataType so conversion is a cast.
enum class DType : int32_t {
  kUndefined = 0, kFloat = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUInt32 = 12, kUInt64 = 13, kComplex64 = 14,
  kComplex128 = 15, kBFloat16 = 16, kFloat8E4M3FN = 17, kFloat8E4M3FNUZ = 18, kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20, kUInt4 = 21, kInt4 = 22, kFloat4E2M1 = 23, kFloat8E8M0 = 24, kUInt2 = 25, kInt2 = 26,
  kFloat6E2M3 = 27, kFloat6E3M2 = 28,
};
constexpr int kMaxDTypeValue = 28;

using Shape = std::vector<int64_t>;

// Storage type of a small float: its bit pattern (conversions in core/small_float.h).
template <DType D>
struct SmallFloat {
  uint8_t bits = 0;
};
using Float8E4M3FN = SmallFloat<DType::kFloat8E4M3FN>;
using Float8E4M3FNUZ = SmallFloat<DType::kFloat8E4M3FNUZ>;
using Float8E5M2 = SmallFloat<DType::kFloat8E5M2>;
using Float8E5M2FNUZ = SmallFloat<DType::kFloat8E5M2FNUZ>;
using Float8E8M0 = SmallFloat<DType::kFloat8E8M0>;
using Float4E2M1 = SmallFloat<DType::kFloat4E2M1>;
using Float6E2M3 = SmallFloat<DType::kFloat6E2M3>;
using Float6E3M2 = SmallFloat<DType::kFloat6E3M2>;

// Storage type of a sub-byte integer: one value per byte, sign-extended for the signed ones.
template <DType D, typename Rep>
struct SubByteInt {
  Rep v = 0;
};
using Int4 = SubByteInt<DType::kInt4, int8_t>;
using UInt4 = SubByteInt<DType::kUInt4, uint8_t>;
using Int2 = SubByteInt<DType::kInt2, int8_t>;
using UInt2 = SubByteInt<DType::kUInt2, uint8_t>;

// Complex numbers (stored; no arithmetic kernels take them).
struct Complex64 { float re = 0.f, im = 0.f; };
struct Complex128 { double re = 0.0, im = 0.0; };

using half = Eigen::half;
using bfloat16 = Eigen::bfloat16;

template <typename T> struct DTypeOf;
#define QTOOL_DTYPE_OF(T, D) \
  template <> struct DTypeOf<T> { static constexpr DType value = D; };
QTOOL_DTYPE_OF(float, DType::kFloat)
QTOOL_DTYPE_OF(double, DType::kDouble)
QTOOL_DTYPE_OF(half, DType::kFloat16)
QTOOL_DTYPE_OF(bfloat16, DType::kBFloat16)
QTOOL_DTYPE_OF(int8_t, DType::kInt8)
QTOOL_DTYPE_OF(int16_t, DType::kInt16)
QTOOL_DTYPE_OF(int32_t, DType::kInt32)
QTOOL_DTYPE_OF(int64_t, DType::kInt64)
QTOOL_DTYPE_OF(uint8_t, DType::kUInt8)
QTOOL_DTYPE_OF(uint16_t, DType::kUInt16)
QTOOL_DTYPE_OF(uint32_t, DType::kUInt32)
QTOOL_DTYPE_OF(uint64_t, DType::kUInt64)
QTOOL_DTYPE_OF(bool, DType::kBool)
QTOOL_DTYPE_OF(Complex64, DType::kComplex64)
QTOOL_DTYPE_OF(Complex128, DType::kComplex128)
#undef QTOOL_DTYPE_OF
template <DType D> struct DTypeOf<SmallFloat<D>> { static constexpr DType value = D; };
template <DType D, typename R> struct DTypeOf<SubByteInt<D, R>> { static constexpr DType value = D; };

template <typename T> constexpr DType dtype_of() { return DTypeOf<T>::value; }

// Bytes per element in memory (1 for every sub-byte and small-float type). Throws Error for
// kUndefined, kString and unknown values.
size_t dtype_size(DType t);
// Bits per element in a file: 4 for int4/uint4/float4, 2 for int2/uint2, 6 for float6.
int dtype_bits(DType t);
// "float32", "int8", "float8e4m3fn", ... ("type<N>" for unknown values).
std::string dtype_name(DType t);
// True for values 1..28 that qtool can hold in a Tensor (everything but undefined and string).
bool dtype_valid(DType t);
bool dtype_is_float(DType t);     // float32/64/16, bfloat16 and every small float
bool dtype_is_integer(DType t);   // int/uint 2..64 bits (not bool)
bool dtype_is_signed(DType t);    // signed integers and every float type

}  // namespace qtool
