// SPDX-License-Identifier: Apache-2.0
// TfIdfVectorizer (runtime/kernels/text.cpp): the spec's n-gram counting with skips, weighting
// modes with per-n-gram weights, output shapes, string pools and bad attributes; the string ops
// stay unregistered.
#include "../kernel_test_util.h"
#include "runtime/op_registry.h"

using namespace qtool;
using namespace qtool::test;

namespace {

// The node suite's pool: unigrams 2, 3, 5, 4 and bigrams (5,6) (7,8) (6,7) -> columns 0..6.
onnx::NodeProto tfidf_node(const std::string& mode, int64_t min_gram, int64_t max_gram, int64_t skip) {
  auto n = make_node("TfIdfVectorizer", 1, 1);
  set_attr(n, "mode", mode);
  set_attr(n, "min_gram_length", min_gram);
  set_attr(n, "max_gram_length", max_gram);
  set_attr(n, "max_skip_count", skip);
  set_attr(n, "ngram_counts", std::vector<int64_t>{0, 4});
  set_attr(n, "ngram_indexes", std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
  set_attr(n, "pool_int64s", std::vector<int64_t>{2, 3, 5, 4, 5, 6, 7, 8, 6, 7});
  return n;
}

const std::vector<int32_t> kTokens = {1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8};

}  // namespace

TEST(TfIdfVectorizerKernel, CountsNgramsWithSkips) {
  const Tensor x = Tensor::from<int32_t>({12}, kTokens);
  // bigrams only, no skip: (7,8) (6,7) (5,6) once each
  auto b0 = tfidf_node("TF", 2, 2, 0);
  EXPECT_EQ(run_op(b0, 9, {x}, true)[0].tensor().to_floats(), (std::vector<float>{0, 0, 0, 0, 1, 1, 1}));
  // uni- and bigrams with skips up to 5: unigrams once, bigrams for every skip distance
  auto u5 = tfidf_node("TF", 1, 2, 5);
  EXPECT_EQ(run_op(u5, 9, {x}, true)[0].tensor().to_floats(), (std::vector<float>{0, 3, 1, 0, 1, 3, 1}));
  // [B, C] input gives [B, output_size]; int64 tokens work the same
  const Tensor xb = Tensor::from<int64_t>({2, 6}, std::vector<int64_t>(kTokens.begin(), kTokens.end()));
  const Tensor yb = run_op(b0, 9, {xb}, true)[0].tensor();
  EXPECT_EQ(yb.shape(), (Shape{2, 7}));
  EXPECT_EQ(yb.to_floats(), (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1}));  // (5,6) (6,7)
}

TEST(TfIdfVectorizerKernel, WeightsBelongToNgrams) {
  // two unigrams mapped to swapped columns: 3 -> column 1, 5 -> column 0
  auto n = make_node("TfIdfVectorizer", 1, 1);
  set_attr(n, "min_gram_length", int64_t{1});
  set_attr(n, "max_gram_length", int64_t{1});
  set_attr(n, "max_skip_count", int64_t{0});
  set_attr(n, "ngram_counts", std::vector<int64_t>{0});
  set_attr(n, "ngram_indexes", std::vector<int64_t>{1, 0});
  set_attr(n, "pool_int64s", std::vector<int64_t>{3, 5});
  set_attr(n, "weights", std::vector<float>{2.f, 0.5f});
  const Tensor x = Tensor::from<int64_t>({5}, {3, 3, 5, 9, 3});
  auto tfidf = n;
  set_attr(tfidf, "mode", std::string("TFIDF"));
  EXPECT_EQ(run_op(tfidf, 9, {x}, true)[0].tensor().to_floats(), (std::vector<float>{0.5f, 6.f}));
  auto idf = n;
  set_attr(idf, "mode", std::string("IDF"));
  EXPECT_EQ(run_op(idf, 9, {x}, true)[0].tensor().to_floats(), (std::vector<float>{0.5f, 2.f}));
  auto tf = n;
  set_attr(tf, "mode", std::string("TF"));
  EXPECT_EQ(run_op(tf, 9, {x}, true)[0].tensor().to_floats(), (std::vector<float>{1.f, 3.f}));
  // empty input: zeros of the output size
  EXPECT_EQ(run_op(tf, 9, {Tensor::from<int64_t>({0}, {})}, true)[0].tensor().to_floats(), (std::vector<float>{0, 0}));
}

TEST(TfIdfVectorizerKernel, InvalidAttributesAndStringsAreInputErrors) {
  const Tensor x = Tensor::from<int32_t>({12}, kTokens);
  auto strings = make_node("TfIdfVectorizer", 1, 1);
  set_attr(strings, "mode", std::string("TF"));
  set_attr(strings, "min_gram_length", int64_t{1});
  set_attr(strings, "max_gram_length", int64_t{1});
  set_attr(strings, "max_skip_count", int64_t{0});
  set_attr(strings, "ngram_counts", std::vector<int64_t>{0});
  set_attr(strings, "ngram_indexes", std::vector<int64_t>{0});
  auto* a = strings.add_attribute();
  a->set_name("pool_strings");
  a->set_type(onnx::AttributeProto::STRINGS);
  a->add_strings("hello");
  EXPECT_THROW(run_op(strings, 9, {x}, true), InputError);

  auto bad_mode = tfidf_node("BM25", 1, 2, 0);
  EXPECT_THROW(run_op(bad_mode, 9, {x}, true), InputError);
  auto bad_len = tfidf_node("TF", 3, 2, 0);
  EXPECT_THROW(run_op(bad_len, 9, {x}, true), InputError);
  auto neg_skip = tfidf_node("TF", 1, 2, -1);
  EXPECT_THROW(run_op(neg_skip, 9, {x}, true), InputError);
  auto few_indexes = tfidf_node("TF", 1, 2, 0);
  few_indexes.mutable_attribute(5)->clear_ints();  // ngram_indexes
  few_indexes.mutable_attribute(5)->add_ints(0);
  EXPECT_THROW(run_op(few_indexes, 9, {x}, true), InputError);
  auto bad_counts = tfidf_node("TF", 1, 2, 0);
  bad_counts.mutable_attribute(4)->set_ints(1, 40);  // ngram_counts past the pool
  EXPECT_THROW(run_op(bad_counts, 9, {x}, true), InputError);
  auto ok = tfidf_node("TF", 1, 2, 0);
  EXPECT_THROW(run_op(ok, 9, {Tensor::from<float>({2}, {1, 2})}, true), InputError);               // float tokens
  EXPECT_THROW(run_op(ok, 9, {Tensor::from<int32_t>({1, 1, 2}, {1, 2})}, true), InputError);       // rank 3
}

TEST(StringOps, StayUnregistered) {
  const auto& reg = OpRegistry::instance();
  for (const char* op : {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch"})
    EXPECT_EQ(reg.find("", op, 28).def, nullptr) << op;
}
