// Data-movement ops, dtype-agnostic (they copy elements as bytes): Shape, Gather, Slice, Concat,
// Reshape, Transpose, Unsqueeze, Squeeze, Flatten, Expand, ConstantOfShape, Constant.
// Opset differences handled: Slice (attrs < 10, inputs >= 10), Unsqueeze/Squeeze (attrs < 13).
#include <cstring>

#include "io/onnx_tensor.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t v = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = v;
    v *= s[i];
  }
  return st;
}

void shape_op(KernelContext& c) {
  const Shape& s = c.in(0).shape();
  int64_t r = static_cast<int64_t>(s.size());
  int64_t start = attr_int(c.node, "start", 0), end = attr_int(c.node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  c.outputs[0] = Tensor::from<int64_t>({end - start}, std::vector<int64_t>(s.begin() + start, s.begin() + end));
}

void gather(KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& idx_t = c.in(1);
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), x.rank(), c.node);
  auto idx = idx_t.to_int64s();
  Shape out_shape(x.shape().begin(), x.shape().begin() + axis);
  out_shape.insert(out_shape.end(), idx_t.shape().begin(), idx_t.shape().end());
  out_shape.insert(out_shape.end(), x.shape().begin() + axis + 1, x.shape().end());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  const int64_t n = x.dim(axis);
  const size_t es = dtype_size(x.dtype()), chunk = inner * es;
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < idx.size(); ++j) {
      int64_t k = idx[j] < 0 ? idx[j] + n : idx[j];
      if (k < 0 || k >= n) c.fail("index " + std::to_string(idx[j]) + " is out of range for extent " + std::to_string(n));
      std::memcpy(dst + (o * idx.size() + j) * chunk, src + (o * n + k) * chunk, chunk);
    }
  c.outputs[0] = std::move(y);
}

void slice(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int r = x.rank();
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset < 10) {
    starts = attr_ints(c.node, "starts");
    ends = attr_ints(c.node, "ends");
    axes = attr_ints(c.node, "axes");
  } else {
    starts = c.in(1).to_int64s();
    ends = c.in(2).to_int64s();
    if (c.has(3)) axes = c.in(3).to_int64s();
    if (c.has(4)) steps = c.in(4).to_int64s();
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    c.fail("starts, ends, axes and steps must have the same length");
  std::vector<int64_t> st(r, 0), step(r, 1);
  Shape out_shape = x.shape();
  for (size_t i = 0; i < starts.size(); ++i) {
    const int a = normalize_axis(axes[i], r, c.node);
    const int64_t dim = x.dim(a), s = steps[i];
    if (s == 0) c.fail("slice step must not be 0");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out_shape[a] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out_shape[a] = b > e ? (b - e - s - 1) / (-s) : 0;
    }
    st[a] = b;
    step[a] = s;
  }
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  const size_t es = dtype_size(x.dtype());
  auto xs = strides_of(x.shape());
  auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  const int64_t n = y.numel();
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < r; ++d) off += (st[d] + idx[d] * step[d]) * xs[d];
    std::memcpy(dst + i * es, src + off * es, es);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
  c.outputs[0] = std::move(y);
}

void concat(KernelContext& c) {
  const Tensor& first = c.in(0);
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), first.rank(), c.node);
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const Tensor& t = c.in(i);
    if (t.dtype() != first.dtype() || t.rank() != first.rank()) c.fail("inputs differ in type or rank");
    for (int d = 0; d < t.rank(); ++d)
      if (d != axis && t.dim(d) != first.dim(d))
        c.fail("input shapes " + shape_str(first.shape()) + " and " + shape_str(t.shape()) + " differ off the axis");
    out_shape[axis] += t.dim(axis);
  }
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= out_shape[d];
  const size_t es = dtype_size(first.dtype());
  Tensor y = Tensor::uninitialized(first.dtype(), out_shape);
  auto* dst = static_cast<uint8_t*>(y.raw());
  const size_t out_row = y.numel() / std::max<int64_t>(outer, 1) * es;
  size_t col = 0;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const Tensor& t = c.in(i);
    const size_t row = outer ? t.numel() / outer * es : 0;
    auto* src = static_cast<const uint8_t*>(t.raw());
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * out_row + col, src + o * row, row);
    col += row;
  }
  c.outputs[0] = std::move(y);
}

void reshape(KernelContext& c) {
  const Tensor& x = c.in(0);
  auto target = c.opset < 5 ? attr_ints(c.node, "shape") : c.in(1).to_int64s();
  const bool allowzero = attr_int(c.node, "allowzero", 0);
  Shape s(target.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allowzero) {
      if (static_cast<int>(i) >= x.rank()) c.fail("shape value 0 at position " + std::to_string(i) + " has no input dim");
      s[i] = x.dim(static_cast<int>(i));
    } else if (target[i] == -1) {
      if (infer >= 0) c.fail("more than one -1 in the target shape");
      infer = static_cast<int>(i);
      continue;
    } else {
      s[i] = target[i];
    }
    known *= s[i];
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known) c.fail("cannot reshape " + shape_str(x.shape()) + " to " + shape_str(target));
    s[infer] = x.numel() / known;
  }
  if (shape_numel(s) != x.numel()) c.fail("cannot reshape " + shape_str(x.shape()) + " to " + shape_str(target));
  c.outputs[0] = x.reshaped(s);
}

void transpose(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int r = x.rank();
  std::vector<int64_t> perm = attr_ints(c.node, "perm");
  if (perm.empty())
    for (int i = r - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int>(perm.size()) != r) c.fail("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  Shape out_shape(r);
  auto xs = strides_of(x.shape());
  std::vector<int64_t> src_stride(r);
  for (int i = 0; i < r; ++i) {
    out_shape[i] = x.dim(static_cast<int>(perm[i]));
    src_stride[i] = xs[perm[i]];
  }
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  const size_t es = dtype_size(x.dtype());
  auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  const int64_t n = y.numel();
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * es, src + off * es, es);
    for (int d = r - 1; d >= 0; --d) {
      off += src_stride[d];
      if (++idx[d] < out_shape[d]) break;
      off -= src_stride[d] * out_shape[d];
      idx[d] = 0;
    }
  }
  c.outputs[0] = std::move(y);
}

std::vector<int64_t> axes_of(KernelContext& c) {
  if (c.opset < 13) return attr_ints(c.node, "axes");
  return c.has(1) ? c.in(1).to_int64s() : std::vector<int64_t>{};
}

void unsqueeze(KernelContext& c) {
  const Tensor& x = c.in(0);
  auto axes = axes_of(c);
  const int r = x.rank() + static_cast<int>(axes.size());
  std::vector<bool> is_new(r, false);
  for (auto a : axes) is_new[normalize_axis(a, r, c.node)] = true;
  Shape s;
  int k = 0;
  for (int i = 0; i < r; ++i) s.push_back(is_new[i] ? 1 : x.dim(k++));
  c.outputs[0] = x.reshaped(s);
}

void squeeze(KernelContext& c) {
  const Tensor& x = c.in(0);
  auto axes = axes_of(c);
  std::vector<bool> drop(x.rank(), false);
  if (axes.empty())
    for (int i = 0; i < x.rank(); ++i) drop[i] = x.dim(i) == 1;
  for (auto a : axes) {
    int i = normalize_axis(a, x.rank(), c.node);
    if (x.dim(i) != 1) c.fail("cannot squeeze axis " + std::to_string(a) + " of extent " + std::to_string(x.dim(i)));
    drop[i] = true;
  }
  Shape s;
  for (int i = 0; i < x.rank(); ++i)
    if (!drop[i]) s.push_back(x.dim(i));
  c.outputs[0] = x.reshaped(s);
}

void flatten(KernelContext& c) {
  const Tensor& x = c.in(0);
  int64_t axis = attr_int(c.node, "axis", 1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis > x.rank()) c.fail("axis out of range");
  int64_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= x.dim(i);
  c.outputs[0] = x.reshaped({outer, outer ? x.numel() / outer : 0});
}

void expand(KernelContext& c) {
  const Tensor& x = c.in(0);
  auto target = c.in(1).to_int64s();
  const size_t r = std::max<size_t>(target.size(), x.rank());
  Shape out_shape(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t a = i < r - x.rank() ? 1 : x.dim(static_cast<int>(i - (r - x.rank())));
    int64_t b = i < r - target.size() ? 1 : target[i - (r - target.size())];
    if (a != b && a != 1 && b != 1) c.fail("cannot expand " + shape_str(x.shape()) + " to " + shape_str(target));
    out_shape[i] = a == 1 ? b : a;
  }
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  const size_t es = dtype_size(x.dtype());
  Shape padded(r - x.rank(), 1);
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  auto xs = strides_of(padded);
  auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += (padded[d] == 1 ? 0 : idx[d]) * xs[d];
    std::memcpy(dst + i * es, src + off * es, es);
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
  c.outputs[0] = std::move(y);
}

void constant_of_shape(KernelContext& c) {
  auto shape = c.in(0).to_int64s();
  Tensor value = Tensor::from<float>({1}, {0.f});
  if (auto* a = find_attr(c.node, "value")) value = tensor_from_proto(a->t());
  Tensor y = Tensor::uninitialized(value.dtype(), shape);
  const size_t es = dtype_size(value.dtype());
  auto* dst = static_cast<uint8_t*>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) std::memcpy(dst + i * es, value.raw(), es);
  c.outputs[0] = std::move(y);
}

void constant(KernelContext& c) {
  if (auto* a = find_attr(c.node, "value")) c.outputs[0] = tensor_from_proto(a->t());
  else if (auto* a = find_attr(c.node, "value_float")) c.outputs[0] = Tensor::from<float>({}, {a->f()});
  else if (auto* a = find_attr(c.node, "value_floats"))
    c.outputs[0] = Tensor::from<float>({a->floats_size()}, std::vector<float>(a->floats().begin(), a->floats().end()));
  else if (auto* a = find_attr(c.node, "value_int")) c.outputs[0] = Tensor::from<int64_t>({}, {a->i()});
  else if (auto* a = find_attr(c.node, "value_ints"))
    c.outputs[0] = Tensor::from<int64_t>({a->ints_size()}, std::vector<int64_t>(a->ints().begin(), a->ints().end()));
  else c.fail("has no supported value attribute");
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add("Shape", {1, 13, 15, 19, 21, 23, 24, 25}, shape_op);
  r.add("Gather", {1, 11, 13}, gather);
  r.add("Slice", {1, 10, 11, 13}, slice);
  r.add("Concat", {4, 11, 13}, concat);
  r.add("Reshape", {5, 13, 14, 19, 21, 23, 24, 25}, reshape);
  r.add("Transpose", {1, 13, 21, 23, 24, 25}, transpose);
  r.add("Unsqueeze", {1, 11, 13, 21, 23, 24, 25}, unsqueeze);
  r.add("Squeeze", {1, 11, 13, 21, 23, 24, 25}, squeeze);
  r.add("Flatten", {1, 9, 11, 13, 21, 23, 24, 25}, flatten);
  r.add("Expand", {8, 13}, expand);
  r.add("ConstantOfShape", {9, 20, 21, 23, 24, 25}, constant_of_shape);
  r.add("Constant", {1, 9, 11, 12, 13, 19, 21, 23, 24, 25}, constant);
}

}  // namespace qtool
