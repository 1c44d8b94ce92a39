// SPDX-License-Identifier: Apache-2.0
// Type conversion ops of ai.onnx: Cast, CastLike, BitCast, and Identity (ONNX operator specs and
// onnx's reference, which is numpy / ml_dtypes).
//
// Cast between every pair of non-string types (float32/64, float16, bfloat16, the float8 / float4
// / float6 formats, 2..64-bit integers, bool):
//  - to a float type: round to nearest even, +/-inf when out of range. double -> float16 /
//    bfloat16 rounds once (round-to-odd to float32 first, so no double rounding).
//  - to float8: the Cast tables: with `saturate` (default) out-of-range values and +/-inf become
//    +/-max; without it +/-inf (E5M2) or NaN. float4 / float6 always saturate. E8M0 follows
//    `round_mode` (up / down / nearest) on the float32 bits (core/small_float.h).
//  - float -> integer: truncation toward zero; NaN and out-of-range values as numpy on x86 gives
//    them (the spec leaves them undefined; see ew::float_to_int). int2 / int4 wrap like int8.
//  - integer -> integer: the low bits, reinterpreted (two's complement), as the spec says.
//  - to bool: nonzero (and NaN) is true. bool -> number: 1 / 0.
// CastLike takes the target type from its second input. BitCast (26) reinterprets the bits of
// types of equal width (little endian; sub-byte codes sign-extend into int4 / int2).
// Identity passes any value through: tensors, sequences, optionals.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "runtime/kernels/elementwise_common.h"

namespace qtool {

namespace {

using namespace ew;

using CastTypes = decltype(NumericTypes{} + TypeList<bool>{} + SmallFloatTypes{} + SubByteIntTypes{});

// float32 nearest to d with round-to-odd: rounding it again to a narrower format (float16,
// bfloat16) gives the correctly rounded result of d.
inline float round_to_odd_f32(double d) {
  float f = static_cast<float>(d);
  if (!std::isfinite(d) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.f);  // truncate toward zero
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits |= 1;  // sticky
  std::memcpy(&f, &bits, sizeof bits);
  return f;
}

template <typename T>
inline T sub_byte_from_int(int64_t v) {
  constexpr int w = std::is_same_v<T, Int4> || std::is_same_v<T, UInt4> ? 4 : 2;
  const uint64_t low = static_cast<uint64_t>(v) & ((1u << w) - 1);
  using R = decltype(T{}.v);
  if constexpr (std::is_signed_v<R>) {
    const int64_t s = (low & (1u << (w - 1))) ? static_cast<int64_t>(low) - (int64_t{1} << w) : static_cast<int64_t>(low);
    return T{static_cast<R>(s)};
  } else {
    return T{static_cast<R>(low)};
  }
}

struct CastOptions {
  bool saturate = true;
  E8M0Rounding round = E8M0Rounding::kUp;
};

// A value of a float8 / float4 / float6 source (ml_dtypes converts those to integers its own way).
struct SmallFloatValue {
  double v;
};

// The source value in its natural exact form: double for floats, int64 / uint64 for integers.
template <typename S>
inline auto source_value(S v) {
  if constexpr (std::is_same_v<S, bool>) return static_cast<int64_t>(v);
  else if constexpr (IsSubByteInt<S>::value) return static_cast<int64_t>(v.v);
  else if constexpr (std::is_integral_v<S>) return v;  // int8..uint64 as themselves
  else if constexpr (IsSmallFloat<S>::value) return SmallFloatValue{static_cast<double>(to_compute(v))};
  else return static_cast<double>(to_compute(v));      // float32/64, float16, bfloat16: exactly
}

// Small float -> integer as ml_dtypes does it: NaN -> 0, +/-inf saturate (sub-byte targets
// through int8 / uint8, then wrap), finite values as float_to_int.
template <typename D>
inline D small_float_to_int(double v) {
  if constexpr (IsSubByteInt<D>::value) {
    using R = decltype(D{}.v);
    if (std::isnan(v)) return D{0};
    if (std::isinf(v))
      return sub_byte_from_int<D>(v > 0 ? std::numeric_limits<R>::max() : std::numeric_limits<R>::min());
    return sub_byte_from_int<D>(float_to_int<int32_t>(v));
  } else {
    if (std::isnan(v)) return 0;
    if (std::isinf(v)) return v > 0 ? std::numeric_limits<D>::max() : std::numeric_limits<D>::min();
    return float_to_int<D>(v);
  }
}

template <typename D, typename V>
inline D convert(V v, const CastOptions& o) {
  if constexpr (std::is_same_v<V, SmallFloatValue>) {
    if constexpr (IsSubByteInt<D>::value || (std::is_integral_v<D> && !std::is_same_v<D, bool>))
      return small_float_to_int<D>(v.v);
    else return convert<D>(v.v, o);
  } else {
  constexpr bool from_float = std::is_floating_point_v<V>;
  if constexpr (std::is_same_v<D, bool>) {
    return v != 0;  // NaN != 0 is true
  } else if constexpr (IsSubByteInt<D>::value) {
    if constexpr (from_float) return sub_byte_from_int<D>(float_to_int<int32_t>(v));
    else return sub_byte_from_int<D>(static_cast<int64_t>(v));
  } else if constexpr (std::is_integral_v<D>) {
    if constexpr (from_float) return float_to_int<D>(v);
    else return static_cast<D>(v);  // modular
  } else if constexpr (std::is_same_v<D, float> || std::is_same_v<D, double>) {
    return static_cast<D>(v);
  } else if constexpr (std::is_same_v<D, half> || std::is_same_v<D, bfloat16>) {
    return D(round_to_odd_f32(static_cast<double>(v)));  // integers up to 2^53 are exact in double
  } else {  // small floats
    constexpr DType dt = dtype_of<D>();
    const double d = static_cast<double>(v);
    if constexpr (dt == DType::kFloat8E8M0) return D{float8e8m0_encode(static_cast<float>(d), o.saturate, o.round)};
    else if constexpr (dt == DType::kFloat8E4M3FN || dt == DType::kFloat8E4M3FNUZ || dt == DType::kFloat8E5M2 ||
                       dt == DType::kFloat8E5M2FNUZ)
      return D{small_float_encode(dt, d, o.saturate)};
    else return D{small_float_encode(dt, d, true)};
  }
  }
}

Tensor cast_tensor(const KernelContext& c, const Tensor& x, DType to, const CastOptions& o) {
  if (x.dtype() == to) return x;
  Tensor out = Tensor::uninitialized(to, x.shape());
  const int64_t n = x.numel();
  c.dispatch_or_fail<CastTypes>(0, x.dtype(), [&](auto st) {
    using S = typename decltype(st)::type;
    const bool ok = dispatch<CastTypes>(to, [&](auto dt) {
      using D = typename decltype(dt)::type;
      const S* p = x.data<S>();
      D* q = out.data<D>();
      for (int64_t i = 0; i < n; ++i) q[i] = convert<D>(source_value(p[i]), o);
    });
    if (!ok) c.fail("cannot cast to " + dtype_name(to));
  });
  return out;
}

CastOptions cast_options(const KernelContext& c) {
  CastOptions o;
  if (c.version >= 19) {
    const int64_t s = attr_int(c.node, "saturate", 1);
    if (s != 0 && s != 1) c.fail("attribute 'saturate': must be 0 or 1, got " + std::to_string(s));
    o.saturate = s != 0;
  }
  if (c.version >= 24) {
    const std::string m = attr_string(c.node, "round_mode", "up");
    if (m == "up") o.round = E8M0Rounding::kUp;
    else if (m == "down") o.round = E8M0Rounding::kDown;
    else if (m == "nearest") o.round = E8M0Rounding::kNearest;
    else c.fail("attribute 'round_mode': must be \"up\", \"down\" or \"nearest\", got \"" + m + "\"");
  }
  return o;
}

DType cast_target(const KernelContext& c) {
  if (!find_attr(c.node, "to")) c.fail("attribute 'to': missing");
  const int64_t to = attr_int(c.node, "to", 0);
  const auto t = static_cast<DType>(to);
  if (to < 1 || to > kMaxDTypeValue || !dtype_valid(t) || t == DType::kComplex64 || t == DType::kComplex128)
    c.fail("attribute 'to': cannot cast to " + dtype_name(t));
  return t;
}

void validate_cast(KernelContext& c) {
  cast_target(c);
  cast_options(c);
}
void cast(KernelContext& c) {
  const DType to = cast_target(c);
  c.outputs[0] = cast_tensor(c, c.in(0), to, cast_options(c));
}

void validate_cast_like(KernelContext& c) { cast_options(c); }
void cast_like(KernelContext& c) {
  const DType to = c.in(1).dtype();
  if (to == DType::kComplex64 || to == DType::kComplex128) c.fail("cannot cast to " + dtype_name(to));
  c.outputs[0] = cast_tensor(c, c.in(0), to, cast_options(c));
}

// ---- BitCast -------------------------------------------------------------------------------------

void validate_bitcast(KernelContext& c) {
  if (!find_attr(c.node, "to")) c.fail("attribute 'to': missing");
  const int64_t to = attr_int(c.node, "to", 0);
  if (to < 1 || to > kMaxDTypeValue || !dtype_valid(static_cast<DType>(to)))
    c.fail("attribute 'to': cannot bit-cast to " + dtype_name(static_cast<DType>(to)));
  if (c.has(0) && c.value(0).is_tensor() && dtype_bits(c.in(0).dtype()) != dtype_bits(static_cast<DType>(to)))
    c.fail("attribute 'to': " + dtype_name(static_cast<DType>(to)) + " has " +
           std::to_string(dtype_bits(static_cast<DType>(to))) + " bits, the input " + dtype_name(c.in(0).dtype()) +
           " has " + std::to_string(dtype_bits(c.in(0).dtype())));
}

void bitcast(KernelContext& c) {
  validate_bitcast(c);
  const Tensor& x = c.in(0);
  const auto to = static_cast<DType>(attr_int(c.node, "to", 0));
  if (to == x.dtype()) {
    c.outputs[0] = x;
    return;
  }
  Tensor out = Tensor::uninitialized(to, x.shape());
  const int64_t n = x.numel();
  const int bits = dtype_bits(to);
  if (bits >= 8 && to != DType::kBool) {  // same storage size (bool bytes are 0 / 1)
    if (n > 0) std::memcpy(out.raw(), x.raw(), x.nbytes());
  } else if (to == DType::kBool) {  // only 8-bit sources: any nonzero byte is true
    const uint8_t* p = static_cast<const uint8_t*>(x.raw());
    bool* q = out.data<bool>();
    for (int64_t i = 0; i < n; ++i) q[i] = p[i] != 0;
  } else {  // 4-bit and 2-bit codes, one per byte: keep the low bits, sign-extend for int4 / int2
    const uint8_t mask = static_cast<uint8_t>((1u << bits) - 1);
    const bool sign_extend = to == DType::kInt4 || to == DType::kInt2;
    const uint8_t* p = static_cast<const uint8_t*>(x.raw());
    uint8_t* q = static_cast<uint8_t*>(out.raw());
    for (int64_t i = 0; i < n; ++i) {
      uint8_t v = p[i] & mask;
      if (sign_extend && (v & (1u << (bits - 1)))) v = static_cast<uint8_t>(v | ~mask);
      q[i] = v;
    }
  }
  c.outputs[0] = std::move(out);
}

// ---- Identity ------------------------------------------------------------------------------------

void identity(KernelContext& c) { c.outputs[0] = c.value(0); }

}  // namespace

void register_cast_ops(OpRegistry& r) {
  r.add("", "Cast", {6, 9, 13, 19, 21, 23, 24, 25, 28}, OpDef{cast, nullptr, validate_cast});
  r.add("", "CastLike", {15, 19, 21, 23, 24, 25}, OpDef{cast_like, nullptr, validate_cast_like});
  r.add("", "BitCast", {26}, OpDef{bitcast, nullptr, validate_bitcast});
  r.add("", "Identity", {1, 13, 14, 16, 19, 21, 23, 24, 25}, data_mover(OpDef{identity}));
}

}  // namespace qtool
