// SPDX-License-Identifier: Apache-2.0
// Helpers of the QDQ rewrite tests (test_qdq_lookup.cpp, test_qdq_add.cpp): scalar parameters,
// the op types a fused executor ran, and the reference codes of the executor without layouts.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/executor.h"

namespace qtool::test {

inline Tensor scalar(float v) { return Tensor::from<float>({}, {v}); }
inline Tensor code(DType t, int v) { return Tensor::from<double>({}, {static_cast<double>(v)}).cast(t); }

// How many steps of each op type the executor's last profiled run took.
inline std::map<std::string, int> step_types(const Executor& e) {
  std::map<std::string, int> n;
  for (const auto& p : e.profile()) ++n[p.op_type];
  return n;
}

// Output `name` as codes from the executor without runtime layouts (the rewrites still run).
inline std::vector<int64_t> codes_without_layouts(const Model& m, const TensorMap& feeds, const std::string& name) {
  ExecutorOptions plain;
  plain.layouts = false;
  return Executor(m, plain).run(feeds).at(name).to_int64s();
}

}  // namespace qtool::test
