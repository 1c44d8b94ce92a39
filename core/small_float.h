// SPDX-License-Identifier: Apache-2.0
// The small float formats of ONNX (IR 9..12): float8 E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ (OCP FP8 /
// Micikevicius et al. 2022, "FP8 formats for deep learning"; the FNUZ variants from Graphcore),
// E8M0 (OCP MX scale), float4 E2M1 and float6 E2M3 / E3M2 (OCP Microscaling formats v1.0).
//
// Conversions follow the ONNX Cast operator: float -> small float rounds to nearest, ties to even;
// with `saturate` (ONNX's default) values beyond the largest finite value become +/-max, without it
// they become +/-inf (E5M2) or NaN (formats without inf). NaN maps to the format's NaN with the
// sign kept where the format has one; the formats without NaN (E2M1, E2M3, E3M2) always saturate,
// and take NaN to the zero of the opposite sign, as ml_dtypes (onnx's reference) does. FNUZ
// formats have no negative zero (-0 -> +0). E8M0 holds only powers of two 2^-127..2^127 (no sign,
// no zero) and converts from float32 bits as onnx.numpy_helper.to_float8e8m0 does: the exponent
// field of |x| rounded by the mantissa ("up" by default, the Cast default), NaN / inf -> NaN.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace qtool {

// Bit pattern -> value (a double holds every value exactly).
double small_float_decode(DType t, uint8_t bits);
// Value -> bit pattern; `t` must be one of the small float types.
uint8_t small_float_encode(DType t, double x, bool saturate = true);
// float32 -> E8M0 with the Cast-24 round_mode ("up": any mantissa rounds up, "down": truncate,
// "nearest": to nearest, ties up) and saturate (no rounding past 2^127; without it that is NaN).
enum class E8M0Rounding { kUp, kDown, kNearest };
uint8_t float8e8m0_encode(float x, bool saturate, E8M0Rounding mode);
// Largest finite value of the format.
double small_float_max(DType t);
bool dtype_is_small_float(DType t);

template <DType D>
inline float to_float(SmallFloat<D> v) { return static_cast<float>(small_float_decode(D, v.bits)); }
template <DType D>
inline SmallFloat<D> small_float_from(double x, bool saturate = true) { return {small_float_encode(D, x, saturate)}; }

}  // namespace qtool
