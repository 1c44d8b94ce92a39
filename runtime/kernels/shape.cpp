// SPDX-License-Identifier: Apache-2.0
// Shape ops of the ONNX default domain (opsets 7..28): Shape, Size, Reshape, Flatten, Squeeze,
// Unsqueeze. None of them copies data: the output shares the input's buffer with a new shape.
//
// Version semantics follow the operator specs (onnx/defs/tensor/defs.cpp, old.cpp): Shape's
// start/end (15, clamped to [0, rank]); Reshape's 0 = "copy this extent" and -1 = "infer", with
// allowzero (14) making 0 a literal extent; Squeeze/Unsqueeze axes as an attribute (1, 11) or an
// input (13); Flatten's axis in [-rank, rank].
#include <algorithm>

#include "runtime/kernels/data_movement.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace data_movement;

// ---- Shape / Size -----------------------------------------------------------------------------

void shape_op(KernelContext& c) {
  const Shape& s = c.in(0).shape();
  const int64_t r = static_cast<int64_t>(s.size());
  int64_t start = 0, end = r;
  if (c.version >= 15) {
    start = attr_int(c.node, "start", 0);
    end = attr_int(c.node, "end", r);
  }
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  if (end < start) end = start;
  c.outputs[0] = Tensor::from<int64_t>({end - start}, std::vector<int64_t>(s.begin() + start, s.begin() + end));
}

void size_op(KernelContext& c) { c.outputs[0] = Tensor::from<int64_t>({}, {c.in(0).numel()}); }

// ---- Reshape ----------------------------------------------------------------------------------

Shape reshape_target(const KernelContext& c, const Shape& in, const std::vector<int64_t>& target) {
  const bool allowzero = c.version >= 14 && attr_int(c.node, "allowzero", 0) != 0;
  Shape s(target.size());
  int infer = -1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    const int64_t t = target[i];
    if (t == -1) {
      if (infer >= 0) c.fail("input 'shape' " + shape_str(target) + " has more than one -1");
      infer = static_cast<int>(i);
      s[i] = 1;
    } else if (t < -1) {
      c.fail("input 'shape' " + shape_str(target) + " has an invalid extent " + std::to_string(t));
    } else if (t == 0 && !allowzero) {
      if (i >= in.size())
        c.fail("input 'shape' " + shape_str(target) + ": 0 at position " + std::to_string(i) +
               " copies an extent the input " + shape_str(in) + " does not have");
      s[i] = in[i];
    } else {
      has_zero |= t == 0;
      s[i] = t;
    }
  }
  if (allowzero && has_zero && infer >= 0)
    c.fail("input 'shape' " + shape_str(target) + " has both 0 and -1, which allowzero = 1 forbids");
  const int64_t n = checked_numel(c, in);
  const int64_t known = checked_numel(c, s);
  if (infer >= 0) {
    if (known == 0) {
      if (n != 0) c.fail("cannot reshape " + shape_str(in) + " to " + shape_str(target));
      c.fail("cannot infer the -1 extent of " + shape_str(target) + " for the empty input " + shape_str(in));
    }
    if (n % known) c.fail("cannot reshape " + shape_str(in) + " to " + shape_str(target));
    s[infer] = n / known;
  } else if (known != n) {
    c.fail("cannot reshape " + shape_str(in) + " (" + std::to_string(n) + " elements) to " + shape_str(target));
  }
  return s;
}

std::vector<int64_t> reshape_shape_input(const KernelContext& c) {
  if (c.version < 5) return attr_ints(c.node, "shape");
  if (c.in(1).rank() != 1) c.fail("input 'shape' must be 1-D, got shape " + shape_str(c.in(1).shape()));
  return read_int_input(c, 1, "shape");
}

void reshape_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) reshape_target(c, c.in(0).shape(), reshape_shape_input(c));
}

void reshape(KernelContext& c) {
  const Tensor& x = c.in(0);
  c.outputs[0] = x.reshaped(reshape_target(c, x.shape(), reshape_shape_input(c)));
}

// ---- Flatten ----------------------------------------------------------------------------------

Shape flatten_shape(const KernelContext& c, const Shape& in) {
  const int64_t r = static_cast<int64_t>(in.size());
  const int64_t a = attr_int(c.node, "axis", 1);
  const int64_t axis = a < 0 ? a + r : a;
  if (axis < 0 || axis > r)
    c.fail("attribute 'axis': " + std::to_string(a) + " is out of range for rank " + std::to_string(r));
  const int64_t outer = checked_numel(c, Shape(in.begin(), in.begin() + axis));
  const int64_t inner = checked_numel(c, Shape(in.begin() + axis, in.end()));
  return {outer, inner};
}

void flatten_validate(KernelContext& c) {
  if (c.has(0)) flatten_shape(c, c.in(0).shape());
}
void flatten(KernelContext& c) { c.outputs[0] = c.in(0).reshaped(flatten_shape(c, c.in(0).shape())); }

// ---- Squeeze / Unsqueeze ----------------------------------------------------------------------

// The axes list: the attribute before 13, the (optional for Squeeze) input from 13.
bool axes_of(const KernelContext& c, std::vector<int64_t>* axes) {
  if (c.version < 13) {
    *axes = attr_ints(c.node, "axes");
    return find_attr(c.node, "axes") != nullptr;
  }
  if (!c.has(1)) return false;
  if (c.in(1).rank() > 1) c.fail("input 'axes' must be 1-D, got shape " + shape_str(c.in(1).shape()));
  *axes = read_int_input(c, 1, "axes");
  return true;
}

Shape squeeze_shape(const KernelContext& c, const Shape& in) {
  std::vector<int64_t> axes;
  const bool given = axes_of(c, &axes);
  const int r = static_cast<int>(in.size());
  std::vector<bool> drop(r, false);
  if (!given) {
    for (int i = 0; i < r; ++i) drop[i] = in[i] == 1;
  } else {
    for (int i : normalize_axes(c, axes, r, "'axes'")) {
      if (in[i] != 1)
        c.fail("'axes': cannot squeeze axis " + std::to_string(i) + " of extent " + std::to_string(in[i]) + " in " +
               shape_str(in));
      drop[i] = true;
    }
  }
  Shape s;
  for (int i = 0; i < r; ++i)
    if (!drop[i]) s.push_back(in[i]);
  return s;
}

Shape unsqueeze_shape(const KernelContext& c, const Shape& in) {
  std::vector<int64_t> axes;
  if (!axes_of(c, &axes)) c.fail(c.version < 13 ? "attribute 'axes' is required" : "input 'axes' is required");
  const int64_t r64 = static_cast<int64_t>(in.size() + axes.size());
  if (r64 > 1 << 20) c.fail("'axes' has too many values");
  const int r = static_cast<int>(r64);
  std::vector<bool> is_new(r, false);
  for (int i : normalize_axes(c, axes, r, "'axes'")) is_new[i] = true;
  Shape s;
  size_t k = 0;
  for (int i = 0; i < r; ++i) s.push_back(is_new[i] ? 1 : in[k++]);
  return s;
}

template <Shape (*kShape)(const KernelContext&, const Shape&)>
void squeeze_like_validate(KernelContext& c) {
  if (c.has(0) && !(c.version >= 13 && unknown_input(c, 1))) kShape(c, c.in(0).shape());
}
template <Shape (*kShape)(const KernelContext&, const Shape&)>
void squeeze_like(KernelContext& c) {
  c.outputs[0] = c.in(0).reshaped(kShape(c, c.in(0).shape()));
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add("Shape", {1, 13, 15, 19, 21, 23, 24, 25}, shape_op);
  r.add("Size", {1, 13, 19, 21, 23, 24, 25}, size_op);
  r.add("", "Reshape", {5, 13, 14, 19, 21, 23, 24, 25}, data_mover(OpDef{reshape, nullptr, reshape_validate}));
  r.add("", "Flatten", {1, 9, 11, 13, 21, 23, 24, 25}, data_mover(OpDef{flatten, nullptr, flatten_validate}));
  r.add("", "Squeeze", {1, 11, 13, 21, 23, 24, 25},
        data_mover(OpDef{squeeze_like<squeeze_shape>, nullptr, squeeze_like_validate<squeeze_shape>}));
  r.add("", "Unsqueeze", {1, 11, 13, 21, 23, 24, 25},
        data_mover(OpDef{squeeze_like<unsqueeze_shape>, nullptr, squeeze_like_validate<unsqueeze_shape>}));
}

}  // namespace qtool
