// SPDX-License-Identifier: Apache-2.0
#include "core/small_float.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace qtool {

namespace {

struct Format {
  int width;         // bits, sign included
  int exp_bits, man_bits, bias;
  bool has_inf;      // E5M2: exponent all ones, mantissa 0
  enum Nan { kNone, kIeee, kAllOnes, kNegZero } nan;  // IEEE: exp all ones, mantissa != 0
  bool neg_zero;     // FNUZ formats: the pattern of -0 is NaN instead
};

const Format& format_of(DType t) {
  static const Format e4m3fn{8, 4, 3, 7, false, Format::kAllOnes, true};
  static const Format e4m3fnuz{8, 4, 3, 8, false, Format::kNegZero, false};
  static const Format e5m2{8, 5, 2, 15, true, Format::kIeee, true};
  static const Format e5m2fnuz{8, 5, 2, 16, false, Format::kNegZero, false};
  static const Format e2m1{4, 2, 1, 1, false, Format::kNone, true};
  static const Format e2m3{6, 2, 3, 1, false, Format::kNone, true};
  static const Format e3m2{6, 3, 2, 3, false, Format::kNone, true};
  switch (t) {
    case DType::kFloat8E4M3FN: return e4m3fn;
    case DType::kFloat8E4M3FNUZ: return e4m3fnuz;
    case DType::kFloat8E5M2: return e5m2;
    case DType::kFloat8E5M2FNUZ: return e5m2fnuz;
    case DType::kFloat4E2M1: return e2m1;
    case DType::kFloat6E2M3: return e2m3;
    case DType::kFloat6E3M2: return e3m2;
    default: throw Error(dtype_name(t) + " is not a sign/exponent/mantissa small float format");
  }
}

// Value of a sign-less code (exponent and mantissa fields only); NaN/inf for the special codes.
double decode_magnitude(const Format& f, unsigned code) {
  const unsigned man_mask = (1u << f.man_bits) - 1, exp_max = (1u << f.exp_bits) - 1;
  const unsigned e = code >> f.man_bits, m = code & man_mask;
  if (f.nan == Format::kAllOnes && e == exp_max && m == man_mask) return std::numeric_limits<double>::quiet_NaN();
  if (f.has_inf && e == exp_max) return m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (e == 0) return std::ldexp(static_cast<double>(m), 1 - f.bias - f.man_bits);
  return std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.man_bits), static_cast<int>(e) - f.bias);
}

struct Table {
  std::array<double, 128> positive{};  // value of every sign-less code
  unsigned max_code = 0;               // largest finite sign-less code
};

const Table& table_of(DType t) {
  static std::array<Table, kMaxDTypeValue + 1> tables;
  static std::array<bool, kMaxDTypeValue + 1> ready{};
  static const bool init = [] {
    for (DType d : {DType::kFloat8E4M3FN, DType::kFloat8E4M3FNUZ, DType::kFloat8E5M2, DType::kFloat8E5M2FNUZ,
                    DType::kFloat4E2M1, DType::kFloat6E2M3, DType::kFloat6E3M2}) {
      const Format& f = format_of(d);
      Table& tb = tables[static_cast<int>(d)];
      const unsigned codes = 1u << (f.width - 1);
      for (unsigned c = 0; c < codes; ++c) {
        tb.positive[c] = decode_magnitude(f, c);
        if (std::isfinite(tb.positive[c])) tb.max_code = c;
      }
      ready[static_cast<int>(d)] = true;
    }
    return true;
  }();
  (void)init;
  if (static_cast<int>(t) < 0 || static_cast<int>(t) > kMaxDTypeValue || !ready[static_cast<int>(t)])
    throw Error(dtype_name(t) + " is not a small float format");
  return tables[static_cast<int>(t)];
}

// The NaN code ml_dtypes (onnx's reference) produces, `sign` = the sign bit of the code.
uint8_t nan_code(const Format& f, uint8_t sign) {
  switch (f.nan) {
    case Format::kAllOnes: return static_cast<uint8_t>(sign | 0x7F);
    case Format::kIeee: return static_cast<uint8_t>(sign | 0x7E);  // quiet NaN
    case Format::kNegZero: return 0x80;
    case Format::kNone: break;
  }
  return 0;
}

}  // namespace

bool dtype_is_small_float(DType t) {
  switch (t) {
    case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ: case DType::kFloat8E5M2: case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0: case DType::kFloat4E2M1: case DType::kFloat6E2M3: case DType::kFloat6E3M2:
      return true;
    default: return false;
  }
}

double small_float_decode(DType t, uint8_t bits) {
  if (t == DType::kFloat8E8M0)
    return bits == 0xFF ? std::numeric_limits<double>::quiet_NaN() : std::ldexp(1.0, static_cast<int>(bits) - 127);
  const Format& f = format_of(t);
  const unsigned sign_bit = 1u << (f.width - 1);
  bits &= static_cast<uint8_t>((1u << f.width) - 1);
  if (f.nan == Format::kNegZero && bits == sign_bit) return std::numeric_limits<double>::quiet_NaN();
  const double mag = table_of(t).positive[bits & (sign_bit - 1)];
  return (bits & sign_bit) ? -mag : mag;
}

double small_float_max(DType t) {
  if (t == DType::kFloat8E8M0) return std::ldexp(1.0, 127);
  const Table& tb = table_of(t);
  return tb.positive[tb.max_code];
}

uint8_t float8e8m0_encode(float x, bool saturate, E8M0Rounding mode) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  uint32_t e = (bits >> 23) & 0xFF;  // the sign is ignored
  if (e == 0xFF) return 0xFF;        // NaN and +/-inf
  const uint32_t man = bits & 0x7FFFFF;
  bool up = false;
  if (mode == E8M0Rounding::kUp) {
    up = man != 0;
  } else if (mode == E8M0Rounding::kNearest) {
    const bool g = bits & 0x400000, r = bits & 0x200000, st = (bits & 0x1FFFFF) != 0, lsb = e > 0;
    up = g && (r || st || lsb);
  }
  if (up && saturate && e == 0xFE) up = false;
  return static_cast<uint8_t>(e + (up ? 1 : 0));  // 0xFE + 1 = 0xFF: NaN without saturation
}

uint8_t small_float_encode(DType t, double x, bool saturate) {
  if (t == DType::kFloat8E8M0) return float8e8m0_encode(static_cast<float>(x), saturate, E8M0Rounding::kUp);
  const Format& f = format_of(t);
  const Table& tb = table_of(t);
  const uint8_t sign = std::signbit(x) ? static_cast<uint8_t>(1u << (f.width - 1)) : 0;
  if (std::isnan(x)) {
    // Formats without NaN: ml_dtypes gives the zero of the opposite sign.
    if (f.nan == Format::kNone) return static_cast<uint8_t>(sign ^ (1u << (f.width - 1)));
    return nan_code(f, sign);
  }
  const double a = std::fabs(x);
  const unsigned max_code = tb.max_code;
  auto overflow = [&]() -> uint8_t {
    if (saturate || f.nan == Format::kNone) return static_cast<uint8_t>(sign | max_code);
    if (f.has_inf) return static_cast<uint8_t>(sign | (max_code + 1));  // +/-inf follows the largest finite code
    return nan_code(f, sign);
  };
  if (std::isinf(a)) return overflow();
  // The next value above max (one more mantissa step) decides whether rounding overflows.
  const double ulp_top = tb.positive[max_code] - tb.positive[max_code - 1];
  const double beyond = tb.positive[max_code] + ulp_top;
  unsigned code;
  if (a >= beyond) {
    return overflow();
  } else if (a > tb.positive[max_code]) {
    const double mid = tb.positive[max_code] + ulp_top / 2;
    // tie: to even; max_code + 1 is the other neighbour
    if (a < mid || (a == mid && (max_code % 2 == 0))) code = max_code;
    else return overflow();
  } else {
    const double* begin = tb.positive.data();
    const double* hi = std::lower_bound(begin, begin + max_code + 1, a);  // first value >= a
    const unsigned h = static_cast<unsigned>(hi - begin);
    if (*hi == a || h == 0) {
      code = h;
    } else {
      const unsigned l = h - 1;
      const double dl = a - tb.positive[l], dh = tb.positive[h] - a;
      code = dl < dh ? l : dh < dl ? h : (l % 2 == 0 ? l : h);
    }
  }
  if (code == 0 && !f.neg_zero) return 0;  // FNUZ: no negative zero
  return static_cast<uint8_t>(sign | code);
}

}  // namespace qtool
