// SPDX-License-Identifier: Apache-2.0
// ArgMax, ArgMin and TopK (ONNX opsets 1..28).
//
// ArgMax / ArgMin: int64 index of the extreme along `axis` (default 0), keepdims (default 1),
// select_last_index (from 12) picks the last of equal extremes instead of the first. NaN follows
// numpy (onnx/reference/ops/op_argmax.py): the first NaN wins (the last with select_last_index).
// TopK: k as attribute (1) or one-element int64 input (10+), axis (default -1), largest and
// sorted (11+; unsorted output is returned sorted, which the spec allows). Order as
// onnx/reference/ops/op_topk.py: by value, equal values by lower index; NaN ranks above every
// number (first when largest, last when smallest).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/kernels/reduce_util.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace reduce_util;

template <typename C>
inline bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return std::isnan(v);
  else return false;
}

// [outer, n, inner] around one axis.
struct AxisGeometry {
  int axis = 0;
  int64_t outer = 1, n = 1, inner = 1;
};

AxisGeometry axis_geometry(const KernelContext& c, const Tensor& x, int64_t axis_attr) {
  AxisGeometry g;
  g.axis = checked_axis(c, axis_attr, x.rank());
  for (int i = 0; i < g.axis; ++i) g.outer *= x.dim(i);
  g.n = x.dim(g.axis);
  for (int i = g.axis + 1; i < x.rank(); ++i) g.inner *= x.dim(i);
  return g;
}

// ---- ArgMax / ArgMin -------------------------------------------------------------------------

template <bool Max>
void arg_validate(KernelContext& c) {
  attr_int(c.node, "keepdims", 1);
  if (c.version >= 12) attr_int(c.node, "select_last_index", 0);
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const Tensor& x = c.in(0);
  if (!dispatch<NumericTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  const auto g = axis_geometry(c, x, attr_int(c.node, "axis", 0));
  if (g.n == 0 && g.outer * g.inner > 0)
    c.fail("attribute 'axis': cannot take the arg" + std::string(Max ? "max" : "min") + " along an axis of extent 0");
}

template <bool Max>
void arg_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  const auto g = axis_geometry(c, x, attr_int(c.node, "axis", 0));
  const bool keep = attr_int(c.node, "keepdims", 1) != 0;
  const bool last = c.version >= 12 && attr_int(c.node, "select_last_index", 0) != 0;
  if (g.n == 0 && g.outer * g.inner > 0)
    c.fail("attribute 'axis': cannot take the arg" + std::string(Max ? "max" : "min") + " along an axis of extent 0");
  Shape out_shape;
  for (int i = 0; i < x.rank(); ++i) {
    if (i != g.axis) out_shape.push_back(x.dim(i));
    else if (keep) out_shape.push_back(1);
  }
  Tensor y = Tensor::uninitialized(DType::kInt64, out_shape);
  int64_t* py = y.data<int64_t>();
  c.dispatch_or_fail<NumericTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    for (int64_t a = 0; a < g.outer; ++a)
      for (int64_t b = 0; b < g.inner; ++b) {
        const T* q = px + a * g.n * g.inner + b;
        int64_t best = 0;
        auto bv = to_compute(q[0]);
        for (int64_t i = 1; i < g.n; ++i) {
          const auto v = to_compute(q[i * g.inner]);
          bool take;
          if (last) take = is_nan(v) || (!is_nan(bv) && (Max ? v >= bv : v <= bv));
          else take = !is_nan(bv) && (is_nan(v) || (Max ? v > bv : v < bv));
          if (take) {
            best = i;
            bv = v;
          }
        }
        py[a * g.inner + b] = best;
      }
  });
  c.outputs[0] = std::move(y);
}

// ---- TopK ------------------------------------------------------------------------------------

using TopKTypes = NumericTypes;

void topk_validate(KernelContext& c) {
  if (c.version < 10 && !find_attr(c.node, "k")) c.fail("attribute 'k' is required");
  if (c.version >= 11) {
    attr_int(c.node, "largest", 1);
    attr_int(c.node, "sorted", 1);
  }
  if (!c.has(0) || !c.value(0).is_tensor()) return;
  const Tensor& x = c.in(0);
  if (!dispatch<TopKTypes>(x.dtype(), [](auto) {})) c.fail_dtype(0, x.dtype());
  const auto g = axis_geometry(c, x, attr_int(c.node, "axis", -1));
  if (c.version < 10) {
    const int64_t k = attr_int(c.node, "k", 0);
    if (k < 0 || k > g.n)
      c.fail("attribute 'k': " + std::to_string(k) + " is outside [0, " + std::to_string(g.n) + "]");
  }
  if (c.version >= 10 && c.has(1) && c.value(1).is_tensor()) {
    const Tensor& k = c.in(1);
    if (!is_integer_tensor(k) || k.numel() != 1 || k.rank() > 1)
      c.fail("input 'K' must be a one-element int64 tensor, got " + dtype_name(k.dtype()) + " " + shape_str(k.shape()));
  }
}

void topk_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  const auto g = axis_geometry(c, x, attr_int(c.node, "axis", -1));
  const int64_t k = c.version < 10 ? attr_int(c.node, "k", 0) : scalar_int_input(c, 1, "K");
  if (k < 0 || k > g.n)
    c.fail("input 'K': " + std::to_string(k) + " is outside [0, " + std::to_string(g.n) + "] (the extent of axis " +
           std::to_string(g.axis) + ")");
  const bool largest = c.version < 11 || attr_int(c.node, "largest", 1) != 0;
  Shape out_shape = x.shape();
  out_shape[g.axis] = k;
  Tensor values = Tensor::uninitialized(x.dtype(), out_shape);
  Tensor indices = Tensor::uninitialized(DType::kInt64, out_shape);
  int64_t* pi = indices.data<int64_t>();
  c.dispatch_or_fail<TopKTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::vector<C> key(g.n);
    std::vector<int64_t> order(g.n);
    // a before b: by value (NaN above every number), then by lower index.
    auto before = [&](int64_t a, int64_t b) {
      const C va = key[a], vb = key[b];
      const bool na = is_nan(va), nb = is_nan(vb);
      if (na || nb) {
        if (na && nb) return a < b;
        return largest ? na : nb;
      }
      if (va != vb) return largest ? va > vb : va < vb;
      return a < b;
    };
    for (int64_t a = 0; a < g.outer; ++a)
      for (int64_t b = 0; b < g.inner; ++b) {
        const int64_t base = a * g.n * g.inner + b;
        for (int64_t i = 0; i < g.n; ++i) key[i] = to_compute(px[base + i * g.inner]);
        std::iota(order.begin(), order.end(), int64_t{0});
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        const int64_t obase = a * k * g.inner + b;
        for (int64_t i = 0; i < k; ++i) {
          pv[obase + i * g.inner] = px[base + order[i] * g.inner];
          pi[obase + i * g.inner] = order[i];
        }
      }
  });
  c.outputs[0] = std::move(values);
  if (c.outputs.size() > 1) c.outputs[1] = std::move(indices);
}

}  // namespace

void register_arg_topk_ops(OpRegistry& r) {
  r.add("", "ArgMax", {1, 11, 12, 13}, OpDef{arg_run<true>, nullptr, arg_validate<true>});
  r.add("", "ArgMin", {1, 11, 12, 13}, OpDef{arg_run<false>, nullptr, arg_validate<false>});
  r.add("", "TopK", {1, 10, 11, 24}, OpDef{topk_run, nullptr, topk_validate});
}

}  // namespace qtool
