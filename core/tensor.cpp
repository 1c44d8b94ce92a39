// SPDX-License-Identifier: Apache-2.0
#include "core/tensor.h"

#include <Eigen/Core>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/buffer_pool.h"
#include "core/dispatch.h"
#include "core/error.h"

namespace qtool {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) {
    if (d < 0) throw InputError("negative extent in shape " + shape_str(s));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw InputError("shape " + shape_str(s) + " has more elements than fit in 64 bits");
    n *= d;
  }
  return n;
}

size_t Tensor::nbytes() const {
  const auto n = static_cast<uint64_t>(numel()), es = dtype_size(dtype_);
  if (n > std::numeric_limits<uint64_t>::max() / es) throw InputError("tensor " + shape_str(shape_) + " is too large");
  return static_cast<size_t>(n * es);
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

namespace {
thread_local size_t t_allocation_cap = SIZE_MAX;
}

AllocationCap::AllocationCap(size_t bytes) : previous_(t_allocation_cap) { t_allocation_cap = std::min(bytes, previous_); }
AllocationCap::~AllocationCap() { t_allocation_cap = previous_; }
size_t AllocationCap::current() { return t_allocation_cap; }

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, std::move(shape), true) {}

Tensor Tensor::uninitialized(DType dtype, Shape shape) { return Tensor(dtype, std::move(shape), false); }

Tensor Tensor::with_layout(DType dtype, Shape shape, std::shared_ptr<const Layout> layout) {
  Tensor t(dtype, std::move(shape), false, layout->bytes());
  t.layout_ = std::move(layout);
  return t;
}

Tensor::Tensor(DType dtype, Shape shape, bool zero, size_t bytes) : dtype_(dtype), shape_(std::move(shape)) {
  const size_t n = bytes == SIZE_MAX ? nbytes() : bytes;
  if (n > t_allocation_cap)
    throw AllocationCapExceeded("tensor " + shape_str(shape_) + " of " + std::to_string(n) + " bytes is over the cap");
  if (n > SIZE_MAX - 2 * kTensorAlign) throw InputError("tensor " + shape_str(shape_) + " is too large");
  void* p = pooled_alloc(n);
  if (!p) throw Error("out of memory allocating " + std::to_string(n) + " bytes for tensor " + shape_str(shape_));
  if (zero) std::memset(p, 0, n);
  // (when making the control block throws, shared_ptr itself calls the deleter)
  buffer_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [n](uint8_t* q) { pooled_free(q, n); });
}

void Tensor::check_type(DType want) const {
  if (layout_) throw Error("tensor " + shape_str(shape_) + " is stored in a runtime layout, not plain row-major");
  if (want != dtype_)
    throw Error("tensor of type " + dtype_name(dtype_) + " " + shape_str(shape_) + " accessed as " +
                dtype_name(want));
}

Tensor Tensor::dense_storage() const {
  if (layout_ && !has_dense_layout()) throw Error("tensor " + shape_str(shape_) + ": its layout has padding");
  Tensor t = *this;
  t.layout_.reset();
  return t;
}

Tensor Tensor::relabelled(std::shared_ptr<const Layout> layout) const {
  if (layout_ || !layout || layout->bytes() != nbytes())
    throw Error("tensor " + shape_str(shape_) + ": storage does not match the layout");
  Tensor t = *this;
  t.layout_ = std::move(layout);
  return t;
}

Tensor Tensor::reshaped(Shape new_shape) const {
  check_type(dtype_);
  if (shape_numel(new_shape) != numel())
    throw Error("cannot reshape " + shape_str(shape_) + " to " + shape_str(new_shape));
  Tensor t = *this;
  t.shape_ = std::move(new_shape);
  return t;
}

Tensor Tensor::clone() const {
  check_type(dtype_);
  Tensor t = uninitialized(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

namespace {
// out[i] = fn(value i as its Compute type) for every element.
template <typename To, typename F>
void convert_all(const Tensor& t, To* out, F&& fn) {
  const int64_t n = t.numel();
  const bool ok = dispatch<AllTypes>(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, Complex64> || std::is_same_v<T, Complex128>) {
      throw Error("cannot convert a " + dtype_name(t.dtype()) + " tensor to a real type");
    } else {
      const T* p = static_cast<const T*>(t.raw());
      for (int64_t i = 0; i < n; ++i) out[i] = fn(to_compute(p[i]));
    }
  });
  if (!ok) throw Error("cannot convert tensor of type " + dtype_name(t.dtype()));
}
}  // namespace

std::vector<float> Tensor::to_floats() const {
  std::vector<float> v(numel());
  convert_all(*this, v.data(), [](auto x) { return static_cast<float>(x); });
  return v;
}

std::vector<double> Tensor::to_doubles() const {
  std::vector<double> v(numel());
  convert_all(*this, v.data(), [](auto x) { return static_cast<double>(x); });
  return v;
}

std::vector<int64_t> Tensor::to_int64s() const {
  std::vector<int64_t> v(numel());
  convert_all(*this, v.data(), [](auto x) { return static_cast<int64_t>(x); });
  return v;
}

Tensor Tensor::cast(DType to) const {
  Tensor t = uninitialized(to, shape_);
  const bool ok = dispatch<decltype(NumericTypes{} + TypeList<bool>{} + SmallFloatTypes{} + SubByteIntTypes{})>(
      to, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* out = static_cast<T*>(t.raw());
        if constexpr (std::is_same_v<T, bool>) {
          convert_all(*this, out, [](auto x) { return x != 0; });
        } else {
          convert_all(*this, out, [](auto x) {
            if constexpr (std::is_integral_v<Compute<T>> && std::is_floating_point_v<decltype(x)>) {
              // float -> integer: NaN -> 0, saturated to the target range (no undefined behaviour)
              if (!(x == x)) return from_compute<T>(Compute<T>(0));
              const double lo = static_cast<double>(std::numeric_limits<Compute<T>>::lowest());
              const double hi = static_cast<double>(std::numeric_limits<Compute<T>>::max());
              const double v = std::min(std::max(static_cast<double>(x), lo), hi);
              return from_compute<T>(v >= hi ? std::numeric_limits<Compute<T>>::max() : static_cast<Compute<T>>(v));
            } else {
              return from_compute<T>(static_cast<Compute<T>>(x));
            }
          });
        }
      });
  if (!ok) throw Error("cast to " + dtype_name(to) + " is not supported");
  return t;
}

}  // namespace qtool
