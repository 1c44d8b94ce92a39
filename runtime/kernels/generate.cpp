// SPDX-License-Identifier: Apache-2.0
// Generator ops of the ONNX default domain (opsets 7..28): Constant, ConstantOfShape, EyeLike,
// Range.
//
// Semantics follow the operator specs (onnx/defs/generator/defs.cpp) and onnx's reference
// implementation (onnx/reference/ops/op_constant.py, op_constant_of_shape.py, op_eyelike.py,
// op_range.py): Constant takes exactly one of value / sparse_value (11) / value_float(s) /
// value_int(s) (12; strings are not supported by qtool's tensors and fail clearly);
// ConstantOfShape fills with a one-element `value` tensor (float32 0 by default); EyeLike puts
// ones on diagonal k of a 2-D tensor; Range has max(ceil((limit - start) / delta), 0) elements
// computed as numpy.arange does: integers exactly, floats as start + i * ((start + delta) - start)
// in double (float16 / bfloat16 in the stash_type precision, 27). Outputs are allocated through
// Tensor only (sizes overflow-checked first), so the executor's AllocationCap sees every
// gigantic request.
#include <cmath>
#include <cstring>
#include <limits>

#include "io/onnx_tensor.h"
#include "runtime/kernels/data_movement.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace data_movement;

// Fills `n` elements of `es` bytes at dst with the element at `value`.
void fill_elements(uint8_t* dst, int64_t n, const uint8_t* value, size_t es) {
  if (n <= 0) return;
  bool all_same = true;
  for (size_t i = 1; i < es; ++i) all_same &= value[i] == value[0];
  if (all_same) {
    std::memset(dst, value[0], static_cast<size_t>(n) * es);
    return;
  }
  std::memcpy(dst, value, es);
  int64_t done = 1;
  while (done < n) {  // doubling copies
    const int64_t k = std::min(done, n - done);
    std::memcpy(dst + done * es, dst, static_cast<size_t>(k) * es);
    done += k;
  }
}

// ---- Constant ---------------------------------------------------------------------------------

Tensor densify(const KernelContext& c, const onnx::SparseTensorProto& sp) {
  Shape dims(sp.dims().begin(), sp.dims().end());
  const int64_t n = checked_numel(c, dims);
  Tensor values = tensor_from_proto(sp.values());
  Tensor idx = tensor_from_proto(sp.indices());
  if (idx.dtype() != DType::kInt64) c.fail("attribute 'sparse_value': indices must be int64");
  const int64_t nnz = values.numel(), r = static_cast<int64_t>(dims.size());
  if (values.rank() != 1) c.fail("attribute 'sparse_value': values must be 1-D");
  const bool linear = idx.rank() == 1;
  if (linear ? idx.dim(0) != nnz : (idx.rank() != 2 || idx.dim(0) != nnz || idx.dim(1) != r))
    c.fail("attribute 'sparse_value': indices of shape " + shape_str(idx.shape()) + " do not match " +
           std::to_string(nnz) + " values of a tensor of rank " + std::to_string(r));
  Tensor dense(values.dtype(), dims);
  const int64_t* ip = idx.data<int64_t>();
  const auto st = contiguous_strides(dims);
  const size_t es = dtype_size(values.dtype());
  for (int64_t i = 0; i < nnz; ++i) {
    int64_t at = 0;
    if (linear) {
      at = ip[i];
      if (at < 0 || at >= n) c.fail("attribute 'sparse_value': index " + std::to_string(at) + " is out of range");
    } else {
      for (int64_t d = 0; d < r; ++d) {
        const int64_t v = ip[i * r + d];
        if (v < 0 || v >= dims[d])
          c.fail("attribute 'sparse_value': coordinate " + std::to_string(v) + " is out of range for extent " +
                 std::to_string(dims[d]));
        at += v * st[d];
      }
    }
    std::memcpy(static_cast<uint8_t*>(dense.raw()) + at * es, static_cast<const uint8_t*>(values.raw()) + i * es, es);
  }
  return dense;
}

void constant(KernelContext& c) {
  static const char* const kNames[] = {"value", "sparse_value", "value_float", "value_floats",
                                       "value_int", "value_ints", "value_string", "value_strings"};
  const onnx::AttributeProto* a = nullptr;
  std::string which;
  for (const char* name : kNames)
    if (const auto* found = find_attr(c.node, name)) {
      if (a) c.fail("has both attribute '" + which + "' and '" + name + "'; exactly one value is allowed");
      a = found;
      which = name;
    }
  if (!a) c.fail("has no value attribute (value, sparse_value, value_float(s), value_int(s))");
  if (which == "value") {
    const auto* t = attr_tensor(c.node, "value");
    if (!t) c.fail("attribute 'value': holds no tensor");
    c.outputs[0] = tensor_from_proto(*t);
  } else if (which == "sparse_value") {
    if (a->type() != onnx::AttributeProto::SPARSE_TENSOR || !a->has_sparse_tensor())
      c.fail("attribute 'sparse_value': holds no sparse tensor");
    c.outputs[0] = densify(c, a->sparse_tensor());
  } else if (which == "value_float") {
    c.outputs[0] = Tensor::from<float>({}, {attr_float(c.node, which, 0.f)});
  } else if (which == "value_floats") {
    auto v = attr_floats(c.node, which);
    c.outputs[0] = Tensor::from<float>({static_cast<int64_t>(v.size())}, v);
  } else if (which == "value_int") {
    c.outputs[0] = Tensor::from<int64_t>({}, {attr_int(c.node, which, 0)});
  } else if (which == "value_ints") {
    auto v = attr_ints(c.node, which);
    c.outputs[0] = Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, v);
  } else {
    c.fail("attribute '" + which + "': string tensors are not supported");
  }
}

// ---- ConstantOfShape --------------------------------------------------------------------------

Tensor constant_of_shape_value(const KernelContext& c) {
  const auto* t = attr_tensor(c.node, "value");
  if (!t) return Tensor::from<float>({}, {0.f});
  Tensor v = tensor_from_proto(*t);
  if (v.numel() != 1) c.fail("attribute 'value': must hold one element, got shape " + shape_str(v.shape()));
  return v;
}

Shape constant_of_shape_shape(const KernelContext& c) {
  const Tensor& s = c.in(0);
  if (s.rank() != 1) c.fail("input 'input' must be a 1-D shape, got shape " + shape_str(s.shape()));
  Shape out = read_int_input(c, 0, "input");
  for (int64_t d : out)
    if (d < 0) c.fail("input 'input' has a negative extent " + std::to_string(d) + " in " + shape_str(out));
  checked_numel(c, out);
  return out;
}

void constant_of_shape_validate(KernelContext& c) {
  constant_of_shape_value(c);
  if (c.has(0)) constant_of_shape_shape(c);
}

void constant_of_shape(KernelContext& c) {
  const Tensor value = constant_of_shape_value(c);
  Tensor y = Tensor::uninitialized(value.dtype(), constant_of_shape_shape(c));
  fill_elements(static_cast<uint8_t*>(y.raw()), y.numel(), static_cast<const uint8_t*>(value.raw()),
                dtype_size(value.dtype()));
  c.outputs[0] = std::move(y);
}

// ---- EyeLike ----------------------------------------------------------------------------------

using EyeTypes = decltype(NumericTypes{} + TypeList<bool>{});

DType eye_like_dtype(const KernelContext& c, DType input) {
  if (!find_attr(c.node, "dtype")) return input;
  const int64_t v = attr_int(c.node, "dtype", 0);
  const DType t = static_cast<DType>(v);
  if (v < 1 || v > kMaxDTypeValue || !dispatch<EyeTypes>(t, [](auto) {}))
    c.fail("attribute 'dtype': " + std::to_string(v) + " (" + dtype_name(t) + ") is not a supported output type");
  return t;
}

void eye_like_validate(KernelContext& c) {
  if (!c.has(0)) return;
  if (c.in(0).rank() != 2) c.fail("input must be 2-D, got shape " + shape_str(c.in(0).shape()));
  eye_like_dtype(c, c.in(0).dtype());
}

void eye_like(KernelContext& c) {
  eye_like_validate(c);
  const Tensor& x = c.in(0);
  const DType dt = eye_like_dtype(c, x.dtype());
  const int64_t k = attr_int(c.node, "k", 0), rows = x.dim(0), cols = x.dim(1);
  Tensor y(dt, x.shape());  // zero-filled
  c.dispatch_or_fail<EyeTypes>(0, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = y.data<T>();
    T one;
    if constexpr (std::is_same_v<T, bool>) one = true;
    else one = from_compute<T>(Compute<T>(1));
    // (i, i + k) for 0 <= i < rows and 0 <= i + k < cols
    if (k >= cols || k <= -rows) return;
    for (int64_t i = k < 0 ? -k : 0; i < rows && i + k < cols; ++i) p[i * cols + i + k] = one;
  });
  c.outputs[0] = std::move(y);
}

// ---- Range ------------------------------------------------------------------------------------

using RangeTypes = NumericTypes;

void range_validate(KernelContext& c) {
  for (int i = 0; i < 3; ++i) {
    if (!c.has(i)) continue;
    const Tensor& t = c.in(i);
    static const char* const kNames[] = {"start", "limit", "delta"};
    if (t.numel() != 1 || t.rank() > 1)
      c.fail(std::string("input '") + kNames[i] + "' must be a scalar, got shape " + shape_str(t.shape()));
    if (c.has(0) && t.dtype() != c.in(0).dtype())
      c.fail(std::string("input '") + kNames[i] + "' has type " + dtype_name(t.dtype()) + ", 'start' has " +
             dtype_name(c.in(0).dtype()));
    if (!dispatch<RangeTypes>(t.dtype(), [](auto) {})) c.fail_dtype(i, t.dtype());
  }
  if (c.version >= 27 && find_attr(c.node, "stash_type")) {
    const int64_t s = attr_int(c.node, "stash_type", 1);
    if (s != static_cast<int64_t>(DType::kFloat) && s != static_cast<int64_t>(DType::kDouble))
      c.fail("attribute 'stash_type': must be 1 (float) or 11 (double), got " + std::to_string(s));
  }
}

// Elements of a float range, numpy's rule; fails for a zero or non-finite count.
int64_t float_range_count(const KernelContext& c, double start, double limit, double delta) {
  if (delta == 0) c.fail("input 'delta' must not be 0");
  const double q = std::ceil((limit - start) / delta);
  if (std::isnan(q)) c.fail("the number of elements is not a number (start, limit or delta is NaN or infinite)");
  if (q <= 0) return 0;
  if (q >= 9.2e18) c.fail("the range has too many elements");
  return static_cast<int64_t>(q);
}

template <typename T, typename C>
void fill_float_range(T* out, int64_t n, double start, double delta) {
  if (n <= 0) return;
  const C v0 = static_cast<C>(start);
  const C v1 = static_cast<C>(static_cast<double>(v0) + delta);
  const C step = static_cast<C>(v1 - v0);
  for (int64_t i = 0; i < n; ++i) out[i] = from_compute<T>(i == 1 ? v1 : static_cast<C>(v0 + static_cast<C>(i) * step));
}

void range(KernelContext& c) {
  range_validate(c);
  const Tensor& ts = c.in(0);
  c.in(1);
  c.in(2);
  c.dispatch_or_fail<RangeTypes>(0, ts.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto start = to_compute(c.in(0).data<T>()[0]);
    const auto limit = to_compute(c.in(1).data<T>()[0]);
    const auto delta = to_compute(c.in(2).data<T>()[0]);
    if constexpr (std::is_integral_v<decltype(start)>) {
      if (delta == 0) c.fail("input 'delta' must not be 0");
      const __int128 span = static_cast<__int128>(limit) - static_cast<__int128>(start), d = delta;
      __int128 n = span / d;
      if (n * d != span && ((span > 0) == (d > 0))) ++n;  // ceil toward +inf of span / d
      if (n < 0) n = 0;
      if (n > std::numeric_limits<int64_t>::max()) c.fail("the range has too many elements");
      Tensor y = Tensor::uninitialized(ts.dtype(), {static_cast<int64_t>(n)});
      T* out = y.data<T>();
      for (int64_t i = 0; i < static_cast<int64_t>(n); ++i)
        out[i] = static_cast<T>(static_cast<__int128>(start) + static_cast<__int128>(i) * d);
      c.outputs[0] = std::move(y);
    } else {
      const double s = static_cast<double>(start), l = static_cast<double>(limit), d = static_cast<double>(delta);
      const int64_t n = float_range_count(c, s, l, d);
      Tensor y = Tensor::uninitialized(ts.dtype(), {n});
      T* out = y.data<T>();
      constexpr bool kLow = std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;
      const bool stash_double = attr_int(c.node, "stash_type", 1) == static_cast<int64_t>(DType::kDouble);
      if (kLow && !(c.version >= 27 && stash_double)) fill_float_range<T, float>(out, n, s, d);
      else fill_float_range<T, double>(out, n, s, d);
      c.outputs[0] = std::move(y);
    }
  });
}

}  // namespace

void register_generate_ops(OpRegistry& r) {
  r.add("Constant", {1, 9, 11, 12, 13, 19, 21, 23, 24, 25}, constant);
  r.add("", "ConstantOfShape", {9, 20, 21, 23, 24, 25},
        OpDef{constant_of_shape, nullptr, constant_of_shape_validate});
  r.add("", "EyeLike", {9, 22}, OpDef{eye_like, nullptr, eye_like_validate});
  r.add("", "Range", {11, 27}, OpDef{range, nullptr, range_validate});
}

}  // namespace qtool
