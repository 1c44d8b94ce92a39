// SPDX-License-Identifier: Apache-2.0
#include "prune/sparse_storage.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <memory>
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

namespace {
// Running DEFLATE that counts output bytes instead of keeping them.
class DeflateCounter {
 public:
  DeflateCounter() {
    if (deflateInit(&z_, Z_DEFAULT_COMPRESSION) != Z_OK) throw Error("zlib: deflateInit failed");
  }
  ~DeflateCounter() { deflateEnd(&z_); }
  void add(const char* p, size_t n, bool last) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
    z_.avail_in = static_cast<uInt>(n);
    int rc;
    do {
      z_.next_out = buf_;
      z_.avail_out = sizeof buf_;
      rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) throw Error("zlib: deflate failed");
      out_ += static_cast<int64_t>(sizeof buf_ - z_.avail_out);
    } while (z_.avail_out == 0 || (last && rc != Z_STREAM_END));
  }
  int64_t bytes() const { return out_; }

 private:
  z_stream z_{};
  Bytef buf_[1 << 18];
  int64_t out_ = 0;
};
}  // namespace

int64_t zip_bytes(const std::string& bytes) {
  auto z = std::make_unique<DeflateCounter>();
  constexpr size_t kChunk = size_t{1} << 30;  // avail_in is 32-bit
  size_t at = 0;
  do {
    const size_t n = std::min(kChunk, bytes.size() - at);
    z->add(bytes.data() + at, n, at + n == bytes.size());
    at += n;
  } while (at < bytes.size());
  return z->bytes();
}

int64_t zip_bytes_of_files(const std::vector<std::filesystem::path>& files) {
  auto z = std::make_unique<DeflateCounter>();
  std::vector<char> buf(size_t{4} << 20);
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream f(files[i], std::ios::binary);
    if (!f) throw Error(files[i].string() + ": cannot read");
    while (f) {
      f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const auto n = static_cast<size_t>(f.gcount());
      if (n) z->add(buf.data(), n, false);
    }
  }
  z->add(nullptr, 0, true);
  return z->bytes();
}

}  // namespace qtool
