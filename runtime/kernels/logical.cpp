// SPDX-License-Identifier: Apache-2.0
// Comparison, logical and bitwise ops of ai.onnx with numpy broadcasting: Equal, Greater,
// GreaterOrEqual, Less, LessOrEqual (bool output; NaN compares unequal), And, Or, Xor, Not,
// BitwiseAnd / Or / Xor / Not, BitShift, and Where (three-way broadcast over any element type).
// BitShift follows BitShift-28 (and onnx's reference): a shift by a negative amount or by the bit
// width or more gives 0, or -1 for a right shift of a negative signed value; right shifts of
// signed values are arithmetic; left shifts drop the bits shifted out.
#include <cstring>
#include <type_traits>

#include "runtime/kernels/elementwise_common.h"

namespace qtool {

namespace {

using namespace ew;

using ComparableTypes = NumbersAndBool;

void equal(KernelContext& c) { binary_kernel<ComparableTypes, true>(c, [](auto x, auto y) { return x == y; }); }
void greater(KernelContext& c) { binary_kernel<Numbers, true>(c, [](auto x, auto y) { return x > y; }); }
void greater_equal(KernelContext& c) { binary_kernel<Numbers, true>(c, [](auto x, auto y) { return x >= y; }); }
void less(KernelContext& c) { binary_kernel<Numbers, true>(c, [](auto x, auto y) { return x < y; }); }
void less_equal(KernelContext& c) { binary_kernel<Numbers, true>(c, [](auto x, auto y) { return x <= y; }); }

using Bools = TypeList<bool>;
void and_(KernelContext& c) { binary_kernel<Bools, false>(c, [](bool x, bool y) { return x && y; }); }
void or_(KernelContext& c) { binary_kernel<Bools, false>(c, [](bool x, bool y) { return x || y; }); }
void xor_(KernelContext& c) { binary_kernel<Bools, false>(c, [](bool x, bool y) { return x != y; }); }
void not_(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kBool) c.fail_dtype(0, x.dtype());
  c.outputs[0] = map_unary<bool, bool>(x, [](bool v) { return !v; });
}

void bitwise_and(KernelContext& c) { binary_kernel<Integers, false>(c, [](auto x, auto y) { return x & y; }); }
void bitwise_or(KernelContext& c) { binary_kernel<Integers, false>(c, [](auto x, auto y) { return x | y; }); }
void bitwise_xor(KernelContext& c) { binary_kernel<Integers, false>(c, [](auto x, auto y) { return x ^ y; }); }
void bitwise_not(KernelContext& c) {
  unary_same_type<Integers>(c, [](auto x) { return static_cast<decltype(x)>(~x); });
}

// ---- BitShift ----------------------------------------------------------------------------------

void validate_bitshift(KernelContext& c) {
  const std::string d = attr_string(c.node, "direction", "");
  if (d != "LEFT" && d != "RIGHT") c.fail("attribute 'direction': must be \"LEFT\" or \"RIGHT\", got \"" + d + "\"");
  validate_broadcast_same_type(c);
}

template <typename T>
T shift_left(T x, T s) {
  constexpr int bits = 8 * sizeof(T);
  if constexpr (std::is_signed_v<T>)
    if (s < 0) return 0;
  if (s >= bits) return 0;
  using U = std::make_unsigned_t<T>;
  using W = WrapType<T>;
  return static_cast<T>(static_cast<U>(static_cast<W>(static_cast<U>(x)) << static_cast<int>(s)));
}
template <typename T>
T shift_right(T x, T s) {
  constexpr int bits = 8 * sizeof(T);
  bool out_of_range = s >= bits;
  if constexpr (std::is_signed_v<T>) out_of_range = out_of_range || s < 0;
  if (out_of_range) {
    if constexpr (std::is_signed_v<T>) return x < 0 ? T(-1) : T(0);
    else return 0;
  }
  return static_cast<T>(x >> static_cast<int>(s));  // arithmetic for signed T
}

void bitshift(KernelContext& c) {
  validate_bitshift(c);
  if (attr_string(c.node, "direction", "") == "LEFT")
    binary_kernel<Integers, false>(c, [](auto x, auto y) { return shift_left(x, y); });
  else
    binary_kernel<Integers, false>(c, [](auto x, auto y) { return shift_right(x, y); });
}

// ---- Where ---------------------------------------------------------------------------------------

struct Bytes16 {
  uint64_t lo, hi;
};

void validate_where(KernelContext& c) {
  if (c.has(0) && c.value(0).is_tensor() && c.in(0).dtype() != DType::kBool)
    c.fail("input 'condition': must be bool, got " + dtype_name(c.in(0).dtype()));
  require_same_dtype(c, 1, 2);
  std::vector<int> given;
  for (int i = 0; i < 3; ++i)
    if (c.has(i) && c.value(i).is_tensor()) given.push_back(i);
  broadcast_inputs(c, given);
}

template <typename E>
void where_typed(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out) {
  const Shape& so = out.shape();
  const BroadcastPlan<3> plan({&cond.shape(), &x.shape(), &y.shape()}, so);
  if (plan.numel() == 0) return;
  const bool* pc = cond.data<bool>();
  const E* px = static_cast<const E*>(x.raw());
  const E* py = static_cast<const E*>(y.raw());
  E* po = static_cast<E*>(out.raw());
  const int64_t len = plan.row_length(), sc = plan.row_step(0), sx = plan.row_step(1), sy = plan.row_step(2);
  plan.for_each_row([&](int64_t, int64_t o, const std::array<int64_t, 3>& off) {
    const bool* c0 = pc + off[0];
    const E* x0 = px + off[1];
    const E* y0 = py + off[2];
    E* out0 = po + o;
    for (int64_t j = 0; j < len; ++j) out0[j] = c0[j * sc] ? x0[j * sx] : y0[j * sy];
  });
}

void where(KernelContext& c) {
  validate_where(c);
  const Tensor& cond = c.in(0);
  const Tensor& x = c.in(1);
  const Tensor& y = c.in(2);
  if (!dtype_valid(x.dtype())) c.fail_dtype(1, x.dtype());
  const Shape so = broadcast_inputs(c, {0, 1, 2});
  Tensor out = Tensor::uninitialized(x.dtype(), so);
  // Element-wise selection copies storage: one routine per element size serves every dtype.
  switch (dtype_size(x.dtype())) {
    case 1:
      if (x.dtype() == DType::kBool) where_typed<bool>(cond, x, y, out);
      else where_typed<uint8_t>(cond, x, y, out);
      break;
    case 2: where_typed<uint16_t>(cond, x, y, out); break;
    case 4: where_typed<uint32_t>(cond, x, y, out); break;
    case 8: where_typed<uint64_t>(cond, x, y, out); break;
    case 16: where_typed<Bytes16>(cond, x, y, out); break;
    default: c.fail_dtype(1, x.dtype());
  }
  c.outputs[0] = std::move(out);
}

// float32 Where: the same loop with the common patterns (cond walking, x / y fixed or walking)
// split across threads.
bool where_fast(KernelContext& c) {
  if (!c.has(0) || !c.has(1) || !c.has(2)) return false;
  const Tensor& cond = c.in(0);
  const Tensor& x = c.in(1);
  const Tensor& y = c.in(2);
  if (cond.dtype() != DType::kBool || x.dtype() != DType::kFloat || y.dtype() != DType::kFloat) return false;
  const Shape so = broadcast_inputs(c, {0, 1, 2});
  Tensor out = Tensor::uninitialized(DType::kFloat, so);
  const BroadcastPlan<3> plan({&cond.shape(), &x.shape(), &y.shape()}, so);
  if (plan.numel() > 0) {
    const bool* pc = cond.data<bool>();
    const float* px = x.data<float>();
    const float* py = y.data<float>();
    float* po = out.data<float>();
    const int64_t len = plan.row_length(), sc = plan.row_step(0), sx = plan.row_step(1), sy = plan.row_step(2);
    const int64_t rows_per_chunk = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(len, 1));
    parallel_chunks(plan.rows(), rows_per_chunk, [&](int64_t lo, int64_t hi) {
      plan.for_each_row(lo, hi, [&](int64_t, int64_t o, const std::array<int64_t, 3>& off) {
        const bool* c0 = pc + off[0];
        const float* x0 = px + off[1];
        const float* y0 = py + off[2];
        float* out0 = po + o;
        if (sc == 1 && sx == 1 && sy == 1) {
          for (int64_t j = 0; j < len; ++j) out0[j] = c0[j] ? x0[j] : y0[j];
        } else if (sc == 1 && sx == 0 && sy == 1) {
          const float xv = *x0;
          for (int64_t j = 0; j < len; ++j) out0[j] = c0[j] ? xv : y0[j];
        } else if (sc == 1 && sx == 1 && sy == 0) {
          const float yv = *y0;
          for (int64_t j = 0; j < len; ++j) out0[j] = c0[j] ? x0[j] : yv;
        } else {
          for (int64_t j = 0; j < len; ++j) out0[j] = c0[j * sc] ? x0[j * sx] : y0[j * sy];
        }
      });
    });
  }
  c.outputs[0] = std::move(out);
  return true;
}

}  // namespace

void register_logical_ops(OpRegistry& r) {
  r.add("", "Equal", {7, 11, 13, 19}, OpDef{equal, nullptr, validate_broadcast_same_type});
  r.add("", "Greater", {7, 9, 13}, OpDef{greater, nullptr, validate_broadcast_same_type});
  r.add("", "GreaterOrEqual", {12, 16}, OpDef{greater_equal, nullptr, validate_broadcast_same_type});
  r.add("", "Less", {7, 9, 13}, OpDef{less, nullptr, validate_broadcast_same_type});
  r.add("", "LessOrEqual", {12, 16}, OpDef{less_equal, nullptr, validate_broadcast_same_type});
  r.add("", "And", {7}, OpDef{and_, nullptr, validate_broadcast_same_type});
  r.add("", "Or", {7}, OpDef{or_, nullptr, validate_broadcast_same_type});
  r.add("", "Xor", {7}, OpDef{xor_, nullptr, validate_broadcast_same_type});
  r.add("", "Not", {1}, OpDef{not_});
  r.add("", "BitwiseAnd", {18}, OpDef{bitwise_and, nullptr, validate_broadcast_same_type});
  r.add("", "BitwiseOr", {18}, OpDef{bitwise_or, nullptr, validate_broadcast_same_type});
  r.add("", "BitwiseXor", {18}, OpDef{bitwise_xor, nullptr, validate_broadcast_same_type});
  r.add("", "BitwiseNot", {18}, OpDef{bitwise_not});
  r.add("", "BitShift", {11, 28}, OpDef{bitshift, nullptr, validate_bitshift});
  r.add("", "Where", {9, 16}, OpDef{where, where_fast, validate_where});
}

}  // namespace qtool
