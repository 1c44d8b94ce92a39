// SPDX-License-Identifier: Apache-2.0
// TfIdfVectorizer (ai.onnx 9) for integer (int32 / int64) token tensors, as the ONNX spec and its
// reference implementation (onnx/reference/ops/op_tfidf_vectorizer.py, onnxruntime's algorithm)
// define it: the pool's n-grams of lengths min_gram_length..max_gram_length go into a trie (n-gram
// i -> output column ngram_indexes[i]); every row of X is scanned for n-grams with skip distances
// 1..max_skip_count + 1 (unigrams counted once), and the counts are weighted by mode: TF (counts),
// IDF (the n-gram's weight where it was found, else 0; 1 without weights), TFIDF (count * weight).
// weights[i] is the weight of the i-th n-gram of the pool (the spec's text and onnxruntime; the
// Python reference indexes weights by output column instead, which differs when ngram_indexes is
// not the identity). Input [C] gives [max(ngram_indexes) + 1], [B, C] gives [B, max + 1].
//
// qtool has no string tensors: a pool_strings node fails with a clear error, and the string ops
// (StringNormalizer, StringConcat, StringSplit, RegexFullMatch) are not registered, so the
// unsupported-ops check names them.
#include <map>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

enum class TfIdfMode { kTf, kIdf, kTfIdf };

struct TfIdfConfig {
  TfIdfMode mode = TfIdfMode::kTf;
  int64_t min_gram = 1, max_gram = 1, max_skip = 0, output_size = 0;
  std::vector<int64_t> counts, indexes, pool;
  std::vector<float> weights;
};

TfIdfConfig tfidf_config(const KernelContext& c) {
  const auto& n = c.node;
  TfIdfConfig t;
  for (const char* req : {"mode", "ngram_indexes", "ngram_counts", "max_skip_count", "min_gram_length", "max_gram_length"})
    if (!find_attr(n, req)) c.fail(std::string("attribute '") + req + "' is required");
  const std::string mode = attr_string(n, "mode", "");
  if (mode == "TF") t.mode = TfIdfMode::kTf;
  else if (mode == "IDF") t.mode = TfIdfMode::kIdf;
  else if (mode == "TFIDF") t.mode = TfIdfMode::kTfIdf;
  else c.fail("attribute 'mode': '" + mode + "' is not one of TF, IDF, TFIDF");
  if (find_attr(n, "pool_strings"))
    c.fail("attribute 'pool_strings': string n-grams need string tensors, which qtool does not support (use pool_int64s)");
  if (!find_attr(n, "pool_int64s")) c.fail("attribute 'pool_int64s' is required (pool_strings is not supported)");
  t.min_gram = attr_int(n, "min_gram_length", 1);
  t.max_gram = attr_int(n, "max_gram_length", 1);
  t.max_skip = attr_int(n, "max_skip_count", 0);
  if (t.min_gram < 1) c.fail("attribute 'min_gram_length' must be >= 1, got " + std::to_string(t.min_gram));
  if (t.max_gram < t.min_gram)
    c.fail("attribute 'max_gram_length' (" + std::to_string(t.max_gram) + ") must be >= min_gram_length (" +
           std::to_string(t.min_gram) + ")");
  if (t.max_gram > (int64_t{1} << 20)) c.fail("attribute 'max_gram_length' is too large: " + std::to_string(t.max_gram));
  if (t.max_skip < 0) c.fail("attribute 'max_skip_count' must be >= 0, got " + std::to_string(t.max_skip));
  if (t.max_skip > (int64_t{1} << 30)) c.fail("attribute 'max_skip_count' is too large");
  t.counts = attr_ints(n, "ngram_counts");
  t.indexes = attr_ints(n, "ngram_indexes");
  t.pool = attr_ints(n, "pool_int64s");
  t.weights = attr_floats(n, "weights");
  if (t.indexes.empty()) c.fail("attribute 'ngram_indexes' is empty");
  int64_t mx = -1;
  for (int64_t v : t.indexes) {
    if (v < 0) c.fail("attribute 'ngram_indexes' has a negative index " + std::to_string(v));
    mx = std::max(mx, v);
  }
  if (mx >= (int64_t{1} << 40)) c.fail("attribute 'ngram_indexes': index " + std::to_string(mx) + " is too large");
  t.output_size = mx + 1;
  const int64_t pool = static_cast<int64_t>(t.pool.size());
  int64_t ids = 0;
  for (size_t i = 0; i < t.counts.size(); ++i) {
    const int64_t start = t.counts[i];
    const int64_t end = i + 1 < t.counts.size() ? t.counts[i + 1] : pool;
    if (start < 0 || start > pool || end < start)
      c.fail("attribute 'ngram_counts' must be non-decreasing starts within the pool of " + std::to_string(pool) + " items");
    ids += (end - start) / static_cast<int64_t>(i + 1);
  }
  if (ids > static_cast<int64_t>(t.indexes.size()))
    c.fail("the pool holds " + std::to_string(ids) + " n-grams but 'ngram_indexes' has only " +
           std::to_string(t.indexes.size()) + " entries");
  if (!t.weights.empty() && t.weights.size() != t.indexes.size())
    c.fail("attribute 'weights' has " + std::to_string(t.weights.size()) + " values, expected " +
           std::to_string(t.indexes.size()) + " (one per n-gram, as ngram_indexes)");
  return t;
}

// Trie of pool n-grams: node 0 is the root; id 0 means "no n-gram ends here".
struct NgramTrie {
  struct Node {
    int64_t id = 0;
    std::map<int64_t, int32_t> next;
  };
  std::vector<Node> nodes{1};

  int32_t child(int32_t at, int64_t key) {
    auto it = nodes[at].next.find(key);
    if (it != nodes[at].next.end()) return it->second;
    const int32_t k = static_cast<int32_t>(nodes.size());
    nodes[at].next.emplace(key, k);
    nodes.emplace_back();
    return k;
  }
};

NgramTrie build_trie(const TfIdfConfig& t) {
  NgramTrie trie;
  const int64_t pool = static_cast<int64_t>(t.pool.size());
  int64_t id = 1;
  for (size_t i = 0; i < t.counts.size(); ++i) {
    const int64_t size = static_cast<int64_t>(i + 1);
    const int64_t start = t.counts[i];
    const int64_t end = i + 1 < t.counts.size() ? t.counts[i + 1] : pool;
    const int64_t grams = (end - start) / size;
    if (size < t.min_gram || size > t.max_gram) {
      id += grams;
      continue;
    }
    for (int64_t g = 0; g < grams; ++g) {
      int32_t at = 0;
      for (int64_t k = 0; k < size; ++k) at = trie.child(at, t.pool[start + g * size + k]);
      trie.nodes[at].id = id++;
    }
  }
  return trie;
}

void tfidf_validate(KernelContext& c) {
  tfidf_config(c);
  if (!c.has(0)) return;
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kInt32 && x.dtype() != DType::kInt64)
    c.fail("input X must be int32 or int64 (string inputs are not supported), got " + dtype_name(x.dtype()));
  if (x.rank() > 2) c.fail("input X must be [C] or [B, C], got " + shape_str(x.shape()));
  if (x.rank() == 2 && x.dim(0) < 1) c.fail("input X [B, C] must have B > 0, got " + shape_str(x.shape()));
}

void tfidf_vectorizer(KernelContext& c) {
  tfidf_validate(c);
  const TfIdfConfig t = tfidf_config(c);
  const Tensor& x = c.in(0);
  const auto tokens = x.to_int64s();
  const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
  const int64_t cols = x.rank() == 0 ? 1 : x.dim(-1);
  const Shape out_shape = x.rank() == 2 ? Shape{rows, t.output_size} : Shape{t.output_size};
  shape_numel(out_shape);
  std::vector<int64_t> freq(static_cast<size_t>(rows * t.output_size), 0);
  // IDF / TFIDF with weights: the weight of the n-gram found (last hit / sum over hits)
  std::vector<float> weighted(t.weights.empty() ? 0 : freq.size(), 0.f);
  const NgramTrie trie = build_trie(t);
  if (!tokens.empty()) {
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t* xs = tokens.data() + row * cols;
      int64_t start_size = t.min_gram;
      for (int64_t skip = 1; skip <= t.max_skip + 1; ++skip) {
        for (int64_t s = 0; s < cols; ++s) {
          if (s + skip * (start_size - 1) >= cols) break;  // no n-gram of any wanted size fits
          int32_t at = 0;
          int64_t item = s;
          for (int64_t size = 1; !trie.nodes[at].next.empty() && size <= t.max_gram && item < cols; ++size) {
            auto it = trie.nodes[at].next.find(xs[item]);
            if (it == trie.nodes[at].next.end()) break;
            at = it->second;
            const int64_t id = trie.nodes[at].id;
            if (size >= start_size && id != 0) {
              const int64_t col = row * t.output_size + t.indexes[id - 1];
              ++freq[col];
              if (!weighted.empty()) {
                const float wv = t.weights[id - 1];
                weighted[col] = t.mode == TfIdfMode::kIdf ? wv : weighted[col] + wv;
              }
            }
            item += skip;
          }
        }
        if (start_size == 1) {  // unigrams do not depend on the skip distance: count them once
          if (++start_size > t.max_gram) break;
        }
      }
    }
  }
  Tensor y = Tensor::uninitialized(DType::kFloat, out_shape);
  float* o = y.data<float>();
  const bool w = !t.weights.empty();
  for (size_t k = 0; k < freq.size(); ++k) {
    const int64_t f = freq[k];
    float v = static_cast<float>(f);
    if (t.mode == TfIdfMode::kIdf) v = f > 0 ? (w ? weighted[k] : 1.f) : 0.f;
    else if (t.mode == TfIdfMode::kTfIdf && w) v = weighted[k];
    o[k] = v;
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_text_ops(OpRegistry& r) {
  r.add("", "TfIdfVectorizer", {9}, OpDef{tfidf_vectorizer, nullptr, tfidf_validate});
}

}  // namespace qtool
