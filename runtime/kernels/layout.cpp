// SPDX-License-Identifier: Apache-2.0
// Layout ops of the ONNX default domain (opsets 7..28), dtype-agnostic byte moves: Transpose,
// Concat, Split, Slice, Expand, Tile, DepthToSpace, SpaceToDepth, ReverseSequence, Trilu; and the
// view-copy helpers of runtime/kernels/data_movement.h that the whole family uses.
//
// Semantics follow the operator specs (onnx/defs/tensor/defs.cpp) and onnx's reference
// implementation (onnx/reference/ops/op_*.py): Slice clamps starts/ends exactly as the spec
// (positive steps to [0, dim], negative steps to [0, dim-1] / [-1, dim-1]); Split takes its sizes
// from the attribute (2, 11), the input (13) or num_outputs (18, last chunk smaller); Expand is a
// bidirectional broadcast; Tile, DepthToSpace and SpaceToDepth are strided views of the input.
// Every op builds a view (offset, shape, strides) once and copies it either element by element
// (reference kernel) or with copy_view_fast (contiguous runs, fills, tiled 2-D transposes).
// Concat is layout-aware: convolution outputs in runtime layouts are joined by oneDNN's concat.
#include <algorithm>
#include <cstring>
#include <limits>

#include <unordered_map>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/data_movement.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace data_movement {

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  uint64_t v = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = static_cast<int64_t>(v);
    v *= static_cast<uint64_t>(s[i]);
  }
  return st;
}

int64_t checked_numel(const KernelContext& c, const Shape& shape) {
  try {
    return shape_numel(shape);
  } catch (const InputError& e) {
    c.fail(e.what());
  }
}

std::vector<int64_t> read_int_input(const KernelContext& c, int input, const std::string& what) {
  const Tensor& t = c.in(input);
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)
    c.fail("input '" + what + "' has type " + dtype_name(t.dtype()) + ", expected int64 or int32");
  return t.to_int64s();
}

int64_t read_int_scalar(const KernelContext& c, int input, const std::string& what) {
  auto v = read_int_input(c, input, what);
  if (v.size() != 1 || c.in(input).rank() > 1)
    c.fail("input '" + what + "' must hold one value, got shape " + shape_str(c.in(input).shape()));
  return v[0];
}

std::vector<int> normalize_axes(const KernelContext& c, const std::vector<int64_t>& axes, int rank, const char* what) {
  std::vector<int> out;
  std::vector<bool> seen(rank, false);
  for (int64_t a : axes) {
    const int64_t k = a < 0 ? a + rank : a;
    if (k < 0 || k >= rank)
      c.fail(std::string(what) + ": axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    if (seen[k]) c.fail(std::string(what) + ": axis " + std::to_string(a) + " is repeated");
    seen[k] = true;
    out.push_back(static_cast<int>(k));
  }
  return out;
}

void copy_view_reference(const uint8_t* src, uint8_t* dst, const Shape& shape, const std::vector<int64_t>& strides,
                         size_t es) {
  const int r = static_cast<int>(shape.size());
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < r; ++d) off += idx[d] * strides[d];
    std::memcpy(dst + i * es, src + off * static_cast<int64_t>(es), es);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

namespace {

struct Bytes16 {
  uint64_t lo, hi;
};

template <typename U>
inline U load(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  return v;
}
template <typename U>
inline void store(uint8_t* p, U v) {
  std::memcpy(p, &v, sizeof(U));
}

// Calls f(src_offset, dst_offset) (in elements) for every index over the given extents, row-major.
template <typename F>
void for_each_index(const std::vector<int64_t>& ext, const std::vector<int64_t>& ss, const std::vector<int64_t>& ds,
                    F&& f) {
  const size_t n = ext.size();
  std::vector<int64_t> idx(n, 0);
  int64_t so = 0, dof = 0;
  for (;;) {
    f(so, dof);
    size_t d = n;
    bool more = false;
    while (d > 0) {
      --d;
      so += ss[d];
      dof += ds[d];
      if (++idx[d] < ext[d]) {
        more = true;
        break;
      }
      so -= ss[d] * ext[d];
      dof -= ds[d] * ext[d];
      idx[d] = 0;
    }
    if (!more) return;
  }
}

template <typename U>
void copy_view_typed(const uint8_t* src, uint8_t* dst, const Shape& shape, const std::vector<int64_t>& st) {
  constexpr int64_t es = sizeof(U);
  const int r = static_cast<int>(shape.size());
  if (r == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  const auto ost = contiguous_strides(shape);
  const int64_t len = shape[r - 1], s_last = st[r - 1];
  // A dimension other than the last that is contiguous in the source: a transposed 2-D block.
  int k = -1;
  for (int d = 0; d < r - 1; ++d)
    if (st[d] == 1) k = d;
  if (s_last != 1 && s_last != 0 && k >= 0) {
    std::vector<int64_t> ext, ss, ds;
    for (int d = 0; d < r - 1; ++d)
      if (d != k) {
        ext.push_back(shape[d]);
        ss.push_back(st[d]);
        ds.push_back(ost[d]);
      }
    const int64_t rows = shape[k], row_stride = ost[k];
    constexpr int64_t kTile = es <= 2 ? 16 : 8;  // rows x columns per block; small enough for L1 ways
    for_each_index(ext, ss, ds, [&](int64_t so, int64_t dof) {
      const uint8_t* s0 = src + so * es;
      uint8_t* d0 = dst + dof * es;
      for (int64_t ib = 0; ib < rows; ib += kTile) {
        const int64_t ie = std::min(rows, ib + kTile);
        for (int64_t jb = 0; jb < len; jb += kTile) {
          const int64_t je = std::min(len, jb + kTile);
          for (int64_t j = jb; j < je; ++j) {
            const uint8_t* srow = s0 + j * s_last * es;
            uint8_t* dcol = d0 + j * es;
            for (int64_t i = ib; i < ie; ++i) store<U>(dcol + i * row_stride * es, load<U>(srow + i * es));
          }
        }
      }
    });
    return;
  }
  const size_t row_bytes = static_cast<size_t>(len * es);
  if (s_last == 1 && r >= 2) {  // contiguous rows: the last two dimensions as runs
    std::vector<int64_t> ext(shape.begin(), shape.end() - 2), ss(st.begin(), st.end() - 2),
        ds(ost.begin(), ost.end() - 2);
    const int64_t rows = shape[r - 2], s_step = st[r - 2] * es, d_step = ost[r - 2] * es;
    for_each_index(ext, ss, ds, [&](int64_t so, int64_t dof) {
      copy_runs(src + so * es, s_step, dst + dof * es, d_step, rows, row_bytes);
    });
    return;
  }
  std::vector<int64_t> ext(shape.begin(), shape.end() - 1), ss(st.begin(), st.end() - 1),
      ds(ost.begin(), ost.end() - 1);
  for_each_index(ext, ss, ds, [&](int64_t so, int64_t dof) {
    const uint8_t* s = src + so * es;
    uint8_t* d = dst + dof * es;
    if (s_last == 1) {
      std::memcpy(d, s, row_bytes);
    } else if (s_last == 0) {
      const U v = load<U>(s);
      for (int64_t j = 0; j < len; ++j) store<U>(d + j * es, v);
    } else {
      for (int64_t j = 0; j < len; ++j) store<U>(d + j * es, load<U>(s + j * s_last * es));
    }
  });
}

}  // namespace

void copy_view_fast(const uint8_t* src, uint8_t* dst, Shape shape, std::vector<int64_t> strides, size_t es) {
  // Drop unit extents, stop on empty views, merge dimensions contiguous in both tensors.
  Shape sh;
  std::vector<int64_t> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    if (!sh.empty() && st.back() == strides[d] * shape[d]) {
      sh.back() *= shape[d];
      st.back() = strides[d];
      continue;
    }
    sh.push_back(shape[d]);
    st.push_back(strides[d]);
  }
  switch (es) {
    case 1: return copy_view_typed<uint8_t>(src, dst, sh, st);
    case 2: return copy_view_typed<uint16_t>(src, dst, sh, st);
    case 4: return copy_view_typed<uint32_t>(src, dst, sh, st);
    case 8: return copy_view_typed<uint64_t>(src, dst, sh, st);
    case 16: return copy_view_typed<Bytes16>(src, dst, sh, st);
    default: return copy_view_reference(src, dst, sh, st, es);
  }
}

}  // namespace data_movement

namespace {

using namespace data_movement;

const uint8_t* bytes(const Tensor& t) { return static_cast<const uint8_t*>(t.raw()); }
uint8_t* bytes(Tensor& t) { return static_cast<uint8_t*>(t.raw()); }

// A strided view of one input tensor: element (0,...,0) at `offset`, then `strides` per dimension.
struct View {
  int64_t offset = 0;
  Shape shape;
  std::vector<int64_t> strides;
};

Tensor materialize(const Tensor& x, const View& v, bool fast, const KernelContext& c) {
  checked_numel(c, v.shape);
  Tensor y = Tensor::uninitialized(x.dtype(), v.shape);
  const size_t es = dtype_size(x.dtype());
  if (y.numel() > 0) copy_view(fast, bytes(x) + v.offset * static_cast<int64_t>(es), bytes(y), v.shape, v.strides, es);
  return y;
}

// ---- Transpose ------------------------------------------------------------------------------

View transpose_view(const KernelContext& c, const Shape& in) {
  const int r = static_cast<int>(in.size());
  std::vector<int64_t> perm = attr_ints(c.node, "perm");
  if (!find_attr(c.node, "perm"))
    for (int i = r - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int>(perm.size()) != r)
    c.fail("attribute 'perm': has " + std::to_string(perm.size()) + " values for an input of rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  const auto st = contiguous_strides(in);
  View v;
  for (int i = 0; i < r; ++i) {
    if (perm[i] < 0 || perm[i] >= r)
      c.fail("attribute 'perm': value " + std::to_string(perm[i]) + " is out of range for rank " + std::to_string(r));
    if (seen[perm[i]]) c.fail("attribute 'perm': value " + std::to_string(perm[i]) + " is repeated");
    seen[perm[i]] = true;
    v.shape.push_back(in[perm[i]]);
    v.strides.push_back(st[perm[i]]);
  }
  return v;
}

void transpose_validate(KernelContext& c) {
  if (c.has(0)) transpose_view(c, c.in(0).shape());
}
template <bool kFast>
void transpose_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  c.outputs[0] = materialize(x, transpose_view(c, x.shape()), kFast, c);
}
void transpose_ref(KernelContext& c) { transpose_run<false>(c); }
bool transpose_fast(KernelContext& c) {
  transpose_run<true>(c);
  return true;
}

// ---- Concat ---------------------------------------------------------------------------------

// The output shape; checks types, ranks and the extents off the axis of every given input.
Shape concat_shape(const KernelContext& c, int* axis_out) {
  if (!find_attr(c.node, "axis")) c.fail("attribute 'axis' is required");
  if (c.num_inputs() == 0) c.fail("needs at least one input");
  const Tensor* first = nullptr;
  int axis = 0;
  Shape out;
  for (int i = 0; i < c.num_inputs(); ++i) {
    if (!c.has(i)) continue;
    const Tensor& t = c.in(i);
    if (!first) {
      first = &t;
      if (t.rank() == 0) c.fail("inputs must have rank >= 1, input #0 is a scalar");
      axis = normalize_axis(attr_int(c.node, "axis", 0), t.rank(), c.node);
      out = t.shape();
      out[axis] = 0;
    }
    if (t.dtype() != first->dtype())
      c.fail("input #" + std::to_string(i) + " has type " + dtype_name(t.dtype()) + ", input #0 has " +
             dtype_name(first->dtype()));
    if (t.rank() != first->rank())
      c.fail("input #" + std::to_string(i) + " has rank " + std::to_string(t.rank()) + ", input #0 has " +
             std::to_string(first->rank()));
    for (int d = 0; d < t.rank(); ++d)
      if (d != axis && t.dim(d) != first->dim(d))
        c.fail("input shapes " + shape_str(first->shape()) + " and " + shape_str(t.shape()) + " differ off axis " +
               std::to_string(axis));
    if (__builtin_add_overflow(out[axis], t.dim(axis), &out[axis])) c.fail("concatenated extent overflows");
  }
  *axis_out = axis;
  return out;
}

void concat_validate(KernelContext& c) {
  for (int i = 0; i < c.num_inputs(); ++i)
    if (!c.has(i)) return;
  int axis;
  concat_shape(c, &axis);
}

template <bool kFast>
void concat_run(KernelContext& c) {
  int axis;
  const Shape out_shape = concat_shape(c, &axis);
  for (int i = 0; i < c.num_inputs(); ++i) c.in(i);  // every input is required
  checked_numel(c, out_shape);
  const DType dt = c.in(0).dtype();
  const size_t es = dtype_size(dt);
  Tensor y = Tensor::uninitialized(dt, out_shape);
  const int64_t outer = extent_product(out_shape, 0, axis), inner = extent_product(out_shape, axis + 1, out_shape.size());
  if (y.numel() > 0) {
    const int64_t out_row = out_shape[axis] * inner;  // elements per outer index
    int64_t col = 0;
    uint8_t* dst = bytes(y);
    for (int i = 0; i < c.num_inputs(); ++i) {
      const Tensor& t = c.in(i);
      const int64_t row = t.dim(axis) * inner;
      const uint8_t* src = bytes(t);
      const int64_t ies = static_cast<int64_t>(es);
      if (kFast) {
        copy_runs(src, row * ies, dst + col * ies, out_row * ies, outer, static_cast<size_t>(row) * es);
      } else {
        for (int64_t o = 0; o < outer; ++o) {
          uint8_t* d = dst + (o * out_row + col) * ies;
          const uint8_t* s = src + o * row * ies;
          for (int64_t j = 0; j < row; ++j) std::memcpy(d + j * es, s + j * es, es);
        }
      }
      col += row;
    }
  }
  c.outputs[0] = std::move(y);
}
void concat_ref(KernelContext& c) { concat_run<false>(c); }

// Inputs in runtime layouts (convolution outputs; Inception and DenseNet concatenate them along
// channels): oneDNN's concat reads every input in its own layout and writes one layout for the
// readers (or plain when some reader is not layout-aware). false: oneDNN cannot (an element type
// it lacks, an empty input, a refused configuration).
// Along the channels of inputs that share one channel-blocked format (nChw8c, channel counts
// multiples of 8, as DenseNet's and SqueezeNet's concatenations of convolution outputs): each
// input is one contiguous chunk per sample of the output's storage, so the concatenation is a
// memcpy per (sample, input). oneDNN 2.6's "simple" concat took 0.65 ms for two 64 x 55 x 55 maps.
bool concat_channel_blocks(KernelContext& c, int axis, const Shape& out_shape) {
  if (axis != 1 || !c.allow_layout_output) return false;
  const Tensor& first = c.in(0);
  const int64_t block = channel_block(first);
  if (block == 0) return false;
  for (int i = 0; i < c.num_inputs(); ++i)
    if (c.in(i).dtype() != first.dtype() || channel_block(c.in(i)) != block) return false;
  const auto md = channel_blocked_desc(out_shape, desc_of(first).data_type(), block);
  Tensor y = Tensor::with_layout(first.dtype(), out_shape, std::make_shared<DnnlLayout>(md));
  const int64_t n = out_shape[0], es = static_cast<int64_t>(dtype_size(first.dtype()));
  const int64_t per_channel = shape_numel(out_shape) / (n * out_shape[1]) * es;  // spatial bytes of one channel
  const int64_t out_sample = out_shape[1] * per_channel;
  std::vector<int64_t> at(c.num_inputs() + 1, 0);  // first channel of each input in the output
  for (int i = 0; i < c.num_inputs(); ++i) at[i + 1] = at[i] + c.in(i).dim(1);
  auto* out = static_cast<uint8_t*>(y.raw());
  const int64_t parts = n * c.num_inputs();
#pragma omp parallel for schedule(static) if (parts > 1 && shape_numel(out_shape) * es >= (int64_t{1} << 20))
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t s = p / c.num_inputs();
    const int i = static_cast<int>(p % c.num_inputs());
    const int64_t bytes = c.in(i).dim(1) * per_channel;
    std::memcpy(out + s * out_sample + at[i] * per_channel, static_cast<const uint8_t*>(c.in(i).raw()) + s * bytes,
                static_cast<size_t>(bytes));
  }
  c.outputs[0] = std::move(y);
  return true;
}

bool concat_layouts(KernelContext& c, int axis, const Shape& out_shape) {
  if (concat_channel_blocks(c, axis, out_shape)) return true;
  const DType dt = c.in(0).dtype();
  const auto ddt = dt == DType::kFloat  ? dnnl::memory::data_type::f32
                   : dt == DType::kUInt8 ? dnnl::memory::data_type::u8
                   : dt == DType::kInt8  ? dnnl::memory::data_type::s8
                                         : dnnl::memory::data_type::undef;
  if (ddt == dnnl::memory::data_type::undef || shape_numel(out_shape) == 0) return false;
  std::vector<dnnl::memory::desc> srcs;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const Tensor& t = c.in(i);
    if (t.numel() == 0) return false;
    srcs.push_back(t.layout() ? desc_of(t) : plain_desc(t.shape(), ddt));
    if (srcs.back().data_type() != ddt) return false;
  }
  auto& ctx = DnnlContext::get();
  try {
    const auto pd = c.allow_layout_output ? dnnl::concat::primitive_desc(axis, srcs, ctx.engine)
                                          : dnnl::concat::primitive_desc(plain_desc(out_shape, ddt), axis, srcs, ctx.engine);
    const auto dst_md = pd.dst_desc();
    const bool plain = dst_md == plain_desc(out_shape, ddt);
    Tensor y = plain ? Tensor::uninitialized(dt, out_shape)
                     : Tensor::with_layout(dt, out_shape, std::make_shared<DnnlLayout>(dst_md));
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, dnnl::memory(dst_md, ctx.engine, y.raw())}};
    for (int i = 0; i < c.num_inputs(); ++i)
      args[DNNL_ARG_MULTIPLE_SRC + i] = dnnl::memory(srcs[i], ctx.engine, const_cast<void*>(c.in(i).raw()));
    dnnl::concat(pd).execute(ctx.stream, args);
    ctx.stream.wait();
    c.outputs[0] = std::move(y);
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

// Layout-aware (OpRegistry): inputs in runtime layouts go through oneDNN, or are made plain first.
bool concat_fast(KernelContext& c) {
  bool layouts = false;
  for (int i = 0; i < c.num_inputs(); ++i) layouts |= c.has(i) && c.value(i).is_tensor() && c.in(i).layout();
  if (layouts) {
    int axis;
    const Shape out_shape = concat_shape(c, &axis);
    for (int i = 0; i < c.num_inputs(); ++i) c.in(i);  // every input is required
    if (concat_layouts(c, axis, out_shape)) return true;
    std::vector<Value> plain(c.num_inputs());  // the plain kernel on plain copies
    for (int i = 0; i < c.num_inputs(); ++i) {
      plain[i] = to_plain(c.in(i));
      c.inputs[i] = &plain[i];
    }
    concat_run<true>(c);
    return true;
  }
  concat_run<true>(c);
  return true;
}

// ---- Split ----------------------------------------------------------------------------------

// Sizes of the parts along `axis`.
std::vector<int64_t> split_sizes(const KernelContext& c, const Shape& in, int* axis_out) {
  if (in.empty()) c.fail("input must have rank >= 1");
  const int axis = normalize_axis(attr_int(c.node, "axis", 0), static_cast<int>(in.size()), c.node);
  const int64_t extent = in[axis];
  const int n_out = c.node.output_size();
  if (n_out < 1) c.fail("has no outputs");
  std::vector<int64_t> split;
  bool given = false;
  if (c.version < 13) {
    if (find_attr(c.node, "split")) {
      split = attr_ints(c.node, "split");
      given = true;
    }
  } else if (c.has(1)) {
    split = read_int_input(c, 1, "split");
    given = true;
  }
  if (given && split.empty()) given = false;  // an empty 'split' means "not given" (as onnxruntime reads it)
  const bool has_num = c.version >= 18 && find_attr(c.node, "num_outputs");
  if (given) {
    if (has_num) c.fail("attribute 'num_outputs' and input 'split' are both given");
    if (static_cast<int>(split.size()) != n_out)
      c.fail("'split' has " + std::to_string(split.size()) + " sizes for " + std::to_string(n_out) + " outputs");
    int64_t sum = 0;
    for (int64_t s : split) {
      if (s < 0) c.fail("'split' has a negative size " + std::to_string(s));
      if (__builtin_add_overflow(sum, s, &sum)) c.fail("'split' sizes overflow");
    }
    if (sum != extent)
      c.fail("'split' sizes add up to " + std::to_string(sum) + ", the axis extent is " + std::to_string(extent));
    *axis_out = axis;
    return split;
  }
  int64_t n = n_out;
  if (has_num) {
    n = attr_int(c.node, "num_outputs", n_out);
    if (n < 1) c.fail("attribute 'num_outputs': must be >= 1, got " + std::to_string(n));
    if (n != n_out)
      c.fail("attribute 'num_outputs': is " + std::to_string(n) + " but the node has " + std::to_string(n_out) +
             " outputs");
  }
  if (extent % n == 0) {
    split.assign(n, extent / n);
  } else {
    if (c.version < 18)
      c.fail("axis extent " + std::to_string(extent) + " cannot be split into " + std::to_string(n) + " equal parts");
    const int64_t chunk = extent / n + 1;  // ceil; the last chunk is smaller
    split.assign(n, chunk);
    split.back() = extent - chunk * (n - 1);
    if (split.back() < 0)
      c.fail("axis extent " + std::to_string(extent) + " cannot be split into " + std::to_string(n) +
             " parts of " + std::to_string(chunk));
  }
  *axis_out = axis;
  return split;
}

void split_validate(KernelContext& c) {
  if (!c.has(0)) return;
  if (c.version >= 13 && unknown_input(c, 1)) return;
  int axis;
  split_sizes(c, c.in(0).shape(), &axis);
}

template <bool kFast>
void split_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  int axis;
  const auto sizes = split_sizes(c, x.shape(), &axis);
  const auto st = contiguous_strides(x.shape());
  int64_t start = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    View v{start * st[axis], x.shape(), st};
    v.shape[axis] = sizes[i];
    c.outputs[i] = materialize(x, v, kFast, c);
    start += sizes[i];
  }
}
void split_ref(KernelContext& c) { split_run<false>(c); }
bool split_fast(KernelContext& c) {
  split_run<true>(c);
  return true;
}

// ---- Slice ----------------------------------------------------------------------------------

View slice_view(const KernelContext& c, const Shape& in) {
  const int r = static_cast<int>(in.size());
  std::vector<int64_t> starts, ends, axes, steps;
  bool has_axes = false;
  if (c.version < 10) {
    starts = attr_ints(c.node, "starts");
    ends = attr_ints(c.node, "ends");
    if (!find_attr(c.node, "starts") || !find_attr(c.node, "ends")) c.fail("attributes 'starts' and 'ends' are required");
    has_axes = find_attr(c.node, "axes") != nullptr;
    axes = attr_ints(c.node, "axes");
  } else {
    starts = read_int_input(c, 1, "starts");
    ends = read_int_input(c, 2, "ends");
    if (c.has(3)) {
      axes = read_int_input(c, 3, "axes");
      has_axes = true;
    }
    if (c.has(4)) {
      steps = read_int_input(c, 4, "steps");
      if (steps.size() != starts.size())
        c.fail("'steps' has " + std::to_string(steps.size()) + " values, 'starts' has " + std::to_string(starts.size()));
    }
  }
  if (ends.size() != starts.size())
    c.fail("'ends' has " + std::to_string(ends.size()) + " values, 'starts' has " + std::to_string(starts.size()));
  if (!has_axes)
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (axes.size() != starts.size())
    c.fail("'axes' has " + std::to_string(axes.size()) + " values, 'starts' has " + std::to_string(starts.size()));
  if (steps.empty()) steps.assign(starts.size(), 1);
  const auto ax = normalize_axes(c, axes, r, "'axes'");
  const auto st = contiguous_strides(in);
  View v{0, in, st};
  for (size_t i = 0; i < ax.size(); ++i) {
    const int a = ax[i];
    const int64_t dim = in[a], s = steps[i];
    if (s == 0) c.fail("'steps' must not be 0 (axis " + std::to_string(a) + ")");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    __int128 count = 0;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      if (e > b) count = (static_cast<__int128>(e) - b - 1) / s + 1;
    } else if (dim > 0) {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      if (b > e) count = (static_cast<__int128>(b) - e - 1) / -static_cast<__int128>(s) + 1;
    }
    v.shape[a] = static_cast<int64_t>(count);
    if (count > 0) {
      v.offset += b * st[a];
      // |s| may exceed the extent when count is 1; the stride is then never applied
      v.strides[a] = count > 1 ? s * st[a] : st[a];
    }
  }
  return v;
}

void slice_validate(KernelContext& c) {
  if (!c.has(0)) return;
  if (c.version >= 10) {
    for (int i = 1; i < 5; ++i)
      if (unknown_input(c, i)) return;
  }
  slice_view(c, c.in(0).shape());
}
template <bool kFast>
void slice_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  c.outputs[0] = materialize(x, slice_view(c, x.shape()), kFast, c);
}
void slice_ref(KernelContext& c) { slice_run<false>(c); }
bool slice_fast(KernelContext& c) {
  slice_run<true>(c);
  return true;
}

// ---- Expand ---------------------------------------------------------------------------------

View expand_view(const KernelContext& c, const Shape& in, const std::vector<int64_t>& target) {
  const size_t r = std::max(target.size(), in.size());
  const auto st = contiguous_strides(in);
  View v;
  v.shape.resize(r);
  v.strides.assign(r, 0);
  for (size_t i = 0; i < r; ++i) {
    const bool in_has = i >= r - in.size(), t_has = i >= r - target.size();
    const int64_t a = in_has ? in[i - (r - in.size())] : 1;
    const int64_t b = t_has ? target[i - (r - target.size())] : 1;
    if (b < 0) c.fail("input 'shape' has a negative extent " + std::to_string(b));
    if (a != b && a != 1 && b != 1)
      c.fail("cannot expand " + shape_str(in) + " to " + shape_str(target) + " (dimension " + std::to_string(i) + ")");
    v.shape[i] = a == 1 ? b : a;
    if (in_has && a != 1) v.strides[i] = st[i - (r - in.size())];
  }
  return v;
}

void expand_validate(KernelContext& c) {
  if (c.has(0) && c.has(1)) expand_view(c, c.in(0).shape(), read_int_input(c, 1, "shape"));
}
template <bool kFast>
void expand_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  const auto target = read_int_input(c, 1, "shape");
  if (c.in(1).rank() > 1) c.fail("input 'shape' must be 1-D");
  c.outputs[0] = materialize(x, expand_view(c, x.shape(), target), kFast, c);
}
void expand_ref(KernelContext& c) { expand_run<false>(c); }
bool expand_fast(KernelContext& c) {
  expand_run<true>(c);
  return true;
}

// ---- Tile: output[d] = r_d * in_d + i_d, i.e. the view [r_0, in_0, r_1, in_1, ...] with stride
// 0 on every repeat dimension.

View tile_view(const KernelContext& c, const Shape& in, Shape* out_shape) {
  auto reps = read_int_input(c, 1, "repeats");
  if (c.in(1).rank() != 1) c.fail("input 'repeats' must be 1-D, got shape " + shape_str(c.in(1).shape()));
  if (reps.size() != in.size())
    c.fail("input 'repeats' has " + std::to_string(reps.size()) + " values for an input of rank " +
           std::to_string(in.size()));
  const auto st = contiguous_strides(in);
  View v;
  out_shape->clear();
  for (size_t d = 0; d < in.size(); ++d) {
    if (reps[d] < 0) c.fail("input 'repeats' has a negative value " + std::to_string(reps[d]));
    int64_t e;
    if (__builtin_mul_overflow(in[d], reps[d], &e)) c.fail("tiled extent overflows");
    out_shape->push_back(e);
    v.shape.push_back(reps[d]);
    v.strides.push_back(0);
    v.shape.push_back(in[d]);
    v.strides.push_back(st[d]);
  }
  checked_numel(c, *out_shape);
  return v;
}

void tile_validate(KernelContext& c) {
  Shape out;
  if (c.has(0) && c.has(1)) tile_view(c, c.in(0).shape(), &out);
}
template <bool kFast>
void tile_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  Shape out;
  View v = tile_view(c, x.shape(), &out);
  c.outputs[0] = materialize(x, v, kFast, c).reshaped(out);
}
void tile_ref(KernelContext& c) { tile_run<false>(c); }
bool tile_fast(KernelContext& c) {
  tile_run<true>(c);
  return true;
}

// ---- DepthToSpace / SpaceToDepth (4-D, DCR or CRD) ------------------------------------------

int64_t block_size(const KernelContext& c) {
  if (!find_attr(c.node, "blocksize")) c.fail("attribute 'blocksize' is required");
  const int64_t bs = attr_int(c.node, "blocksize", 0);
  if (bs <= 0) c.fail("attribute 'blocksize': must be positive, got " + std::to_string(bs));
  return bs;
}

bool crd_mode(const KernelContext& c, bool has_mode) {
  const std::string mode = has_mode ? attr_string(c.node, "mode", "DCR") : "DCR";
  if (mode != "DCR" && mode != "CRD") c.fail("attribute 'mode': must be DCR or CRD, got '" + mode + "'");
  return mode == "CRD";
}

// The output as a 6-D view [b, c', h, bs, w, bs] of the input reshaped per mode.
View depth_to_space_view(const KernelContext& c, const Shape& in, Shape* out_shape) {
  if (in.size() != 4) c.fail("input must be 4-D, got shape " + shape_str(in));
  const int64_t bs = block_size(c), b = in[0], ch = in[1], h = in[2], w = in[3];
  const bool crd = crd_mode(c, c.version >= 11);
  int64_t bs2, hb, wb;
  if (__builtin_mul_overflow(bs, bs, &bs2) || __builtin_mul_overflow(h, bs, &hb) || __builtin_mul_overflow(w, bs, &wb))
    c.fail("attribute 'blocksize': " + std::to_string(bs) + " makes the output too large");
  if (ch % bs2 != 0)
    c.fail("attribute 'blocksize': channels " + std::to_string(ch) + " are not a multiple of blocksize^2 = " +
           std::to_string(bs2));
  const int64_t co = ch / bs2;
  *out_shape = {b, co, hb, wb};
  View v;
  if (!crd) {  // x as [b, bs, bs, co, h, w] -> transpose [0, 3, 4, 1, 5, 2]
    const auto st = contiguous_strides({b, bs, bs, co, h, w});
    v.shape = {b, co, h, bs, w, bs};
    v.strides = {st[0], st[3], st[4], st[1], st[5], st[2]};
  } else {  // x as [b, co, bs, bs, h, w] -> transpose [0, 1, 4, 2, 5, 3]
    const auto st = contiguous_strides({b, co, bs, bs, h, w});
    v.shape = {b, co, h, bs, w, bs};
    v.strides = {st[0], st[1], st[4], st[2], st[5], st[3]};
  }
  return v;
}

// The output as a 6-D view: DCR [b, bs, bs, c, h/bs, w/bs], CRD [b, c, bs, bs, h/bs, w/bs].
View space_to_depth_view(const KernelContext& c, const Shape& in, Shape* out_shape) {
  if (in.size() != 4) c.fail("input must be 4-D, got shape " + shape_str(in));
  const int64_t bs = block_size(c), b = in[0], ch = in[1], h = in[2], w = in[3];
  const bool crd = crd_mode(c, c.version >= 28);
  if (h % bs != 0 || w % bs != 0)
    c.fail("attribute 'blocksize': spatial extents " + std::to_string(h) + "x" + std::to_string(w) +
           " are not multiples of " + std::to_string(bs));
  int64_t bs2, co;
  if (__builtin_mul_overflow(bs, bs, &bs2) || __builtin_mul_overflow(ch, bs2, &co))
    c.fail("attribute 'blocksize': " + std::to_string(bs) + " makes the output too large");
  const int64_t ho = h / bs, wo = w / bs;
  *out_shape = {b, co, ho, wo};
  // x as [b, c, ho, bs, wo, bs]
  const auto st = contiguous_strides({b, ch, ho, bs, wo, bs});
  View v;
  if (!crd) {  // transpose [0, 3, 5, 1, 2, 4]
    v.shape = {b, bs, bs, ch, ho, wo};
    v.strides = {st[0], st[3], st[5], st[1], st[2], st[4]};
  } else {  // transpose [0, 1, 3, 5, 2, 4]
    v.shape = {b, ch, bs, bs, ho, wo};
    v.strides = {st[0], st[1], st[3], st[5], st[2], st[4]};
  }
  return v;
}

template <View (*kView)(const KernelContext&, const Shape&, Shape*)>
void block_validate(KernelContext& c) {
  Shape out;
  if (c.has(0)) kView(c, c.in(0).shape(), &out);
}
template <View (*kView)(const KernelContext&, const Shape&, Shape*), bool kFast>
void block_run(KernelContext& c) {
  const Tensor& x = c.in(0);
  Shape out;
  View v = kView(c, x.shape(), &out);
  c.outputs[0] = materialize(x, v, kFast, c).reshaped(out);
}
template <View (*kView)(const KernelContext&, const Shape&, Shape*)>
bool block_fast(KernelContext& c) {
  block_run<kView, true>(c);
  return true;
}

// ---- ReverseSequence ------------------------------------------------------------------------

void reverse_sequence_axes(const KernelContext& c, const Shape& in, int* batch, int* time) {
  if (in.size() < 2) c.fail("input must have rank >= 2, got shape " + shape_str(in));
  const int64_t b = attr_int(c.node, "batch_axis", 1), t = attr_int(c.node, "time_axis", 0);
  if (b != 0 && b != 1) c.fail("attribute 'batch_axis': must be 0 or 1, got " + std::to_string(b));
  if (t != 0 && t != 1) c.fail("attribute 'time_axis': must be 0 or 1, got " + std::to_string(t));
  if (b == t) c.fail("attributes 'batch_axis' and 'time_axis' are both " + std::to_string(b));
  *batch = static_cast<int>(b);
  *time = static_cast<int>(t);
}

void reverse_sequence_validate(KernelContext& c) {
  if (!c.has(0)) return;
  int b, t;
  reverse_sequence_axes(c, c.in(0).shape(), &b, &t);
  if (c.has(1) && (c.in(1).rank() != 1 || c.in(1).dim(0) != c.in(0).dim(b)))
    c.fail("input 'sequence_lens' must have shape [" + std::to_string(c.in(0).dim(b)) + "], got " +
           shape_str(c.in(1).shape()));
}

void reverse_sequence(KernelContext& c) {
  reverse_sequence_validate(c);
  const Tensor& x = c.in(0);
  int ba, ta;
  reverse_sequence_axes(c, x.shape(), &ba, &ta);
  const auto lens = read_int_input(c, 1, "sequence_lens");
  const int64_t nb = x.dim(ba), nt = x.dim(ta);
  for (int64_t l : lens)
    if (l < 0 || l > nt)
      c.fail("input 'sequence_lens': length " + std::to_string(l) + " is outside [0, " + std::to_string(nt) + "]");
  Tensor y = x.clone();
  if (x.numel() == 0) {  // nothing to move (empty extents may still be huge)
    c.outputs[0] = std::move(y);
    return;
  }
  const size_t es = dtype_size(x.dtype());
  const auto st = contiguous_strides(x.shape());
  const int64_t inner = extent_product(x.shape(), 2, x.rank());
  const uint8_t* src = bytes(x);
  uint8_t* dst = bytes(y);
  for (int64_t bi = 0; bi < nb; ++bi)
    for (int64_t ti = 0; ti < lens[bi]; ++ti) {
      const int64_t so = bi * st[ba] + (lens[bi] - 1 - ti) * st[ta], dof = bi * st[ba] + ti * st[ta];
      std::memcpy(dst + dof * es, src + so * es, static_cast<size_t>(inner) * es);
    }
  c.outputs[0] = std::move(y);
}

// ---- Trilu ----------------------------------------------------------------------------------

void trilu_validate(KernelContext& c) {
  if (c.has(0) && c.in(0).rank() < 2) c.fail("input must have rank >= 2, got shape " + shape_str(c.in(0).shape()));
  if (c.has(1)) read_int_scalar(c, 1, "k");
}

void trilu(KernelContext& c) {
  trilu_validate(c);
  const Tensor& x = c.in(0);
  const int64_t k = c.has(1) ? read_int_scalar(c, 1, "k") : 0;
  const bool upper = attr_int(c.node, "upper", 1) != 0;
  const int64_t rows = x.dim(-2), cols = x.dim(-1), mats = x.numel() > 0 ? x.numel() / (rows * cols) : 0;
  const size_t es = dtype_size(x.dtype());
  Tensor y(x.dtype(), x.shape());  // zero-filled
  const uint8_t* src = bytes(x);
  uint8_t* dst = bytes(y);
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t diag = j - i;  // keep j - i >= k (upper) or j - i <= k (lower)
        if (upper ? diag >= k : diag <= k) {
          const int64_t off = (m * rows + i) * cols + j;
          std::memcpy(dst + off * es, src + off * es, es);
        }
      }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_layout_ops(OpRegistry& r) {
  r.add("", "Transpose", {1, 13, 21, 23, 24, 25}, data_mover(OpDef{transpose_ref, transpose_fast, transpose_validate}));
  r.add("", "Concat", {4, 11, 13}, OpDef{concat_ref, concat_fast, concat_validate, /*layout_aware=*/true});
  r.add("", "Split", {2, 11, 13, 18}, OpDef{split_ref, split_fast, split_validate});
  r.add("", "Slice", {1, 10, 11, 13}, data_mover(OpDef{slice_ref, slice_fast, slice_validate}));
  r.add("", "Expand", {8, 13}, data_mover(OpDef{expand_ref, expand_fast, expand_validate}));
  r.add("", "Tile", {6, 13}, data_mover(OpDef{tile_ref, tile_fast, tile_validate}));
  r.add("", "DepthToSpace", {1, 11, 13, 28},
        data_mover(OpDef{block_run<depth_to_space_view, false>, block_fast<depth_to_space_view>,
                            block_validate<depth_to_space_view>}));
  r.add("", "SpaceToDepth", {1, 13, 28},
        data_mover(OpDef{block_run<space_to_depth_view, false>, block_fast<space_to_depth_view>,
                            block_validate<space_to_depth_view>}));
  r.add("", "ReverseSequence", {10, 28}, OpDef{reverse_sequence, nullptr, reverse_sequence_validate});
  r.add("", "Trilu", {14}, OpDef{trilu, nullptr, trilu_validate});
}

}  // namespace qtool
