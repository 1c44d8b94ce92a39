// SPDX-License-Identifier: Apache-2.0
// Tensor: a dense, row-major (C order) n-d array with shared storage.
// dtype is any DType but undefined/string (core/dtype.h); shape is a list of non-negative extents (rank 0 = scalar).
// Copies share the buffer (cheap reshape); use clone() for a deep copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace qtool {

int64_t shape_numel(const Shape& s); // product of extents (1 for a scalar); throws InputError on overflow
                                     // of int64 or a negative extent
std::string shape_str(const Shape& s);  // "[1,3,32,32]"

// An opaque, runtime-specific memory layout (e.g. a oneDNN blocked format such as nChw16c).
// Tensors that carry one never leave the executor: kernels that are not layout-aware, hooks and
// callers always get plain row-major tensors.
struct Layout {
  virtual ~Layout() = default;
  virtual size_t bytes() const = 0;  // storage size, padding included
};

// While an AllocationCap is alive on a thread, allocating a tensor larger than `bytes` on that
// thread throws AllocationCapExceeded (constant folding uses it to leave huge results unfolded).
class AllocationCap {
 public:
  explicit AllocationCap(size_t bytes);
  ~AllocationCap();
  AllocationCap(const AllocationCap&) = delete;
  AllocationCap& operator=(const AllocationCap&) = delete;
  static size_t current();  // SIZE_MAX when no cap is active

 private:
  size_t previous_;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // zero-initialised
  // Storage left uninitialised: for kernels that write every element (saves a memset per output).
  static Tensor uninitialized(DType dtype, Shape shape);
  // Uninitialised storage of layout->bytes() for a tensor of logical `shape` stored in `layout`.
  static Tensor with_layout(DType dtype, Shape shape, std::shared_ptr<const Layout> layout);
  // nullptr for plain row-major storage.
  const Layout* layout() const { return layout_.get(); }
  const std::shared_ptr<const Layout>& shared_layout() const { return layout_; }
  // A layout without padding: its storage holds exactly numel() elements, the tensor's values in
  // another order.
  bool has_dense_layout() const { return layout_ && layout_->bytes() == nbytes(); }
  // The same storage read as plain row-major with the same shape: for a dense layout, the values
  // in the layout's order (what order-free work needs: element-wise maps applied to operands in
  // one common layout, value statistics). Throws Error for a layout with padding.
  Tensor dense_storage() const;
  // The inverse: this plain tensor's storage labelled with `layout`, whose bytes() must equal
  // nbytes() (throws Error otherwise).
  Tensor relabelled(std::shared_ptr<const Layout> layout) const;

  template <typename T>
  static Tensor from(Shape shape, const std::vector<T>& values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + rank() : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const;  // numel * dtype_size; throws InputError when it does not fit in size_t
  bool empty() const { return dtype_ == DType::kUndefined; }

  // No other tensor holds this storage (a kernel may then write into it, see
  // KernelContext::last_read). Single-threaded use only, as the executor's slots are.
  bool storage_unshared() const { return buffer_ && buffer_.use_count() == 1; }
  // 64-byte aligned storage (SIMD kernels and oneDNN like it).
  void* raw() { return buffer_.get(); }
  const void* raw() const { return buffer_.get(); }
  template <typename T> T* data() { check_type(dtype_of<T>()); return static_cast<T*>(raw()); }
  template <typename T> const T* data() const { check_type(dtype_of<T>()); return static_cast<const T*>(raw()); }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape new_shape) const;
  Tensor clone() const;
  // Element values converted to float / double / int64 (for small shape tensors and attributes).
  // Every dtype but complex; float -> int64 truncates.
  std::vector<float> to_floats() const;
  std::vector<double> to_doubles() const;
  std::vector<int64_t> to_int64s() const;
  // Element-wise conversion (float -> integer truncates toward zero and saturates, NaN -> 0;
  // to a small float rounds to nearest even and saturates). The ONNX Cast kernel implements the
  // operator's exact rules; this is the library's internal conversion.
  Tensor cast(DType to) const;

 private:
  Tensor(DType dtype, Shape shape, bool zero, size_t bytes = SIZE_MAX);
  void check_type(DType want) const;
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<uint8_t> buffer_;
  std::shared_ptr<const Layout> layout_;
};

template <typename T>
Tensor Tensor::from(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel()) t.check_type(DType::kUndefined);
  T* d = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) d[i] = values[i];
  return t;
}

}  // namespace qtool
