// SPDX-License-Identifier: Apache-2.0
// Padding ops of the ONNX default domain (opsets 7..28): Pad and CenterCropPad.
//
// Pad follows the operator spec (onnx/defs/tensor/defs.cpp) and numpy.pad, which onnx's reference
// uses: pads as an attribute with a float `value` (2) or as inputs with an optional constant_value
// (11) and optional axes (18); modes constant, reflect, edge and wrap (19). A pad larger than the
// extent keeps reflecting (period 2 * (n - 1)) or wrapping (period n) as numpy does. Negative pads
// crop: the input is first cropped by the negative amounts and the remaining extent is then padded
// (onnxruntime's rule; reflect/edge/wrap see the cropped data). CenterCropPad (18) crops or
// zero-pads each listed axis to the requested extent around the centre (onnx's reference puts the
// odd element at the end).
#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/kernels/data_movement.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

using namespace data_movement;

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// Per axis: output extent, the begin pad after cropping, and the cropped interior [lo, lo + m).
struct AxisPad {
  int64_t out = 0, before = 0, lo = 0, m = 0;
};

struct PadPlan {
  PadMode mode = PadMode::kConstant;
  std::vector<AxisPad> axes;
  Shape out;
};

// Source coordinate of output coordinate o along an axis, or -1 for a constant-filled position.
inline int64_t pad_source(const AxisPad& a, PadMode mode, int64_t o) {
  int64_t i = o - a.before;
  if (i >= 0 && i < a.m) return a.lo + i;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: i = i < 0 ? 0 : a.m - 1; break;
    case PadMode::kWrap: i = ((i % a.m) + a.m) % a.m; break;
    case PadMode::kReflect: {
      if (a.m == 1) {
        i = 0;
        break;
      }
      const int64_t period = 2 * (a.m - 1);
      i = ((i % period) + period) % period;
      if (i >= a.m) i = period - i;
      break;
    }
  }
  return a.lo + i;
}

PadMode pad_mode(const KernelContext& c) {
  const std::string m = attr_string(c.node, "mode", "constant");
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  if (m == "wrap" && c.version >= 19) return PadMode::kWrap;
  c.fail("attribute 'mode': unsupported value '" + m + "' (constant, reflect, edge" +
         (c.version >= 19 ? ", wrap)" : ")"));
}

PadPlan pad_plan(const KernelContext& c, const Shape& in) {
  const int r = static_cast<int>(in.size());
  PadPlan p;
  p.mode = pad_mode(c);
  std::vector<int64_t> pads;
  if (c.version < 11) {
    if (!find_attr(c.node, "pads")) c.fail("attribute 'pads' is required");
    pads = attr_ints(c.node, "pads");
  } else {
    if (c.in(1).rank() > 1) c.fail("input 'pads' must be 1-D, got shape " + shape_str(c.in(1).shape()));
    pads = read_int_input(c, 1, "pads");
  }
  std::vector<int> axes;
  if (c.version >= 18 && c.has(3)) {
    axes = normalize_axes(c, read_int_input(c, 3, "axes"), r, "input 'axes'");
  } else {
    for (int i = 0; i < r; ++i) axes.push_back(i);
  }
  const size_t na = axes.size();
  if (pads.size() != 2 * na)
    c.fail("'pads' has " + std::to_string(pads.size()) + " values, expected 2 * " + std::to_string(na) +
           " for input " + shape_str(in));
  std::vector<int64_t> begin(r, 0), end(r, 0);
  for (size_t i = 0; i < na; ++i) {
    begin[axes[i]] = pads[i];
    end[axes[i]] = pads[na + i];
  }
  p.axes.resize(r);
  p.out.resize(r);
  for (int d = 0; d < r; ++d) {
    AxisPad& a = p.axes[d];
    const int64_t n = in[d], b = begin[d], e = end[d];
    const int64_t crop_b = b < 0 ? (b < -n ? n + 1 : -b) : 0, crop_e = e < 0 ? (e < -n ? n + 1 : -e) : 0;
    if (crop_b > n || crop_e > n - crop_b)
      c.fail("'pads' crop " + std::to_string(b) + ", " + std::to_string(e) + " is more than the extent " +
             std::to_string(n) + " of axis " + std::to_string(d));
    a.lo = crop_b;
    a.m = n - crop_b - crop_e;
    a.before = b > 0 ? b : 0;
    const int64_t after = e > 0 ? e : 0;
    if (__builtin_add_overflow(a.m, a.before, &a.out) || __builtin_add_overflow(a.out, after, &a.out))
      c.fail("'pads' make axis " + std::to_string(d) + " overflow");
    if (a.m == 0 && a.out > 0 && p.mode != PadMode::kConstant)
      c.fail("cannot pad the empty axis " + std::to_string(d) + " in mode '" + attr_string(c.node, "mode", "") + "'");
    p.out[d] = a.out;
  }
  checked_numel(c, p.out);
  return p;
}

void pad_validate(KernelContext& c) {
  if (!c.has(0)) return;
  if (c.version >= 11 && (!c.has(1) || unknown_input(c, 3))) return;
  pad_plan(c, c.in(0).shape());
  if (c.version >= 11 && c.has(2)) {
    const Tensor& v = c.in(2);
    if (v.dtype() != c.in(0).dtype())
      c.fail("input 'constant_value' has type " + dtype_name(v.dtype()) + ", the data has " +
             dtype_name(c.in(0).dtype()));
    if (v.numel() != 1) c.fail("input 'constant_value' must hold one value, got shape " + shape_str(v.shape()));
  }
}

// The padding value as one element of the data's type (zero bytes when none is given).
std::vector<uint8_t> pad_value(const KernelContext& c, DType dt) {
  const size_t es = dtype_size(dt);
  std::vector<uint8_t> v(es, 0);
  if (c.version < 11) {
    const float f = attr_float(c.node, "value", 0.f);
    if (f != 0.f) {
      Tensor t = Tensor::from<float>({}, {f}).cast(dt);
      std::memcpy(v.data(), t.raw(), es);
    }
  } else if (c.has(2)) {
    const Tensor& t = c.in(2);
    if (t.dtype() != dt)
      c.fail("input 'constant_value' has type " + dtype_name(t.dtype()) + ", the data has " + dtype_name(dt));
    if (t.numel() != 1) c.fail("input 'constant_value' must hold one value, got shape " + shape_str(t.shape()));
    std::memcpy(v.data(), t.raw(), es);
  }
  return v;
}

// Reference: every output element maps back coordinate by coordinate.
void pad_ref(KernelContext& c) {
  const Tensor& x = c.in(0);
  const PadPlan p = pad_plan(c, x.shape());
  const auto value = pad_value(c, x.dtype());
  const size_t es = dtype_size(x.dtype());
  Tensor y = Tensor::uninitialized(x.dtype(), p.out);
  const int r = x.rank();
  const auto st = contiguous_strides(x.shape());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t off = 0;
    bool constant = false;
    for (int d = 0; d < r && !constant; ++d) {
      const int64_t s = pad_source(p.axes[d], p.mode, idx[d]);
      if (s < 0) constant = true;
      else off += s * st[d];
    }
    std::memcpy(dst + i * es, constant ? value.data() : src + off * es, es);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < p.out[d]) break;
      idx[d] = 0;
    }
  }
  c.outputs[0] = std::move(y);
}

// Fast: row by row (all axes but the last map once per row), the interior of a row in one memcpy.
bool pad_fast(KernelContext& c) {
  const Tensor& x = c.in(0);
  const PadPlan p = pad_plan(c, x.shape());
  const auto value = pad_value(c, x.dtype());
  const size_t es = dtype_size(x.dtype());
  Tensor y = Tensor::uninitialized(x.dtype(), p.out);
  const int r = x.rank();
  if (r == 0 || y.numel() == 0) {
    if (r == 0) std::memcpy(y.raw(), x.raw(), es);
    c.outputs[0] = std::move(y);
    return true;
  }
  const auto st = contiguous_strides(x.shape());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  const AxisPad& last = p.axes[r - 1];
  const int64_t len = last.out, rows = y.numel() / len;
  auto fill = [&](uint8_t* d, int64_t n) {
    if (es == 1) {
      std::memset(d, value[0], static_cast<size_t>(n));
    } else {
      for (int64_t j = 0; j < n; ++j) std::memcpy(d + j * es, value.data(), es);
    }
  };
  std::vector<int64_t> idx(r - 1, 0);
  for (int64_t row = 0; row < rows; ++row) {
    uint8_t* d = dst + row * len * static_cast<int64_t>(es);
    int64_t off = 0;
    bool constant = false;
    for (int k = 0; k < r - 1 && !constant; ++k) {
      const int64_t s = pad_source(p.axes[k], p.mode, idx[k]);
      if (s < 0) constant = true;
      else off += s * st[k];
    }
    if (constant) {
      fill(d, len);
    } else {
      const uint8_t* s = src + off * static_cast<int64_t>(es);
      const int64_t interior_end = last.before + last.m;
      for (int64_t j = 0; j < last.before; ++j) {
        const int64_t q = pad_source(last, p.mode, j);
        std::memcpy(d + j * es, q < 0 ? value.data() : s + q * es, es);
      }
      std::memcpy(d + last.before * es, s + last.lo * es, static_cast<size_t>(last.m) * es);
      if (p.mode == PadMode::kConstant) {
        fill(d + interior_end * es, len - interior_end);
      } else {
        for (int64_t j = interior_end; j < len; ++j) std::memcpy(d + j * es, s + pad_source(last, p.mode, j) * es, es);
      }
    }
    for (int k = r - 2; k >= 0; --k) {
      if (++idx[k] < p.out[k]) break;
      idx[k] = 0;
    }
  }
  c.outputs[0] = std::move(y);
  return true;
}

// ---- CenterCropPad ----------------------------------------------------------------------------

PadPlan center_crop_pad_plan(const KernelContext& c, const Shape& in) {
  const int r = static_cast<int>(in.size());
  std::vector<int> axes;
  if (find_attr(c.node, "axes")) {
    axes = normalize_axes(c, attr_ints(c.node, "axes"), r, "attribute 'axes'");
  } else {
    for (int i = 0; i < r; ++i) axes.push_back(i);
  }
  if (c.in(1).rank() != 1) c.fail("input 'shape' must be 1-D, got shape " + shape_str(c.in(1).shape()));
  const auto shape = read_int_input(c, 1, "shape");
  if (shape.size() != axes.size())
    c.fail("input 'shape' has " + std::to_string(shape.size()) + " values for " + std::to_string(axes.size()) +
           " axes");
  PadPlan p;
  p.axes.resize(r);
  p.out = in;
  for (int d = 0; d < r; ++d) p.axes[d] = AxisPad{in[d], 0, 0, in[d]};
  for (size_t i = 0; i < axes.size(); ++i) {
    const int d = axes[i];
    const int64_t want = shape[i], n = in[d];
    if (want < 0) c.fail("input 'shape' has a negative extent " + std::to_string(want));
    AxisPad& a = p.axes[d];
    a.out = want;
    if (want < n) {  // crop: keep [ (n - want) / 2, ... )
      a.lo = (n - want) / 2;
      a.m = want;
    } else if (want > n) {  // pad: zeros, (want - n) / 2 before
      a.before = (want - n) / 2;
    }
    p.out[d] = want;
  }
  checked_numel(c, p.out);
  return p;
}

void center_crop_pad_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) center_crop_pad_plan(c, c.in(0).shape());
}

void center_crop_pad(KernelContext& c) {
  const Tensor& x = c.in(0);
  const PadPlan p = center_crop_pad_plan(c, x.shape());
  Tensor y(x.dtype(), p.out);  // zero-filled
  const int r = x.rank();
  const size_t es = dtype_size(x.dtype());
  // The copied block: output [before, before + m) <- input [lo, lo + m) on every axis.
  Shape block(r);
  const auto xs = contiguous_strides(x.shape()), ys = contiguous_strides(p.out);
  int64_t src_off = 0, dst_off = 0;
  for (int d = 0; d < r; ++d) {
    block[d] = p.axes[d].m;
    src_off += p.axes[d].lo * xs[d];
    dst_off += p.axes[d].before * ys[d];
  }
  const int64_t n = shape_numel(block);
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t so = src_off, dof = dst_off;
    for (int d = 0; d < r; ++d) {
      so += idx[d] * xs[d];
      dof += idx[d] * ys[d];
    }
    std::memcpy(dst + dof * es, src + so * es, es);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < block[d]) break;
      idx[d] = 0;
    }
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_pad_ops(OpRegistry& r) {
  r.add("", "Pad", {2, 11, 13, 18, 19, 21, 23, 24, 25}, OpDef{pad_ref, pad_fast, pad_validate});
  r.add("", "CenterCropPad", {18}, OpDef{center_crop_pad, nullptr, center_crop_pad_validate});
}

}  // namespace qtool
