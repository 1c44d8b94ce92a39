// Shared oneDNN engine/stream and plain (row-major) memory descriptors.
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
// Wraps a tensor's buffer (no copy).
dnnl::memory wrap(const dnnl::memory::desc& d, const Tensor& t);

}  // namespace qtool
