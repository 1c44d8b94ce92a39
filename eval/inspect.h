// SPDX-License-Identifier: Apache-2.0
// inspect: what a model is made of (op histogram, parameter count, bytes by data type).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/model.h"

namespace qtool {

// One weight of a Conv / Gemm / MatMul / MatMulNBits node and how the file stores it.
struct WeightInfo {
  std::string node, op;
  std::string storage;      // "float32", "int4 via DequantizeLinear", "uint8 via Mod/Div decode", ...
  Shape shape;              // the float weight the node reads
  int64_t params = 0;       // elements of that weight
  int64_t bytes = 0;        // stored bytes of every initializer that produces it (codes, scales, zero points)
  double code_bits = 0;     // bits of the largest stored tensor per weight element (4 for int4 codes)
  double bits_per_weight() const { return params ? 8.0 * bytes / params : 0; }
};

struct ModelSummary {
  int64_t file_bytes = 0;
  int64_t ir_version = 0;
  int opset = 0;
  int64_t nodes = 0;                           // every node, subgraph bodies included
  int64_t subgraph_nodes = 0;                  // of which inside If/Loop/Scan bodies
  std::map<std::string, int64_t> op_histogram; // "Conv", "com.microsoft.FusedConv", ... (subgraphs too)
  int64_t parameters = 0;                      // elements in initializers (subgraphs too)
  std::map<std::string, int64_t> bytes_by_dtype;
  std::map<std::string, int64_t> params_by_dtype;
  std::vector<WeightInfo> weights;
  std::string to_text() const;
  std::string to_json() const;
};

ModelSummary summarize(const Model& model);

}  // namespace qtool
