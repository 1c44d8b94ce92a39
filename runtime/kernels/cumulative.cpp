// SPDX-License-Identifier: Apache-2.0
// CumSum (ONNX 11, 14) and CumProd (26): running sum / product along the axis given as a 0-D (or
// one-element) int32/int64 tensor; `exclusive` shifts by one (the first output is the identity,
// 0 or 1), `reverse` runs from the end. The running value is held in the element type and
// rounded at every step, as numpy's cumsum / cumprod (onnx/reference/ops/op_cum_sum.py,
// op_cum_prod.py); integers wrap modulo 2^n.
#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

template <bool Prod>
void cumulative_validate(KernelContext& c) {
  attr_int(c.node, "exclusive", 0);
  attr_int(c.node, "reverse", 0);
  if (c.has(0) && c.value(0).is_tensor()) {
    const Tensor& x = c.in(0);
    if (!dispatch<NumericTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
    if (x.rank() == 0) c.fail("input 'x' must have rank >= 1");
  }
  if (c.has(1) && c.value(1).is_tensor()) {
    const Tensor& a = c.in(1);
    if (!is_integer_tensor(a) || a.numel() != 1 || a.rank() > 1)
      c.fail("input 'axis' must be a 0-D int32 or int64 tensor, got " + dtype_name(a.dtype()) + " " +
             shape_str(a.shape()));
  }
}

template <bool Prod>
void cumulative_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.rank() == 0) c.fail("input 'x' must have rank >= 1");
  const int64_t axis_value = scalar_int_input(c, 1, "axis");
  const int64_t an = axis_value < 0 ? axis_value + x.rank() : axis_value;
  if (an < 0 || an >= x.rank())
    c.fail("input 'axis': " + std::to_string(axis_value) + " is out of range for an input of rank " +
           std::to_string(x.rank()));
  const int axis = static_cast<int>(an);
  const bool exclusive = attr_int(c.node, "exclusive", 0) != 0;
  const bool reverse = attr_int(c.node, "reverse", 0) != 0;
  int64_t outer = 1, inner = 1;
  const int64_t n = x.dim(axis);
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  c.dispatch_or_fail<NumericTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    auto step = [](T acc, T v) -> T {
      if constexpr (std::is_integral_v<T>) return Prod ? wrap_mul<T>(acc, v) : wrap_add<T>(acc, v);
      else return from_compute<T>(Prod ? to_compute(acc) * to_compute(v) : to_compute(acc) + to_compute(v));
    };
    const T identity = from_compute<T>(static_cast<Compute<T>>(Prod ? 1 : 0));
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t b = 0; b < inner; ++b) {
        const int64_t base = a * n * inner + b;
        T acc = identity;
        for (int64_t s = 0; s < n; ++s) {
          const int64_t i = base + (reverse ? n - 1 - s : s) * inner;
          if (exclusive) {
            py[i] = acc;
            acc = step(acc, px[i]);
          } else {
            acc = step(acc, px[i]);
            py[i] = acc;
          }
        }
      }
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_cumulative_ops(OpRegistry& r) {
  r.add("", "CumSum", {11, 14}, OpDef{cumulative_run<false>, nullptr, cumulative_validate<false>});
  r.add("", "CumProd", {26}, OpDef{cumulative_run<true>, nullptr, cumulative_validate<true>});
}

}  // namespace qtool
