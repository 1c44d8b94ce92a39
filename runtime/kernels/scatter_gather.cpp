// SPDX-License-Identifier: Apache-2.0
// Scatter ops of the ONNX default domain (opsets 7..28): ScatterND, ScatterElements, Scatter
// (the deprecated ScatterElements of opsets 9..10, still listed at 11) and TensorScatter (24, the
// KV-cache update).
//
// Semantics follow the operator specs (onnx/defs/tensor/defs.cpp) and onnx's reference
// implementation (onnx/reference/ops/op_scatternd.py, op_scatter_elements.py,
// op_tensor_scatter.py): updates are applied in index order, so with reduction 'none' the last
// duplicate wins; reductions add / mul (16) and max / min (18) combine in the data type (integers
// wrap as numpy does, bool add = or and mul = and, float16/bfloat16 round after every step, NaN
// propagates through max/min). Indices may be negative (counted from the end) and every one is
// checked before it is used. TensorScatter writes `update` into a copy of the cache at
// write_indices[batch] + s along `axis`; mode 'circular' takes that modulo the cache length.
#include <cmath>
#include <cstring>

#include "runtime/kernels/data_movement.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace data_movement;

const uint8_t* bytes(const Tensor& t) { return static_cast<const uint8_t*>(t.raw()); }
uint8_t* bytes(Tensor& t) { return static_cast<uint8_t*>(t.raw()); }

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_of(const KernelContext& c) {
  if (c.version < 16) return Reduction::kNone;
  const std::string r = attr_string(c.node, "reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (c.version >= 18 && r == "max") return Reduction::kMax;
  if (c.version >= 18 && r == "min") return Reduction::kMin;
  c.fail("attribute 'reduction': unsupported value '" + r + "' (none, add, mul" +
         (c.version >= 18 ? ", max, min)" : ")"));
}

template <typename T>
T combine(Reduction red, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (red) {
      case Reduction::kAdd: case Reduction::kMax: return a || b;
      case Reduction::kMul: case Reduction::kMin: return a && b;
      default: return b;
    }
  } else if constexpr (std::is_integral_v<T>) {
    const uint64_t x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
    switch (red) {
      case Reduction::kAdd: return static_cast<T>(x + y);
      case Reduction::kMul: return static_cast<T>(x * y);
      case Reduction::kMax: return a < b ? b : a;
      case Reduction::kMin: return b < a ? b : a;
      default: return b;
    }
  } else {
    const auto x = to_compute(a), y = to_compute(b);
    using C = std::remove_const_t<decltype(x)>;
    C r = y;
    switch (red) {
      case Reduction::kAdd: r = x + y; break;
      case Reduction::kMul: r = x * y; break;
      case Reduction::kMax: r = std::isnan(x) || std::isnan(y) ? std::numeric_limits<C>::quiet_NaN() : std::max(x, y); break;
      case Reduction::kMin: r = std::isnan(x) || std::isnan(y) ? std::numeric_limits<C>::quiet_NaN() : std::min(x, y); break;
      default: break;
    }
    return from_compute<T>(r);
  }
}

using ReduceTypes = decltype(NumericTypes{} + TypeList<bool>{});

// Applies out[dst_offsets[i]] (op)= upd[i] for `chunk`-element runs, in order.
void apply_updates(const KernelContext& c, Reduction red, Tensor& out, const Tensor& upd,
                   const std::vector<int64_t>& dst, const std::vector<int64_t>& src, int64_t chunk) {
  const size_t es = dtype_size(out.dtype());
  uint8_t* o = bytes(out);
  const uint8_t* u = bytes(upd);
  if (red == Reduction::kNone) {
    for (size_t i = 0; i < dst.size(); ++i)
      std::memcpy(o + dst[i] * es, u + src[i] * es, static_cast<size_t>(chunk) * es);
    return;
  }
  c.dispatch_or_fail<ReduceTypes>(0, out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* op = reinterpret_cast<T*>(o);
    const T* up = reinterpret_cast<const T*>(u);
    for (size_t i = 0; i < dst.size(); ++i)
      for (int64_t e = 0; e < chunk; ++e) op[dst[i] + e] = combine<T>(red, op[dst[i] + e], up[src[i] + e]);
  });
}

void check_same_type(const KernelContext& c, int a, int b, const char* name_b) {
  if (c.in(a).dtype() != c.in(b).dtype())
    c.fail(std::string("input '") + name_b + "' has type " + dtype_name(c.in(b).dtype()) + ", 'data' has " +
           dtype_name(c.in(a).dtype()));
}

// ---- ScatterND --------------------------------------------------------------------------------

void scatter_nd_validate(KernelContext& c) {
  reduction_of(c);
  if (!c.has(0) || !c.has(1)) return;
  const Tensor& x = c.in(0);
  const Tensor& idx = c.in(1);
  if (idx.dtype() != DType::kInt64 && idx.dtype() != DType::kInt32)
    c.fail("input 'indices' has type " + dtype_name(idx.dtype()) + ", expected int64");
  if (x.rank() < 1 || idx.rank() < 1) c.fail("inputs 'data' and 'indices' must have rank >= 1");
  const int64_t k = idx.dim(-1);
  if (k > x.rank())
    c.fail("input 'indices': tuples of " + std::to_string(k) + " values for a data of rank " + std::to_string(x.rank()));
  if (!c.has(2)) return;
  check_same_type(c, 0, 2, "updates");
  Shape want(idx.shape().begin(), idx.shape().end() - 1);
  want.insert(want.end(), x.shape().begin() + k, x.shape().end());
  if (c.in(2).shape() != want)
    c.fail("input 'updates' has shape " + shape_str(c.in(2).shape()) + ", expected " + shape_str(want));
}

void scatter_nd(KernelContext& c) {
  scatter_nd_validate(c);
  const Tensor& x = c.in(0);
  const Tensor& it = c.in(1);
  const Tensor& upd = c.in(2);
  const Reduction red = reduction_of(c);
  const int64_t k = it.dim(-1);
  const auto xs = contiguous_strides(x.shape());
  const int64_t chunk = extent_product(x.shape(), k, x.rank());
  if (k == 0 && x.numel() == 0) {  // whole-tensor updates of an empty tensor: nothing to write
    c.outputs[0] = x.clone();
    return;
  }
  // with k == 0 every tuple rewrites all of `data`, so tuples <= updates.numel()
  const int64_t tuples = k ? it.numel() / k : shape_numel(Shape(it.shape().begin(), it.shape().end() - 1));
  const auto idx = it.to_int64s();
  std::vector<int64_t> dst(tuples), src(tuples);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) off += checked_index(c, idx[t * k + j], x.dim(static_cast<int>(j)), "index") * xs[j];
    dst[t] = off;
    src[t] = t * chunk;
  }
  Tensor y = x.clone();
  apply_updates(c, red, y, upd, dst, src, chunk);
  c.outputs[0] = std::move(y);
}

// ---- ScatterElements / Scatter ----------------------------------------------------------------

int scatter_elements_axis(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& idx = c.in(1);
  if (idx.dtype() != DType::kInt64 && idx.dtype() != DType::kInt32)
    c.fail("input 'indices' has type " + dtype_name(idx.dtype()) + ", expected int32 or int64");
  if (x.rank() < 1) c.fail("input 'data' must have rank >= 1");
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
  if (idx.rank() != x.rank())
    c.fail("input 'indices' " + shape_str(idx.shape()) + " must have the rank of 'data' " + shape_str(x.shape()));
  for (int d = 0; d < x.rank(); ++d)
    if (d != axis && idx.dim(d) > x.dim(d))
      c.fail("input 'indices' " + shape_str(idx.shape()) + " is larger than 'data' " + shape_str(x.shape()) +
             " on axis " + std::to_string(d));
  if (c.has(2)) {
    check_same_type(c, 0, 2, "updates");
    if (c.in(2).shape() != idx.shape())
      c.fail("input 'updates' has shape " + shape_str(c.in(2).shape()) + ", 'indices' has " + shape_str(idx.shape()));
  }
  return axis;
}

void scatter_elements_validate(KernelContext& c) {
  reduction_of(c);
  if (c.has(0) && c.has(1)) scatter_elements_axis(c);
}

void scatter_elements(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& it = c.in(1);
  const Tensor& upd = c.in(2);
  const int axis = scatter_elements_axis(c);
  const Reduction red = reduction_of(c);
  const auto idx = it.to_int64s();
  const auto xs = contiguous_strides(x.shape());
  const int r = x.rank();
  const int64_t n = x.dim(axis), count = it.numel();
  std::vector<int64_t> dst(count), src(count), pos(r, 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t off = 0;
    for (int d = 0; d < r; ++d) off += (d == axis ? checked_index(c, idx[i], n, "index") : pos[d]) * xs[d];
    dst[i] = off;
    src[i] = i;
    for (int d = r - 1; d >= 0; --d) {
      if (++pos[d] < it.dim(d)) break;
      pos[d] = 0;
    }
  }
  Tensor y = x.clone();
  apply_updates(c, red, y, upd, dst, src, 1);
  c.outputs[0] = std::move(y);
}

// ---- TensorScatter ----------------------------------------------------------------------------

struct TensorScatterPlan {
  int axis = 0;
  bool circular = false;
};

TensorScatterPlan tensor_scatter_plan(const KernelContext& c) {
  const Tensor& cache = c.in(0);
  const Tensor& upd = c.in(1);
  TensorScatterPlan p;
  const std::string mode = attr_string(c.node, "mode", "linear");
  if (mode != "linear" && mode != "circular")
    c.fail("attribute 'mode': must be 'linear' or 'circular', got '" + mode + "'");
  p.circular = mode == "circular";
  if (cache.rank() < 2) c.fail("input 'past_cache' must have rank >= 2, got shape " + shape_str(cache.shape()));
  p.axis = normalize_axis(attr_int(c.node, "axis", -2), cache.rank(), c.node);
  if (p.axis == 0) c.fail("attribute 'axis': the sequence axis cannot be the batch axis 0");
  check_same_type(c, 0, 1, "update");
  if (upd.rank() != cache.rank())
    c.fail("input 'update' " + shape_str(upd.shape()) + " must have the rank of 'past_cache' " + shape_str(cache.shape()));
  for (int d = 0; d < cache.rank(); ++d)
    if (d == p.axis ? upd.dim(d) > cache.dim(d) : upd.dim(d) != cache.dim(d))
      c.fail("input 'update' " + shape_str(upd.shape()) + " does not fit 'past_cache' " + shape_str(cache.shape()) +
             " (axis " + std::to_string(p.axis) + ")");
  if (c.has(2)) {
    const Tensor& w = c.in(2);
    if (w.dtype() != DType::kInt64 && w.dtype() != DType::kInt32)
      c.fail("input 'write_indices' has type " + dtype_name(w.dtype()) + ", expected int64");
    if (w.rank() != 1 || w.dim(0) != cache.dim(0))
      c.fail("input 'write_indices' must have shape [" + std::to_string(cache.dim(0)) + "], got " +
             shape_str(w.shape()));
  }
  return p;
}

void tensor_scatter_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) tensor_scatter_plan(c);
}

void tensor_scatter(KernelContext& c) {
  const Tensor& cache = c.in(0);
  const Tensor& upd = c.in(1);
  const TensorScatterPlan p = tensor_scatter_plan(c);
  const int64_t batch = cache.dim(0), max_len = cache.dim(p.axis), len = upd.dim(p.axis);
  std::vector<int64_t> wi = c.has(2) ? c.in(2).to_int64s() : std::vector<int64_t>(batch, 0);
  for (int64_t b = 0; b < batch; ++b) {
    if (p.circular) {
      if (max_len == 0 && len > 0) c.fail("cannot write into an empty cache");
    } else if (wi[b] < 0 || wi[b] > max_len - len) {
      c.fail("input 'write_indices': " + std::to_string(wi[b]) + " + " + std::to_string(len) +
             " updates do not fit a cache of length " + std::to_string(max_len) + " (batch " + std::to_string(b) + ")");
    }
  }
  if (upd.numel() == 0) {  // nothing to write (empty extents may still be huge)
    c.outputs[0] = cache.clone();
    return;
  }
  // extents between the batch and the sequence axis, and after the axis
  const int64_t mid = extent_product(cache.shape(), 1, p.axis), inner = extent_product(cache.shape(), p.axis + 1, cache.rank());
  Tensor y = cache.clone();
  const size_t es = dtype_size(cache.dtype());
  const size_t chunk = static_cast<size_t>(inner) * es;
  const uint8_t* u = bytes(upd);
  uint8_t* o = bytes(y);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t m = 0; m < mid; ++m)
      for (int64_t s = 0; s < len; ++s) {
        int64_t at = wi[b] + s;
        if (p.circular) at = ((at % max_len) + max_len) % max_len;
        std::memcpy(o + ((b * mid + m) * max_len + at) * chunk, u + ((b * mid + m) * len + s) * chunk, chunk);
      }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_scatter_gather_ops(OpRegistry& r) {
  r.add("", "ScatterND", {11, 13, 16, 18}, OpDef{scatter_nd, nullptr, scatter_nd_validate});
  r.add("", "ScatterElements", {11, 13, 16, 18}, OpDef{scatter_elements, nullptr, scatter_elements_validate});
  r.add("", "Scatter", {9, 11}, OpDef{scatter_elements, nullptr, scatter_elements_validate});
  r.add("", "TensorScatter", {24}, OpDef{tensor_scatter, nullptr, tensor_scatter_validate});
}

}  // namespace qtool
