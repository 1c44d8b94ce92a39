// SPDX-License-Identifier: Apache-2.0
// Tests of the data-movement op family (runtime/kernels/shape.cpp, layout.cpp, pad.cpp,
// indexing.cpp, scatter_gather.cpp, generate.cpp): fast kernels against the reference on odd
// shapes (1, 13, 127) with fixed seeds, version-specific behaviour, spec edge cases (Slice
// clamping, Split num_outputs, negative pads, reductions), and invalid inputs -> InputError.
#include <cstring>
#include <limits>

#include "../kernel_test_util.h"
#include "runtime/op_registry.h"

using namespace qtool;
using namespace qtool::test;

namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from<int64_t>(std::move(s), v); }
Tensor i64v(std::vector<int64_t> v) { return Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, v); }
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), v); }
Tensor iota_f32(Shape s) {
  Tensor t(DType::kFloat, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

std::vector<float> floats(const Value& v) { return v.tensor().to_floats(); }
std::vector<int64_t> ints(const Value& v) { return v.tensor().to_int64s(); }

Value run1(const onnx::NodeProto& n, int opset, const std::vector<Value>& in, bool ref = false) {
  return run_op(n, opset, in, ref).at(0);
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(0, std::memcmp(a.raw(), b.raw(), a.nbytes()));
}

// Both kernels give byte-identical outputs.
void expect_fast_equals_reference(const onnx::NodeProto& n, int opset, const std::vector<Value>& in) {
  const auto fast = run_op(n, opset, in, false);
  const auto ref = run_op(n, opset, in, true);
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < fast.size(); ++i) expect_same(fast[i].tensor(), ref[i].tensor());
}

Tensor random_of(DType dt, Shape s, uint32_t seed) {
  if (dt == DType::kComplex128 || dt == DType::kFloat8E4M3FN || dt == DType::kInt4) {
    Tensor t(dt, std::move(s));
    std::mt19937 rng(seed);
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng());
    return t;
  }
  return random_tensor_of(dt, std::move(s), seed, -100, 100);
}

}  // namespace

// ---- registration -------------------------------------------------------------------------------

TEST(DataMovementOps, RegisteredAtEverySinceVersion) {
  // onnx 1.23.2: since-versions in force from opset 7 to 28
  const std::vector<std::pair<std::string, std::vector<int>>> want = {
      {"Shape", {1, 13, 15, 19, 21, 23, 24, 25}}, {"Size", {1, 13, 19, 21, 23, 24, 25}},
      {"Reshape", {5, 13, 14, 19, 21, 23, 24, 25}}, {"Flatten", {1, 9, 11, 13, 21, 23, 24, 25}},
      {"Squeeze", {1, 11, 13, 21, 23, 24, 25}}, {"Unsqueeze", {1, 11, 13, 21, 23, 24, 25}},
      {"Transpose", {1, 13, 21, 23, 24, 25}}, {"Concat", {4, 11, 13}}, {"Split", {2, 11, 13, 18}},
      {"Slice", {1, 10, 11, 13}}, {"Expand", {8, 13}}, {"Tile", {6, 13}},
      {"Pad", {2, 11, 13, 18, 19, 21, 23, 24, 25}}, {"Gather", {1, 11, 13}}, {"GatherElements", {11, 13}},
      {"GatherND", {11, 12, 13}}, {"ScatterND", {11, 13, 16, 18}}, {"ScatterElements", {11, 13, 16, 18}},
      {"Scatter", {9, 11}}, {"OneHot", {9, 11, 28}}, {"Range", {11, 27}},
      {"ConstantOfShape", {9, 20, 21, 23, 24, 25}}, {"Constant", {1, 9, 11, 12, 13, 19, 21, 23, 24, 25}},
      {"EyeLike", {9, 22}}, {"Trilu", {14}}, {"NonZero", {9, 13}}, {"Unique", {11, 28}}, {"Compress", {9, 11, 28}},
      {"ReverseSequence", {10, 28}}, {"DepthToSpace", {1, 11, 13, 28}}, {"SpaceToDepth", {1, 13, 28}},
      {"CenterCropPad", {18}}, {"TensorScatter", {24}}};
  const auto& reg = OpRegistry::instance();
  for (const auto& [op, versions] : want)
    for (int v : versions) {
      const int at = std::max(v, 7);
      auto m = reg.find("", op, at);
      ASSERT_NE(m.def, nullptr) << op << " at opset " << at;
      EXPECT_EQ(m.version, v) << op << " at opset " << at;
    }
}

// ---- Transpose ----------------------------------------------------------------------------------

TEST(DataMovementTranspose, FastMatchesReferenceOnOddShapesAndDtypes) {
  struct Case {
    Shape shape;
    std::vector<int64_t> perm;
  };
  const std::vector<Case> cases = {
      {{13, 127}, {1, 0}},          {{1, 13, 127}, {2, 0, 1}},       {{2, 13, 7, 5}, {0, 2, 3, 1}},
      {{2, 7, 5, 13}, {0, 3, 1, 2}}, {{3, 1, 13, 2, 5}, {4, 2, 0, 3, 1}}, {{127, 1}, {1, 0}},
      {{13}, {0}},                  {{0, 5}, {1, 0}},                  {{3, 4, 5}, {0, 1, 2}}};
  const std::vector<DType> dtypes = {DType::kFloat, DType::kFloat16, DType::kInt8, DType::kBool, DType::kInt64,
                                     DType::kComplex128, DType::kFloat8E4M3FN, DType::kInt4};
  uint32_t seed = 1;
  for (const auto& c : cases)
    for (DType dt : dtypes) {
      auto n = make_node("Transpose", 1, 1);
      set_attr(n, "perm", c.perm);
      expect_fast_equals_reference(n, 21, {random_of(dt, c.shape, seed++)});
    }
}

TEST(DataMovementTranspose, ValuesAndDefaultPerm) {
  auto n = make_node("Transpose", 1, 1);
  auto y = run1(n, 13, {iota_f32({2, 3})});
  EXPECT_EQ(y.tensor().shape(), (Shape{3, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(DataMovementTranspose, BadPermIsInputError) {
  for (std::vector<int64_t> perm : {std::vector<int64_t>{0, 0}, {0, 2}, {1}, {0, int64_t{1} << 32}, {-1, 0}}) {
    auto n = make_node("Transpose", 1, 1);
    set_attr(n, "perm", perm);
    EXPECT_THROW(run1(n, 13, {iota_f32({2, 3})}), InputError);
  }
}

// ---- Slice --------------------------------------------------------------------------------------

TEST(DataMovementSlice, ClampsAsTheSpec) {
  const int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  auto n = make_node("Slice", 5, 1);
  auto x = iota_f32({5});
  // reversed whole axis
  EXPECT_EQ(floats(run1(n, 13, {x, i64v({-1}), i64v({kMin}), i64v({0}), i64v({-1})})),
            (std::vector<float>{4, 3, 2, 1, 0}));
  // ends beyond the extent clamp
  EXPECT_EQ(floats(run1(n, 13, {x, i64v({1}), i64v({kMax}), Value(), Value()})), (std::vector<float>{1, 2, 3, 4}));
  // negative stepping clamps start into [0, dim - 1]: starting far before the axis still takes element 0
  EXPECT_EQ(floats(run1(n, 13, {x, i64v({-100}), i64v({kMin}), i64v({0}), i64v({-2})})), (std::vector<float>{0}));
  // huge steps
  EXPECT_EQ(floats(run1(n, 13, {x, i64v({0}), i64v({kMax}), i64v({0}), i64v({kMax})})), (std::vector<float>{0}));
  EXPECT_EQ(floats(run1(n, 13, {x, i64v({4}), i64v({kMin}), i64v({0}), i64v({kMin})})), (std::vector<float>{4}));
  // empty axis with a negative step
  auto e = run1(n, 13, {iota_f32({0, 2}), i64v({-1}), i64v({kMin}), i64v({0}), i64v({-1})});
  EXPECT_EQ(e.tensor().shape(), (Shape{0, 2}));
}

TEST(DataMovementSlice, AttributesBeforeOpset10) {
  auto n = make_node("Slice", 1, 1);
  set_attr(n, "starts", std::vector<int64_t>{1, 0});
  set_attr(n, "ends", std::vector<int64_t>{2, 3});
  auto y = run1(n, 9, {iota_f32({3, 4})});
  EXPECT_EQ(y.tensor().shape(), (Shape{1, 3}));
  EXPECT_EQ(floats(y), (std::vector<float>{4, 5, 6}));
}

TEST(DataMovementSlice, FastMatchesReference) {
  auto n = make_node("Slice", 5, 1);
  const auto x = random_of(DType::kFloat, {13, 1, 127, 3}, 7);
  expect_fast_equals_reference(n, 13, {x, i64v({2, -5}), i64v({11, 3}), i64v({0, 2}), i64v({3, -7})});
  expect_fast_equals_reference(n, 13, {x, i64v({0}), i64v({100}), i64v({-1}), i64v({-1})});
  expect_fast_equals_reference(n, 13, {x, i64v({1, 0}), i64v({12, 127}), Value(), Value()});
}

TEST(DataMovementSlice, InvalidIsInputError) {
  auto n = make_node("Slice", 5, 1);
  auto x = iota_f32({5, 4});
  EXPECT_THROW(run1(n, 13, {x, i64v({0}), i64v({1}), i64v({0}), i64v({0})}), InputError);      // zero step
  EXPECT_THROW(run1(n, 13, {x, i64v({0, 0}), i64v({1}), Value(), Value()}), InputError);       // lengths
  EXPECT_THROW(run1(n, 13, {x, i64v({0, 0}), i64v({1, 1}), i64v({1, -1}), Value()}), InputError);  // repeated axis
  EXPECT_THROW(run1(n, 13, {x, i64v({0}), i64v({1}), i64v({2}), Value()}), InputError);        // axis range
  EXPECT_THROW(run1(n, 13, {x, f32({1}, {0}), i64v({1}), Value(), Value()}), InputError);      // float starts
}

// ---- Concat / Split -----------------------------------------------------------------------------

TEST(DataMovementConcat, FastMatchesReferenceAndValues) {
  auto n = make_node("Concat", 3, 1);
  set_attr(n, "axis", int64_t{-2});
  const auto a = random_of(DType::kFloat16, {3, 13, 127}, 1), b = random_of(DType::kFloat16, {3, 1, 127}, 2),
             c = random_of(DType::kFloat16, {3, 0, 127}, 3);
  expect_fast_equals_reference(n, 13, {a, b, c});
  auto m = make_node("Concat", 2, 1);
  set_attr(m, "axis", int64_t{1});
  auto y = run1(m, 11, {iota_f32({2, 1}), f32({2, 2}, {10, 11, 12, 13})});
  EXPECT_EQ(floats(y), (std::vector<float>{0, 10, 11, 1, 12, 13}));
  EXPECT_THROW(run1(m, 11, {iota_f32({2, 1}), iota_f32({3, 2})}), InputError);
  EXPECT_THROW(run1(m, 11, {iota_f32({2, 1}), i64({2, 1}, {1, 2})}), InputError);
}

// Runs of 1..64 bytes along the last axis (copy_runs: fixed-size moves for 1, 2, 4, 8, 12, 16, 24
// and 32 bytes, memcpy otherwise), as in a detection head's [1, 4420, 2] + [1, 4420, 2] scores.
TEST(DataMovementConcat, ShortRunsMatchReference) {
  auto cat = make_node("Concat", 2, 1);
  set_attr(cat, "axis", int64_t{-1});
  auto slice = make_node("Slice", 4, 1);
  uint32_t seed = 40;
  for (DType dt : {DType::kUInt8, DType::kFloat16, DType::kFloat, DType::kDouble})
    for (int64_t k : {1, 2, 3, 4, 5, 6, 8}) {
      SCOPED_TRACE(dtype_name(dt) + " last extent " + std::to_string(k));
      const auto a = random_of(dt, {2, 37, k}, seed++), b = random_of(dt, {2, 37, k + 1}, seed++);
      expect_fast_equals_reference(cat, 13, {a, b});
      expect_fast_equals_reference(slice, 13, {b, i64v({1}), i64v({k + 1}), i64v({-1})});
      expect_fast_equals_reference(slice, 13, {b, i64v({0, 1}), i64v({20, k + 1}), i64v({1, 2})});
    }
}

TEST(DataMovementSplit, VersionsAndUnevenLastChunk) {
  auto n18 = make_node("Split", 1, 3);
  set_attr(n18, "num_outputs", int64_t{3});
  auto out = run_op(n18, 18, {iota_f32({7})}, false);
  EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(floats(out[1]), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(floats(out[2]), (std::vector<float>{6}));
  EXPECT_THROW(run_op(n18, 18, {iota_f32({1})}, false), InputError);  // chunks of 1 leave a negative last part
  auto n11 = make_node("Split", 1, 2);
  set_attr(n11, "split", std::vector<int64_t>{1, 4});
  out = run_op(n11, 11, {iota_f32({5})}, false);
  EXPECT_EQ(floats(out[1]), (std::vector<float>{1, 2, 3, 4}));
  auto n13 = make_node("Split", 2, 2);
  set_attr(n13, "axis", int64_t{-1});
  out = run_op(n13, 13, {iota_f32({2, 3}), i64v({0, 3})}, false);
  EXPECT_EQ(out[0].tensor().shape(), (Shape{2, 0}));
  EXPECT_EQ(floats(out[1]), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_THROW(run_op(n13, 13, {iota_f32({2, 3}), i64v({1, 1})}, false), InputError);   // sum != extent
  EXPECT_THROW(run_op(n13, 13, {iota_f32({2, 3}), i64v({4, -1})}, false), InputError);  // negative size
  auto even = make_node("Split", 1, 2);
  EXPECT_THROW(run_op(even, 13, {iota_f32({3})}, false), InputError);  // not evenly splittable before 18
  auto wrong = make_node("Split", 1, 2);
  set_attr(wrong, "num_outputs", int64_t{3});
  EXPECT_THROW(run_op(wrong, 18, {iota_f32({6})}, false), InputError);
}

TEST(DataMovementSplit, FastMatchesReference) {
  auto n = make_node("Split", 2, 3);
  set_attr(n, "axis", int64_t{1});
  expect_fast_equals_reference(n, 13, {random_of(DType::kInt8, {13, 127, 3}, 4), i64v({1, 100, 26})});
}

// ---- Reshape / Flatten / Squeeze / Unsqueeze / Shape / Size -------------------------------------

TEST(DataMovementReshape, ZeroMinusOneAndAllowzero) {
  auto n = make_node("Reshape", 2, 1);
  auto x = iota_f32({2, 3, 4});
  EXPECT_EQ(run1(n, 13, {x, i64v({0, -1})}).tensor().shape(), (Shape{2, 12}));
  EXPECT_EQ(run1(n, 13, {iota_f32({0, 3}), i64v({-1, 0})}).tensor().shape(), (Shape{0, 3}));
  EXPECT_THROW(run1(n, 13, {x, i64v({-1, -1})}), InputError);
  EXPECT_THROW(run1(n, 13, {x, i64v({5, -1})}), InputError);
  EXPECT_THROW(run1(n, 13, {x, i64v({0, 0, 0, 0})}), InputError);  // copies a missing extent
  EXPECT_THROW(run1(n, 13, {iota_f32({0, 3}), i64v({0, -1})}), InputError);
  auto z = make_node("Reshape", 2, 1);
  set_attr(z, "allowzero", int64_t{1});
  EXPECT_EQ(run1(z, 14, {iota_f32({0, 3}), i64v({3, 0})}).tensor().shape(), (Shape{3, 0}));
  EXPECT_THROW(run1(z, 14, {iota_f32({2, 3}), i64v({0, 6})}), InputError);  // 0 is literal with allowzero
  EXPECT_EQ(run1(z, 13, {iota_f32({2, 3}), i64v({0, 3})}).tensor().shape(), (Shape{2, 3}));  // no allowzero < 14
  EXPECT_THROW(run1(z, 14, {iota_f32({0, 3}), i64v({0, -1})}), InputError);
}

TEST(DataMovementShape, StartEndAndSize) {
  auto n = make_node("Shape", 1, 1);
  set_attr(n, "start", int64_t{-2});
  auto x = iota_f32({2, 3, 4});
  EXPECT_EQ(ints(run1(n, 15, {x})), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(ints(run1(n, 13, {x})), (std::vector<int64_t>{2, 3, 4}));  // no start/end before 15
  auto e = make_node("Shape", 1, 1);
  set_attr(e, "start", int64_t{2});
  set_attr(e, "end", int64_t{-3});
  EXPECT_EQ(run1(e, 15, {x}).tensor().numel(), 0);
  auto s = make_node("Size", 1, 1);
  auto sz = run1(s, 13, {x});
  EXPECT_EQ(sz.tensor().rank(), 0);
  EXPECT_EQ(ints(sz), (std::vector<int64_t>{24}));
}

TEST(DataMovementSqueeze, AttributeAndInputVersions) {
  auto x = iota_f32({1, 3, 1});
  auto sq = make_node("Squeeze", 1, 1);
  EXPECT_EQ(run1(sq, 13, {x}).tensor().shape(), (Shape{3}));
  auto sq11 = make_node("Squeeze", 1, 1);
  set_attr(sq11, "axes", std::vector<int64_t>{-1});
  EXPECT_EQ(run1(sq11, 11, {x}).tensor().shape(), (Shape{1, 3}));
  auto sq13 = make_node("Squeeze", 2, 1);
  EXPECT_EQ(run1(sq13, 13, {x, i64v({0})}).tensor().shape(), (Shape{3, 1}));
  EXPECT_THROW(run1(sq13, 13, {x, i64v({1})}), InputError);
  auto un = make_node("Unsqueeze", 2, 1);
  EXPECT_EQ(run1(un, 13, {iota_f32({3, 4}), i64v({-1, 0})}).tensor().shape(), (Shape{1, 3, 4, 1}));
  EXPECT_THROW(run1(un, 13, {iota_f32({3, 4}), i64v({0, -4})}), InputError);  // repeated
  EXPECT_THROW(run1(un, 13, {iota_f32({3, 4}), i64v({4})}), InputError);
  auto un11 = make_node("Unsqueeze", 1, 1);
  set_attr(un11, "axes", std::vector<int64_t>{3, 1});
  EXPECT_EQ(run1(un11, 11, {iota_f32({3, 4})}).tensor().shape(), (Shape{3, 1, 4, 1}));
  auto fl = make_node("Flatten", 1, 1);
  set_attr(fl, "axis", int64_t{-1});
  EXPECT_EQ(run1(fl, 13, {iota_f32({2, 3, 4})}).tensor().shape(), (Shape{6, 4}));
  auto fl4 = make_node("Flatten", 1, 1);
  set_attr(fl4, "axis", int64_t{4});
  EXPECT_THROW(run1(fl4, 13, {iota_f32({2, 3, 4})}), InputError);
}

// ---- Expand / Tile ------------------------------------------------------------------------------

TEST(DataMovementExpandTile, FastMatchesReferenceAndValues) {
  auto e = make_node("Expand", 2, 1);
  expect_fast_equals_reference(e, 13, {random_of(DType::kFloat, {13, 1}, 3), i64v({2, 1, 127})});
  auto y = run1(e, 13, {iota_f32({3, 1}), i64v({2, 1, 2})});
  EXPECT_EQ(y.tensor().shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}));
  EXPECT_THROW(run1(e, 13, {iota_f32({3, 2}), i64v({4})}), InputError);
  EXPECT_THROW(run1(e, 13, {iota_f32({3, 1}), i64v({-1, 1})}), InputError);
  auto t = make_node("Tile", 2, 1);
  expect_fast_equals_reference(t, 13, {random_of(DType::kInt64, {13, 1, 3}, 5), i64v({2, 127, 1})});
  auto z = run1(t, 13, {iota_f32({2}), i64v({3})});
  EXPECT_EQ(floats(z), (std::vector<float>{0, 1, 0, 1, 0, 1}));
  EXPECT_THROW(run1(t, 13, {iota_f32({2}), i64v({-1})}), InputError);
  EXPECT_THROW(run1(t, 13, {iota_f32({2}), i64v({1, 1})}), InputError);
  // a gigantic output is refused before any byte is touched
  EXPECT_THROW(run1(t, 13, {iota_f32({2, 2}), i64v({int64_t{1} << 62, int64_t{1} << 62})}), InputError);
  AllocationCap cap(1 << 20);
  EXPECT_THROW(run1(t, 13, {iota_f32({2}), i64v({int64_t{1} << 40})}), AllocationCapExceeded);
  EXPECT_THROW(run1(e, 13, {iota_f32({1}), i64v({int64_t{1} << 40})}), AllocationCapExceeded);
}

// ---- Pad / CenterCropPad ------------------------------------------------------------------------

TEST(DataMovementPad, ModesMatchNumpy) {
  auto x = f32({3}, {1, 2, 3});
  auto mode = [&](const std::string& m, std::vector<int64_t> pads) {
    auto n = make_node("Pad", 2, 1);
    set_attr(n, "mode", m);
    return floats(run1(n, 19, {x, i64v(pads)}));
  };
  // np.pad([1, 2, 3], (5, 4), mode)
  EXPECT_EQ(mode("reflect", {5, 4}), (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
  EXPECT_EQ(mode("wrap", {5, 4}), (std::vector<float>{2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}));
  EXPECT_EQ(mode("edge", {2, 1}), (std::vector<float>{1, 1, 1, 2, 3, 3}));
  EXPECT_EQ(mode("constant", {1, 2}), (std::vector<float>{0, 1, 2, 3, 0, 0}));
  // negative pads crop first, then the rest pads the cropped data
  EXPECT_EQ(mode("constant", {-1, 1}), (std::vector<float>{2, 3, 0}));
  EXPECT_EQ(mode("edge", {2, -1}), (std::vector<float>{1, 1, 1, 2}));
  EXPECT_THROW(mode("constant", {-2, -2}), InputError);
  EXPECT_THROW(mode("mirror", {1, 1}), InputError);
  auto n18 = make_node("Pad", 2, 1);
  set_attr(n18, "mode", std::string("wrap"));
  EXPECT_THROW(run1(n18, 18, {x, i64v({1, 1})}), InputError);  // wrap arrives in 19
}

TEST(DataMovementPad, VersionsConstantValueAndAxes) {
  auto n2 = make_node("Pad", 1, 1);
  set_attr(n2, "pads", std::vector<int64_t>{0, 1, 0, 0});
  set_attr(n2, "value", 2.5f);
  EXPECT_EQ(floats(run1(n2, 7, {iota_f32({2, 2})})), (std::vector<float>{2.5f, 0, 1, 2.5f, 2, 3}));
  auto n11 = make_node("Pad", 3, 1);
  EXPECT_EQ(floats(run1(n11, 11, {iota_f32({2}), i64v({1, 1}), f32({}, {-7})})), (std::vector<float>{-7, 0, 1, -7}));
  EXPECT_THROW(run1(n11, 11, {iota_f32({2}), i64v({1, 1}), i64({}, {1})}), InputError);  // value type
  auto n18 = make_node("Pad", 4, 1);
  auto y = run1(n18, 18, {iota_f32({2, 2}), i64v({1, 0}), Value(), i64v({-1})});
  EXPECT_EQ(y.tensor().shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(y), (std::vector<float>{0, 0, 1, 0, 2, 3}));
  EXPECT_THROW(run1(n18, 18, {iota_f32({2, 2}), i64v({1, 0}), Value(), i64v({1, -1})}), InputError);
  EXPECT_THROW(run1(n18, 18, {iota_f32({2, 2}), i64v({1, 0, 0}), Value(), Value()}), InputError);
}

TEST(DataMovementPad, FastMatchesReference) {
  uint32_t seed = 11;
  for (const std::string mode : {"constant", "reflect", "edge", "wrap"})
    for (DType dt : {DType::kFloat, DType::kUInt8, DType::kFloat16, DType::kInt64}) {
      auto n = make_node("Pad", 3, 1);
      set_attr(n, "mode", mode);
      const Tensor x = random_of(dt, {1, 13, 5, 127}, seed++);
      const Tensor v = random_of(dt, {}, seed++);
      expect_fast_equals_reference(n, 19, {x, i64v({0, 2, 3, -1, 1, -3, 4, 200}), v});
    }
}

TEST(DataMovementCenterCropPad, CropsAndPadsAroundTheCentre) {
  auto n = make_node("CenterCropPad", 2, 1);
  auto y = run1(n, 18, {iota_f32({5}), i64v({2})});
  EXPECT_EQ(floats(y), (std::vector<float>{1, 2}));  // odd leftover at the end, as onnx's reference
  y = run1(n, 18, {iota_f32({2}), i64v({5})});
  EXPECT_EQ(floats(y), (std::vector<float>{0, 0, 1, 0, 0}));
  auto a = make_node("CenterCropPad", 2, 1);
  set_attr(a, "axes", std::vector<int64_t>{-1});
  y = run1(a, 18, {iota_f32({2, 3}), i64v({1})});
  EXPECT_EQ(floats(y), (std::vector<float>{1, 4}));
  EXPECT_THROW(run1(a, 18, {iota_f32({2, 3}), i64v({1, 1})}), InputError);
}

// ---- Gather family ------------------------------------------------------------------------------

TEST(DataMovementGather, EmbeddingLookupFastMatchesReference) {
  auto n = make_node("Gather", 2, 1);
  const Tensor table = random_of(DType::kFloat, {127, 13}, 21);
  Tensor idx = random_tensor_of(DType::kInt64, {3, 13}, 22, -127, 126);
  expect_fast_equals_reference(n, 13, {table, idx});
  auto m = make_node("Gather", 2, 1);
  set_attr(m, "axis", int64_t{-1});
  expect_fast_equals_reference(m, 13, {random_of(DType::kBFloat16, {3, 5, 13}, 23),
                                       Tensor::from<int32_t>({2}, {-13, 12})});
  auto y = run1(n, 13, {iota_f32({3, 2}), i64({2}, {-1, 0})});
  EXPECT_EQ(floats(y), (std::vector<float>{4, 5, 0, 1}));
  EXPECT_THROW(run1(n, 13, {iota_f32({3, 2}), i64v({3})}), InputError);
  EXPECT_THROW(run1(n, 13, {iota_f32({3, 2}), i64v({-4})}), InputError);
  EXPECT_THROW(run1(n, 13, {iota_f32({3, 2}), f32({1}, {0})}), InputError);
}

TEST(DataMovementGather, ElementsAndND) {
  auto ge = make_node("GatherElements", 2, 1);
  set_attr(ge, "axis", int64_t{1});
  auto y = run1(ge, 13, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, -1, 0})});
  EXPECT_EQ(floats(y), (std::vector<float>{1, 1, 4, 3}));
  EXPECT_THROW(run1(ge, 13, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, 2, 0})}), InputError);
  EXPECT_THROW(run1(ge, 13, {f32({2, 2}, {1, 2, 3, 4}), i64({3, 1}, {0, 0, 0})}), InputError);
  auto nd = make_node("GatherND", 2, 1);
  set_attr(nd, "batch_dims", int64_t{1});
  // onnx example: data [[[0,1],[2,3]],[[4,5],[6,7]]], indices [[1],[0]], batch_dims 1 -> [[2,3],[4,5]]
  auto z = run1(nd, 12, {iota_f32({2, 2, 2}), i64({2, 1}, {1, 0})});
  EXPECT_EQ(z.tensor().shape(), (Shape{2, 2}));
  EXPECT_EQ(floats(z), (std::vector<float>{2, 3, 4, 5}));
  EXPECT_THROW(run1(nd, 12, {iota_f32({2, 2, 2}), i64({2, 1}, {2, 0})}), InputError);
  EXPECT_THROW(run1(nd, 12, {iota_f32({2, 2, 2}), i64({2, 3}, {0, 0, 0, 0, 0, 0})}), InputError);
  auto nd0 = make_node("GatherND", 2, 1);
  EXPECT_EQ(floats(run1(nd0, 11, {iota_f32({2, 2}), i64({2, 2}, {0, -1, 1, 0})})), (std::vector<float>{1, 2}));
}

// ---- Scatter family -----------------------------------------------------------------------------

TEST(DataMovementScatter, ReductionsAndVersions) {
  auto data = f32({4}, {1, 2, 3, 4});
  auto idx = i64({3, 1}, {1, 1, -1});
  auto upd = f32({3}, {5, 6, 7});
  auto run_red = [&](const std::string& red, int opset) {
    auto n = make_node("ScatterND", 3, 1);
    set_attr(n, "reduction", red);
    return floats(run1(n, opset, {data, idx, upd}));
  };
  EXPECT_EQ(run_red("none", 16), (std::vector<float>{1, 6, 3, 7}));  // last duplicate wins
  EXPECT_EQ(run_red("add", 16), (std::vector<float>{1, 13, 3, 11}));
  EXPECT_EQ(run_red("mul", 16), (std::vector<float>{1, 60, 3, 28}));
  EXPECT_EQ(run_red("max", 18), (std::vector<float>{1, 6, 3, 7}));
  EXPECT_EQ(run_red("min", 18), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THROW(run_red("max", 16), InputError);  // max/min arrive in 18
  auto bad = make_node("ScatterND", 3, 1);
  EXPECT_THROW(run1(bad, 13, {data, i64({1, 1}, {4}), f32({1}, {0})}), InputError);
  EXPECT_THROW(run1(bad, 13, {data, i64({1, 1}, {0}), f32({2}, {0, 0})}), InputError);

  auto se = make_node("ScatterElements", 3, 1);
  set_attr(se, "axis", int64_t{1});
  set_attr(se, "reduction", std::string("add"));
  auto y = run1(se, 16, {Tensor::from<int8_t>({1, 3}, {100, 0, 0}), i64({1, 2}, {0, 0}),
                         Tensor::from<int8_t>({1, 2}, {100, 100})});
  EXPECT_EQ(ints(y), (std::vector<int64_t>{44, 0, 0}));  // int8 wraps: 100 + 100 + 100 = 300 - 256
  auto old = make_node("Scatter", 3, 1);
  y = run1(old, 9, {f32({3}, {0, 0, 0}), i64({2}, {2, -3}), f32({2}, {1, 2})});
  EXPECT_EQ(floats(y), (std::vector<float>{2, 0, 1}));
  EXPECT_THROW(run1(old, 9, {f32({3}, {0, 0, 0}), i64({1}, {3}), f32({1}, {1})}), InputError);
}

TEST(DataMovementScatter, TensorScatterLinearAndCircular) {
  auto n = make_node("TensorScatter", 3, 1);
  const Tensor cache(DType::kFloat, {2, 4, 1});
  const Tensor upd = f32({2, 2, 1}, {1, 2, 3, 4});
  auto y = run1(n, 24, {cache, upd, i64v({0, 2})});
  EXPECT_EQ(floats(y), (std::vector<float>{1, 2, 0, 0, 0, 0, 3, 4}));
  EXPECT_THROW(run1(n, 24, {cache, upd, i64v({0, 3})}), InputError);  // 3 + 2 > 4 in linear mode
  auto c = make_node("TensorScatter", 3, 1);
  set_attr(c, "mode", std::string("circular"));
  y = run1(c, 24, {cache, upd, i64v({0, 3})});
  EXPECT_EQ(floats(y), (std::vector<float>{1, 2, 0, 0, 4, 0, 0, 3}));
  EXPECT_THROW(run1(c, 24, {cache, f32({2, 5, 1}, std::vector<float>(10, 0)), i64v({0, 0})}), InputError);
  EXPECT_THROW(run1(c, 24, {cache, upd, i64v({0})}), InputError);
}

// ---- Indexing -----------------------------------------------------------------------------------

TEST(DataMovementIndexing, OneHotEyeLikeTriluNonZero) {
  auto oh = make_node("OneHot", 3, 1);
  set_attr(oh, "axis", int64_t{0});
  auto y = run1(oh, 11, {i64v({1, -1, 5}), f32({}, {3.9f}), f32({2}, {-1, 1})});
  EXPECT_EQ(y.tensor().shape(), (Shape{3, 3}));
  EXPECT_EQ(floats(y), (std::vector<float>{-1, -1, -1, 1, -1, -1, -1, 1, -1}));
  EXPECT_THROW(run1(oh, 11, {i64v({1}), f32({}, {-1}), f32({2}, {0, 1})}), InputError);
  EXPECT_THROW(run1(oh, 11, {i64v({1}), f32({}, {2}), f32({3}, {0, 1, 2})}), InputError);

  auto eye = make_node("EyeLike", 1, 1);
  set_attr(eye, "k", int64_t{-1});
  set_attr(eye, "dtype", int64_t{7});
  y = run1(eye, 9, {iota_f32({3, 2})});
  EXPECT_EQ(y.tensor().dtype(), DType::kInt64);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{0, 0, 1, 0, 0, 1}));
  EXPECT_THROW(run1(eye, 9, {iota_f32({3})}), InputError);

  auto tri = make_node("Trilu", 2, 1);
  set_attr(tri, "upper", int64_t{0});
  y = run1(tri, 14, {iota_f32({2, 3}), i64({}, {1})});
  EXPECT_EQ(floats(y), (std::vector<float>{0, 1, 0, 3, 4, 5}));

  auto nz = make_node("NonZero", 1, 1);
  y = run1(nz, 13, {f32({2, 2}, {0, NAN, 1, -0.f})});
  EXPECT_EQ(y.tensor().shape(), (Shape{2, 2}));
  EXPECT_EQ(ints(y), (std::vector<int64_t>{0, 1, 1, 0}));
}

TEST(DataMovementIndexing, UniqueSortedUnsortedAndAxis) {
  auto u = make_node("Unique", 1, 4);
  set_attr(u, "sorted", int64_t{0});
  auto out = run_op(u, 11, {f32({6}, {2, 1, 1, 3, 4, 3})}, false);
  EXPECT_EQ(floats(out[0]), (std::vector<float>{2, 1, 3, 4}));
  EXPECT_EQ(ints(out[1]), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(ints(out[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(ints(out[3]), (std::vector<int64_t>{1, 2, 2, 1}));
  auto s = make_node("Unique", 1, 4);
  set_attr(s, "axis", int64_t{1});
  // spec example 4
  out = run_op(s, 11, {f32({2, 4, 2}, {1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1})}, false);
  EXPECT_EQ(out[0].tensor().shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2, 1}));
  EXPECT_EQ(ints(out[1]), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(ints(out[2]), (std::vector<int64_t>{1, 0, 2, 0}));
  EXPECT_EQ(ints(out[3]), (std::vector<int64_t>{2, 1, 1}));
  // NaNs are one value, sorted last (numpy.unique)
  auto n = make_node("Unique", 1, 4);
  out = run_op(n, 11, {f32({4}, {NAN, 1, NAN, 0})}, false);
  EXPECT_EQ(out[0].tensor().numel(), 3);
  EXPECT_EQ(ints(out[3]), (std::vector<int64_t>{1, 1, 2}));
  EXPECT_THROW(run_op(s, 11, {iota_f32({2})}, false), InputError);
}

TEST(DataMovementIndexing, CompressReverseSequenceDepthToSpace) {
  auto c = make_node("Compress", 2, 1);
  set_attr(c, "axis", int64_t{-1});
  auto y = run1(c, 11, {iota_f32({2, 3}), Tensor::from<bool>({2}, {false, true})});
  EXPECT_EQ(floats(y), (std::vector<float>{1, 4}));
  EXPECT_THROW(run1(c, 11, {iota_f32({2, 3}), Tensor::from<bool>({4}, {0, 0, 0, 1})}), InputError);
  auto flat = make_node("Compress", 2, 1);
  EXPECT_EQ(floats(run1(flat, 11, {iota_f32({2, 2}), Tensor::from<bool>({5}, {0, 1, 0, 1, 0})})),
            (std::vector<float>{1, 3}));

  auto rs = make_node("ReverseSequence", 2, 1);
  set_attr(rs, "batch_axis", int64_t{0});
  set_attr(rs, "time_axis", int64_t{1});
  y = run1(rs, 10, {iota_f32({2, 3}), i64v({3, 1})});
  EXPECT_EQ(floats(y), (std::vector<float>{2, 1, 0, 3, 4, 5}));
  EXPECT_THROW(run1(rs, 10, {iota_f32({2, 3}), i64v({4, 1})}), InputError);
  EXPECT_THROW(run1(rs, 10, {iota_f32({2, 3}), i64v({1})}), InputError);

  for (const std::string mode : {"DCR", "CRD"}) {
    auto d2s = make_node("DepthToSpace", 1, 1);
    set_attr(d2s, "blocksize", int64_t{2});
    set_attr(d2s, "mode", mode);
    auto s2d = make_node("SpaceToDepth", 1, 1);
    set_attr(s2d, "blocksize", int64_t{2});
    set_attr(s2d, "mode", mode);
    const Tensor x = random_of(DType::kFloat, {1, 12, 13, 7}, 31);
    expect_fast_equals_reference(d2s, 13, {x});
    const Tensor up = run1(d2s, 13, {x}).tensor();
    EXPECT_EQ(up.shape(), (Shape{1, 3, 26, 14}));
    expect_same(run1(s2d, 28, {up}).tensor(), x);  // SpaceToDepth-28 inverts DepthToSpace in both modes
  }
  auto d = make_node("DepthToSpace", 1, 1);
  set_attr(d, "blocksize", int64_t{2});
  EXPECT_THROW(run1(d, 13, {iota_f32({1, 3, 2, 2})}), InputError);
  auto d0 = make_node("DepthToSpace", 1, 1);
  set_attr(d0, "blocksize", int64_t{0});
  EXPECT_THROW(run1(d0, 13, {iota_f32({1, 4, 2, 2})}), InputError);
  auto s3 = make_node("SpaceToDepth", 1, 1);
  set_attr(s3, "blocksize", int64_t{3});
  EXPECT_THROW(run1(s3, 13, {iota_f32({1, 1, 3, 4})}), InputError);
}

// ---- Generators ---------------------------------------------------------------------------------

TEST(DataMovementGenerate, RangeTypesAndErrors) {
  auto r = make_node("Range", 3, 1);
  EXPECT_EQ(ints(run1(r, 11, {i64({}, {10}), i64({}, {4}), i64({}, {-2})})), (std::vector<int64_t>{10, 8, 6}));
  EXPECT_EQ(run1(r, 11, {i64({}, {0}), i64({}, {5}), i64({}, {-1})}).tensor().numel(), 0);
  const int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(ints(run1(r, 11, {i64({}, {kMin}), i64({}, {kMax}), i64({}, {kMax})})),
            (std::vector<int64_t>{kMin, -1, kMax - 1}));
  auto y = run1(r, 11, {f32({}, {1}), f32({}, {2}), f32({}, {0.3f})});
  EXPECT_EQ(y.tensor().numel(), 4);
  auto h = run1(r, 27, {Tensor::from<half>({}, {half(0)}), Tensor::from<half>({}, {half(3)}), Tensor::from<half>({}, {half(1)})});
  EXPECT_EQ(h.tensor().dtype(), DType::kFloat16);
  EXPECT_EQ(floats(h), (std::vector<float>{0, 1, 2}));
  EXPECT_THROW(run1(r, 11, {i64({}, {0}), i64({}, {5}), i64({}, {0})}), InputError);
  EXPECT_THROW(run1(r, 11, {f32({}, {0}), f32({}, {INFINITY}), f32({}, {1})}), InputError);
  EXPECT_THROW(run1(r, 11, {i64({}, {0}), f32({}, {5}), i64({}, {1})}), InputError);
  AllocationCap cap(1 << 20);
  EXPECT_THROW(run1(r, 11, {i64({}, {0}), i64({}, {int64_t{1} << 40}), i64({}, {1})}), AllocationCapExceeded);
}

TEST(DataMovementGenerate, ConstantOfShapeAndConstant) {
  auto n = make_node("ConstantOfShape", 1, 1);
  auto* a = n.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT32);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_int32_data(7);
  auto y = run1(n, 9, {i64v({2, 3})});
  EXPECT_EQ(y.tensor().dtype(), DType::kInt32);
  EXPECT_EQ(ints(y), (std::vector<int64_t>(6, 7)));
  EXPECT_EQ(run1(n, 9, {i64v({})}).tensor().rank(), 0);
  EXPECT_THROW(run1(n, 9, {i64v({2, -1})}), InputError);
  EXPECT_THROW(run1(n, 9, {i64v({int64_t{1} << 40, int64_t{1} << 40})}), InputError);
  {
    AllocationCap cap(1 << 20);
    EXPECT_THROW(run1(n, 9, {i64v({int64_t{1} << 40})}), AllocationCapExceeded);
  }

  auto c = make_node("Constant", 0, 1);
  set_attr(c, "value_ints", std::vector<int64_t>{4, 5});
  EXPECT_EQ(ints(run1(c, 13, {})), (std::vector<int64_t>{4, 5}));
  set_attr(c, "value_float", 1.f);
  EXPECT_THROW(run1(c, 13, {}), InputError);  // two values
  auto s = make_node("Constant", 0, 1);
  set_attr(s, "value_string", std::string("x"));
  EXPECT_THROW(run1(s, 13, {}), InputError);

  auto sp = make_node("Constant", 0, 1);
  auto* sa = sp.add_attribute();
  sa->set_name("sparse_value");
  sa->set_type(onnx::AttributeProto::SPARSE_TENSOR);
  auto* st = sa->mutable_sparse_tensor();
  st->add_dims(2);
  st->add_dims(3);
  st->mutable_values()->set_data_type(onnx::TensorProto::FLOAT);
  st->mutable_values()->add_dims(2);
  st->mutable_values()->add_float_data(5);
  st->mutable_values()->add_float_data(6);
  st->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
  st->mutable_indices()->add_dims(2);
  st->mutable_indices()->add_dims(2);
  for (int64_t v : {0, 2, 1, 0}) st->mutable_indices()->add_int64_data(v);
  EXPECT_EQ(floats(run1(sp, 13, {})), (std::vector<float>{0, 0, 5, 6, 0, 0}));
  st->mutable_indices()->set_int64_data(1, 3);  // column 3 of 3
  EXPECT_THROW(run1(sp, 13, {}), InputError);
}

// Empty tensors may have huge extents (a [2^40, 0] tensor holds no bytes): no op may loop over them.
TEST(DataMovementEdgeCases, EmptyTensorsWithHugeExtentsFinishAtOnce) {
  const int64_t big = int64_t{1} << 40;
  const Tensor x(DType::kFloat, {big, 0});
  const Tensor x3(DType::kFloat, {2, big, 0});
  auto g = make_node("Gather", 2, 1);
  set_attr(g, "axis", int64_t{1});
  EXPECT_EQ(run1(g, 13, {Tensor(DType::kFloat, {big, 1, 0}), i64v({0, 0})}).tensor().shape(), (Shape{big, 2, 0}));
  auto nd = make_node("GatherND", 2, 1);
  EXPECT_EQ(run1(nd, 13, {Tensor(DType::kFloat, {2, 0}), Tensor(DType::kInt64, {big, 0})}).tensor().shape(),
            (Shape{big, 2, 0}));
  auto cp = make_node("Compress", 2, 1);
  set_attr(cp, "axis", int64_t{1});
  EXPECT_EQ(run1(cp, 11, {Tensor(DType::kFloat, {big, 2, 0}), Tensor::from<bool>({2}, {true, true})}).tensor().shape(),
            (Shape{big, 2, 0}));
  auto oh = make_node("OneHot", 3, 1);
  set_attr(oh, "axis", int64_t{0});
  EXPECT_EQ(run1(oh, 11, {Tensor(DType::kInt64, {3, 0}), i64({}, {big}), f32({2}, {0, 1})}).tensor().shape(),
            (Shape{big, 3, 0}));
  auto u = make_node("Unique", 1, 4);
  set_attr(u, "axis", int64_t{0});
  {
    AllocationCap cap(1 << 20);  // the inverse indices of 2^40 slices are a real allocation
    EXPECT_THROW(run_op(u, 11, {x}, false), AllocationCapExceeded);
  }
  auto out = run_op(u, 11, {Tensor(DType::kFloat, {3, 0})}, false);
  EXPECT_EQ(out[0].tensor().shape(), (Shape{1, 0}));
  EXPECT_EQ(ints(out[2]), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(ints(out[3]), (std::vector<int64_t>{3}));
  auto sn = make_node("ScatterND", 3, 1);
  EXPECT_EQ(run1(sn, 13, {Tensor(DType::kFloat, {0}), Tensor(DType::kInt64, {big, 0}), Tensor(DType::kFloat, {big, 0})})
                .tensor()
                .shape(),
            (Shape{0}));
  auto ts = make_node("TensorScatter", 2, 1);
  EXPECT_EQ(run1(ts, 24, {x3, x3}).tensor().shape(), x3.shape());
  auto rs = make_node("ReverseSequence", 2, 1);
  set_attr(rs, "batch_axis", int64_t{0});
  set_attr(rs, "time_axis", int64_t{1});
  EXPECT_EQ(run1(rs, 10, {x3, i64v({big, big})}).tensor().shape(), x3.shape());
  for (const char* op : {"Transpose", "Tile", "Pad"}) {
    auto n = make_node(op, std::string(op) == "Transpose" ? 1 : 2, 1);
    std::vector<Value> in = {x3};
    if (std::string(op) == "Tile") in.push_back(i64v({2, 2, 2}));
    if (std::string(op) == "Pad") in.push_back(i64v({1, 1, 0, 1, 1, 0}));
    expect_fast_equals_reference(n, 19, in);
  }
}

// Shapes whose extent products overflow int64 but that hold no element ([0, 2^40, 2^40]).
TEST(DataMovementEdgeCases, EmptyTensorsWithOverflowingExtents) {
  const int64_t big = int64_t{1} << 40;
  const Tensor x(DType::kFloat, {0, big, big});
  auto tri = make_node("Trilu", 1, 1);
  EXPECT_EQ(run1(tri, 14, {x}).tensor().shape(), x.shape());
  auto g = make_node("Gather", 2, 1);
  EXPECT_EQ(run1(g, 13, {x, i64v({})}).tensor().shape(), (Shape{0, big, big}));
  auto c = make_node("Concat", 2, 1);
  set_attr(c, "axis", int64_t{0});
  EXPECT_EQ(run1(c, 13, {x, x}).tensor().shape(), x.shape());
  auto s = make_node("Slice", 3, 1);
  expect_fast_equals_reference(s, 13, {x, i64v({1}), i64v({5})});
}
