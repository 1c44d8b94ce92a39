// SPDX-License-Identifier: Apache-2.0
// Tests of the reduction / normalization / softmax / loss family (runtime/kernels/reduce.cpp,
// arg_topk.cpp, cumulative.cpp, softmax.cpp, normalization.cpp, layer_norm.cpp, loss.cpp, det.cpp):
// fast kernels against the reference (odd shapes, fixed seeds), exact values from the ONNX spec
// and numpy, version-specific behaviour, dtypes, and invalid attributes / inputs -> InputError.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "../kernel_test_util.h"
#include "runtime/dnnl_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from<int64_t>(std::move(s), v); }
Tensor axes_of(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return i64({n}, std::move(v));
}

// Runs the node with the reference kernel only.
std::vector<Value> ref(const onnx::NodeProto& n, int opset, const std::vector<Value>& in) {
  return run_op(n, opset, in, true);
}
Tensor ref0(const onnx::NodeProto& n, int opset, const std::vector<Value>& in) { return ref(n, opset, in)[0].tensor(); }

void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-5) {
  const auto got = t.to_doubles();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << "at " << i;
    }
  }
}

void expect_input_error(const onnx::NodeProto& n, int opset, const std::vector<Value>& in) {
  EXPECT_THROW(run_op(n, opset, in, false), InputError) << n.op_type();
  EXPECT_THROW(run_op(n, opset, in, true), InputError) << n.op_type();
}

onnx::NodeProto reduce_node(const std::string& op, bool axes_input, int64_t keepdims = 1) {
  auto n = make_node(op, axes_input ? 2 : 1, 1);
  set_attr(n, "keepdims", keepdims);
  return n;
}

}  // namespace

// ---- reductions --------------------------------------------------------------------------------

TEST(ReduceNormFast, ReduceSumMeanMatchReference) {
  struct Case {
    Shape shape;
    std::vector<int64_t> axes;
  };
  const std::vector<Case> cases = {
      {{2, 13, 7, 9}, {2, 3}},   // GlobalAveragePool pattern (trailing)
      {{13, 127}, {1}},          // rows
      {{13, 127}, {0}},          // columns: reduced run before a contiguous kept block
      {{5, 13, 7}, {1}},         // middle axis
      {{5, 6, 7}, {0, 2}},       // not a fast pattern: falls back
      {{1, 13, 1, 127}, {1}},    // extent-1 dims around
      {{127}, {}},               // every axis
      {{3, 1, 4}, {1}},          // reducing an extent-1 axis only
      {{4097}, {0}},             // several summation blocks
  };
  uint32_t seed = 1;
  for (const auto& cs : cases)
    for (const char* op : {"ReduceSum", "ReduceMean"})
      for (int64_t keep : {0, 1}) {
        auto n = reduce_node(op, true, keep);
        Tensor x = random_tensor_of(DType::kFloat, cs.shape, seed++);
        SCOPED_TRACE(std::string(op) + " " + shape_str(cs.shape));
        expect_fast_matches_reference(n, 18, {x, axes_of(cs.axes)});
      }
}

TEST(ReduceNormFast, ReduceMeanFastValues) {
  // The fast kernel's result itself, against a direct double computation.
  Tensor x = random_tensor_of(DType::kFloat, {3, 5, 127}, 7);
  auto n = reduce_node("ReduceMean", true, 0);
  Tensor y = run_op(n, 18, {x, axes_of({2})}, false)[0].tensor();
  ASSERT_EQ(y.shape(), (Shape{3, 5}));
  const float* p = x.data<float>();
  for (int r = 0; r < 15; ++r) {
    double s = 0;
    for (int i = 0; i < 127; ++i) s += p[r * 127 + i];
    EXPECT_NEAR(y.data<float>()[r], s / 127, 1e-6);
  }
}

TEST(ReduceNorm, ReduceValuesEveryOp) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto axes = axes_of({1});
  auto run = [&](const char* op) { return ref0(reduce_node(op, true, 0), 18, {x, axes}); };
  expect_values(run("ReduceSum"), {6, 15});
  expect_values(run("ReduceMean"), {2, 5});
  expect_values(run("ReduceMax"), {3, 6});
  expect_values(run("ReduceMin"), {1, 4});
  expect_values(run("ReduceProd"), {6, 120});
  expect_values(run("ReduceL1"), {6, 15});
  expect_values(run("ReduceL2"), {std::sqrt(14.0), std::sqrt(77.0)});
  expect_values(run("ReduceLogSum"), {std::log(6.0), std::log(15.0)});
  expect_values(run("ReduceSumSquare"), {14, 77});
  expect_values(run("ReduceLogSumExp"),
                {std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), std::log(std::exp(4.0) + std::exp(5.0) + std::exp(6.0))});
}

TEST(ReduceNorm, ReduceAxesAttributeBeforeInputForm) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  // ReduceSum: attribute until 11, input from 13.
  auto a = reduce_node("ReduceSum", false, 0);
  set_attr(a, "axes", std::vector<int64_t>{0});
  expect_values(ref0(a, 11, {x}), {5, 7, 9});
  auto b = reduce_node("ReduceSum", true, 0);
  expect_values(ref0(b, 13, {x, axes_of({0})}), {5, 7, 9});
  // At 13 an `axes` attribute is not the axes: no input = every axis.
  expect_values(ref0(a, 13, {x}), {21});
  // ReduceMean: attribute at 13, input from 18.
  auto m = reduce_node("ReduceMean", false, 1);
  set_attr(m, "axes", std::vector<int64_t>{-1});
  Tensor y = ref0(m, 13, {x});
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  expect_values(y, {2, 5});
  expect_values(ref0(reduce_node("ReduceMean", true, 1), 18, {x, axes_of({-1})}), {2, 5});
}

TEST(ReduceNorm, ReduceNoopWithEmptyAxes) {
  Tensor x = f32({2, 2}, {1, -2, 3, 4});
  auto n = reduce_node("ReduceSum", true);
  set_attr(n, "noop_with_empty_axes", int64_t{1});
  Tensor y = ref0(n, 13, {x, axes_of({})});
  EXPECT_EQ(y.shape(), x.shape());
  expect_values(y, {1, -2, 3, 4});
  // Composite reductions still apply their element-wise steps.
  auto sq = reduce_node("ReduceSumSquare", true);
  set_attr(sq, "noop_with_empty_axes", int64_t{1});
  expect_values(ref0(sq, 18, {x}), {1, 4, 9, 16});
  auto l1 = reduce_node("ReduceL1", true);
  set_attr(l1, "noop_with_empty_axes", int64_t{1});
  expect_values(ref0(l1, 18, {x}), {1, 2, 3, 4});
  // Without the flag, empty axes reduce everything.
  expect_values(ref0(reduce_node("ReduceSum", true, 0), 13, {x, axes_of({})}), {6});
}

TEST(ReduceNorm, ReduceEmptySetGivesIdentity) {
  Tensor e(DType::kFloat, {2, 0, 3});
  auto run = [&](const char* op) {
    Tensor y = ref0(reduce_node(op, true, 1), 18, {e, axes_of({1})});
    EXPECT_EQ(y.shape(), (Shape{2, 1, 3})) << op;
    return y.to_doubles()[0];
  };
  EXPECT_EQ(run("ReduceSum"), 0.0);
  EXPECT_EQ(run("ReduceProd"), 1.0);
  EXPECT_EQ(run("ReduceMax"), -INFINITY);
  EXPECT_EQ(run("ReduceMin"), INFINITY);
  EXPECT_EQ(run("ReduceL1"), 0.0);
  EXPECT_EQ(run("ReduceL2"), 0.0);
  EXPECT_EQ(run("ReduceSumSquare"), 0.0);
  EXPECT_EQ(run("ReduceLogSum"), -INFINITY);
  EXPECT_EQ(run("ReduceLogSumExp"), -INFINITY);
  EXPECT_TRUE(std::isnan(run("ReduceMean")));
  // Integers: lowest / highest; bool: false / true.
  Tensor ei(DType::kInt32, {0, 2});
  EXPECT_EQ(ref0(reduce_node("ReduceMax", true, 0), 18, {ei, axes_of({0})}).data<int32_t>()[0],
            std::numeric_limits<int32_t>::lowest());
  EXPECT_EQ(ref0(reduce_node("ReduceMin", true, 0), 18, {ei, axes_of({0})}).data<int32_t>()[0],
            std::numeric_limits<int32_t>::max());
  Tensor eb(DType::kBool, {0, 2});
  EXPECT_FALSE(ref0(reduce_node("ReduceMax", true, 0), 20, {eb, axes_of({0})}).data<bool>()[0]);
  EXPECT_TRUE(ref0(reduce_node("ReduceMin", true, 0), 20, {eb, axes_of({0})}).data<bool>()[0]);
  // Reducing a non-empty axis of an empty tensor gives an empty result.
  EXPECT_EQ(ref0(reduce_node("ReduceSum", true, 0), 13, {e, axes_of({2})}).shape(), (Shape{2, 0}));
}

TEST(ReduceNorm, ReduceIntegerSemantics) {
  // Sums wrap modulo 2^8 like numpy; mean truncates toward zero.
  Tensor x = Tensor::from<int8_t>({1, 3}, {100, 100, 100});
  EXPECT_EQ(ref0(reduce_node("ReduceSum", true, 0), 13, {x, axes_of({1})}).data<int8_t>()[0], static_cast<int8_t>(44));
  Tensor y = Tensor::from<int32_t>({2, 2}, {1, 2, -3, -4});
  auto mean = ref0(reduce_node("ReduceMean", true, 0), 18, {y, axes_of({1})});
  EXPECT_EQ(mean.data<int32_t>()[0], 1);
  EXPECT_EQ(mean.data<int32_t>()[1], -3);
  Tensor u = Tensor::from<uint64_t>({3}, {1ull << 33, 1ull << 30, 3});
  EXPECT_EQ(ref0(reduce_node("ReduceProd", true, 0), 18, {u}).data<uint64_t>()[0], 1ull << 63);  // 3 * 2^63 mod 2^64
  // bool max / min = any / all
  Tensor b = Tensor::from<bool>({2, 2}, {true, false, false, false});
  auto any = ref0(reduce_node("ReduceMax", true, 0), 20, {b, axes_of({1})});
  EXPECT_TRUE(any.data<bool>()[0]);
  EXPECT_FALSE(any.data<bool>()[1]);
  auto all = ref0(reduce_node("ReduceMin", true, 0), 20, {b, axes_of({1})});
  EXPECT_FALSE(all.data<bool>()[0]);
}

TEST(ReduceNorm, ReduceNanAndInfinity) {
  Tensor x = f32({2, 3}, {1, NAN, 3, -INFINITY, -INFINITY, -INFINITY});
  expect_values(ref0(reduce_node("ReduceMax", true, 0), 18, {x, axes_of({1})}), {NAN, -INFINITY});
  expect_values(ref0(reduce_node("ReduceLogSumExp", true, 0), 18, {x, axes_of({1})}), {NAN, -INFINITY});
  Tensor big = f32({1, 2}, {1000, 1000});
  expect_values(ref0(reduce_node("ReduceLogSumExp", true, 0), 18, {big, axes_of({1})}), {1000 + std::log(2.0)});
}

TEST(ReduceNorm, ReduceEveryNumericDtype) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  for (DType t : {DType::kFloat, DType::kDouble, DType::kFloat16, DType::kBFloat16, DType::kInt8, DType::kInt16,
                  DType::kInt32, DType::kInt64, DType::kUInt8, DType::kUInt16, DType::kUInt32, DType::kUInt64}) {
    SCOPED_TRACE(dtype_name(t));
    Tensor y = ref0(reduce_node("ReduceSum", true, 0), 13, {x.cast(t), axes_of({0})});
    EXPECT_EQ(y.dtype(), t);
    expect_values(y, {5, 7, 9});
    expect_values(ref0(reduce_node("ReduceMax", true, 0), 18, {x.cast(t), axes_of({1})}), {3, 6});
  }
}

TEST(ReduceNorm, ReduceInvalidAxes) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_input_error(reduce_node("ReduceSum", true), 13, {x, axes_of({2})});
  expect_input_error(reduce_node("ReduceSum", true), 13, {x, axes_of({1, -1})});
  expect_input_error(reduce_node("ReduceMean", true), 18, {x, f32({1}, {1})});
  auto a = reduce_node("ReduceMean", false);
  set_attr(a, "axes", std::vector<int64_t>{-3});
  expect_input_error(a, 13, {x});
  // Sum of bools is not defined.
  expect_input_error(reduce_node("ReduceSum", true), 13, {Tensor(DType::kBool, {2})});
}

// ---- softmax family ----------------------------------------------------------------------------

TEST(ReduceNormFast, SoftmaxMatchesReference) {
  uint32_t seed = 11;
  for (const char* op : {"Softmax", "LogSoftmax"})
    for (int opset : {11, 13})
      // The last four cross the fast kernel's work units (rows of 13 and of 5000, 40 x 1000 on
      // threads, strips of 102 columns of 600) on every axis.
      for (const Shape& s : {Shape{13, 127}, Shape{2, 3, 13}, Shape{1, 1}, Shape{3, 1, 5, 7}, Shape{700, 13},
                             Shape{3, 5000}, Shape{40, 1000}, Shape{2, 40, 600}})
        for (int64_t axis = -static_cast<int64_t>(s.size()); axis < static_cast<int64_t>(s.size()); ++axis) {
          auto n = make_node(op, 1, 1);
          set_attr(n, "axis", axis);
          SCOPED_TRACE(std::string(op) + " opset " + std::to_string(opset) + " " + shape_str(s) + " axis " +
                       std::to_string(axis));
          expect_fast_matches_reference(n, opset, {random_tensor_of(DType::kFloat, s, seed++, -8, 8)}, 1e-4, 1e-5);
        }
}

TEST(ReduceNormFast, SoftmaxNonFiniteRowsMatchReference) {
  // -inf masks an element; NaN / +inf make the whole row NaN (numpy, onnxruntime).
  Tensor x = f32({4, 4}, {-INFINITY, 0, 1, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, INFINITY, 0, 1, 2, NAN, 0, 1, 2});
  // A row of -inf masks only (any op): NaN. Column-wise (axis 0) the -inf entries of columns 0 and
  // 3 still give 0 / -inf next to finite values; a -inf mask without NaN / +inf takes the fast kernel.
  Tensor masked = f32({3, 4}, {-INFINITY, 0, 1, -INFINITY, 2, -INFINITY, 3, 0.5f, -1, 4, -INFINITY, 7});
  for (const char* op : {"Softmax", "LogSoftmax"})
    for (int64_t axis : {-1, 0})
      for (const Tensor* in : {&x, &masked}) {
        auto node = make_node(op, 1, 1);
        set_attr(node, "axis", axis);
        SCOPED_TRACE(std::string(op) + " axis " + std::to_string(axis) + " input " + shape_str(in->shape()));
        const auto v = run_op(node, 13, {*in}, false)[0].tensor().to_doubles();
        if (in == &x && axis == -1) {
          EXPECT_EQ(v[0], std::string(op) == "Softmax" ? 0.0 : -INFINITY);
          for (int i = 4; i < 16; ++i) EXPECT_TRUE(std::isnan(v[i])) << "at " << i;
        }
        if (in == &masked) EXPECT_EQ(v[0], std::string(op) == "Softmax" ? 0.0 : -INFINITY);
        const auto r = ref0(node, 13, {*in}).to_doubles();
        ASSERT_EQ(v.size(), r.size());
        for (size_t i = 0; i < r.size(); ++i) {
          if (std::isnan(r[i])) EXPECT_TRUE(std::isnan(v[i])) << "at " << i;
          else if (std::isinf(r[i])) EXPECT_EQ(v[i], r[i]) << "at " << i;
          else EXPECT_NEAR(v[i], r[i], 1e-6) << "at " << i;
        }
      }
}

TEST(ReduceNorm, SoftmaxCoercesTo2DBefore13) {
  Tensor x = f32({2, 2}, {0, 1, 2, 3});
  auto n = make_node("Softmax", 1, 1);
  set_attr(n, "axis", int64_t{0});
  // opset 11: one softmax over all four values; opset 13: per column.
  double z = 0;
  for (int i = 0; i < 4; ++i) z += std::exp(i);
  expect_values(ref0(n, 11, {x}), {1 / z, std::exp(1) / z, std::exp(2) / z, std::exp(3) / z});
  const double c = 1 / (1 + std::exp(2.0));
  expect_values(ref0(n, 13, {x}), {c, c, 1 - c, 1 - c});
  // default axis: 1 before 13 (coerced), -1 from 13: the same for 2-D input
  auto d = make_node("LogSoftmax", 1, 1);
  Tensor y11 = ref0(d, 11, {x}), y13 = ref0(d, 13, {x});
  expect_tensors_near(y11, y13);
  expect_values(y13, {-std::log(1 + std::exp(1.0)), 1 - std::log(1 + std::exp(1.0)), -std::log(1 + std::exp(1.0)),
                      1 - std::log(1 + std::exp(1.0))});
}

TEST(ReduceNorm, SoftmaxStableAndDtypes) {
  Tensor x = f32({1, 3}, {1000, 1001, 1002});
  auto n = make_node("LogSoftmax", 1, 1);
  const double z = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  expect_values(ref0(n, 13, {x}), {-2 - z, -1 - z, -z});
  expect_values(run_op(n, 13, {x}, false)[0].tensor(), {-2 - z, -1 - z, -z});
  auto s = make_node("Softmax", 1, 1);
  Tensor x2 = f32({2, 3}, {0.5, 1, 2, -3, 0, 0.25});
  Tensor want = ref0(s, 13, {x2});
  for (DType t : {DType::kDouble, DType::kFloat16, DType::kBFloat16}) {
    Tensor y = ref0(s, 13, {x2.cast(t)});
    EXPECT_EQ(y.dtype(), t);
    expect_tensors_near(y.cast(DType::kFloat), want, 1e-2, 1e-3);
  }
}

TEST(ReduceNorm, HardmaxFirstMaximum) {
  auto n = make_node("Hardmax", 1, 1);
  expect_values(ref0(n, 13, {f32({2, 4}, {1, 3, 3, 2, 0, NAN, 5, NAN})}), {0, 1, 0, 0, 0, 1, 0, 0});
  // opset 11 default axis 1 coerces [2, 2, 2] to [2, 4]
  Tensor x = f32({2, 2, 2}, {1, 2, 3, 4, 8, 7, 6, 5});
  expect_values(ref0(n, 11, {x}), {0, 0, 0, 1, 1, 0, 0, 0});
  expect_values(ref0(n, 13, {x}), {0, 1, 0, 1, 1, 0, 1, 0});
}

TEST(ReduceNorm, SoftmaxInvalid) {
  auto n = make_node("Softmax", 1, 1);
  set_attr(n, "axis", int64_t{2});
  expect_input_error(n, 13, {f32({2, 2}, {1, 2, 3, 4})});
  expect_input_error(make_node("Softmax", 1, 1), 13, {Tensor::from<int32_t>({2}, {1, 2})});
  expect_input_error(make_node("Hardmax", 1, 1), 13, {Tensor(DType::kFloat, {})});
}

// ---- ArgMax / ArgMin / TopK --------------------------------------------------------------------

TEST(ReduceNorm, ArgMaxArgMinSelectLastIndex) {
  Tensor x = f32({2, 4}, {1, 3, 3, 2, 5, 1, 5, 1});
  auto n = make_node("ArgMax", 1, 1);
  set_attr(n, "axis", int64_t{1});
  Tensor y = ref0(n, 13, {x});
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(y.to_int64s(), (std::vector<int64_t>{1, 0}));
  set_attr(n, "select_last_index", int64_t{1});
  EXPECT_EQ(ref0(n, 13, {x}).to_int64s(), (std::vector<int64_t>{2, 2}));
  // select_last_index arrived in 12: at 11 it is not an attribute of the op.
  EXPECT_EQ(ref0(n, 11, {x}).to_int64s(), (std::vector<int64_t>{1, 0}));
  auto m = make_node("ArgMin", 1, 1);
  set_attr(m, "axis", int64_t{-1});
  set_attr(m, "keepdims", int64_t{0});
  set_attr(m, "select_last_index", int64_t{1});
  Tensor z = ref0(m, 13, {x});
  EXPECT_EQ(z.shape(), (Shape{2}));
  EXPECT_EQ(z.to_int64s(), (std::vector<int64_t>{0, 3}));
  // numpy: the first NaN wins (argmax and argmin)
  Tensor nan = f32({1, 4}, {1, NAN, 7, NAN});
  EXPECT_EQ(ref0(n, 11, {nan}).to_int64s(), (std::vector<int64_t>{1}));
  EXPECT_EQ(ref0(n, 13, {nan}).to_int64s(), (std::vector<int64_t>{3}));
  auto a0 = make_node("ArgMin", 1, 1);
  set_attr(a0, "axis", int64_t{1});
  EXPECT_EQ(ref0(a0, 13, {nan}).to_int64s(), (std::vector<int64_t>{1}));
  // every numeric dtype
  for (DType t : {DType::kUInt8, DType::kInt16, DType::kUInt64, DType::kFloat16, DType::kBFloat16, DType::kDouble})
    EXPECT_EQ(ref0(a0, 13, {x.cast(t)}).to_int64s(), (std::vector<int64_t>{0, 1})) << dtype_name(t);
}

TEST(ReduceNorm, ArgMaxInvalid) {
  auto n = make_node("ArgMax", 1, 1);
  set_attr(n, "axis", int64_t{1});
  expect_input_error(n, 13, {Tensor(DType::kFloat, {2, 0})});
  set_attr(n, "axis", int64_t{3});
  expect_input_error(n, 13, {f32({2}, {1, 2})});
}

TEST(ReduceNorm, TopKOrderTiesAndNaN) {
  auto n = make_node("TopK", 2, 2);
  Tensor x = f32({1, 6}, {3, 1, 3, NAN, 3, 1});
  auto out = ref(n, 11, {x, i64({1}, {4})});
  expect_values(out[0].tensor(), {NAN, 3, 3, 3});
  EXPECT_EQ(out[1].tensor().to_int64s(), (std::vector<int64_t>{3, 0, 2, 4}));
  set_attr(n, "largest", int64_t{0});
  out = ref(n, 11, {x, i64({1}, {6})});
  expect_values(out[0].tensor(), {1, 1, 3, 3, 3, NAN});
  EXPECT_EQ(out[1].tensor().to_int64s(), (std::vector<int64_t>{1, 5, 0, 2, 4, 3}));
  // axis 0, K = 0
  auto m = make_node("TopK", 2, 2);
  set_attr(m, "axis", int64_t{0});
  Tensor y = f32({3, 2}, {1, 6, 5, 2, 3, 4});
  out = ref(m, 11, {y, i64({1}, {2})});
  expect_values(out[0].tensor(), {5, 6, 3, 4});
  EXPECT_EQ(out[1].tensor().to_int64s(), (std::vector<int64_t>{1, 0, 2, 2}));
  EXPECT_EQ(ref(m, 11, {y, i64({1}, {0})})[0].tensor().shape(), (Shape{0, 2}));
  // version 1: k is an attribute; 10: an input
  auto v1 = make_node("TopK", 1, 2);
  set_attr(v1, "k", int64_t{1});
  EXPECT_EQ(ref(v1, 9, {y})[1].tensor().to_int64s(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(ref(make_node("TopK", 2, 2), 10, {y, i64({1}, {1})})[1].tensor().to_int64s(),
            (std::vector<int64_t>{1, 0, 1}));
  // integer types
  Tensor iy = y.cast(DType::kUInt8);
  EXPECT_EQ(ref(m, 11, {iy, i64({1}, {1})})[0].tensor().to_int64s(), (std::vector<int64_t>{5, 6}));
}

TEST(ReduceNorm, TopKInvalid) {
  auto n = make_node("TopK", 2, 2);
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_input_error(n, 11, {x, i64({1}, {4})});
  expect_input_error(n, 11, {x, i64({1}, {-1})});
  expect_input_error(n, 11, {x, i64({2}, {1, 1})});
  expect_input_error(n, 11, {x, f32({1}, {1})});
  expect_input_error(make_node("TopK", 1, 2), 9, {x});  // no k attribute
}

// ---- CumSum / CumProd ----------------------------------------------------------------------------

TEST(ReduceNorm, CumSumExclusiveReverse) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto n = make_node("CumSum", 2, 1);
  expect_values(ref0(n, 14, {x, i64({}, {1})}), {1, 3, 6, 4, 9, 15});
  expect_values(ref0(n, 14, {x, Tensor::from<int32_t>({}, {0})}), {1, 2, 3, 5, 7, 9});
  set_attr(n, "exclusive", int64_t{1});
  expect_values(ref0(n, 11, {x, i64({}, {-1})}), {0, 1, 3, 0, 4, 9});
  set_attr(n, "reverse", int64_t{1});
  expect_values(ref0(n, 14, {x, i64({}, {1})}), {5, 3, 0, 11, 6, 0});
  auto p = make_node("CumProd", 2, 1);
  set_attr(p, "reverse", int64_t{1});
  expect_values(ref0(p, 26, {x, i64({}, {1})}), {6, 6, 3, 120, 30, 6});
  // integers wrap; float16 rounds at every step like numpy
  Tensor i = Tensor::from<int32_t>({3}, {2147483647, 1, 1});
  EXPECT_EQ(ref0(make_node("CumSum", 2, 1), 14, {i, i64({}, {0})}).data<int32_t>()[1], std::numeric_limits<int32_t>::min());
  Tensor h = f32({3}, {2048, 1, 1}).cast(DType::kFloat16);
  expect_values(ref0(make_node("CumSum", 2, 1), 14, {h, i64({}, {0})}), {2048, 2048, 2048});
}

TEST(ReduceNorm, CumSumInvalidAxis) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto n = make_node("CumSum", 2, 1);
  expect_input_error(n, 14, {x, i64({}, {2})});
  expect_input_error(n, 14, {x, i64({2}, {0, 1})});
  expect_input_error(n, 14, {x, f32({}, {0})});
  expect_input_error(n, 14, {f32({}, {1}), i64({}, {0})});
}

// ---- normalizations ----------------------------------------------------------------------------

TEST(ReduceNormFast, BatchAndInstanceNormMatchReference) {
  uint32_t seed = 21;
  for (const Shape& s : {Shape{2, 3}, Shape{1, 13, 127}, Shape{2, 5, 7, 9}, Shape{3, 1, 1, 1}}) {
    const int64_t c = s[1];
    Tensor x = random_tensor_of(DType::kFloat, s, seed++), sc = random_tensor_of(DType::kFloat, {c}, seed++),
           b = random_tensor_of(DType::kFloat, {c}, seed++), m = random_tensor_of(DType::kFloat, {c}, seed++),
           v = random_tensor_of(DType::kFloat, {c}, seed++, 0.5, 2.0);
    auto bn = make_node("BatchNormalization", 5, 1);
    set_attr(bn, "epsilon", 1e-3f);
    SCOPED_TRACE(shape_str(s));
    expect_fast_matches_reference(bn, 15, {x, sc, b, m, v});
    expect_fast_matches_reference(bn, 9, {x, sc, b, m, v});
    expect_fast_matches_reference(make_node("InstanceNormalization", 3, 1), 22, {x, sc, b}, 1e-4, 1e-4);
  }
}

TEST(ReduceNorm, BatchNormValuesAndTraining) {
  Tensor x = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});  // N=2, C=2, D=2
  Tensor one = f32({2}, {1, 1}), zero = f32({2}, {0, 0}), mean = f32({2}, {1, 2}), var = f32({2}, {4, 9});
  auto n = make_node("BatchNormalization", 5, 1);
  set_attr(n, "epsilon", 0.f);
  expect_values(ref0(n, 15, {x, one, zero, mean, var}), {0, 0.5, 1.0 / 3, 2.0 / 3, 2, 2.5, 5.0 / 3, 2});
  // training_mode (14): batch statistics; channel 0 = {1,2,5,6} mean 3.5 var 4.25
  auto t = make_node("BatchNormalization", 5, 3);
  set_attr(t, "epsilon", 0.f);
  set_attr(t, "momentum", 0.5f);
  set_attr(t, "training_mode", int64_t{1});
  auto out = ref(t, 14, {x, one, zero, mean, var});
  const double s0 = std::sqrt(4.25);
  expect_values(out[0].tensor(), {-2.5 / s0, -1.5 / s0, -2.5 / s0, -1.5 / s0, 1.5 / s0, 2.5 / s0, 1.5 / s0, 2.5 / s0});
  expect_values(out[1].tensor(), {0.5 * 1 + 0.5 * 3.5, 0.5 * 2 + 0.5 * 5.5});
  expect_values(out[2].tensor(), {0.5 * 4 + 0.5 * 4.25, 0.5 * 9 + 0.5 * 4.25});
  // version 9: training when the extra outputs are requested; saved mean / var are batch statistics
  auto t9 = make_node("BatchNormalization", 5, 5);
  set_attr(t9, "momentum", 0.5f);
  out = ref(t9, 9, {x, one, zero, mean, var});
  expect_values(out[3].tensor(), {3.5, 5.5});
  expect_values(out[4].tensor(), {4.25, 4.25});
  // version 7 spatial = 0: one parameter per (channel, position)
  auto sp = make_node("BatchNormalization", 5, 1);
  set_attr(sp, "spatial", int64_t{0});
  set_attr(sp, "epsilon", 0.f);
  Tensor p4 = f32({2, 2}, {1, 1, 1, 1}), z4 = f32({2, 2}, {0, 0, 0, 0}), m4 = f32({2, 2}, {1, 2, 3, 4}),
         v4 = f32({2, 2}, {1, 1, 1, 1});
  expect_values(ref0(sp, 7, {x, p4, z4, m4, v4}), {0, 0, 0, 0, 4, 4, 4, 4});
  expect_input_error(n, 15, {x, f32({3}, {1, 1, 1}), zero, mean, var});
  expect_input_error(n, 15, {f32({2}, {1, 2}), one, zero, mean, var});
}

TEST(ReduceNorm, GroupNormalizationVersions) {
  Tensor x = f32({1, 4, 2}, {1, 2, 3, 4, 5, 6, 7, 9});
  auto n = make_node("GroupNormalization", 3, 1);
  set_attr(n, "num_groups", int64_t{2});
  set_attr(n, "epsilon", 0.f);
  // group 0 = {1,2,3,4}: mean 2.5, std sqrt(1.25); group 1 = {5,6,7,9}: mean 6.75, var 2.1875
  const double s0 = std::sqrt(1.25), s1 = std::sqrt(2.1875);
  std::vector<double> z = {-1.5 / s0, -0.5 / s0, 0.5 / s0, 1.5 / s0, -1.75 / s1, -0.75 / s1, 0.25 / s1, 2.25 / s1};
  // 18: scale / bias per group
  std::vector<double> w18(8);
  for (int i = 0; i < 8; ++i) w18[i] = z[i] * (i < 4 ? 2 : 3) + (i < 4 ? 1 : -1);
  expect_values(ref0(n, 18, {x, f32({2}, {2, 3}), f32({2}, {1, -1})}), w18, 1e-4);
  // 21: per channel
  std::vector<double> w21(8);
  const float sc[4] = {1, 2, 3, 4}, bi[4] = {0, 1, 0, 1};
  for (int i = 0; i < 8; ++i) w21[i] = z[i] * sc[i / 2] + bi[i / 2];
  expect_values(ref0(n, 21, {x, f32({4}, {1, 2, 3, 4}), f32({4}, {0, 1, 0, 1})}), w21, 1e-4);
  expect_input_error(n, 21, {x, f32({2}, {1, 1}), f32({2}, {0, 0})});
  auto bad = make_node("GroupNormalization", 3, 1);
  set_attr(bad, "num_groups", int64_t{3});
  expect_input_error(bad, 21, {x, f32({4}, {1, 1, 1, 1}), f32({4}, {0, 0, 0, 0})});
  expect_input_error(make_node("GroupNormalization", 3, 1), 21, {x, f32({4}, {1, 1, 1, 1}), f32({4}, {0, 0, 0, 0})});
}

// oneDNN's LRN (odd sizes, plain or a convolution's blocked layout) against the reference; even
// sizes, whose window oneDNN centres differently, take the reference.
TEST(ReduceNormFast, LrnMatchesReference) {
  uint32_t seed = 60;
  for (int64_t size : {1, 3, 5, 4})
    for (const Shape& s : {Shape{2, 13, 7, 5}, Shape{1, 16, 9, 9}, Shape{2, 7, 11}, Shape{1, 9, 3, 4, 5}}) {
      auto n = make_node("LRN", 1, 1);
      set_attr(n, "size", size);
      set_attr(n, "alpha", 2e-3f);
      set_attr(n, "beta", 0.75f);
      set_attr(n, "bias", 2.f);
      SCOPED_TRACE("size " + std::to_string(size) + " " + shape_str(s));
      const Tensor x = random_tensor_of(DType::kFloat, s, seed++, -8, 8);
      expect_fast_matches_reference(n, 13, {x}, 1e-5, 1e-6);
      // in nChw8c, as an AVX2 convolution writes it (odd sizes: run_node hands a declined layout
      // input to the reference as it is; the executor would make it plain first)
      if (s.size() == 4 && s[1] % 8 == 0 && size % 2 == 1) {
        const dnnl::memory::desc md(dnnl::memory::dims(s.begin(), s.end()), dnnl::memory::data_type::f32,
                                    dnnl::memory::format_tag::aBcd8b);
        Tensor xb = make_dnnl_tensor(s, md);
        reorder_into(wrap(plain_desc(s), x), wrap(md, xb));
        DnnlContext::get().stream.wait();
        const Tensor got = run_op(n, 13, {xb}, false)[0].tensor();
        expect_tensors_near(got, ref0(n, 13, {x}), 1e-5, 1e-6);
      }
    }
}

TEST(ReduceNorm, LrnLpMvnValues) {
  // LRN over channels {c-1, c, c+1} for size 3: y = x / (bias + alpha/size * sum)^beta
  Tensor x = f32({1, 3, 1, 1}, {1, 2, 3});
  auto l = make_node("LRN", 1, 1);
  set_attr(l, "size", int64_t{3});
  set_attr(l, "alpha", 3.f);
  set_attr(l, "beta", 1.f);
  set_attr(l, "bias", 1.f);
  expect_values(ref0(l, 13, {x}), {1.0 / (1 + 5), 2.0 / (1 + 14), 3.0 / (1 + 13)});
  auto l0 = make_node("LRN", 1, 1);
  set_attr(l0, "size", int64_t{0});
  expect_input_error(l0, 13, {x});
  // Lp: zero norm gives zero; p = 1 takes absolute values
  auto lp = make_node("LpNormalization", 1, 1);
  set_attr(lp, "p", int64_t{1});
  expect_values(ref0(lp, 22, {f32({2, 2}, {0, 0, -1, 3})}), {0, 0, -0.25, 0.75});
  auto lp3 = make_node("LpNormalization", 1, 1);
  set_attr(lp3, "p", int64_t{3});
  expect_input_error(lp3, 22, {f32({2, 2}, {0, 0, -1, 3})});
  // MVN over the default axes [0, 2, 3]
  auto mvn = make_node("MeanVarianceNormalization", 1, 1);
  Tensor y = ref0(mvn, 13, {f32({2, 1, 1, 2}, {1, 2, 3, 4})});
  const double sd = std::sqrt(1.25) + 1e-9;
  expect_values(y, {-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd});
  expect_input_error(mvn, 13, {f32({2, 2}, {1, 2, 3, 4})});  // default axes need rank 4
}

TEST(ReduceNormFast, LayerNormFamilyMatchesReference) {
  uint32_t seed = 31;
  for (const Shape& s : {Shape{13, 127}, Shape{2, 3, 768}, Shape{1, 1}, Shape{3, 5, 7}}) {
    const int64_t h = s.back();
    Tensor x = random_tensor_of(DType::kFloat, s, seed++), g = random_tensor_of(DType::kFloat, {h}, seed++),
           b = random_tensor_of(DType::kFloat, {h}, seed++), k = random_tensor_of(DType::kFloat, s, seed++);
    SCOPED_TRACE(shape_str(s));
    auto ln = make_node("LayerNormalization", 3, 3);
    expect_fast_matches_reference(ln, 17, {x, g, b});
    expect_fast_matches_reference(make_node("LayerNormalization", 2, 1), 17, {x, g});
    expect_fast_matches_reference(make_node("RMSNormalization", 2, 1), 23, {x, g});
    expect_fast_matches_reference(make_node("SimplifiedLayerNormalization", 2, 2), 17, {x, g});
    auto skip = make_node("SkipLayerNormalization", 5, 4, "com.microsoft");
    set_attr(skip, "epsilon", 1e-5f);
    expect_fast_matches_reference(skip, 17, {x, k, g, b, random_tensor_of(DType::kFloat, {h}, seed++)});
    auto skip_s = make_node("SkipSimplifiedLayerNormalization", 3, 4, "com.microsoft");
    set_attr(skip_s, "epsilon", 1e-5f);
    expect_fast_matches_reference(skip_s, 17, {x, k, g});
    // skip broadcast over the batch: (S, H) against (B, S, H)
    if (s.size() == 3) {
      Tensor k2 = random_tensor_of(DType::kFloat, {s[1], s[2]}, seed++);
      expect_fast_matches_reference(make_node("SkipLayerNormalization", 3, 4, "com.microsoft"), 17, {x, k2, g});
    }
    // normalizing over two axes with a scale of the normalized shape
    if (s.size() == 3) {
      auto ln1 = make_node("LayerNormalization", 3, 3);
      set_attr(ln1, "axis", int64_t{1});
      Tensor g2 = random_tensor_of(DType::kFloat, {s[1], s[2]}, seed++);
      expect_fast_matches_reference(ln1, 17, {x, g2, g2});
    }
  }
}

TEST(ReduceNorm, LayerNormValuesOutputsAndDtypes) {
  Tensor x = f32({2, 2}, {1, 3, 2, 4});
  auto n = make_node("LayerNormalization", 3, 3);
  set_attr(n, "epsilon", 0.f);
  auto out = ref(n, 17, {x, f32({2}, {2, 2}), f32({2}, {1, 0})});
  expect_values(out[0].tensor(), {-1, 2, -1, 2});
  EXPECT_EQ(out[1].tensor().shape(), (Shape{2, 1}));
  expect_values(out[1].tensor(), {2, 3});
  expect_values(out[2].tensor(), {1, 1});
  // zero variance with epsilon 0: 0 * inf = NaN, as the spec's function
  EXPECT_TRUE(std::isnan(ref(n, 17, {f32({1, 2}, {2, 2}), f32({2}, {1, 1}), f32({2}, {0, 0})})[0].tensor().to_doubles()[0]));
  // the contrib version 1 (onnxruntime) runs the same kernel at older opsets
  expect_tensors_near(ref(n, 13, {x, f32({2}, {2, 2}), f32({2}, {1, 0})})[0].tensor(), out[0].tensor());
  // float16 / bfloat16 / double: Y in X's type, Mean / InvStdDev in float (stash_type 1)
  Tensor r = random_tensor_of(DType::kFloat, {3, 8}, 41), g = random_tensor_of(DType::kFloat, {8}, 42);
  auto m = make_node("LayerNormalization", 2, 3);
  Tensor want = ref0(m, 17, {r, g});
  for (DType t : {DType::kFloat16, DType::kBFloat16, DType::kDouble}) {
    auto o = ref(m, 17, {r.cast(t), g.cast(t)});
    EXPECT_EQ(o[0].tensor().dtype(), t);
    EXPECT_EQ(o[1].tensor().dtype(), DType::kFloat);
    expect_tensors_near(o[0].tensor().cast(DType::kFloat), want, 3e-2, 3e-2);
  }
  auto bad = make_node("LayerNormalization", 2, 1);
  set_attr(bad, "stash_type", int64_t{7});
  expect_input_error(bad, 17, {r, g});
  expect_input_error(make_node("LayerNormalization", 2, 1), 17, {r, f32({3}, {1, 1, 1})});
  // required inputs missing
  expect_input_error(make_node("LayerNormalization", 1, 1), 17, {r.cast(DType::kDouble)});
  expect_input_error(make_node("SkipLayerNormalization", 3, 1, "com.microsoft"), 17, {r, Value(), g});
}

TEST(ReduceNorm, RmsAndSkipValues) {
  Tensor x = f32({1, 2}, {3, 4});  // mean square 12.5
  auto rms = make_node("RMSNormalization", 2, 1);
  set_attr(rms, "epsilon", 0.f);
  const double inv = 1 / std::sqrt(12.5);
  expect_values(ref0(rms, 23, {x, f32({2}, {1, 2})}), {3 * inv, 8 * inv});
  // SkipLayerNormalization: sum output is input + skip + bias
  auto skip = make_node("SkipLayerNormalization", 5, 4, "com.microsoft");
  auto out = ref(skip, 17, {x, f32({1, 2}, {1, 1}), f32({2}, {1, 1}), f32({2}, {0, 0}), f32({2}, {0, 1})});
  expect_values(out[3].tensor(), {4, 6});
  expect_values(out[0].tensor(), {-1, 1}, 1e-4);
  expect_values(out[1].tensor(), {5});
}

// ---- losses -------------------------------------------------------------------------------------

TEST(ReduceNorm, NegativeLogLikelihoodLossReductions) {
  Tensor x = f32({3, 2}, {-1, -2, -3, -4, -5, -6});
  Tensor t = i64({3}, {0, 1, 1});
  auto n = make_node("NegativeLogLikelihoodLoss", 2, 1);
  set_attr(n, "reduction", std::string("none"));
  Tensor none = ref0(n, 22, {x, t});
  EXPECT_EQ(none.shape(), (Shape{3}));
  expect_values(none, {1, 4, 6});
  auto mean = make_node("NegativeLogLikelihoodLoss", 3, 1);
  expect_values(ref0(mean, 13, {x, t, f32({2}, {1, 2})}), {(1 + 8 + 12) / 5.0});
  set_attr(mean, "ignore_index", int64_t{1});
  expect_values(ref0(mean, 13, {x, t, f32({2}, {1, 2})}), {1.0});
  auto sum = make_node("NegativeLogLikelihoodLoss", 2, 1);
  set_attr(sum, "reduction", std::string("sum"));
  set_attr(sum, "ignore_index", int64_t{0});
  expect_values(ref0(sum, 12, {x, Tensor::from<int32_t>({3}, {0, 1, 1})}), {10});
  // every target ignored: the mean of nothing is NaN (0 / 0, as the reference)
  auto all = make_node("NegativeLogLikelihoodLoss", 2, 1);
  set_attr(all, "ignore_index", int64_t{1});
  EXPECT_TRUE(std::isnan(ref0(all, 13, {x, i64({3}, {1, 1, 1})}).to_doubles()[0]));
  // a target outside [0, C) that is not ignore_index, and a target of the wrong shape
  expect_input_error(make_node("NegativeLogLikelihoodLoss", 2, 1), 13, {x, i64({3}, {0, 2, 1})});
  expect_input_error(make_node("NegativeLogLikelihoodLoss", 2, 1), 13, {x, i64({2}, {0, 1})});
  auto badred = make_node("NegativeLogLikelihoodLoss", 2, 1);
  set_attr(badred, "reduction", std::string("max"));
  expect_input_error(badred, 13, {x, t});
}

TEST(ReduceNorm, SoftmaxCrossEntropyLossWithLogProb) {
  Tensor x = f32({2, 3, 2}, {1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0});  // N=2, C=3, D=2
  Tensor t = i64({2, 2}, {2, 0, 1, 1});
  auto n = make_node("SoftmaxCrossEntropyLoss", 2, 2);
  set_attr(n, "reduction", std::string("none"));
  auto out = ref(n, 13, {x, t});
  const double z = std::log(std::exp(1.0) + std::exp(3.0) + std::exp(5.0));
  EXPECT_EQ(out[1].tensor().shape(), x.shape());
  const double z2_ = std::log(std::exp(2.0) + std::exp(4.0) + std::exp(6.0));
  expect_values(out[0].tensor(), {z - 5, z2_ - 2, std::log(3.0), std::log(3.0)});
  const double z2 = std::log(std::exp(2.0) + std::exp(4.0) + std::exp(6.0)), l3 = std::log(3.0);
  expect_values(out[1].tensor(), {1 - z, 2 - z2, 3 - z, 4 - z2, 5 - z, 6 - z2, -l3, -l3, -l3, -l3, -l3, -l3});
  // mean with weights: sum(w[t] * loss) / sum(w[t])
  auto m = make_node("SoftmaxCrossEntropyLoss", 3, 1);
  const double l00 = z - 5, l01 = z2 - 2;
  expect_values(ref0(m, 12, {x, t, f32({3}, {1, 2, 3})}), {(3 * l00 + 1 * l01 + 2 * l3 + 2 * l3) / 8});
}

// ---- Det ------------------------------------------------------------------------------------------

TEST(ReduceNorm, DetBatchedWithPivoting) {
  auto n = make_node("Det", 1, 1);
  // needs a row swap (zero pivot): det [[0,1],[2,3]] = -2
  expect_values(ref0(n, 11, {f32({2, 2, 2}, {0, 1, 2, 3, 1, 2, 2, 4})}), {-2, 0});
  expect_values(ref0(n, 22, {f32({3, 3}, {2, -1, 0, -1, 2, -1, 0, -1, 2})}), {4});
  Tensor e = ref0(n, 22, {Tensor(DType::kFloat, {3, 0, 0})});
  EXPECT_EQ(e.shape(), (Shape{3}));
  expect_values(e, {1, 1, 1});
  expect_values(ref0(n, 22, {f32({2, 2}, {1, 2, 3, 4}).cast(DType::kBFloat16)}), {-2});
  expect_input_error(n, 22, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  expect_input_error(n, 22, {Tensor::from<int32_t>({1, 1}, {1})});
}
