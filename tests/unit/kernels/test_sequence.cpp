// SPDX-License-Identifier: Apache-2.0
// Sequence and optional ops: positions (negative, bounds), element types, SplitToSequence
// (scalar / 1-D / no split, keepdims), ConcatFromSequence (new_axis), SequenceMap (sequences and
// tensors as extra inputs, empty input), Optional / OptionalHasElement / OptionalGetElement.
#include <gtest/gtest.h>

#include "io/model.h"
#include "runtime/executor.h"
#include "tests/unit/kernel_test_util.h"
#include "tests/unit/test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from<int64_t>(std::move(s), v); }

Value seq_of(std::vector<Tensor> items) {
  const DType dt = items.empty() ? DType::kFloat : items[0].dtype();
  return Value::sequence(dt, std::move(items));
}

// Runs op_type at opset 17 (24 for SplitToSequence) on the given inputs.
std::vector<Value> run1(onnx::NodeProto n, const std::vector<Value>& in, int opset = 17) {
  return run_op(n, opset, in, true);
}

std::string error_of(const onnx::NodeProto& n, const std::vector<Value>& in, int opset = 17) {
  try {
    run1(n, in, opset);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const Value kSeq = seq_of({Tensor::from<float>({1}, {1}), Tensor::from<float>({2}, {2, 3}), Tensor::from<float>({1}, {4})});

}  // namespace

TEST(Sequence, ConstructAtLength) {
  auto n = make_node("SequenceConstruct", 2, 1);
  auto s = run1(n, {f32({1}, {1}), f32({2}, {2, 3})})[0];
  ASSERT_TRUE(s.is_sequence());
  EXPECT_EQ(s.elem_dtype(), DType::kFloat);
  EXPECT_EQ(s.items().size(), 2u);
  EXPECT_NE(error_of(n, {f32({1}, {1}), i64({1}, {1})}).find("element type"), std::string::npos);

  auto at = make_node("SequenceAt", 2, 1);
  EXPECT_EQ(run1(at, {kSeq, i64({}, {-1})})[0].tensor().to_floats(), (std::vector<float>{4}));
  EXPECT_EQ(run1(at, {kSeq, Tensor::from<int32_t>({}, {1})})[0].tensor().to_floats(), (std::vector<float>{2, 3}));
  EXPECT_NE(error_of(at, {kSeq, i64({}, {3})}).find("out of range [-3, 2]"), std::string::npos);
  EXPECT_NE(error_of(at, {kSeq, i64({}, {-4})}).find("out of range"), std::string::npos);
  EXPECT_NE(error_of(at, {f32({1}, {1}), i64({}, {0})}).find("must be a sequence"), std::string::npos);

  auto len = make_node("SequenceLength", 1, 1);
  auto l = run1(len, {kSeq})[0].tensor();
  EXPECT_EQ(l.dtype(), DType::kInt64);
  EXPECT_EQ(l.rank(), 0);
  EXPECT_EQ(l.to_int64s()[0], 3);
}

TEST(Sequence, EmptyInsertErase) {
  auto empty = make_node("SequenceEmpty", 0, 1);
  auto e = run1(empty, {})[0];
  EXPECT_EQ(e.elem_dtype(), DType::kFloat);
  set_attr(empty, "dtype", int64_t{7});
  e = run1(empty, {})[0];
  EXPECT_EQ(e.elem_dtype(), DType::kInt64);
  EXPECT_EQ(e.items().size(), 0u);

  auto ins = make_node("SequenceInsert", 3, 1);
  auto s = run1(ins, {kSeq, f32({1}, {9}), i64({}, {0})})[0];  // front
  EXPECT_EQ(s.items()[0].to_floats(), (std::vector<float>{9}));
  s = run1(ins, {kSeq, f32({1}, {9}), i64({}, {-1})})[0];  // before the last
  EXPECT_EQ(s.items()[2].to_floats(), (std::vector<float>{9}));
  EXPECT_EQ(s.items()[3].to_floats(), (std::vector<float>{4}));
  s = run1(ins, {kSeq, f32({1}, {9}), i64({}, {3})})[0];  // n is allowed: the back
  EXPECT_EQ(s.items()[3].to_floats(), (std::vector<float>{9}));
  EXPECT_EQ(kSeq.items().size(), 3u);  // the input is unchanged
  auto ins2 = make_node("SequenceInsert", 2, 1);
  s = run1(ins2, {kSeq, f32({1}, {9})})[0];
  EXPECT_EQ(s.items().size(), 4u);
  EXPECT_EQ(s.items()[3].to_floats(), (std::vector<float>{9}));
  EXPECT_NE(error_of(ins, {kSeq, f32({1}, {9}), i64({}, {4})}).find("out of range [-3, 3]"), std::string::npos);
  EXPECT_NE(error_of(ins2, {kSeq, i64({1}, {9})}).find("the sequence holds float32"), std::string::npos);

  auto er = make_node("SequenceErase", 2, 1);
  s = run1(er, {kSeq, i64({}, {-3})})[0];
  EXPECT_EQ(s.items().size(), 2u);
  EXPECT_EQ(s.items()[0].to_floats(), (std::vector<float>{2, 3}));
  auto er1 = make_node("SequenceErase", 1, 1);
  s = run1(er1, {kSeq})[0];
  EXPECT_EQ(s.items().back().to_floats(), (std::vector<float>{2, 3}));
  EXPECT_NE(error_of(er1, {seq_of({})}).find("empty sequence"), std::string::npos);
  EXPECT_NE(error_of(er, {kSeq, i64({}, {3})}).find("out of range"), std::string::npos);
}

TEST(Sequence, SplitToSequence) {
  const Tensor x = f32({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto n = make_node("SplitToSequence", 1, 1);
  set_attr(n, "axis", int64_t{1});
  auto s = run1(n, {x}, 24)[0];
  ASSERT_EQ(s.items().size(), 5u);
  EXPECT_EQ(s.items()[1].shape(), (Shape{2, 1}));
  EXPECT_EQ(s.items()[1].to_floats(), (std::vector<float>{1, 6}));
  auto nk = make_node("SplitToSequence", 1, 1);
  set_attr(nk, "axis", int64_t{-1});
  set_attr(nk, "keepdims", int64_t{0});
  s = run1(nk, {x}, 11)[0];
  EXPECT_EQ(s.items()[1].shape(), (Shape{2}));

  auto ns = make_node("SplitToSequence", 2, 1);
  set_attr(ns, "axis", int64_t{1});
  s = run1(ns, {x, i64({}, {2})})[0];  // scalar: 2, 2, 1
  ASSERT_EQ(s.items().size(), 3u);
  EXPECT_EQ(s.items()[2].shape(), (Shape{2, 1}));
  EXPECT_EQ(s.items()[2].to_floats(), (std::vector<float>{4, 9}));
  s = run1(ns, {x, Tensor::from<int32_t>({3}, {1, 0, 4})})[0];  // 1-D lengths
  ASSERT_EQ(s.items().size(), 3u);
  EXPECT_EQ(s.items()[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(s.items()[2].to_floats(), (std::vector<float>{1, 2, 3, 4, 6, 7, 8, 9}));
  // keepdims does not apply with a split input
  set_attr(ns, "keepdims", int64_t{0});
  s = run1(ns, {x, i64({}, {5})})[0];
  EXPECT_EQ(s.items()[0].shape(), (Shape{2, 5}));

  EXPECT_NE(error_of(ns, {x, i64({2}, {1, 2})}).find("sum to 3"), std::string::npos);
  EXPECT_NE(error_of(ns, {x, i64({2}, {1, INT64_MAX})}).find("more than 5"), std::string::npos);
  EXPECT_NE(error_of(ns, {x, i64({}, {0})}).find("must be positive"), std::string::npos);
  EXPECT_NE(error_of(ns, {x, i64({2}, {-1, 6})}).find("negative"), std::string::npos);
  auto bad_axis = make_node("SplitToSequence", 1, 1);
  set_attr(bad_axis, "axis", int64_t{2});
  EXPECT_NE(error_of(bad_axis, {x}).find("out of range"), std::string::npos);
  // an empty axis gives an empty sequence of the input's type
  s = run1(n, {Tensor(DType::kInt8, {3, 0})})[0];
  EXPECT_EQ(s.items().size(), 0u);
  EXPECT_EQ(s.elem_dtype(), DType::kInt8);
}

TEST(Sequence, ConcatFromSequence) {
  const Value s = seq_of({f32({2, 1}, {1, 2}), f32({2, 2}, {3, 4, 5, 6})});
  auto n = make_node("ConcatFromSequence", 1, 1);
  set_attr(n, "axis", int64_t{-1});
  auto y = run1(n, {s})[0].tensor();
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_floats(), (std::vector<float>{1, 3, 4, 2, 5, 6}));

  const Value same = seq_of({f32({2}, {1, 2}), f32({2}, {3, 4}), f32({2}, {5, 6})});
  auto st = make_node("ConcatFromSequence", 1, 1);
  set_attr(st, "axis", int64_t{-1});
  set_attr(st, "new_axis", int64_t{1});  // stack at the new last axis
  y = run1(st, {same})[0].tensor();
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_floats(), (std::vector<float>{1, 3, 5, 2, 4, 6}));
  auto st0 = make_node("ConcatFromSequence", 1, 1);
  set_attr(st0, "axis", int64_t{0});
  set_attr(st0, "new_axis", int64_t{1});
  y = run1(st0, {same})[0].tensor();
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.to_floats(), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  EXPECT_NE(error_of(n, {seq_of({})}).find("empty"), std::string::npos);
  auto n0 = make_node("ConcatFromSequence", 1, 1);
  set_attr(n0, "axis", int64_t{0});
  EXPECT_NE(error_of(n0, {s}).find("differ in shape"), std::string::npos);
  auto far = make_node("ConcatFromSequence", 1, 1);
  set_attr(far, "axis", int64_t{2});
  EXPECT_NE(error_of(far, {same}).find("attribute 'axis'"), std::string::npos);
  auto no_axis = make_node("ConcatFromSequence", 1, 1);
  EXPECT_NE(error_of(no_axis, {same}).find("'axis' is required"), std::string::npos);
}

TEST(Sequence, SequenceMapWithSequencesAndTensors) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[N] s, float[N] t, float[1] k) => (float[N] a, int64[1] b) {
  a, b = SequenceMap (s, t, k) <body = f (float[N] x, float[N] y, float[1] z) => (float[N] u, int64[1] v) {
    xy = Add(x, y)
    u = Add(xy, z)
    v = Shape(x)
  }>
})";
  Model m = load_model_from_bytes(parse_model(text).proto.SerializeAsString(), "test");
  // The text parser has no seq types: make s and t sequence inputs here.
  auto& g = m.graph();
  for (int i = 0; i < 2; ++i) {
    auto* t = g.mutable_input(i)->mutable_type();
    auto elem = t->tensor_type();
    t->clear_tensor_type();
    *t->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type() = elem;
  }
  Executor ex2(m);
  ValueMap feeds{{"s", seq_of({f32({1}, {1}), f32({3}, {1, 2, 3})})},
                 {"t", seq_of({f32({1}, {10}), f32({3}, {10, 20, 30})})},
                 {"k", f32({1}, {100})}};
  auto out = ex2.run_values(feeds);
  ASSERT_TRUE(out.at("a").is_sequence());
  ASSERT_EQ(out.at("a").items().size(), 2u);
  EXPECT_EQ(out.at("a").items()[1].to_floats(), (std::vector<float>{111, 122, 133}));
  EXPECT_EQ(out.at("b").items()[1].to_int64s(), (std::vector<int64_t>{3}));
  // empty input: empty outputs of the body's declared element types
  feeds["s"] = seq_of({});
  feeds["t"] = seq_of({});
  out = ex2.run_values(feeds);
  EXPECT_EQ(out.at("a").items().size(), 0u);
  EXPECT_EQ(out.at("b").elem_dtype(), DType::kInt64);
  // sequences of different lengths
  feeds["s"] = seq_of({f32({1}, {1})});
  try {
    ex2.run_values(feeds);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("(SequenceMap)"), std::string::npos) << e.what();
  }
}

TEST(Optional, ConstructHasGet) {
  auto opt = make_node("Optional", 1, 1);
  auto o = run1(opt, {f32({1}, {3})}, 18)[0];
  EXPECT_TRUE(o.is_optional());
  EXPECT_TRUE(o.is_tensor());
  auto empty = make_node("Optional", 0, 1);
  auto* a = empty.add_attribute();
  a->set_name("type");
  a->set_type(onnx::AttributeProto::TYPE_PROTO);
  a->mutable_tp()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(7);
  auto none = run1(empty, {}, 18)[0];
  EXPECT_TRUE(none.is_none());
  EXPECT_TRUE(none.none_of_sequence());
  EXPECT_EQ(none.elem_dtype(), DType::kInt64);
  auto untyped = make_node("Optional", 0, 1);
  EXPECT_NE(error_of(untyped, {}, 18).find("attribute 'type' is required"), std::string::npos);

  auto has = make_node("OptionalHasElement", 1, 1);
  EXPECT_TRUE(run1(has, {o}, 18)[0].tensor().data<bool>()[0]);
  EXPECT_FALSE(run1(has, {none}, 18)[0].tensor().data<bool>()[0]);
  EXPECT_TRUE(run1(has, {f32({1}, {1})}, 18)[0].tensor().data<bool>()[0]);  // 18: plain tensors too
  EXPECT_FALSE(run1(has, {Value()}, 18)[0].tensor().data<bool>()[0]);        // 18: omitted input
  EXPECT_EQ(run1(has, {o}, 18)[0].tensor().rank(), 0);

  auto get = make_node("OptionalGetElement", 1, 1);
  auto v = run1(get, {o}, 18)[0];
  EXPECT_FALSE(v.is_optional());
  EXPECT_EQ(v.tensor().to_floats(), (std::vector<float>{3}));
  v = run1(get, {kSeq.as_optional()}, 15)[0];
  EXPECT_TRUE(v.is_sequence());
  EXPECT_FALSE(v.is_optional());
  EXPECT_EQ(v.items().size(), 3u);
  EXPECT_NE(error_of(get, {none}, 18).find("empty"), std::string::npos);
}
