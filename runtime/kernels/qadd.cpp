// SPDX-License-Identifier: Apache-2.0
// qtool.QAdd / qtool.QMul (internal ops, since 1): what the executor runs for the residual add and
// the squeeze-and-excitation scale of a QDQ model
//   Add(DequantizeLinear(a), DequantizeLinear(b)) [-> Relu] -> QuantizeLinear
//   Mul(DequantizeLinear(a), DequantizeLinear(b)) [-> Relu] -> QuantizeLinear
// with scalar scales and zero points (onnxruntime's QLinearAdd / QLinearMul), after the
// compile-time rewrite in runtime/qdq_add_fusion.cpp (never written to a file).
// Inputs: 0 a, 1 a_scale (float scalar), 2 a_zero_point (a's type), 3 b, 4 b_scale, 5 b_zero_point
// (a, b: uint8/int8, numpy broadcasting), 6 y_scale (float scalar), 7 y_zero_point (uint8/int8
// scalar, the output's type). Attribute relu (0/1).
// Output: per element, the float chain's own arithmetic in float32:
//   v = float(a - a_zp) * a_scale + float(b - b_zp) * b_scale   (QAdd: two products, then one sum)
//   v = (float(a - a_zp) * a_scale) * (float(b - b_zp) * b_scale) (QMul)
//   v = max(v, 0) with relu
//   y = saturate(round_half_even(v / y_scale) + y_zp)           (a true division, as QuantizeLinear)
// so it equals DequantizeLinear -> Add -> Relu -> QuantizeLinear bit for bit.
//   reference: plain loop over the broadcast plan.
//   fast: the same arithmetic in loops compiled for AVX-512 / AVX2 (picked at load time), split
//         across the OpenMP threads; layout-aware: same-shaped operands in one dense runtime layout
//         (integer convolutions' nhwc outputs), or one such operand and a plain one broadcast into
//         it (runtime/kernels/layout_broadcast.h), give the result in that layout.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "runtime/broadcast.h"
#include "runtime/dnnl_util.h"
#include "runtime/kernels/elementwise_common.h"
#include "runtime/kernels/layout_broadcast.h"
#include "runtime/kernels/quant_common.h"
#include "runtime/op_registry.h"

// No FMA contraction anywhere in this file: the chain rounds each product before the sum.
#pragma GCC optimize("fp-contract=off")

namespace qtool {

namespace {

enum : int { kA = 0, kAScale, kAZp, kB, kBScale, kBZp, kYScale, kYZp };

bool is_q8(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

void validate(KernelContext& c) {
  for (int i = 0; i < 8; ++i)
    if (!c.has(i)) c.fail("input #" + std::to_string(i) + " is required");
  for (int i : {kA, kB, kYZp})
    if (!is_q8(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {kAScale, kBScale, kYScale})
    if (c.in(i).dtype() != DType::kFloat) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {kAScale, kAZp, kBScale, kBZp, kYScale, kYZp})
    if (c.in(i).numel() != 1) c.fail("quantization parameter #" + std::to_string(i) + " must be a scalar");
  if (c.in(kAZp).dtype() != c.in(kA).dtype()) c.fail_dtype(kAZp, c.in(kAZp).dtype());
  if (c.in(kBZp).dtype() != c.in(kB).dtype()) c.fail_dtype(kBZp, c.in(kBZp).dtype());
  broadcast_shape(c.in(kA).shape(), c.in(kB).shape());
}

// The scalar parameters of one run.
struct Params {
  float sa = 1, sb = 1, sy = 1, lo = 0, hi = 0;  // lo / hi: the output range minus its zero point
  int32_t za = 0, zb = 0, zy = 0;
  bool relu = false, mul = false;
};

Params params(const KernelContext& c) {
  Params p;
  p.sa = c.in(kAScale).to_floats()[0];
  p.sb = c.in(kBScale).to_floats()[0];
  p.sy = c.in(kYScale).to_floats()[0];
  p.za = static_cast<int32_t>(c.in(kAZp).to_int64s()[0]);
  p.zb = static_cast<int32_t>(c.in(kBZp).to_int64s()[0]);
  p.zy = static_cast<int32_t>(c.in(kYZp).to_int64s()[0]);
  const bool u8 = c.in(kYZp).dtype() == DType::kUInt8;
  p.lo = static_cast<float>((u8 ? 0 : -128) - p.zy);
  p.hi = static_cast<float>((u8 ? 255 : 127) - p.zy);
  p.relu = attr_int(c.node, "relu", 0) != 0;
  p.mul = c.node.op_type() == "QMul";
  return p;
}

// The chain's arithmetic (see the file comment) over n elements a[i * as], b[i * bs]. Parameters
// copied to locals and the op / relu tests outside the loop: the output bytes may alias anything,
// so loads through `p` would be repeated every element and keep the loop scalar.
template <bool kMul, bool kRelu, typename TA, typename TB, typename TY>
QTOOL_EW_INLINE inline void run_as(const TA* a, int64_t as, const TB* b, int64_t bs, int64_t n, const Params& p,
                                   TY* y) {
  const float sa = p.sa, sb = p.sb, sy = p.sy, lo = p.lo, hi = p.hi;
  const int32_t za = p.za, zb = p.zb, zy = p.zy;
  for (int64_t i = 0; i < n; ++i) {
    const float da = static_cast<float>(static_cast<int32_t>(a[i * as]) - za) * sa;
    const float db = static_cast<float>(static_cast<int32_t>(b[i * bs]) - zb) * sb;
    float v = kMul ? da * db : da + db;
    if (kRelu) v = v > 0.f ? v : 0.f;
    y[i] = static_cast<TY>(round_saturate_f(v / sy, lo, hi, zy));
  }
}

template <typename TA, typename TB, typename TY>
QTOOL_EW_INLINE inline void add_run(const TA* a, int64_t as, const TB* b, int64_t bs, int64_t n, const Params& p,
                                    TY* y) {
  if (p.mul) p.relu ? run_as<true, true>(a, as, b, bs, n, p, y) : run_as<true, false>(a, as, b, bs, n, p, y);
  else p.relu ? run_as<false, true>(a, as, b, bs, n, p, y) : run_as<false, false>(a, as, b, bs, n, p, y);
}

// The contiguous same-type loops, cloned for AVX-512 / AVX2 (no-trapping-math lets GCC vectorize
// the selects; fp-contract=off keeps the two products rounded before the sum, as the separate
// DequantizeLinear and Add steps round them: an FMA would differ).
#define QTOOL_QADD_RUN(NAME, TA, TB, TY)                                                                   \
  __attribute__((target_clones("avx512f", "avx2", "default"), optimize("no-trapping-math", "fp-contract=off"))) void NAME( \
      const TA* a, const TB* b, int64_t n, const Params& p, TY* y) {                                   \
    add_run(a, 1, b, 1, n, p, y);                                                                       \
  }
QTOOL_QADD_RUN(add_u8u8u8, uint8_t, uint8_t, uint8_t)
QTOOL_QADD_RUN(add_s8s8s8, int8_t, int8_t, int8_t)
#undef QTOOL_QADD_RUN

// y = the chain over the broadcast plan of a and b; `fast`: contiguous rows of one type through the
// cloned loops, rows split across the threads.
Tensor added(const Tensor& a, const Tensor& b, const Params& p, DType ty, bool fast) {
  const Shape so = broadcast_shape(a.shape(), b.shape());
  Tensor y = Tensor::uninitialized(ty, so);
  const BroadcastPlan<2> plan({&a.shape(), &b.shape()}, so);
  if (plan.numel() == 0) return y;
  const int64_t len = plan.row_length(), sa = plan.row_step(0), sb = plan.row_step(1);
  auto typed = [&](auto* pa, auto* pb, auto* py) {
    using TY = std::remove_pointer_t<decltype(py)>;
    auto row = [&](const auto* ra, const auto* rb, TY* ry, int64_t n) {
      using TA = std::remove_cv_t<std::remove_pointer_t<decltype(ra)>>;
      using TB = std::remove_cv_t<std::remove_pointer_t<decltype(rb)>>;
      if (fast && sa == 1 && sb == 1) {
        if constexpr (std::is_same_v<TA, uint8_t> && std::is_same_v<TB, uint8_t> && std::is_same_v<TY, uint8_t>)
          return add_u8u8u8(ra, rb, n, p, ry);
        if constexpr (std::is_same_v<TA, int8_t> && std::is_same_v<TB, int8_t> && std::is_same_v<TY, int8_t>)
          return add_s8s8s8(ra, rb, n, p, ry);
      }
      add_run(ra, sa, rb, sb, n, p, ry);
    };
    const int64_t rows = plan.rows();
    if (rows == 1 && fast) {  // one long row (same shapes): split it
      ew::parallel_chunks(len, ew::kParallelGrain, [&](int64_t lo, int64_t hi) {
        row(pa + lo * sa, pb + lo * sb, py + lo, hi - lo);
      });
      return;
    }
    const int64_t per_chunk = fast ? std::max<int64_t>(1, ew::kParallelGrain / std::max<int64_t>(len, 1)) : rows;
    ew::parallel_chunks(rows, per_chunk, [&](int64_t lo, int64_t hi) {
      plan.for_each_row(lo, hi, [&](int64_t, int64_t o, const std::array<int64_t, 2>& off) {
        row(pa + off[0], pb + off[1], py + o, len);
      });
    });
  };
  auto with_y = [&](auto* pa, auto* pb) {
    if (ty == DType::kUInt8) typed(pa, pb, y.data<uint8_t>());
    else typed(pa, pb, y.data<int8_t>());
  };
  auto with_b = [&](auto* pa) {
    if (b.dtype() == DType::kUInt8) with_y(pa, b.data<uint8_t>());
    else with_y(pa, b.data<int8_t>());
  };
  if (a.dtype() == DType::kUInt8) with_b(a.data<uint8_t>());
  else with_b(a.data<int8_t>());
  return y;
}

void reference(KernelContext& c) {
  validate(c);
  c.outputs[0] = added(to_plain(c.in(kA)), to_plain(c.in(kB)), params(c), c.in(kYZp).dtype(), false);
}

bool fast(KernelContext& c) {
  for (int i = 0; i < 8; ++i)
    if (!c.has(i) || (i != kA && i != kB && c.in(i).layout())) return false;
  const Tensor& a = c.in(kA);
  const Tensor& b = c.in(kB);
  const DType ty = c.in(kYZp).dtype();
  const Params p = params(c);
  // same-shaped operands of one dense layout: the result in that layout (padding bytes compute a
  // value nobody reads)
  if (one_dense_layout(a, b) && a.dtype() == ty) {
    Tensor y = added(a.dense_storage(), b.dense_storage(), p, ty, true).relabelled(a.shared_layout());
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
    return true;
  }
  LayoutBroadcast v;
  if (layout_broadcast_views(a, b, &v) && v.big->dtype() == ty) {
    Tensor y = added(v.a, v.b, p, ty, true).reshaped(v.big->shape()).relabelled(v.big->shared_layout());
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
    return true;
  }
  c.outputs[0] = added(to_plain(a), to_plain(b), p, ty, true);
  return true;
}

}  // namespace

void register_qadd_ops(OpRegistry& r) {
  r.add("qtool", "QAdd", {1}, OpDef{reference, fast, validate, /*layout_aware=*/true, /*foldable=*/true});
  r.add("qtool", "QMul", {1}, OpDef{reference, fast, validate, /*layout_aware=*/true, /*foldable=*/true});
}

}  // namespace qtool
