// SPDX-License-Identifier: Apache-2.0
// SwiGLU (ai.onnx 28): Y = Swish_alpha(A) * B with Swish_alpha(a) = a * sigmoid(alpha * a), A and B
// of the same shape (no broadcasting). Computed step by step as onnx's reference
// (onnx/reference/ops/op_swiglu.py): -alpha * a, exp, 1 + ., 1 / ., a * ., * b, each rounded to the
// input type (float16 / bfloat16 through float32, as numpy).
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

template <typename T>
inline Compute<T> rnd(Compute<T> v) {
  return to_compute(from_compute<T>(v));
}

void validate_swiglu(KernelContext& c) {
  for (int i = 0; i < 2; ++i)
    if (c.has(i)) {
      const DType t = c.in(i).dtype();
      if (t != DType::kFloat && t != DType::kDouble && t != DType::kFloat16 && t != DType::kBFloat16) c.fail_dtype(i, t);
    }
  if (c.has(0) && c.has(1)) {
    if (c.in(0).dtype() != c.in(1).dtype()) c.fail("A and B differ in type");
    if (c.in(0).shape() != c.in(1).shape())
      c.fail("A " + shape_str(c.in(0).shape()) + " and B " + shape_str(c.in(1).shape()) + " must have the same shape");
  }
}

void swiglu(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const float alpha = attr_float(c.node, "alpha", 1.f);
  Tensor y = Tensor::uninitialized(a.dtype(), a.shape());
  c.dispatch_or_fail<FloatTypes>(0, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* yp = y.data<T>();
    const C na = static_cast<C>(-static_cast<double>(alpha));
    for (int64_t i = 0; i < a.numel(); ++i) {
      const C av = to_compute(ap[i]);
      const C e = rnd<T>(std::exp(rnd<T>(na * av)));
      const C sig = rnd<T>(C(1) / rnd<T>(C(1) + e));
      yp[i] = from_compute<T>(rnd<T>(av * sig) * to_compute(bp[i]));
    }
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_swiglu_ops(OpRegistry& r) { r.add("", "SwiGLU", {28}, OpDef{swiglu, nullptr, validate_swiglu}); }

}  // namespace qtool
