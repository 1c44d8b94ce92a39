// SPDX-License-Identifier: Apache-2.0
#include "prune/sparse_storage.h"

#include <zlib.h>

#include <set>

#include "core/error.h"
#include "io/onnx_tensor.h"

namespace qtool {

SparseStorageStats store_sparse_initializers(Model& model, int64_t min_elements) {
  SparseStorageStats stats;
  auto& g = model.graph();
  std::set<std::string> graph_inputs;
  for (const auto& i : g.input()) graph_inputs.insert(i.name());
  auto* inits = g.mutable_initializer();
  for (int k = inits->size() - 1; k >= 0; --k) {
    const auto& p = inits->Get(k);
    if (p.data_type() != onnx::TensorProto::FLOAT || graph_inputs.count(p.name())) continue;
    Tensor t = tensor_from_proto(p);
    const int64_t n = t.numel();
    if (n < min_elements) continue;
    const float* v = t.data<float>();
    std::vector<int64_t> idx;
    std::vector<float> vals;
    for (int64_t i = 0; i < n; ++i)
      if (v[i] != 0.f) {
        idx.push_back(i);
        vals.push_back(v[i]);
      }
    const int64_t nnz = static_cast<int64_t>(idx.size());
    const int64_t dense = 4 * n, sparse = 12 * nnz;
    if (sparse >= dense) continue;
    onnx::SparseTensorProto sp;
    *sp.mutable_values() = tensor_to_proto(Tensor::from<float>({nnz}, vals), p.name());
    *sp.mutable_indices() = tensor_to_proto(Tensor::from<int64_t>({nnz}, idx), p.name() + "_indices");
    for (auto d : t.shape()) sp.add_dims(d);
    *g.add_sparse_initializer() = sp;
    inits->DeleteSubrange(k, 1);
    stats.tensors++;
    stats.bytes_saved += dense - sparse;
  }
  return stats;
}

int64_t zip_bytes(const std::string& bytes) {
  uLongf out_len = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(out_len, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &out_len, reinterpret_cast<const Bytef*>(bytes.data()),
                static_cast<uLong>(bytes.size()), Z_DEFAULT_COMPRESSION) != Z_OK)
    throw Error("zlib could not compress " + std::to_string(bytes.size()) + " bytes");
  return static_cast<int64_t>(out_len);
}

}  // namespace qtool
