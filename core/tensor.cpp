#include "core/tensor.h"

#include <Eigen/Core>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace qtool {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat: case DType::kInt32: case DType::kUInt32: return 4;
    case DType::kUInt8: case DType::kInt8: case DType::kBool: case DType::kUInt4: case DType::kInt4: return 1;
    case DType::kUInt16: case DType::kInt16: case DType::kFloat16: case DType::kBFloat16: return 2;
    case DType::kInt64: case DType::kDouble: case DType::kUInt64: return 8;
    default: throw Error("unsupported tensor data type " + std::to_string(static_cast<int>(t)));
  }
}

int dtype_bits(DType t) {
  return t == DType::kInt4 || t == DType::kUInt4 ? 4 : static_cast<int>(8 * dtype_size(t));
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::kFloat: return "float32";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kUInt16: return "uint16";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kFloat16: return "float16";
    case DType::kDouble: return "float64";
    case DType::kUInt32: return "uint32";
    case DType::kUInt64: return "uint64";
    case DType::kBFloat16: return "bfloat16";
    case DType::kUInt4: return "uint4";
    case DType::kInt4: return "int4";
    default: return "type" + std::to_string(static_cast<int>(t));
  }
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, std::move(shape), true) {}

Tensor Tensor::uninitialized(DType dtype, Shape shape) { return Tensor(dtype, std::move(shape), false); }

Tensor Tensor::with_layout(DType dtype, Shape shape, std::shared_ptr<const Layout> layout) {
  Tensor t(dtype, std::move(shape), false, layout->bytes());
  t.layout_ = std::move(layout);
  return t;
}

Tensor::Tensor(DType dtype, Shape shape, bool zero, size_t bytes) : dtype_(dtype), shape_(std::move(shape)) {
  for (auto d : shape_)
    if (d < 0) throw Error("negative tensor extent in shape " + shape_str(shape_));
  constexpr size_t kAlign = 64;
  const size_t n = bytes == SIZE_MAX ? nbytes() : bytes, padded = (std::max<size_t>(n, 1) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, padded);
  if (!p) throw Error("out of memory allocating " + std::to_string(n) + " bytes for tensor " + shape_str(shape_));
  if (zero) std::memset(p, 0, n);
  buffer_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

void Tensor::check_type(DType want) const {
  if (layout_) throw Error("tensor " + shape_str(shape_) + " is stored in a runtime layout, not plain row-major");
  if (want != dtype_)
    throw Error("tensor of type " + dtype_name(dtype_) + " " + shape_str(shape_) + " accessed as " +
                dtype_name(want));
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
template <typename To, typename F>
void convert_all(const Tensor& t, To* out, F&& fn) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::kFloat: { auto p = t.data<float>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kDouble: { auto p = t.data<double>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kUInt8: { auto p = t.data<uint8_t>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kInt8: { auto p = t.data<int8_t>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kInt32: { auto p = t.data<int32_t>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kInt64: { auto p = t.data<int64_t>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kBool: { auto p = t.data<bool>(); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kInt4: { auto p = static_cast<const int8_t*>(t.raw()); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kUInt4: { auto p = static_cast<const uint8_t*>(t.raw()); for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]); break; }
    case DType::kFloat16: {
      auto p = static_cast<const Eigen::half*>(t.raw());
      for (int64_t i = 0; i < n; ++i) out[i] = fn(static_cast<float>(p[i]));
      break;
    }
    case DType::kBFloat16: {
      auto p = static_cast<const Eigen::bfloat16*>(t.raw());
      for (int64_t i = 0; i < n; ++i) out[i] = fn(static_cast<float>(p[i]));
      break;
    }
    default: throw Error("cannot convert tensor of type " + dtype_name(t.dtype()));
  }
}
}  // namespace

std::vector<float> Tensor::to_floats() const {
  std::vector<float> v(numel());
  convert_all(*this, v.data(), [](auto x) { return static_cast<float>(x); });
  return v;
}

std::vector<int64_t> Tensor::to_int64s() const {
  std::vector<int64_t> v(numel());
  convert_all(*this, v.data(), [](auto x) { return static_cast<int64_t>(x); });
  return v;
}

Tensor Tensor::cast(DType to) const {
  Tensor t(to, shape_);
  switch (to) {
    case DType::kFloat: convert_all(*this, t.data<float>(), [](auto x) { return static_cast<float>(x); }); break;
    case DType::kDouble: convert_all(*this, t.data<double>(), [](auto x) { return static_cast<double>(x); }); break;
    case DType::kInt64: convert_all(*this, t.data<int64_t>(), [](auto x) { return static_cast<int64_t>(x); }); break;
    case DType::kInt32: convert_all(*this, t.data<int32_t>(), [](auto x) { return static_cast<int32_t>(x); }); break;
    case DType::kUInt8: convert_all(*this, t.data<uint8_t>(), [](auto x) { return static_cast<uint8_t>(x); }); break;
    case DType::kInt8: convert_all(*this, t.data<int8_t>(), [](auto x) { return static_cast<int8_t>(x); }); break;
    case DType::kBool: convert_all(*this, t.data<bool>(), [](auto x) { return x != 0; }); break;
    case DType::kFloat16:  // round to nearest even (Eigen's conversions)
      convert_all(*this, static_cast<Eigen::half*>(t.raw()), [](auto x) { return Eigen::half(static_cast<float>(x)); });
      break;
    case DType::kBFloat16:
      convert_all(*this, static_cast<Eigen::bfloat16*>(t.raw()),
                  [](auto x) { return Eigen::bfloat16(static_cast<float>(x)); });
      break;
    default: throw Error("Cast to " + dtype_name(to) + " is not supported");
  }
  return t;
}

}  // namespace qtool
