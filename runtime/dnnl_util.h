// SPDX-License-Identifier: Apache-2.0
// Shared oneDNN engine/stream, plain (row-major) memory descriptors, and DnnlLayout: the
// blocked formats (nChw8c/16c) convolutions pass to each other inside the executor.
// oneDNN's own primitive cache makes re-creating a primitive with the same shapes cheap.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

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

}  // namespace qtool
