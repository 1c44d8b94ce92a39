// SPDX-License-Identifier: Apache-2.0
// Helpers for unit tests: models written inline in ONNX text syntax, seeded random tensors.
#pragma once
#include <onnx/defs/parser.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "io/model.h"

namespace qtool::test {

inline Model parse_model(const char* text) {
  Model m;
  auto status = onnx::OnnxParser::Parse(m.proto, text);
  if (!status.IsOK()) throw std::runtime_error("bad test model: " + status.ErrorMessage());
  return m;
}

inline Tensor random_tensor(Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::kFloat, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

inline void set_init(Model& m, const std::string& name, const Tensor& t) { m.set_initializer(name, t); }

// Largest |a - b| over the elements; infinity when the shapes differ.
inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<float>::infinity();
  auto x = a.to_floats(), y = b.to_floats();
  float d = 0.f;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::fabs(x[i] - y[i]));
  return d;
}

}  // namespace qtool::test
