// SPDX-License-Identifier: Apache-2.0
// Shared oneDNN engine/stream, plain (row-major) memory descriptors, and DnnlLayout: the
// blocked formats (nChw8c/16c) convolutions pass to each other inside the executor.
// oneDNN's own primitive cache makes re-creating a primitive with the same shapes cheap.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <vector>

#include "core/tensor.h"

namespace qtool {

struct DnnlContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  static DnnlContext& get();
};

// f32 descriptor with dense row-major strides for `dims`.
dnnl::memory::desc plain_desc(const Shape& dims);
// Dense row-major descriptor of another element type (u8/s8/s32 for the integer kernels).
dnnl::memory::desc plain_desc(const Shape& dims, dnnl::memory::data_type dt);
// Wraps a tensor's buffer (no copy).
dnnl::memory wrap(const dnnl::memory::desc& d, const Tensor& t);

// A reorder primitive from src_md to dst_md, from a small per-thread cache: making one costs
// microseconds (oneDNN's own primitive cache still builds the primitive descriptor), more than
// the copy itself for the small tensors of batch-1 runs.
dnnl::reorder cached_reorder(const dnnl::memory::desc& src_md, const dnnl::memory::desc& dst_md);
// src -> dst through cached_reorder (no wait on the stream).
void reorder_into(dnnl::memory src, dnnl::memory dst);

// A oneDNN memory format (e.g. nChw16c) as a runtime tensor layout.
struct DnnlLayout : Layout {
  explicit DnnlLayout(dnnl::memory::desc d) : md(std::move(d)) {}
  size_t bytes() const override { return md.get_size(); }
  dnnl::memory::desc md;
};
// f32 tensor of logical `shape` stored as `md` (uninitialised).
Tensor make_dnnl_tensor(const Shape& shape, const dnnl::memory::desc& md);
// The oneDNN descriptor of a tensor: its DnnlLayout, or plain_desc for plain tensors.
dnnl::memory::desc desc_of(const Tensor& t);
// Plain row-major copy of a tensor in a runtime layout (the tensor itself when already plain).
Tensor to_plain(const Tensor& t);

// Writes `src` (described by `src_md`) into `dst` in dst's layout: a memcpy when the two layouts
// are the same (oneDNN's reorder takes its slow generic kernel for that), else a reorder.
void copy_into(const Tensor& src, const dnnl::memory::desc& src_md, dnnl::memory& dst);

// For a tensor in a dense strided runtime layout (its axes permuted, no blocking, no padding: the
// nhwc that integer and brgconv convolutions write): the axes from outermost to innermost, so
// its storage is the tensor transposed by that order. Empty for plain tensors and other layouts.
std::vector<int> layout_axis_order(const Tensor& t);
// For a tensor of rank 3-5 in oneDNN's channel-blocked format (nCw / nChw / nCdhw with 8 or 16
// channels per block: [N][C/B][spatial][B], what AVX2 convolutions write) whose channel count is a
// multiple of the block (no padding): B. Else 0.
int64_t channel_block(const Tensor& t);
// That format's descriptor for `shape` (rank 3-5, block 8 or 16).
dnnl::memory::desc channel_blocked_desc(const Shape& shape, dnnl::memory::data_type dt, int64_t block);
// The same strided layout for elements of another type (u8 codes -> their f32 values); nullptr
// when layout_axis_order(t) is empty or the type has no oneDNN equivalent (f32, u8, s8, s32).
std::shared_ptr<const Layout> strided_layout_as(const Tensor& t, DType dtype);

}  // namespace qtool
