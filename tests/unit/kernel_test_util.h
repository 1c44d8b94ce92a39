// SPDX-License-Identifier: Apache-2.0
// Helpers for op-family kernel tests (tests/unit/kernels/): build one node, run it with the
// optimized kernel and with the plain reference kernel, compare (ncnn's habit: odd shapes, fixed
// seeds, absolute-or-relative tolerance).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "runtime/executor.h"

namespace qtool::test {

// "[2,13,7]" for a shape or an int list (test parameter names; gtest otherwise prints raw bytes).
inline std::string dims(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// A node of `op_type` with inputs named in0.. and outputs out0..; set attributes on the result.
inline onnx::NodeProto make_node(const std::string& op_type, int num_inputs, int num_outputs,
                                 const std::string& domain = "") {
  onnx::NodeProto n;
  n.set_op_type(op_type);
  n.set_domain(domain);
  n.set_name("test_" + op_type);
  for (int i = 0; i < num_inputs; ++i) n.add_input("in" + std::to_string(i));
  for (int i = 0; i < num_outputs; ++i) n.add_output("out" + std::to_string(i));
  return n;
}
inline void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void set_attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
inline void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
inline void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (auto x : v) a->add_floats(x);
}

// Runs the node; reference_only = true skips the optimized kernel.
inline std::vector<Value> run_op(const onnx::NodeProto& n, int opset, const std::vector<Value>& inputs,
                                 bool reference_only) {
  std::vector<const Value*> ptrs;
  for (const auto& v : inputs) ptrs.push_back(v.present() ? &v : nullptr);
  return run_node(n, opset, ptrs, reference_only);
}

// Uniform random values of any numeric dtype in [lo, hi] (integers rounded), fixed seed.
inline Tensor random_tensor_of(DType dtype, Shape shape, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  dispatch<decltype(NumericTypes{} + TypeList<bool>{})>(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = d(rng);
      if constexpr (std::is_same_v<T, bool>) p[i] = v > (lo + hi) / 2;
      else if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(std::llround(v));
      else p[i] = from_compute<T>(static_cast<Compute<T>>(v));
    }
  });
  return t;
}

// |a - b| <= atol + rtol * |b| elementwise (NaN equals NaN), same dtype and shape.
inline void expect_tensors_near(const Tensor& a, const Tensor& b, double rtol = 1e-4, double atol = 1e-5) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  const auto x = a.to_doubles(), y = b.to_doubles();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y[i])) {
      ASSERT_TRUE(std::isnan(x[i])) << "at " << i;
      continue;
    }
    ASSERT_LE(std::fabs(x[i] - y[i]), atol + rtol * std::fabs(y[i])) << "at " << i << ": " << x[i] << " vs " << y[i];
  }
}

// The optimized and the reference kernel give the same outputs (to the tolerance).
inline void expect_fast_matches_reference(const onnx::NodeProto& n, int opset, const std::vector<Value>& inputs,
                                          double rtol = 1e-4, double atol = 1e-5) {
  const auto fast = run_op(n, opset, inputs, false);
  const auto ref = run_op(n, opset, inputs, true);
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    if (!ref[i].is_tensor()) continue;
    expect_tensors_near(fast[i].tensor(), ref[i].tensor(), rtol, atol);
  }
}

}  // namespace qtool::test
