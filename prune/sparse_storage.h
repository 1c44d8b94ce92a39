// SPDX-License-Identifier: Apache-2.0
// Storage of pruned tensors: each float initializer is written in its smallest form that
// onnxruntime loads. A sparse_initializer stores 4 bytes per non-zero value plus an int64 linear
// index (ONNX allows only INT64 indices), so it is smaller than the dense tensor when fewer than
// a third of the values are non-zero. Everything else stays dense, where zeros still compress
// (see zip_bytes).
#pragma once
#include <cstdint>
#include <string>

#include "io/model.h"

namespace qtool {

struct SparseStorageStats {
  int tensors = 0;          // initializers moved to sparse_initializer
  int64_t bytes_saved = 0;  // dense payload minus sparse payload
};

// Moves float initializers with density < 1/3 (and at least `min_elements` values) to
// graph.sparse_initializer (linear int64 indices).
SparseStorageStats store_sparse_initializers(Model& model, int64_t min_elements = 64);

// Size of `bytes` after DEFLATE (zlib, default level): what a zip / app bundle / HTTP download sees.
int64_t zip_bytes(const std::string& bytes);

}  // namespace qtool
