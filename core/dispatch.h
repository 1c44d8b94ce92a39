// SPDX-License-Identifier: Apache-2.0
// dtype dispatch in one place: a runtime DType becomes a compile-time storage type.
//
//   dispatch<NumericTypes>(t.dtype(), [&](auto tag) {
//     using T = typename decltype(tag)::type;   // float, half, int8_t, ...
//     ...
//   });                                         // returns false when t is not in the list
//
// Reference kernels are templates over T; arithmetic on half / bfloat16 / small floats goes
// through Compute<T> (float for the 16-bit and smaller floats, T itself otherwise), converted back
// with from_compute<T> (round to nearest even, saturating for the small floats as ONNX Cast does).
#pragma once
#include <type_traits>

#include "core/dtype.h"
#include "core/small_float.h"

namespace qtool {

template <typename T> struct TypeTag { using type = T; };
template <typename... Ts> struct TypeList {};

template <typename... A, typename... B>
constexpr TypeList<A..., B...> operator+(TypeList<A...>, TypeList<B...>) { return {}; }

using FloatTypes = TypeList<float, double, half, bfloat16>;                    // IEEE-like, arithmetic
using SignedIntTypes = TypeList<int8_t, int16_t, int32_t, int64_t>;
using UnsignedIntTypes = TypeList<uint8_t, uint16_t, uint32_t, uint64_t>;
using IntTypes = decltype(SignedIntTypes{} + UnsignedIntTypes{});
using NumericTypes = decltype(FloatTypes{} + IntTypes{});                      // no bool
using SmallFloatTypes = TypeList<Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0, Float4E2M1,
                                 Float6E2M3, Float6E3M2>;
using SubByteIntTypes = TypeList<Int4, UInt4, Int2, UInt2>;
using AllTypes = decltype(NumericTypes{} + TypeList<bool>{} + SmallFloatTypes{} + SubByteIntTypes{} +
                          TypeList<Complex64, Complex128>{});

namespace detail {
template <typename F, typename... Ts>
bool dispatch_list(DType t, F&& f, TypeList<Ts...>) {
  bool hit = false;
  ((!hit && dtype_of<Ts>() == t ? (f(TypeTag<Ts>{}), hit = true) : false), ...);
  return hit;
}
}  // namespace detail

// Calls f(TypeTag<T>{}) for the storage type T of `t` when `t` is in List; false otherwise.
template <typename List, typename F>
bool dispatch(DType t, F&& f) {
  return detail::dispatch_list(t, std::forward<F>(f), List{});
}

template <typename T> struct IsSmallFloat : std::false_type {};
template <DType D> struct IsSmallFloat<SmallFloat<D>> : std::true_type {};
template <typename T> struct IsSubByteInt : std::false_type {};
template <DType D, typename R> struct IsSubByteInt<SubByteInt<D, R>> : std::true_type {};

// The type arithmetic on T is done in.
template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, half> || std::is_same_v<T, bfloat16> || IsSmallFloat<T>::value,
                                   float, std::conditional_t<IsSubByteInt<T>::value, int32_t, T>>;

template <typename T>
inline Compute<T> to_compute(T v) {
  if constexpr (IsSmallFloat<T>::value) return to_float(v);
  else if constexpr (IsSubByteInt<T>::value) return static_cast<int32_t>(v.v);
  else if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>) return static_cast<float>(v);
  else return v;
}

template <typename T, typename C>
inline T from_compute(C v) {
  if constexpr (IsSmallFloat<T>::value) return small_float_from<dtype_of<T>()>(static_cast<double>(v));
  else if constexpr (IsSubByteInt<T>::value) return T{static_cast<decltype(T{}.v)>(v)};
  else if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>) return T(static_cast<float>(v));
  else return static_cast<T>(v);
}

}  // namespace qtool
