// Tensor: a dense, row-major (C order) n-d array with shared storage.
// dtype is one of the DType values; shape is a list of non-negative extents (rank 0 = scalar).
// Copies share the buffer (cheap reshape); use clone() for a deep copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace qtool {

// Values equal onnx::TensorProto_DataType so conversion is a cast.
enum class DType : int32_t {
  kUndefined = 0, kFloat = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kBool = 9, kFloat16 = 10, kDouble = 11, kUInt32 = 12, kUInt64 = 13, kBFloat16 = 16,
  kUInt4 = 21, kInt4 = 22  // ONNX IR 10: packed two per byte in files, one per byte in memory
};

using Shape = std::vector<int64_t>;

size_t dtype_size(DType t);          // bytes per element in memory; throws Error for unsupported types
int dtype_bits(DType t);             // bits per element in a file (4 for int4/uint4)
std::string dtype_name(DType t);     // "float32", "int8", ...
int64_t shape_numel(const Shape& s); // product of extents (1 for a scalar)
std::string shape_str(const Shape& s);  // "[1,3,32,32]"

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat; }
template <> constexpr DType dtype_of<double>() { return DType::kDouble; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

// An opaque, runtime-specific memory layout (e.g. a oneDNN blocked format such as nChw16c).
// Tensors that carry one never leave the executor: kernels that are not layout-aware, hooks and
// callers always get plain row-major tensors.
struct Layout {
  virtual ~Layout() = default;
  virtual size_t bytes() const = 0;  // storage size, padding included
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

  template <typename T>
  static Tensor from(Shape shape, const std::vector<T>& values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + rank() : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool empty() const { return dtype_ == DType::kUndefined; }

  // 64-byte aligned storage (SIMD kernels and oneDNN like it).
  void* raw() { return buffer_.get(); }
  const void* raw() const { return buffer_.get(); }
  template <typename T> T* data() { check_type(dtype_of<T>()); return static_cast<T*>(raw()); }
  template <typename T> const T* data() const { check_type(dtype_of<T>()); return static_cast<const T*>(raw()); }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape new_shape) const;
  Tensor clone() const;
  // Element values converted to float / int64 (for small shape tensors and attributes).
  std::vector<float> to_floats() const;
  std::vector<int64_t> to_int64s() const;
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
