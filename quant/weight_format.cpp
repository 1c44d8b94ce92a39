// SPDX-License-Identifier: Apache-2.0
#include "quant/weight_format.h"

#include "core/error.h"

namespace qtool {

std::vector<std::string> weight_format_names() { return {"int8", "int4", "int2", "binary", "ternary"}; }

std::unique_ptr<WeightFormat> make_weight_format(const std::string& name, bool symmetric) {
  if (name == "int8") return make_uniform_format(8, symmetric);
  if (name == "int4") return make_uniform_format(4, symmetric);
  if (name == "int2") return make_uniform_format(2, symmetric);
  if (name == "binary") return make_binary_format();
  if (name == "ternary") return make_ternary_format();
  std::string known;
  for (const auto& n : weight_format_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("unknown weight format '" + name + "' (known: " + known + ")");
}

double group_sse(const WeightFormat& f, const float* w, int64_t n, const GroupParams& p) {
  double e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = w[i] - f.decode(f.encode(w[i], p), p);
    e += d * d;
  }
  return e;
}

}  // namespace qtool
