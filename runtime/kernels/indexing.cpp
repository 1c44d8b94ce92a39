// SPDX-License-Identifier: Apache-2.0
// Indexing ops of the ONNX default domain (opsets 7..28): Gather, GatherElements, GatherND,
// Compress, NonZero, Unique, OneHot.
//
// Semantics follow the operator specs (onnx/defs/tensor/defs.cpp) and onnx's reference
// implementation (onnx/reference/ops/op_*.py), which uses numpy: indices may be negative (counted
// from the end) and every one is bounds-checked before use; GatherND's batch_dims (12); Compress is
// numpy.compress (a condition shorter than the axis truncates, one longer may only hold false
// beyond it); NonZero is numpy.nonzero as an int64 [rank, n] tensor (NaN counts as non-zero);
// Unique is numpy.unique (sorted, NaNs equal and last; unsorted = order of first occurrence; with
// an axis the sub-tensors compare lexicographically); OneHot casts float indices and depth to
// int64 (truncation, as the spec says) and leaves indices outside [-depth, depth - 1] all off.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "runtime/kernels/data_movement.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace data_movement;

const uint8_t* bytes(const Tensor& t) { return static_cast<const uint8_t*>(t.raw()); }
uint8_t* bytes(Tensor& t) { return static_cast<uint8_t*>(t.raw()); }

void check_index_type(const KernelContext& c, int input, const char* what) {
  const DType t = c.in(input).dtype();
  if (t != DType::kInt32 && t != DType::kInt64)
    c.fail(std::string("input '") + what + "' has type " + dtype_name(t) + ", expected int32 or int64");
}

// ---- Gather -----------------------------------------------------------------------------------

struct GatherPlan {
  int axis = 0;
  Shape out;
  int64_t outer = 1, n = 0, inner = 1, count = 0;  // count = number of indices
};

GatherPlan gather_plan(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& idx = c.in(1);
  if (x.rank() == 0) c.fail("input 'data' must have rank >= 1");
  check_index_type(c, 1, "indices");
  GatherPlan p;
  p.axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
  p.out.assign(x.shape().begin(), x.shape().begin() + p.axis);
  p.out.insert(p.out.end(), idx.shape().begin(), idx.shape().end());
  p.out.insert(p.out.end(), x.shape().begin() + p.axis + 1, x.shape().end());
  p.outer = extent_product(x.shape(), 0, p.axis);
  p.inner = extent_product(x.shape(), p.axis + 1, x.rank());
  p.n = x.dim(p.axis);
  p.count = idx.numel();
  checked_numel(c, p.out);
  return p;
}

void gather_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) gather_plan(c);
}

template <bool kFast>
void gather_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  const GatherPlan p = gather_plan(c);
  std::vector<int64_t> idx = c.in(1).to_int64s();
  for (auto& k : idx) k = checked_index(c, k, p.n, "index");
  const size_t es = dtype_size(x.dtype());
  Tensor y = Tensor::uninitialized(x.dtype(), p.out);
  const uint8_t* src = bytes(x);
  uint8_t* dst = bytes(y);
  const size_t chunk = static_cast<size_t>(p.inner) * es;
  const int64_t outer = y.numel() > 0 ? p.outer : 0;  // empty extents may still be huge
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < p.count; ++j) {
      uint8_t* d = dst + (o * p.count + j) * chunk;
      const uint8_t* s = src + (o * p.n + idx[j]) * chunk;
      if (kFast) {
        std::memcpy(d, s, chunk);
      } else {
        for (int64_t e = 0; e < p.inner; ++e) std::memcpy(d + e * es, s + e * es, es);
      }
    }
  c.outputs[0] = std::move(y);
}
void gather_ref(KernelContext& c) { gather_run<false>(c); }
bool gather_fast(KernelContext& c) {
  gather_run<true>(c);
  return true;
}

// ---- GatherElements ---------------------------------------------------------------------------

int gather_elements_axis(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& idx = c.in(1);
  if (x.rank() == 0) c.fail("input 'data' must have rank >= 1");
  check_index_type(c, 1, "indices");
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
  if (idx.rank() != x.rank())
    c.fail("input 'indices' " + shape_str(idx.shape()) + " must have the rank of 'data' " + shape_str(x.shape()));
  for (int d = 0; d < x.rank(); ++d)
    if (d != axis && idx.dim(d) > x.dim(d))
      c.fail("input 'indices' " + shape_str(idx.shape()) + " is larger than 'data' " + shape_str(x.shape()) +
             " on axis " + std::to_string(d));
  return axis;
}

void gather_elements_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) gather_elements_axis(c);
}

void gather_elements(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& it = c.in(1);
  const int axis = gather_elements_axis(c);
  const auto idx = it.to_int64s();
  const size_t es = dtype_size(x.dtype());
  Tensor y = Tensor::uninitialized(x.dtype(), it.shape());
  const auto xs = contiguous_strides(x.shape());
  const int r = x.rank();
  const int64_t n = x.dim(axis);
  std::vector<int64_t> pos(r, 0);
  const uint8_t* src = bytes(x);
  uint8_t* dst = bytes(y);
  for (int64_t i = 0; i < it.numel(); ++i) {
    int64_t off = 0;
    for (int d = 0; d < r; ++d) off += (d == axis ? checked_index(c, idx[i], n, "index") : pos[d]) * xs[d];
    std::memcpy(dst + i * es, src + off * es, es);
    for (int d = r - 1; d >= 0; --d) {
      if (++pos[d] < it.dim(d)) break;
      pos[d] = 0;
    }
  }
  c.outputs[0] = std::move(y);
}

// ---- GatherND ---------------------------------------------------------------------------------

struct GatherNDPlan {
  int64_t b = 0, k = 0;      // batch_dims, index tuple length
  int64_t batches = 1, tuples = 1, slice = 1;
  Shape out;
};

GatherNDPlan gather_nd_plan(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& idx = c.in(1);
  check_index_type(c, 1, "indices");
  GatherNDPlan p;
  p.b = c.version >= 12 ? attr_int(c.node, "batch_dims", 0) : 0;
  const int64_t r = x.rank(), q = idx.rank();
  if (r < 1 || q < 1) c.fail("inputs 'data' and 'indices' must have rank >= 1");
  if (p.b < 0 || p.b >= std::min(r, q))
    c.fail("attribute 'batch_dims': " + std::to_string(p.b) + " must be in [0, min(rank(data), rank(indices)))");
  p.k = idx.dim(-1);
  if (p.k > r - p.b)
    c.fail("input 'indices': tuples of " + std::to_string(p.k) + " values index a data of rank " + std::to_string(r) +
           " with " + std::to_string(p.b) + " batch dims");
  for (int64_t d = 0; d < p.b; ++d) {
    if (idx.dim(static_cast<int>(d)) != x.dim(static_cast<int>(d)))
      c.fail("batch dimension " + std::to_string(d) + " differs: indices " + shape_str(idx.shape()) + ", data " +
             shape_str(x.shape()));
    if (__builtin_mul_overflow(p.batches, x.dim(static_cast<int>(d)), &p.batches)) p.batches = INT64_MAX;
    p.out.push_back(x.dim(static_cast<int>(d)));
  }
  for (int64_t d = p.b; d < q - 1; ++d) {
    if (__builtin_mul_overflow(p.tuples, idx.dim(static_cast<int>(d)), &p.tuples)) p.tuples = INT64_MAX;
    p.out.push_back(idx.dim(static_cast<int>(d)));
  }
  for (int64_t d = p.b + p.k; d < r; ++d) {
    if (__builtin_mul_overflow(p.slice, x.dim(static_cast<int>(d)), &p.slice)) p.slice = INT64_MAX;
    p.out.push_back(x.dim(static_cast<int>(d)));
  }
  checked_numel(c, p.out);
  return p;
}

void gather_nd_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) gather_nd_plan(c);
}

void gather_nd(KernelContext& c) {
  const Tensor& x = c.in(0);
  const GatherNDPlan p = gather_nd_plan(c);
  const auto idx = c.in(1).to_int64s();
  const auto xs = contiguous_strides(x.shape());
  const int64_t batch_stride = p.b > 0 ? xs[p.b - 1] : 0;
  const size_t es = dtype_size(x.dtype());
  Tensor y = Tensor::uninitialized(x.dtype(), p.out);
  const uint8_t* src = bytes(x);
  uint8_t* dst = bytes(y);
  const size_t chunk = static_cast<size_t>(p.slice) * es;
  const int64_t batches = y.numel() > 0 ? p.batches : 0;  // empty extents may still be huge
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < p.tuples; ++t) {
      const int64_t* tuple = idx.data() + (bi * p.tuples + t) * p.k;
      int64_t off = bi * batch_stride;
      for (int64_t j = 0; j < p.k; ++j)
        off += checked_index(c, tuple[j], x.dim(static_cast<int>(p.b + j)), "index") * xs[p.b + j];
      std::memcpy(dst + (bi * p.tuples + t) * chunk, src + off * static_cast<int64_t>(es), chunk);
    }
  c.outputs[0] = std::move(y);
}

// ---- Compress ---------------------------------------------------------------------------------

void compress_validate(KernelContext& c) {
  if (!c.has(1)) return;
  const Tensor& cond = c.in(1);
  if (cond.dtype() != DType::kBool) c.fail("input 'condition' has type " + dtype_name(cond.dtype()) + ", expected bool");
  if (cond.rank() != 1) c.fail("input 'condition' must be 1-D, got shape " + shape_str(cond.shape()));
  if (c.has(0) && find_attr(c.node, "axis")) normalize_axis(attr_int(c.node, "axis", 0), c.in(0).rank(), c.node);
}

void compress(KernelContext& c) {
  compress_validate(c);
  const Tensor& x = c.in(0);
  const Tensor& cond = c.in(1);
  const bool has_axis = find_attr(c.node, "axis") != nullptr;
  const int axis = has_axis ? normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node) : 0;
  const int64_t extent = has_axis ? x.dim(axis) : x.numel();
  const bool* cv = cond.data<bool>();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!cv[i]) continue;
    if (i >= extent)
      c.fail("input 'condition' selects position " + std::to_string(i) + " beyond the extent " + std::to_string(extent));
    keep.push_back(i);
  }
  const size_t es = dtype_size(x.dtype());
  int64_t outer = 1, inner = 1;
  Shape out;
  if (has_axis) {
    outer = extent_product(x.shape(), 0, axis);
    inner = extent_product(x.shape(), axis + 1, x.rank());
    out = x.shape();
    out[axis] = static_cast<int64_t>(keep.size());
  } else {
    out = {static_cast<int64_t>(keep.size())};
  }
  Tensor y = Tensor::uninitialized(x.dtype(), out);
  const uint8_t* src = bytes(x);
  uint8_t* dst = bytes(y);
  const size_t chunk = static_cast<size_t>(inner) * es;
  const int64_t nk = static_cast<int64_t>(keep.size());
  if (y.numel() == 0) outer = 0;  // empty extents may still be huge
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < nk; ++j) std::memcpy(dst + (o * nk + j) * chunk, src + (o * extent + keep[j]) * chunk, chunk);
  c.outputs[0] = std::move(y);
}

// ---- NonZero ----------------------------------------------------------------------------------

template <typename T>
bool is_nonzero(const T& v) {
  if constexpr (std::is_same_v<T, Complex64> || std::is_same_v<T, Complex128>) return v.re != 0 || v.im != 0;
  else if constexpr (std::is_same_v<T, bool>) return v;
  else {
    const auto x = to_compute(v);
    return x != 0 || x != x;  // NaN is non-zero
  }
}

void nonzero(KernelContext& c) {
  const Tensor& x = c.in(0);
  std::vector<int64_t> flat;  // linear positions of the non-zero elements
  c.dispatch_or_fail<AllTypes>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(x.raw());
    for (int64_t i = 0; i < x.numel(); ++i)
      if (is_nonzero(p[i])) flat.push_back(i);
  });
  const int r = x.rank();
  const int64_t n = static_cast<int64_t>(flat.size());
  if (r == 0) {  // numpy / onnx reference: shape [0, count]
    c.outputs[0] = Tensor(DType::kInt64, {0, n});
    return;
  }
  Tensor y = Tensor::uninitialized(DType::kInt64, {r, n});
  int64_t* out = y.data<int64_t>();
  const auto st = contiguous_strides(x.shape());
  for (int64_t j = 0; j < n; ++j) {
    int64_t rest = flat[j];
    for (int d = 0; d < r; ++d) {
      out[d * n + j] = rest / st[d];
      rest %= st[d];
    }
  }
  c.outputs[0] = std::move(y);
}

// ---- Unique -----------------------------------------------------------------------------------

// Three-way comparison with NaN equal to NaN and above everything (numpy.unique's order).
template <typename C>
int compare_values(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  }
  return a < b ? -1 : (b < a ? 1 : 0);
}

void unique_validate(KernelContext& c) {
  if (c.has(0) && find_attr(c.node, "axis")) {
    if (c.in(0).rank() == 0) c.fail("attribute 'axis': the input is a scalar");
    normalize_axis(attr_int(c.node, "axis", 0), c.in(0).rank(), c.node);
  }
}

void unique(KernelContext& c) {
  unique_validate(c);
  const Tensor& x = c.in(0);
  const bool has_axis = find_attr(c.node, "axis") != nullptr;
  const bool sorted = attr_int(c.node, "sorted", 1) != 0;
  // Items compared: n slices of `len` elements; slice i element e at outer o is at
  // (o * n + i) * inner + e_inner, with e = o * inner + e_inner.
  int axis = 0;
  int64_t outer = 1, n = x.numel(), inner = 1;
  if (has_axis) {
    axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
    n = x.dim(axis);
    outer = extent_product(x.shape(), 0, axis);
    inner = extent_product(x.shape(), axis + 1, x.rank());
  }
  if (has_axis && x.numel() == 0 && n > 0) {  // every (empty) slice equals the first one
    Shape ys = x.shape();
    ys[axis] = 1;
    c.outputs[0] = Tensor(x.dtype(), ys);
    if (c.outputs.size() > 1) c.outputs[1] = Tensor::from<int64_t>({1}, {0});
    if (c.outputs.size() > 2) c.outputs[2] = Tensor(DType::kInt64, {n});
    if (c.outputs.size() > 3) c.outputs[3] = Tensor::from<int64_t>({1}, {n});
    return;
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> group_of(n);  // item -> unique id (in first-occurrence order of groups found)
  std::vector<int64_t> first;        // unique id -> first item
  std::vector<int64_t> count;
  using Numeric = decltype(NumericTypes{} + TypeList<bool>{} + SmallFloatTypes{} + SubByteIntTypes{});
  c.dispatch_or_fail<Numeric>(0, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    const T* p = static_cast<const T*>(x.raw());
    auto cmp = [&](int64_t a, int64_t b) -> int {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t e = 0; e < inner; ++e) {
          const int r = compare_values<C>(to_compute(p[(o * n + a) * inner + e]), to_compute(p[(o * n + b) * inner + e]));
          if (r) return r;
        }
      return 0;
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (int64_t i = 0; i < n; ++i) {
      if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
        first.push_back(order[i]);  // stable: the first item of a run is its first occurrence
        count.push_back(0);
      }
      group_of[order[i]] = static_cast<int64_t>(first.size()) - 1;
      ++count.back();
    }
  });
  const int64_t u = static_cast<int64_t>(first.size());
  // Output position of each group: sorted order, or order of first occurrence.
  std::vector<int64_t> pos(u), by_pos(u);
  std::iota(by_pos.begin(), by_pos.end(), 0);
  if (!sorted) std::sort(by_pos.begin(), by_pos.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
  for (int64_t k = 0; k < u; ++k) pos[by_pos[k]] = k;

  Shape yshape = has_axis ? x.shape() : Shape{u};
  if (has_axis) yshape[axis] = u;
  Tensor y = Tensor::uninitialized(x.dtype(), yshape);
  const size_t es = dtype_size(x.dtype());
  const size_t chunk = static_cast<size_t>(inner) * es;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < u; ++k)
      std::memcpy(bytes(y) + (o * u + k) * chunk, bytes(x) + (o * n + first[by_pos[k]]) * chunk, chunk);
  c.outputs[0] = std::move(y);
  if (c.outputs.size() > 1) {
    Tensor t = Tensor::uninitialized(DType::kInt64, {u});
    for (int64_t k = 0; k < u; ++k) t.data<int64_t>()[k] = first[by_pos[k]];
    c.outputs[1] = std::move(t);
  }
  if (c.outputs.size() > 2) {
    Tensor t = Tensor::uninitialized(DType::kInt64, {n});
    for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = pos[group_of[i]];
    c.outputs[2] = std::move(t);
  }
  if (c.outputs.size() > 3) {
    Tensor t = Tensor::uninitialized(DType::kInt64, {u});
    for (int64_t k = 0; k < u; ++k) t.data<int64_t>()[k] = count[by_pos[k]];
    c.outputs[3] = std::move(t);
  }
}

// ---- OneHot -----------------------------------------------------------------------------------

int64_t one_hot_depth(const KernelContext& c) {
  const Tensor& d = c.in(1);
  if (d.numel() != 1 || d.rank() > 1) c.fail("input 'depth' must hold one value, got shape " + shape_str(d.shape()));
  int64_t depth = 0;
  c.dispatch_or_fail<NumericTypes>(1, d.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto v = to_compute(static_cast<const T*>(d.raw())[0]);
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      if (!(v >= 0) || v > 9.0e18) c.fail("input 'depth': " + std::to_string(v) + " is not a valid depth");
      depth = static_cast<int64_t>(v);
    } else if constexpr (std::is_unsigned_v<decltype(v)>) {
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) c.fail("input 'depth' is too large");
      depth = static_cast<int64_t>(v);
    } else {
      if (v < 0) c.fail("input 'depth': " + std::to_string(v) + " is negative");
      depth = static_cast<int64_t>(v);
    }
  });
  return depth;
}

Shape one_hot_shape(const KernelContext& c, int64_t depth, int* axis_out) {
  const Tensor& idx = c.in(0);
  const int64_t r = idx.rank();
  const int64_t a = attr_int(c.node, "axis", -1);
  const int64_t axis = a < 0 ? a + r + 1 : a;
  if (axis < 0 || axis > r)
    c.fail("attribute 'axis': " + std::to_string(a) + " is out of range for an output of rank " + std::to_string(r + 1));
  Shape out = idx.shape();
  out.insert(out.begin() + axis, depth);
  checked_numel(c, out);
  *axis_out = static_cast<int>(axis);
  return out;
}

void one_hot_validate(KernelContext& c) {
  if (c.has(2) && c.in(2).numel() != 2)
    c.fail("input 'values' must hold [off_value, on_value], got shape " + shape_str(c.in(2).shape()));
  if (c.has(0) && !dispatch<NumericTypes>(c.in(0).dtype(), [](auto) {})) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(0) && c.has(1)) {
    int axis;
    one_hot_shape(c, one_hot_depth(c), &axis);
  }
}

void one_hot(KernelContext& c) {
  one_hot_validate(c);
  const Tensor& idx = c.in(0);
  const Tensor& values = c.in(2);
  const int64_t depth = one_hot_depth(c);
  int axis;
  const Shape out = one_hot_shape(c, depth, &axis);
  // Position in [0, depth) each index selects, or -1 (all off).
  std::vector<int64_t> sel(idx.numel(), -1);
  c.dispatch_or_fail<NumericTypes>(0, idx.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(idx.raw());
    for (int64_t i = 0; i < idx.numel(); ++i) {
      const auto v = to_compute(p[i]);
      if constexpr (std::is_floating_point_v<decltype(v)>) {
        // cast to int64 (truncation) as the spec says; NaN and values beyond int64 match nothing
        const double d = static_cast<double>(v);
        if (!(std::fabs(d) < 9.0e18)) continue;
        int64_t k = static_cast<int64_t>(d);
        if (k < 0 && k >= -depth) k += depth;
        if (k >= 0 && k < depth) sel[i] = k;
      } else if constexpr (std::is_unsigned_v<decltype(v)>) {
        if (v < static_cast<uint64_t>(depth)) sel[i] = static_cast<int64_t>(v);
      } else {
        int64_t k = static_cast<int64_t>(v);
        if (k < 0 && k >= -depth) k += depth;
        if (k >= 0 && k < depth) sel[i] = k;
      }
    }
  });
  const size_t es = dtype_size(values.dtype());
  const uint8_t* off_v = bytes(values);
  const uint8_t* on_v = off_v + es;
  Tensor y = Tensor::uninitialized(values.dtype(), out);
  int64_t outer = 1, inner = 1;
  outer = extent_product(idx.shape(), 0, axis);
  inner = extent_product(idx.shape(), axis, idx.rank());
  uint8_t* dst = bytes(y);
  if (y.numel() == 0) outer = 0;  // empty extents may still be huge
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < depth; ++k)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = (o * depth + k) * inner + i;
        std::memcpy(dst + at * es, sel[o * inner + i] == k ? on_v : off_v, es);
      }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_indexing_ops(OpRegistry& r) {
  r.add("", "Gather", {1, 11, 13}, data_mover(OpDef{gather_ref, gather_fast, gather_validate}));
  r.add("", "GatherElements", {11, 13}, OpDef{gather_elements, nullptr, gather_elements_validate});
  r.add("", "GatherND", {11, 12, 13}, OpDef{gather_nd, nullptr, gather_nd_validate});
  r.add("", "Compress", {9, 11, 28}, OpDef{compress, nullptr, compress_validate});
  r.add("NonZero", {9, 13}, nonzero);
  r.add("", "Unique", {11, 28}, OpDef{unique, nullptr, unique_validate});
  r.add("", "OneHot", {9, 11, 28}, OpDef{one_hot, nullptr, one_hot_validate});
}

}  // namespace qtool
