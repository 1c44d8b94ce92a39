// SPDX-License-Identifier: Apache-2.0
// Shared oneDNN engine/stream, plain descriptors, and the oneDNN blocked layout of runtime tensors.
#include "runtime/dnnl_util.h"

#include "core/error.h"

namespace qtool {

DnnlContext& DnnlContext::get() {
  thread_local DnnlContext ctx;  // streams are not thread-safe: one engine and stream per thread
  return ctx;
}

dnnl::memory::desc plain_desc(const Shape& dims) { return plain_desc(dims, dnnl::memory::data_type::f32); }

dnnl::memory::desc plain_desc(const Shape& dims, dnnl::memory::data_type dt) {
  dnnl::memory::dims d(dims.begin(), dims.end()), strides(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = s;
    s *= dims[i];
  }
  return dnnl::memory::desc(d, dt, strides);
}

dnnl::memory wrap(const dnnl::memory::desc& d, const Tensor& t) {
  return dnnl::memory(d, DnnlContext::get().engine, const_cast<void*>(t.raw()));
}

Tensor make_dnnl_tensor(const Shape& shape, const dnnl::memory::desc& md) {
  return Tensor::with_layout(DType::kFloat, shape, std::make_shared<DnnlLayout>(md));
}

dnnl::memory::desc desc_of(const Tensor& t) {
  if (auto* l = dynamic_cast<const DnnlLayout*>(t.layout())) return l->md;
  if (t.layout()) throw Error("tensor " + shape_str(t.shape()) + " has a layout oneDNN does not know");
  return plain_desc(t.shape());
}

Tensor to_plain(const Tensor& t) {
  if (!t.layout()) return t;
  auto& ctx = DnnlContext::get();
  Tensor out = Tensor::uninitialized(t.dtype(), t.shape());
  const auto src_md = desc_of(t), dst_md = plain_desc(t.shape(), src_md.data_type());
  dnnl::memory src = wrap(src_md, t), dst = wrap(dst_md, out);
  dnnl::reorder(src, dst).execute(ctx.stream, src, dst);
  ctx.stream.wait();
  return out;
}

}  // namespace qtool
