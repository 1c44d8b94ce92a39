// SPDX-License-Identifier: Apache-2.0
// Shared oneDNN engine/stream, plain descriptors, and the oneDNN blocked layout of runtime tensors.
#include "runtime/dnnl_util.h"

#include "core/error.h"
#include "core/parallel.h"

#include <algorithm>
#include <cstring>

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

dnnl::reorder cached_reorder(const dnnl::memory::desc& src_md, const dnnl::memory::desc& dst_md) {
  struct Entry {
    dnnl::memory::desc src, dst;
    dnnl::reorder prim;
  };
  constexpr size_t kEntries = 64;
  thread_local std::vector<Entry> cache;  // most recently used first
  for (size_t i = 0; i < cache.size(); ++i)
    if (cache[i].src == src_md && cache[i].dst == dst_md) {
      if (i > 0) std::rotate(cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(i), cache.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return cache.front().prim;
    }
  const auto& engine = DnnlContext::get().engine;
  dnnl::reorder prim(dnnl::reorder::primitive_desc(engine, src_md, engine, dst_md));
  if (cache.size() == kEntries) cache.pop_back();
  cache.insert(cache.begin(), Entry{src_md, dst_md, prim});
  return prim;
}

void reorder_into(dnnl::memory src, dnnl::memory dst) {
  cached_reorder(src.get_desc(), dst.get_desc()).execute(DnnlContext::get().stream, src, dst);
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
  const SerialScope serial(static_cast<double>(t.numel()));
  cached_reorder(src_md, dst_md).execute(ctx.stream, src, dst);
  ctx.stream.wait();
  return out;
}

void copy_into(const Tensor& src, const dnnl::memory::desc& src_md, dnnl::memory& dst) {
  const auto dst_md = dst.get_desc();
  const size_t stored = src.layout() ? src.layout()->bytes() : src.nbytes();
  if (src_md == dst_md && src_md.get_size() == stored) {
    std::memcpy(dst.get_data_handle(), src.raw(), src_md.get_size());
    return;
  }
  dnnl::memory s = wrap(src_md, src);
  const SerialScope serial(static_cast<double>(src.numel()));
  cached_reorder(src_md, dst_md).execute(DnnlContext::get().stream, s, dst);
}

dnnl::memory::desc channel_blocked_desc(const Shape& shape, dnnl::memory::data_type dt, int64_t block) {
  using tag = dnnl::memory::format_tag;
  const size_t r = shape.size();
  const tag f = r == 3 ? (block == 8 ? tag::aBc8b : tag::aBc16b)
                       : r == 4 ? (block == 8 ? tag::aBcd8b : tag::aBcd16b) : (block == 8 ? tag::aBcde8b : tag::aBcde16b);
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), dt, f);
}

int64_t channel_block(const Tensor& t) {
  const int r = t.rank();
  if (!t.layout() || r < 3 || r > 5) return 0;
  const dnnl::memory::desc md = desc_of(t);
  for (int64_t b : {8, 16})
    if (t.dim(1) % b == 0 && md == channel_blocked_desc(t.shape(), md.data_type(), b)) return b;
  return 0;
}

std::vector<int> layout_axis_order(const Tensor& t) {
  const auto* l = dynamic_cast<const DnnlLayout*>(t.layout());
  if (!l || !t.has_dense_layout() || l->md.data.format_kind != dnnl_blocked ||
      l->md.data.format_desc.blocking.inner_nblks != 0 || l->md.data.ndims != t.rank())
    return {};
  const auto& strides = l->md.data.format_desc.blocking.strides;
  std::vector<int> order(static_cast<size_t>(t.rank()));
  for (int i = 0; i < t.rank(); ++i) order[i] = i;
  // outermost first; among equal strides (extents of 1) keep the logical order
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return strides[a] > strides[b]; });
  // dense: each stride is the product of the extents inside it
  int64_t expect = 1;
  for (size_t k = order.size(); k-- > 0;) {
    if (t.dim(order[k]) != 1 && strides[order[k]] != expect) return {};
    expect *= t.dim(order[k]);
  }
  return order;
}

std::shared_ptr<const Layout> strided_layout_as(const Tensor& t, DType dtype) {
  using dt = dnnl::memory::data_type;
  const dt d = dtype == DType::kFloat   ? dt::f32
               : dtype == DType::kUInt8 ? dt::u8
               : dtype == DType::kInt8  ? dt::s8
               : dtype == DType::kInt32 ? dt::s32
                                        : dt::undef;
  if (d == dt::undef || layout_axis_order(t).empty()) return nullptr;
  const auto& md = static_cast<const DnnlLayout*>(t.layout())->md;
  const auto& blk = md.data.format_desc.blocking;
  dnnl::memory::dims dims(t.shape().begin(), t.shape().end()), strides(blk.strides, blk.strides + t.rank());
  return std::make_shared<DnnlLayout>(dnnl::memory::desc(dims, d, strides));
}

}  // namespace qtool
