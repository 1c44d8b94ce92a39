// SPDX-License-Identifier: Apache-2.0
// Tests of the elementwise op family (runtime/kernels/elementwise.cpp, math.cpp, activation.cpp,
// logical.cpp, cast.cpp): float32 fast kernels against the reference kernels (odd shapes, the
// broadcast patterns of real models, fixed seeds), exact semantics that numpy / onnx's reference
// define (integer division and modulo, rounding, NaN propagation, Cast saturation and rounding,
// BitShift ranges, the Dropout RNG), version-specific behaviour, and InputErrors for bad
// attributes and shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/broadcast.h"
#include "runtime/op_registry.h"
#include "tests/unit/kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs a node with the reference kernel and returns output k as a tensor.
Tensor ref1(const onnx::NodeProto& n, int opset, const std::vector<Value>& in, int k = 0) {
  return run_op(n, opset, in, true).at(k).tensor();
}
Tensor fast1(const onnx::NodeProto& n, int opset, const std::vector<Value>& in, int k = 0) {
  return run_op(n, opset, in, false).at(k).tensor();
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

// Both kernels give exactly `want` (bitwise for integers; NaN equal to NaN for floats).
template <typename T>
void expect_both(const onnx::NodeProto& n, int opset, const std::vector<Value>& in, const std::vector<T>& want) {
  for (bool reference : {true, false}) {
    const Tensor t = run_op(n, opset, in, reference).at(0).tensor();
    ASSERT_EQ(t.dtype(), dtype_of<T>());
    ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
    const auto got = values_of<T>(t);
    for (size_t i = 0; i < want.size(); ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(want[i])) {
          EXPECT_TRUE(std::isnan(got[i])) << "at " << i << (reference ? " (reference)" : " (fast)");
          continue;
        }
      }
      EXPECT_EQ(got[i], want[i]) << "at " << i << (reference ? " (reference)" : " (fast)");
    }
  }
}

}  // namespace

// ---- fast kernels against the reference ------------------------------------------------------

struct BinaryCase {
  Shape a, b;
};
void PrintTo(const BinaryCase& p, std::ostream* os) { *os << "a=" << dims(p.a) << " b=" << dims(p.b); }

class ElementwiseBinaryFast : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(ElementwiseBinaryFast, MatchesReference) {
  const auto& p = GetParam();
  uint32_t seed = 1;
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu"}) {
    if (std::string(op) == "PRelu" && !broadcasts_to(p.b, p.a)) continue;
    auto n = make_node(op, 2, 1);
    const Tensor a = random_tensor_of(DType::kFloat, p.a, seed++, -3, 3);
    Tensor b = random_tensor_of(DType::kFloat, p.b, seed++, -3, 3);
    if (std::string(op) == "Div") b = random_tensor_of(DType::kFloat, p.b, seed++, 0.5, 3);
    SCOPED_TRACE(std::string(op) + " " + shape_str(p.a) + " " + shape_str(p.b));
    expect_fast_matches_reference(n, 17, {a, b}, 1e-6, 1e-7);
    ASSERT_NE(OpRegistry::instance().find("", op, 17).def->fast, nullptr) << "no fast kernel to compare";
    EXPECT_EQ(fast1(n, 17, {a, b}).shape(), std::string(op) == "PRelu" ? p.a : broadcast_shape(p.a, p.b));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ElementwiseBinaryFast,
                         ::testing::Values(BinaryCase{{1}, {1}}, BinaryCase{{13}, {13}}, BinaryCase{{127, 13}, {}},
                                           BinaryCase{{2, 13, 7, 5}, {1, 13, 1, 1}},  // per channel
                                           BinaryCase{{3, 7, 127}, {127}},            // trailing axis
                                           BinaryCase{{1}, {3, 13}},                  // first operand broadcast
                                           BinaryCase{{13, 1, 7}, {1, 5, 7}},         // both broadcast
                                           BinaryCase{{4, 127, 129}, {4, 127, 129}},  // large: threads
                                           BinaryCase{{2, 64, 33, 17}, {64, 1, 1}},   // large per channel
                                           BinaryCase{{0, 5}, {5}}));

TEST(ElementwiseFast, VariadicThreeInputs) {
  for (const char* op : {"Sum", "Mean", "Max", "Min"}) {
    auto n = make_node(op, 3, 1);
    const Tensor a = random_tensor_of(DType::kFloat, {2, 13, 7}, 5), b = random_tensor_of(DType::kFloat, {13, 1}, 6),
                 c = random_tensor_of(DType::kFloat, {7}, 7);
    SCOPED_TRACE(op);
    expect_fast_matches_reference(n, 13, {a, b, c}, 1e-6, 1e-7);
  }
}

struct UnaryCase {
  const char* op;
  std::string domain;
  double lo, hi;
  double rtol, atol;
};
void PrintTo(const UnaryCase& p, std::ostream* os) {
  *os << (p.domain.empty() ? "" : p.domain + "::") << p.op << " on [" << p.lo << "," << p.hi << "]";
}

class ElementwiseUnaryFast : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(ElementwiseUnaryFast, MatchesReference) {
  const auto& p = GetParam();
  for (const Shape& s : {Shape{1}, Shape{13}, Shape{3, 127}, Shape{7, 97, 129}}) {
    auto n = make_node(p.op, 1, 1, p.domain);
    const Tensor x = random_tensor_of(DType::kFloat, s, 11, p.lo, p.hi);
    SCOPED_TRACE(std::string(p.op) + " " + shape_str(s));
    expect_fast_matches_reference(n, 24, {x}, p.rtol, p.atol);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ops, ElementwiseUnaryFast,
    ::testing::Values(UnaryCase{"Relu", "", -5, 5, 0, 0}, UnaryCase{"LeakyRelu", "", -5, 5, 0, 0},
                      UnaryCase{"Abs", "", -5, 5, 0, 0}, UnaryCase{"Neg", "", -5, 5, 0, 0},
                      UnaryCase{"Sqrt", "", 0, 50, 1e-7, 0}, UnaryCase{"Reciprocal", "", 0.1, 9, 1e-7, 0},
                      UnaryCase{"HardSigmoid", "", -5, 5, 1e-7, 1e-7}, UnaryCase{"HardSwish", "", -5, 5, 1e-6, 1e-7},
                      UnaryCase{"Clip", "", -5, 5, 0, 0}, UnaryCase{"Exp", "", -20, 20, 1e-6, 0},
                      UnaryCase{"Log", "", 1e-3, 100, 1e-6, 1e-7}, UnaryCase{"Erf", "", -5, 5, 1e-6, 1e-7},
                      UnaryCase{"Sigmoid", "", -20, 20, 1e-6, 1e-7}, UnaryCase{"Tanh", "", -10, 10, 1e-6, 1e-7},
                      UnaryCase{"Elu", "", -10, 10, 1e-6, 1e-7}, UnaryCase{"Softplus", "", -20, 20, 1e-6, 1e-7},
                      UnaryCase{"Mish", "", -10, 10, 1e-5, 1e-6}, UnaryCase{"Swish", "", -10, 10, 1e-5, 1e-6},
                      UnaryCase{"Gelu", "", -10, 10, 1e-5, 1e-6}, UnaryCase{"Gelu", "com.microsoft", -10, 10, 1e-5, 1e-6},
                      UnaryCase{"QuickGelu", "com.microsoft", -10, 10, 1e-5, 1e-6},
                      UnaryCase{"FastGelu", "com.microsoft", -10, 10, 1e-5, 1e-6}));

TEST(ElementwiseFast, GeluTanhAndBiasedGelus) {
  auto g = make_node("Gelu", 1, 1);
  set_attr(g, "approximate", std::string("tanh"));
  const Tensor x = random_tensor_of(DType::kFloat, {5, 127, 13}, 21, -6, 6);
  expect_fast_matches_reference(g, 20, {x}, 1e-5, 1e-6);
  const Tensor bias = random_tensor_of(DType::kFloat, {13}, 22);
  for (const char* op : {"FastGelu", "BiasGelu"}) {
    SCOPED_TRACE(op);
    auto n = make_node(op, 2, 1, "com.microsoft");
    expect_fast_matches_reference(n, 1, {x, bias}, 1e-5, 1e-6);
  }
  // BiasGelu is Gelu(A + B)
  auto bg = make_node("BiasGelu", 2, 1, "com.microsoft");
  auto add = make_node("Add", 2, 1);
  auto ge = make_node("Gelu", 1, 1, "com.microsoft");
  expect_tensors_near(ref1(bg, 1, {x, bias}), ref1(ge, 1, {ref1(add, 14, {x, bias})}), 1e-6, 1e-7);
}

TEST(ElementwiseFast, ClipWithBoundsPReluWhere) {
  const Tensor x = random_tensor_of(DType::kFloat, {3, 129, 127}, 31, -4, 4);
  auto clip = make_node("Clip", 3, 1);
  expect_fast_matches_reference(clip, 13, {x, Tensor::from<float>({}, {-1.5f}), Tensor::from<float>({}, {2.f})}, 0, 0);
  expect_fast_matches_reference(clip, 13, {x, Value(), Tensor::from<float>({}, {0.5f})}, 0, 0);
  auto clip6 = make_node("Clip", 1, 1);
  set_attr(clip6, "min", -0.5f);
  expect_fast_matches_reference(clip6, 7, {x}, 0, 0);
  auto prelu = make_node("PRelu", 2, 1);
  expect_fast_matches_reference(prelu, 16, {x, random_tensor_of(DType::kFloat, {3, 1, 1}, 32)}, 0, 0);
  auto where = make_node("Where", 3, 1);
  const Tensor cond = random_tensor_of(DType::kBool, {3, 1, 127}, 33);
  expect_fast_matches_reference(where, 16, {cond, x, Tensor::from<float>({}, {7.f})}, 0, 0);
  expect_fast_matches_reference(where, 16, {cond, Tensor::from<float>({1}, {-1.f}), x}, 0, 0);
}

// NaN and infinities go through the fast kernels as through the reference.
TEST(ElementwiseFast, SpecialValues) {
  const Tensor x = Tensor::from<float>({8}, {kNaN, -kNaN, kInf, -kInf, 0.f, -0.f, 88.f, -88.f});
  for (const char* op : {"Relu", "LeakyRelu", "Abs", "Neg", "Exp", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Erf",
                         "Sqrt", "Clip", "Softplus"}) {
    SCOPED_TRACE(op);
    auto n = make_node(op, 1, 1);
    const auto f = fast1(n, 22, {x}).to_floats(), r = ref1(n, 22, {x}).to_floats();
    for (size_t i = 0; i < f.size(); ++i) {
      if (std::isnan(r[i]) || std::isinf(r[i]) || r[i] == 0.f) {  // NaN, inf and zeros exactly (sign too)
        EXPECT_EQ(std::isnan(f[i]), std::isnan(r[i])) << "at " << i << ": " << f[i] << " vs " << r[i];
        if (!std::isnan(r[i])) EXPECT_EQ(f[i], r[i]) << "at " << i;
        if (!std::isnan(r[i])) EXPECT_EQ(std::signbit(f[i]), std::signbit(r[i])) << "at " << i;
      } else {
        EXPECT_NEAR(f[i], r[i], 1e-6 * std::fabs(r[i]) + 1e-7) << "at " << i;
      }
    }
  }
  auto relu = make_node("Relu", 1, 1);
  EXPECT_TRUE(std::isnan(fast1(relu, 14, {x}).data<float>()[0]));
}

// ---- exact semantics -----------------------------------------------------------------------------

TEST(ElementwiseSemantics, IntegerDivTruncatesAndZeroDivisorGivesZero) {
  auto n = make_node("Div", 2, 1);
  expect_both<int32_t>(n, 14,
                       {Tensor::from<int32_t>({6}, {7, -7, 7, -7, 5, std::numeric_limits<int32_t>::min()}),
                        Tensor::from<int32_t>({6}, {2, 2, -2, -2, 0, -1})},
                       {3, -3, -3, 3, 0, std::numeric_limits<int32_t>::min()});
  expect_both<uint8_t>(n, 14, {Tensor::from<uint8_t>({3}, {200, 7, 9}), Tensor::from<uint8_t>({3}, {3, 0, 10})},
                       {66, 0, 0});
}

TEST(ElementwiseSemantics, ModFollowsPythonOrC) {
  auto py = make_node("Mod", 2, 1);
  auto c = make_node("Mod", 2, 1);
  set_attr(c, "fmod", int64_t{1});
  const Tensor a = Tensor::from<int64_t>({5}, {7, -7, 7, -7, 5}), b = Tensor::from<int64_t>({5}, {3, 3, -3, -3, 0});
  expect_both<int64_t>(py, 13, {a, b}, {1, 2, -2, -1, 0});
  expect_both<int64_t>(c, 13, {a, b}, {1, -1, 1, -1, 0});
  const Tensor fa = Tensor::from<float>({6}, {7.5f, -7.5f, 0.f, kInf, 3.f, -3.f}),
               fb = Tensor::from<float>({6}, {2.f, 2.f, -2.f, 2.f, kInf, kInf});
  expect_both<float>(py, 28, {fa, fb}, {1.5f, 0.5f, -0.f, kNaN, 3.f, kInf});
  expect_both<float>(c, 28, {fa, fb}, {1.5f, -1.5f, 0.f, kNaN, 3.f, -3.f});
  // sign of a zero result follows the divisor with fmod = 0
  EXPECT_TRUE(std::signbit(ref1(py, 28, {fa, fb}).data<float>()[2]));
}

TEST(ElementwiseSemantics, PowIntegerExactAndMixedTypes) {
  auto n = make_node("Pow", 2, 1);
  // 3^39 does not fit in a double's mantissa: exact integer arithmetic is needed
  expect_both<int64_t>(n, 15, {Tensor::from<int64_t>({3}, {3, -2, 2}), Tensor::from<int64_t>({3}, {39, 3, 62})},
                       {4052555153018976267LL, -8, int64_t{1} << 62});
  expect_both<int32_t>(n, 15, {Tensor::from<int32_t>({2}, {2, 2}), Tensor::from<int32_t>({2}, {31, 32})},
                       {std::numeric_limits<int32_t>::min(), 0});  // wraps like numpy
  expect_both<float>(n, 15, {Tensor::from<float>({2}, {2.f, 9.f}), Tensor::from<int64_t>({2}, {-1, 2})}, {0.5f, 81.f});
  expect_both<int32_t>(n, 15, {Tensor::from<int32_t>({2}, {4, 10}), Tensor::from<float>({2}, {0.5f, -1.f})}, {2, 0});
}

TEST(ElementwiseSemantics, IntegerArithmeticWraps) {
  auto add = make_node("Add", 2, 1), mul = make_node("Mul", 2, 1), neg = make_node("Neg", 1, 1), abs = make_node("Abs", 1, 1);
  const int32_t mx = std::numeric_limits<int32_t>::max(), mn = std::numeric_limits<int32_t>::min();
  expect_both<int32_t>(add, 14, {Tensor::from<int32_t>({1}, {mx}), Tensor::from<int32_t>({1}, {1})}, {mn});
  expect_both<uint16_t>(mul, 14, {Tensor::from<uint16_t>({1}, {65535}), Tensor::from<uint16_t>({1}, {65535})}, {1});
  expect_both<int32_t>(neg, 13, {Tensor::from<int32_t>({2}, {mn, 5})}, {mn, -5});
  expect_both<int8_t>(abs, 13, {Tensor::from<int8_t>({2}, {-128, -5})}, {-128, 5});
}

TEST(ElementwiseSemantics, RoundHalfToEvenSignAndIsInf) {
  auto round = make_node("Round", 1, 1);
  expect_both<float>(round, 22, {Tensor::from<float>({8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, kNaN, -kInf})},
                     {0.f, 2.f, 2.f, -0.f, -2.f, 2.f, kNaN, -kInf});
  auto sign = make_node("Sign", 1, 1);
  expect_both<float>(sign, 13, {Tensor::from<float>({4}, {-3.f, 0.f, 2.f, kNaN})}, {-1.f, 0.f, 1.f, kNaN});
  auto isinf = make_node("IsInf", 1, 1);
  set_attr(isinf, "detect_negative", int64_t{0});
  expect_both<bool>(isinf, 20, {Tensor::from<float>({4}, {kInf, -kInf, kNaN, 1.f})}, {true, false, false, false});
  auto isnan = make_node("IsNaN", 1, 1);
  expect_both<bool>(isnan, 20, {Tensor::from<double>({2}, {std::nan(""), 1.0})}, {true, false});
}

TEST(ElementwiseSemantics, MaxMinPropagateNaN) {
  auto mx = make_node("Max", 2, 1), mn = make_node("Min", 2, 1);
  const Tensor a = Tensor::from<float>({3}, {kNaN, 1.f, 2.f}), b = Tensor::from<float>({3}, {1.f, kNaN, 3.f});
  expect_both<float>(mx, 13, {a, b}, {kNaN, kNaN, 3.f});
  expect_both<float>(mn, 13, {a, b}, {kNaN, kNaN, 2.f});
  expect_both<uint64_t>(mx, 13, {Tensor::from<uint64_t>({2}, {1, ~uint64_t{0}}), Tensor::from<uint64_t>({1}, {7})},
                        {7, ~uint64_t{0}});
}

TEST(ElementwiseSemantics, ClipVersions) {
  auto clip = make_node("Clip", 3, 1);
  const Tensor x = Tensor::from<float>({4}, {-5.f, 0.5f, 5.f, kNaN});
  // min > max: everything becomes max (numpy.clip); NaN stays NaN
  expect_both<float>(clip, 13, {x, Tensor::from<float>({}, {2.f}), Tensor::from<float>({}, {1.f})}, {1.f, 1.f, 1.f, kNaN});
  expect_both<float>(clip, 11, {x, Value(), Value()}, {-5.f, 0.5f, 5.f, kNaN});
  auto clip6 = make_node("Clip", 1, 1);
  set_attr(clip6, "max", 1.f);
  expect_both<float>(clip6, 7, {Tensor::from<float>({2}, {-kInf, 3.f})}, {-std::numeric_limits<float>::max(), 1.f});
  expect_both<int8_t>(clip, 12, {Tensor::from<int8_t>({3}, {-128, 0, 127}), Tensor::from<int8_t>({}, {-3}), Value()},
                      {-3, 0, 127});
}

TEST(ElementwiseSemantics, ReluKeepsNaNAndTakesIntegersFrom14) {
  auto relu = make_node("Relu", 1, 1);
  expect_both<float>(relu, 13, {Tensor::from<float>({3}, {-1.f, kNaN, 2.f})}, {0.f, kNaN, 2.f});
  expect_both<int8_t>(relu, 14, {Tensor::from<int8_t>({3}, {-128, 0, 5})}, {0, 0, 5});
}

TEST(ElementwiseSemantics, BitShiftRanges) {
  auto left = make_node("BitShift", 2, 1), right = make_node("BitShift", 2, 1);
  set_attr(left, "direction", std::string("LEFT"));
  set_attr(right, "direction", std::string("RIGHT"));
  const Tensor x = Tensor::from<int8_t>({5}, {-16, -16, 16, 64, -1}), s = Tensor::from<int8_t>({5}, {2, 8, -1, 1, 7});
  expect_both<int8_t>(right, 28, {x, s}, {-4, -1, 0, 32, -1});
  expect_both<int8_t>(left, 28, {x, s}, {-64, 0, 0, -128, -128});
  expect_both<uint8_t>(left, 11, {Tensor::from<uint8_t>({2}, {255, 1}), Tensor::from<uint8_t>({2}, {1, 8})}, {254, 0});
}

TEST(ElementwiseSemantics, ComparisonsLogicalBitwise) {
  auto eq = make_node("Equal", 2, 1), ge = make_node("GreaterOrEqual", 2, 1), x = make_node("Xor", 2, 1);
  expect_both<bool>(eq, 19, {Tensor::from<float>({3}, {kNaN, 1.f, 0.f}), Tensor::from<float>({3}, {kNaN, 1.f, -0.f})},
                    {false, true, true});
  expect_both<bool>(ge, 16, {Tensor::from<uint32_t>({2, 1}, {1, 5}), Tensor::from<uint32_t>({2}, {1, 4})},
                    {true, false, true, true});
  expect_both<bool>(x, 7, {Tensor::from<bool>({2}, {true, false}), Tensor::from<bool>({2, 1}, {true, false})},
                    {false, true, true, false});
  auto bn = make_node("BitwiseNot", 1, 1);
  expect_both<uint16_t>(bn, 18, {Tensor::from<uint16_t>({2}, {0, 0x00FF})}, {0xFFFF, 0xFF00});
}

TEST(ElementwiseSemantics, WhereAnyTypeBroadcast) {
  auto n = make_node("Where", 3, 1);
  expect_both<int64_t>(n, 16,
                       {Tensor::from<bool>({2, 1}, {true, false}), Tensor::from<int64_t>({3}, {1, 2, 3}),
                        Tensor::from<int64_t>({}, {-1})},
                       {1, 2, 3, -1, -1, -1});
  const auto out = ref1(n, 16, {Tensor::from<bool>({2}, {false, true}), Tensor::from<half>({2}, {half(1.f), half(2.f)}),
                                Tensor::from<half>({2}, {half(3.f), half(4.f)})});
  EXPECT_EQ(out.to_floats(), (std::vector<float>{3.f, 2.f}));
}

TEST(ElementwiseSemantics, ShrinkAndActivations) {
  auto shrink = make_node("Shrink", 1, 1);
  set_attr(shrink, "lambd", 1.5f);
  set_attr(shrink, "bias", 0.5f);
  expect_both<int8_t>(shrink, 9, {Tensor::from<int8_t>({4}, {-3, -1, 1, 3})}, {-2, 0, 0, 2});
  auto thr = make_node("ThresholdedRelu", 1, 1);
  expect_both<float>(thr, 22, {Tensor::from<float>({3}, {0.5f, 1.f, 2.f})}, {0.f, 0.f, 2.f});
  auto celu = make_node("Celu", 1, 1);
  set_attr(celu, "alpha", 2.f);
  const Tensor y = ref1(celu, 12, {Tensor::from<float>({2}, {-1.f, 3.f})});
  EXPECT_NEAR(y.data<float>()[0], 2.f * std::expm1(-0.5f), 1e-6);
  EXPECT_EQ(y.data<float>()[1], 3.f);
  auto sw = make_node("Swish", 1, 1);
  set_attr(sw, "alpha", 2.f);
  EXPECT_NEAR(ref1(sw, 24, {Tensor::from<float>({}, {1.f})}).data<float>()[0], 1.f / (1.f + std::exp(-2.f)), 1e-6);
  auto qg = make_node("QuickGelu", 1, 1, "com.microsoft");
  EXPECT_NEAR(ref1(qg, 1, {Tensor::from<float>({}, {1.f})}).data<float>()[0], 1.f / (1.f + std::exp(-1.702f)), 1e-6);
}

TEST(ElementwiseSemantics, Float16ComputesInFloatAndRoundsOnce) {
  auto add = make_node("Add", 2, 1);
  const Tensor y = ref1(add, 14, {Tensor::from<half>({1}, {half(2048.f)}), Tensor::from<half>({1}, {half(1.f)})});
  EXPECT_EQ(static_cast<float>(y.data<half>()[0]), 2048.f);  // 2049 rounds to even
  auto sg = make_node("Sigmoid", 1, 1);
  const Tensor s = ref1(sg, 13, {Tensor::from<bfloat16>({1}, {bfloat16(0.f)})});
  EXPECT_EQ(static_cast<float>(s.data<bfloat16>()[0]), 0.5f);
}

// ---- Cast ------------------------------------------------------------------------------------------

onnx::NodeProto cast_node(DType to, int64_t saturate = 1, const std::string& round_mode = "") {
  auto n = make_node("Cast", 1, 1);
  set_attr(n, "to", static_cast<int64_t>(to));
  set_attr(n, "saturate", saturate);
  if (!round_mode.empty()) set_attr(n, "round_mode", round_mode);
  return n;
}

std::vector<uint8_t> bits_of(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return std::vector<uint8_t>(p, p + t.numel());
}

TEST(ElementwiseCast, Float8SaturationTables) {
  const Tensor x = Tensor::from<float>({6}, {1e6f, -1e6f, kInf, -kInf, kNaN, 464.f});
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E4M3FN), 19, {x})),
            (std::vector<uint8_t>{0x7E, 0xFE, 0x7E, 0xFE, 0x7F, 0x7E}));  // +/-448, NaN; 464 ties to even 448
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E4M3FN, 0), 19, {x})),
            (std::vector<uint8_t>{0x7F, 0xFF, 0x7F, 0xFF, 0x7F, 0x7E}));  // NaN beyond max
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E5M2, 0), 19, {x})),
            (std::vector<uint8_t>{0x7C, 0xFC, 0x7C, 0xFC, 0x7E, 0x5F}));  // +/-inf without saturation
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E5M2FNUZ, 0), 19, {x})),
            (std::vector<uint8_t>{0x80, 0x80, 0x80, 0x80, 0x80, 0x63}));
  // FNUZ has no negative zero
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E4M3FNUZ), 19, {Tensor::from<float>({2}, {-0.f, -1e-9f})})),
            (std::vector<uint8_t>{0, 0}));
}

TEST(ElementwiseCast, Float4AndSubByteIntegers) {
  const Tensor x = Tensor::from<float>({6}, {0.25f, 2.5f, 1e6f, -kInf, kNaN, -0.f});
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat4E2M1), 23, {x})), (std::vector<uint8_t>{0x0, 0x4, 0x7, 0xF, 0x8, 0x8}));
  // float -> int4 truncates and wraps like int8 (ml_dtypes)
  const Tensor y = ref1(cast_node(DType::kInt4), 21, {Tensor::from<float>({4}, {-9.f, 7.9f, 8.f, -2.5f})});
  EXPECT_EQ(y.to_int64s(), (std::vector<int64_t>{7, 7, -8, -2}));
  const Tensor z = ref1(cast_node(DType::kUInt2), 25, {Tensor::from<int32_t>({3}, {-1, 5, 2})});
  EXPECT_EQ(z.to_int64s(), (std::vector<int64_t>{3, 1, 2}));
  // and back: int4 values sign-extended
  EXPECT_EQ(ref1(cast_node(DType::kFloat), 21, {y}).to_floats(), (std::vector<float>{7.f, 7.f, -8.f, -2.f}));
}

TEST(ElementwiseCast, E8M0RoundModes) {
  const Tensor x = Tensor::from<float>({5}, {0.f, 1.5f, 3.f, 0.75f, kInf});
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E8M0, 1, "up"), 24, {x})), (std::vector<uint8_t>{0, 128, 129, 127, 255}));
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E8M0, 1, "down"), 24, {x})), (std::vector<uint8_t>{0, 127, 128, 126, 255}));
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E8M0, 1, "nearest"), 24, {x})),
            (std::vector<uint8_t>{0, 128, 129, 127, 255}));
  // saturation at 2^127: rounding up past it is NaN without saturate
  const Tensor big = Tensor::from<float>({1}, {std::ldexp(1.5f, 127)});
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E8M0, 1, "up"), 24, {big})), (std::vector<uint8_t>{254}));
  EXPECT_EQ(bits_of(ref1(cast_node(DType::kFloat8E8M0, 0, "up"), 24, {big})), (std::vector<uint8_t>{255}));
}

TEST(ElementwiseCast, IntegersWrapFloatsTruncateBoolsAndRounding) {
  expect_both<int8_t>(cast_node(DType::kInt8), 13, {Tensor::from<int16_t>({3}, {200, -129, 5})}, {-56, 127, 5});
  expect_both<int32_t>(cast_node(DType::kInt32), 13, {Tensor::from<float>({3}, {-2.7f, 2.7f, 1e3f})}, {-2, 2, 1000});
  expect_both<bool>(cast_node(DType::kBool), 13, {Tensor::from<float>({3}, {0.f, -0.f, kNaN})}, {false, false, true});
  expect_both<float>(cast_node(DType::kFloat), 13, {Tensor::from<bool>({2}, {true, false})}, {1.f, 0.f});
  // double -> float16 rounds once: 1 + 2^-11 + 2^-30 is just above the half-way point
  const Tensor h = ref1(cast_node(DType::kFloat16), 13, {Tensor::from<double>({1}, {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30)})});
  EXPECT_EQ(static_cast<float>(h.data<half>()[0]), 1.f + std::ldexp(1.f, -10));
  // float16 out of range -> inf
  const Tensor inf = ref1(cast_node(DType::kFloat16), 13, {Tensor::from<float>({1}, {1e6f})});
  EXPECT_TRUE(std::isinf(static_cast<float>(inf.data<half>()[0])));
}

TEST(ElementwiseCast, CastLikeBitCastIdentity) {
  auto cl = make_node("CastLike", 2, 1);
  const Tensor y = ref1(cl, 21, {Tensor::from<float>({2}, {1.9f, -1.9f}), Tensor::from<int64_t>({0}, {})});
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.to_int64s(), (std::vector<int64_t>{1, -1}));
  auto bc = make_node("BitCast", 1, 1);
  set_attr(bc, "to", static_cast<int64_t>(DType::kInt32));
  expect_both<int32_t>(bc, 26, {Tensor::from<float>({2}, {1.f, -0.f})}, {0x3F800000, std::numeric_limits<int32_t>::min()});
  auto bc4 = make_node("BitCast", 1, 1);
  set_attr(bc4, "to", static_cast<int64_t>(DType::kInt4));
  EXPECT_EQ(ref1(bc4, 26, {Tensor::from<UInt4>({2}, {UInt4{15}, UInt4{7}})}).to_int64s(), (std::vector<int64_t>{-1, 7}));
  auto id = make_node("Identity", 1, 1);
  const Value seq = Value::sequence(DType::kFloat, {Tensor::from<float>({1}, {1.f}), Tensor::from<float>({2}, {2.f, 3.f})});
  const auto out = run_op(id, 16, {seq}, true);
  ASSERT_TRUE(out[0].is_sequence());
  EXPECT_EQ(out[0].items().size(), 2u);
  const auto none = run_op(id, 16, {Value::none(DType::kFloat)}, true);
  EXPECT_TRUE(none[0].is_none());
}

// ---- Dropout ---------------------------------------------------------------------------------------

TEST(ElementwiseDropout, InferenceIsIdentityTrainingMatchesNumpyRandomState) {
  auto n = make_node("Dropout", 3, 2);
  set_attr(n, "seed", int64_t{0});
  const Tensor x = Tensor::from<float>({5}, {1.f, 2.f, 3.f, 4.f, 5.f});
  const auto inf = run_op(n, 13, {x, Tensor::from<float>({}, {0.6f}), Tensor::from<bool>({}, {false})}, true);
  EXPECT_EQ(inf[0].tensor().to_floats(), x.to_floats());
  EXPECT_EQ(values_of<bool>(inf[1].tensor()), std::vector<bool>(5, true));
  // numpy.random.RandomState(0).uniform(0, 1, 5) = [0.549, 0.715, 0.603, 0.545, 0.424]: >= 0.6 keeps 2 and 3
  const auto tr = run_op(n, 13, {x, Tensor::from<float>({}, {0.6f}), Tensor::from<bool>({}, {true})}, true);
  EXPECT_EQ(values_of<bool>(tr[1].tensor()), (std::vector<bool>{false, true, true, false, false}));
  const auto y = tr[0].tensor().to_floats();
  EXPECT_FLOAT_EQ(y[1], 2.f / 0.4f);
  EXPECT_FLOAT_EQ(y[2], 3.f / 0.4f);
  EXPECT_EQ(y[0], 0.f);
  // Dropout-7: the mask has X's type
  auto old = make_node("Dropout", 1, 2);
  const auto o7 = run_op(old, 7, {x}, true);
  EXPECT_EQ(o7[1].tensor().dtype(), DType::kFloat);
  EXPECT_THROW(run_op(n, 13, {x, Tensor::from<float>({}, {1.f}), Tensor::from<bool>({}, {true})}, true), InputError);
}

// ---- validation ------------------------------------------------------------------------------------

TEST(ElementwiseValidate, BadAttributesAndShapesAreInputErrors) {
  auto mod = make_node("Mod", 2, 1);
  set_attr(mod, "fmod", int64_t{2});
  const Tensor i = Tensor::from<int32_t>({2}, {1, 2});
  EXPECT_THROW(run_op(mod, 13, {i, i}, true), InputError);
  auto bs = make_node("BitShift", 2, 1);
  set_attr(bs, "direction", std::string("UP"));
  EXPECT_THROW(run_op(bs, 11, {i, i}, true), InputError);
  auto gelu = make_node("Gelu", 1, 1);
  set_attr(gelu, "approximate", std::string("erf"));
  EXPECT_THROW(run_op(gelu, 20, {Tensor::from<float>({1}, {1.f})}, true), InputError);
  EXPECT_THROW(run_op(cast_node(DType::kString), 13, {i}, true), InputError);
  EXPECT_THROW(run_op(cast_node(static_cast<DType>(99)), 13, {i}, true), InputError);
  EXPECT_THROW(run_op(cast_node(DType::kFloat8E8M0, 1, "sideways"), 24, {Tensor::from<float>({1}, {1.f})}, true),
               InputError);
  auto bc = make_node("BitCast", 1, 1);
  set_attr(bc, "to", static_cast<int64_t>(DType::kInt64));
  EXPECT_THROW(run_op(bc, 26, {i}, true), InputError);
  auto celu = make_node("Celu", 1, 1);
  set_attr(celu, "alpha", 0.f);
  EXPECT_THROW(run_op(celu, 12, {Tensor::from<float>({1}, {1.f})}, true), InputError);
  auto add = make_node("Add", 2, 1);
  EXPECT_THROW(run_op(add, 14, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {4})}, false), InputError);
  EXPECT_THROW(run_op(add, 14, {Tensor(DType::kFloat, {2}), Tensor(DType::kInt32, {2})}, false), InputError);
  auto clip = make_node("Clip", 3, 1);
  EXPECT_THROW(run_op(clip, 13, {Tensor(DType::kFloat, {2}), Tensor(DType::kFloat, {2}), Value()}, false), InputError);
  auto where = make_node("Where", 3, 1);
  EXPECT_THROW(run_op(where, 16, {Tensor(DType::kFloat, {2}), Tensor(DType::kFloat, {2}), Tensor(DType::kFloat, {2})}, false),
               InputError);
  auto prelu = make_node("PRelu", 2, 1);
  EXPECT_THROW(run_op(prelu, 16, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {2, 3, 1})}, false), InputError);
  auto sum = make_node("Sum", 0, 1);
  EXPECT_THROW(run_op(sum, 13, {}, true), InputError);
  // a dtype the op does not take
  auto sq = make_node("Sqrt", 1, 1);
  EXPECT_THROW(run_op(sq, 13, {i}, true), InputError);
  // an output whose element count overflows is refused before allocating
  const Shape big1{int64_t{1} << 40, 1}, big2{1, int64_t{1} << 40}, so{int64_t{1} << 40, int64_t{1} << 40};
  EXPECT_THROW((BroadcastPlan<2>({&big1, &big2}, so)), InputError);
}

TEST(ElementwiseValidate, EmptyTensors) {
  auto add = make_node("Add", 2, 1);
  const auto y = run_op(add, 14, {Tensor(DType::kFloat, {0, 3}), Tensor(DType::kFloat, {3})}, false);
  EXPECT_EQ(y[0].tensor().shape(), (Shape{0, 3}));
  auto cast = cast_node(DType::kFloat16);
  EXPECT_EQ(ref1(cast, 13, {Tensor(DType::kFloat, {0})}).numel(), 0);
}

TEST(ElementwiseBroadcast, PlanMergesAxes) {
  const Shape a{2, 3, 4, 5}, b{1, 3, 1, 1}, so{2, 3, 4, 5};
  const BroadcastPlan<2> plan({&a, &b}, so);
  EXPECT_EQ(plan.row_length(), 20);  // H*W merged, b fixed along it
  EXPECT_EQ(plan.rows(), 6);
  EXPECT_EQ(plan.row_step(0), 1);
  EXPECT_EQ(plan.row_step(1), 0);
  const Shape c{2, 3, 4, 5};
  const BroadcastPlan<2> same({&a, &c}, so);
  EXPECT_EQ(same.rows(), 1);
  EXPECT_EQ(same.row_length(), 120);
  EXPECT_THROW(broadcast_shape({2, 3}, {4, 3}), InputError);
  EXPECT_EQ(broadcast_shape({1, 3}, {5, 1}), (Shape{5, 3}));
}
