// SPDX-License-Identifier: Apache-2.0
// Tests of the matmul / quantization / attention op family (runtime/kernels/matmul*.cpp,
// quantize.cpp, qlinear.cpp, einsum.cpp, attention*.cpp, rotary_embedding.cpp,
// linear_attention.cpp, swiglu.cpp): fast kernels against the reference kernels (odd shapes 1, 13,
// 127, fixed seeds), exact values where the spec is exact (rounding ties, saturation, integer
// wrap-around), version-specific behaviour and invalid attributes / shapes -> InputError.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "../kernel_test_util.h"
#include "runtime/op_registry.h"

using namespace qtool;
using namespace qtool::test;

namespace {

// Runs a node like the executor does, with the given inputs marked constant and a per-node state
// kept across calls (the cached-primitive and reordered-weight paths).
std::vector<Value> run_cached(const onnx::NodeProto& n, int opset, const std::vector<Value>& inputs,
                              const std::vector<bool>& constant, std::shared_ptr<void>* state) {
  auto m = OpRegistry::instance().find(n.domain(), n.op_type(), opset);
  EXPECT_NE(m.def, nullptr);
  KernelContext ctx(n, opset, m.version);
  for (const auto& v : inputs) ctx.inputs.push_back(v.present() ? &v : nullptr);
  ctx.outputs.resize(n.output_size());
  ctx.constant = constant;
  ctx.state = state;
  if (m.def->validate) m.def->validate(ctx);
  if (!(m.def->fast && m.def->fast(ctx))) m.def->run(ctx);
  return std::move(ctx.outputs);
}

Tensor out0(const onnx::NodeProto& n, int opset, const std::vector<Value>& in, bool ref = true) {
  return run_op(n, opset, in, ref).at(0).tensor();
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

Tensor scalar_f(float v) { return Tensor::from<float>({}, {v}); }

// Exact float32 values x with x / s == k + 0.5 in float32 arithmetic.
std::vector<float> ties_for(float s, int lo, int hi) {
  std::vector<float> x;
  for (int k = lo; k < hi; ++k) {
    const float v = static_cast<float>((k + 0.5) * static_cast<double>(s));
    if (v / s == static_cast<float>(k + 0.5)) x.push_back(v);
  }
  return x;
}

}  // namespace

// ============================================================================ MatMul / Gemm

struct MatMulShapes {
  Shape a, b;
};
void PrintTo(const MatMulShapes& p, std::ostream* os) { *os << "a=" << dims(p.a) << " b=" << dims(p.b); }

class MatMulFastVsRef : public ::testing::TestWithParam<MatMulShapes> {};

TEST_P(MatMulFastVsRef, Float32) {
  const auto p = GetParam();
  auto n = make_node("MatMul", 2, 1);
  const Tensor a = random_tensor_of(DType::kFloat, p.a, 1), b = random_tensor_of(DType::kFloat, p.b, 2);
  expect_fast_matches_reference(n, 13, {a, b}, 1e-4, 1e-4);
  // cached primitive with B constant (reordered once), reused across calls, and a changed A shape
  std::shared_ptr<void> state;
  const auto ref = run_op(n, 13, {a, b}, true);
  for (int i = 0; i < 2; ++i) expect_tensors_near(run_cached(n, 13, {a, b}, {false, true}, &state)[0].tensor(), ref[0].tensor(), 1e-4, 1e-4);
}

TEST_P(MatMulFastVsRef, HalfAndBFloat16) {
  const auto p = GetParam();
  auto n = make_node("MatMul", 2, 1);
  for (DType t : {DType::kFloat16, DType::kBFloat16})
    expect_fast_matches_reference(n, 13, {random_tensor_of(t, p.a, 3), random_tensor_of(t, p.b, 4)}, 2e-2, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(OddShapes, MatMulFastVsRef,
                         ::testing::Values(MatMulShapes{{1, 1}, {1, 1}}, MatMulShapes{{13, 127}, {127, 1}},
                                           MatMulShapes{{127, 13}, {13, 127}}, MatMulShapes{{13}, {13, 7}},
                                           MatMulShapes{{5, 13}, {13}}, MatMulShapes{{13}, {13}},
                                           MatMulShapes{{2, 3, 13, 7}, {7, 5}}, MatMulShapes{{3, 1, 13, 7}, {4, 7, 5}},
                                           MatMulShapes{{13, 7}, {2, 7, 127}}, MatMulShapes{{0, 7}, {7, 3}},
                                           MatMulShapes{{4, 0}, {0, 3}}));

TEST(MatMulQuant, MatMulShapesFollowNumpy) {
  auto n = make_node("MatMul", 2, 1);
  EXPECT_EQ(out0(n, 13, {Tensor(DType::kFloat, {3}), Tensor(DType::kFloat, {3})}).shape(), Shape{});
  EXPECT_EQ(out0(n, 13, {Tensor(DType::kFloat, {3}), Tensor(DType::kFloat, {2, 3, 4})}).shape(), (Shape{2, 4}));
  EXPECT_EQ(out0(n, 13, {Tensor(DType::kFloat, {2, 1, 5, 3}), Tensor(DType::kFloat, {4, 3, 6})}).shape(), (Shape{2, 4, 5, 6}));
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {4, 2})}), InputError);
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {2, 2, 3}), Tensor(DType::kFloat, {3, 3, 2})}), InputError);
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {}), Tensor(DType::kFloat, {3})}), InputError);
}

TEST(MatMulQuant, MatMulIntegersWrapAround) {
  auto n = make_node("MatMul", 2, 1);
  const int32_t big = std::numeric_limits<int32_t>::max();
  const Tensor y = out0(n, 13, {Tensor::from<int32_t>({1, 2}, {big, 1}), Tensor::from<int32_t>({2, 1}, {2, 3})});
  EXPECT_EQ(values<int32_t>(y)[0], static_cast<int32_t>(static_cast<uint32_t>(big) * 2u + 3u));
  const Tensor u = out0(n, 13, {Tensor::from<uint64_t>({1, 1}, {3}), Tensor::from<uint64_t>({1, 1}, {5})});
  EXPECT_EQ(values<uint64_t>(u)[0], 15u);
  // int types arrived in MatMul-9; bfloat16 in 13
  EXPECT_THROW(out0(n, 7, {Tensor::from<int32_t>({1, 1}, {1}), Tensor::from<int32_t>({1, 1}, {1})}), InputError);
  EXPECT_THROW(out0(n, 9, {Tensor(DType::kBFloat16, {1, 1}), Tensor(DType::kBFloat16, {1, 1})}), InputError);
}

TEST(MatMulQuant, GemmFastVsRefAllForms) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& cs : {Shape{}, Shape{1}, Shape{127}, Shape{13, 1}, Shape{13, 127}, Shape{1, 127}}) {
        auto n = make_node("Gemm", 3, 1);
        set_attr(n, "transA", static_cast<int64_t>(ta));
        set_attr(n, "transB", static_cast<int64_t>(tb));
        set_attr(n, "alpha", 0.75f);
        set_attr(n, "beta", cs.size() == 1 && cs[0] == 127 ? 1.0f : -1.5f);
        const Tensor a = random_tensor_of(DType::kFloat, ta ? Shape{27, 13} : Shape{13, 27}, 5);
        const Tensor b = random_tensor_of(DType::kFloat, tb ? Shape{127, 27} : Shape{27, 127}, 6);
        const Tensor c = random_tensor_of(DType::kFloat, cs, 7);
        expect_fast_matches_reference(n, 13, {a, b, c}, 1e-4, 1e-4);
        std::shared_ptr<void> state;
        const auto ref = run_op(n, 13, {a, b, c}, true)[0].tensor();
        for (int i = 0; i < 2; ++i)
          expect_tensors_near(run_cached(n, 13, {a, b, c}, {false, true, true}, &state)[0].tensor(), ref, 1e-4, 1e-4);
      }
}

TEST(MatMulQuant, GemmBiasAsOneDnnBiasAndOptionalC) {
  auto n = make_node("Gemm", 3, 1);
  set_attr(n, "transB", int64_t{1});
  const Tensor a = random_tensor_of(DType::kFloat, {1, 13}, 8), b = random_tensor_of(DType::kFloat, {7, 13}, 9);
  expect_fast_matches_reference(n, 13, {a, b, random_tensor_of(DType::kFloat, {7}, 10)});
  auto n2 = make_node("Gemm", 2, 1);
  expect_fast_matches_reference(n2, 11, {random_tensor_of(DType::kFloat, {3, 13}, 1), random_tensor_of(DType::kFloat, {13, 5}, 2)});
}

TEST(MatMulQuant, GemmIntegerAndHalfFollowNumpy) {
  auto n = make_node("Gemm", 3, 1);
  set_attr(n, "alpha", 0.5f);
  set_attr(n, "beta", 2.0f);
  // int: dot * 0.5 + C * 2 in float64, truncated toward zero
  const Tensor y = out0(n, 13, {Tensor::from<int32_t>({1, 2}, {1, 2}), Tensor::from<int32_t>({2, 1}, {3, -4}),
                                Tensor::from<int32_t>({1}, {1})});
  EXPECT_EQ(values<int32_t>(y)[0], static_cast<int32_t>((1 * 3 + 2 * -4) * 0.5 + 2.0));  // -2.5 + 2 = -0.5 -> 0
  const Tensor h = out0(n, 13, {random_tensor_of(DType::kFloat16, {3, 5}, 1), random_tensor_of(DType::kFloat16, {5, 2}, 2),
                                random_tensor_of(DType::kFloat16, {2}, 3)});
  EXPECT_EQ(h.dtype(), DType::kFloat16);
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {2})}), InputError);
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {3, 4}), Tensor(DType::kFloat, {3})}), InputError);
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {2, 3, 1}), Tensor(DType::kFloat, {3, 4}), Tensor(DType::kFloat, {4})}), InputError);
}

TEST(MatMulQuant, FusedMatMulTransposes) {
  auto n = make_node("FusedMatMul", 2, 1, "com.microsoft");
  set_attr(n, "transA", int64_t{1});
  set_attr(n, "alpha", 2.0f);
  const Tensor a = random_tensor_of(DType::kFloat, {3, 5, 4}, 1), b = random_tensor_of(DType::kFloat, {3, 5, 2}, 2);
  const Tensor y = out0(n, 1, {a, b});
  ASSERT_EQ(y.shape(), (Shape{3, 4, 2}));
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  double acc = 0;
  for (int k = 0; k < 5; ++k) acc += ap[(1 * 5 + k) * 4 + 2] * bp[(1 * 5 + k) * 2 + 1];
  EXPECT_NEAR(y.data<float>()[(1 * 4 + 2) * 2 + 1], 2 * acc, 1e-5);
}

// ============================================================================ QuantizeLinear / DequantizeLinear

TEST(MatMulQuant, QuantizeRoundsTiesToEvenWithTrueDivision) {
  // x / scale computed as a float32 division, not x * (1 / scale): 0.013 has ties where they differ
  const float s = 0.013f;
  const auto x = ties_for(s, -100, 100);
  ASSERT_GT(x.size(), 100u);
  auto n = make_node("QuantizeLinear", 3, 1);
  for (bool ref : {true, false}) {
    const Tensor y = out0(n, 13, {Tensor::from<float>({static_cast<int64_t>(x.size())}, x), scalar_f(s), Tensor::from<int8_t>({}, {0})}, ref);
    int mismatch_mul = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double q = static_cast<double>(x[i] / s);  // exactly k + 0.5
      const int64_t want = std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(q)), -128, 127);
      ASSERT_EQ(values<int8_t>(y)[i], want) << "x = " << x[i] << (ref ? " (reference)" : " (fast)");
      mismatch_mul += std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(x[i] * (1.f / s))), -128, 127) != want;
    }
    EXPECT_GT(mismatch_mul, 0);  // the test would catch a reciprocal multiplication
  }
}

TEST(MatMulQuant, QuantizeFastMatchesReference) {
  const Tensor x = random_tensor_of(DType::kFloat, {3, 13, 127}, 11, -40.0, 40.0);
  for (DType zt : {DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16}) {
    auto n = make_node("QuantizeLinear", 3, 1);
    expect_fast_matches_reference(n, 21, {x, scalar_f(0.173f), Tensor(zt, {})}, 0, 0);
    auto na = make_node("QuantizeLinear", 3, 1);
    set_attr(na, "axis", int64_t{1});
    expect_fast_matches_reference(na, 21, {x, random_tensor_of(DType::kFloat, {13}, 12, 0.05, 0.5), Tensor(zt, {13})}, 0, 0);
  }
  // long enough to be split across the threads (the 8-bit vector runs), zero point not 0
  const Tensor big = random_tensor_of(DType::kFloat, {4, 16, 1100}, 13, -40.0, 40.0);
  auto n = make_node("QuantizeLinear", 3, 1);
  expect_fast_matches_reference(n, 13, {big, scalar_f(0.173f), Tensor::from<uint8_t>({}, {131})}, 0, 0);
  expect_fast_matches_reference(n, 13, {big, scalar_f(0.211f), Tensor::from<int8_t>({}, {-7})}, 0, 0);
}

TEST(MatMulQuant, QuantizeSaturatesAndHandlesNaN) {
  auto n = make_node("QuantizeLinear", 3, 1);
  const Tensor x = Tensor::from<float>({5}, {1e9f, -1e9f, std::nanf(""), INFINITY, 2.5f});
  for (bool ref : {true, false}) {
    EXPECT_EQ(values<uint8_t>(out0(n, 13, {x, scalar_f(1.f), Tensor::from<uint8_t>({}, {10})}, ref)),
              (std::vector<uint8_t>{255, 0, 0, 255, 12}));
    EXPECT_EQ(values<int8_t>(out0(n, 13, {x, scalar_f(1.f), Tensor::from<int8_t>({}, {0})}, ref)),
              (std::vector<int8_t>{127, -128, -128, 127, 2}));
  }
}

TEST(MatMulQuant, QuantizeVersionTypesAndSubByte) {
  const Tensor x = Tensor::from<float>({4}, {-20.f, -3.f, 3.5f, 20.f});
  auto n = make_node("QuantizeLinear", 3, 1);
  const Tensor y4 = out0(n, 21, {x, scalar_f(1.f), Tensor(DType::kInt4, {})});
  EXPECT_EQ(y4.dtype(), DType::kInt4);
  EXPECT_EQ(y4.to_int64s(), (std::vector<int64_t>{-8, -3, 4, 7}));
  const Tensor y2 = out0(n, 25, {x, scalar_f(1.f), Tensor(DType::kUInt2, {})});
  EXPECT_EQ(y2.to_int64s(), (std::vector<int64_t>{0, 0, 3, 3}));
  EXPECT_THROW(out0(n, 19, {x, scalar_f(1.f), Tensor(DType::kInt4, {})}), InputError);  // int4 arrived in 21
  EXPECT_THROW(out0(n, 21, {x, scalar_f(1.f), Tensor(DType::kUInt2, {})}), InputError);  // int2 in 25
  EXPECT_THROW(out0(n, 13, {x, scalar_f(1.f), Tensor(DType::kFloat8E4M3FN, {})}), InputError);  // float8 in 19
  // output_dtype without a zero point; mismatch with the zero point's type is an error
  auto no = make_node("QuantizeLinear", 2, 1);
  set_attr(no, "output_dtype", static_cast<int64_t>(DType::kInt16));
  EXPECT_EQ(out0(no, 21, {x, scalar_f(0.001f)}).to_int64s(), (std::vector<int64_t>{-20000, -3000, 3500, 20000}));
  auto bad = make_node("QuantizeLinear", 3, 1);
  set_attr(bad, "output_dtype", static_cast<int64_t>(DType::kInt16));
  EXPECT_THROW(out0(bad, 21, {x, scalar_f(1.f), Tensor(DType::kInt8, {})}), InputError);
}

TEST(MatMulQuant, QuantizeFloat8SaturateAttribute) {
  const Tensor x = Tensor::from<float>({2}, {1000.f, -1.f});
  auto n = make_node("QuantizeLinear", 3, 1);
  const Tensor sat = out0(n, 19, {x, scalar_f(1.f), Tensor(DType::kFloat8E4M3FN, {})});
  EXPECT_EQ(sat.to_floats(), (std::vector<float>{448.f, -1.f}));
  set_attr(n, "saturate", int64_t{0});
  const Tensor nosat = out0(n, 19, {x, scalar_f(1.f), Tensor(DType::kFloat8E4M3FN, {})});
  EXPECT_TRUE(std::isnan(nosat.to_floats()[0]));
}

TEST(MatMulQuant, QuantizeBlockedAndPrecision) {
  // x [2, 5], blocks of 2 along axis 1: scale [2, 3]
  const Tensor x = Tensor::from<float>({2, 5}, {1, 2, 3, 4, 5, -1, -2, -3, -4, -5});
  const Tensor s = Tensor::from<float>({2, 3}, {1, 2, 4, 1, 0.5f, 0.25f});
  auto n = make_node("QuantizeLinear", 3, 1);
  set_attr(n, "block_size", int64_t{2});
  EXPECT_EQ(out0(n, 21, {x, s, Tensor(DType::kInt8, {2, 3})}).to_int64s(),
            (std::vector<int64_t>{1, 2, 2, 2, 1, -1, -2, -6, -8, -20}));
  EXPECT_THROW(out0(n, 21, {x, Tensor::from<float>({2, 2}, {1, 1, 1, 1}), Tensor(DType::kInt8, {2, 2})}), InputError);
  EXPECT_THROW(out0(n, 19, {x, s, Tensor(DType::kInt8, {2, 3})}), InputError);  // no blocks before 21
  // precision = float16: x and scale rounded to half before dividing
  auto p = make_node("QuantizeLinear", 3, 1);
  set_attr(p, "precision", static_cast<int64_t>(DType::kFloat16));
  const Tensor xp = Tensor::from<float>({1}, {2049.f});  // 2048 in float16
  EXPECT_EQ(out0(p, 23, {xp, scalar_f(1.f), Tensor(DType::kInt16, {})}).to_int64s()[0], 2048);
  EXPECT_EQ(out0(p, 21, {xp, scalar_f(1.f), Tensor(DType::kInt16, {})}).to_int64s()[0], 2049);  // ignored before 23
}

TEST(MatMulQuant, QuantizeInvalidAxisAndScale) {
  auto n = make_node("QuantizeLinear", 3, 1);
  set_attr(n, "axis", int64_t{3});
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {3}), Tensor(DType::kUInt8, {3})}), InputError);
  auto m = make_node("QuantizeLinear", 3, 1);
  EXPECT_THROW(out0(m, 13, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {2}), Tensor(DType::kUInt8, {2})}), InputError);
  EXPECT_THROW(out0(m, 13, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {3}), Tensor(DType::kUInt8, {2})}), InputError);
  EXPECT_THROW(out0(m, 13, {Tensor(DType::kFloat16, {2}), Tensor(DType::kFloat16, {}), Tensor(DType::kUInt8, {})}), InputError);
}

TEST(MatMulQuant, DequantizeTypesAndFast) {
  const Tensor x = random_tensor_of(DType::kInt8, {3, 13, 127}, 21, -128, 127);
  auto n = make_node("DequantizeLinear", 3, 1);
  set_attr(n, "axis", int64_t{1});
  expect_fast_matches_reference(n, 13, {x, random_tensor_of(DType::kFloat, {13}, 22, 0.01, 1.0), random_tensor_of(DType::kInt8, {13}, 23, -5, 5)}, 0, 0);
  // per tensor, long enough to be split across the threads (the 8-bit vector runs)
  auto pt = make_node("DequantizeLinear", 3, 1);
  expect_fast_matches_reference(pt, 13, {random_tensor_of(DType::kUInt8, {4, 16, 1100}, 24, 0, 255), scalar_f(0.037f), Tensor::from<uint8_t>({}, {119})}, 0, 0);
  expect_fast_matches_reference(pt, 13, {random_tensor_of(DType::kInt8, {4, 16, 1100}, 25, -128, 127), scalar_f(0.037f), Tensor::from<int8_t>({}, {3})}, 0, 0);
  auto d = make_node("DequantizeLinear", 2, 1);
  const Tensor i32 = out0(d, 10, {Tensor::from<int32_t>({2}, {-7, 1 << 20}), scalar_f(0.5f)});
  EXPECT_EQ(i32.to_floats(), (std::vector<float>{-3.5f, 524288.f}));
  // float8 input, float16 scale -> float16 output; output_dtype (23+) overrides the scale's type
  Tensor f8(DType::kFloat8E4M3FN, {1});
  static_cast<uint8_t*>(f8.raw())[0] = small_float_encode(DType::kFloat8E4M3FN, 3.0);
  const Tensor h = out0(d, 19, {f8, Tensor::from<half>({}, {half(0.5f)})});
  EXPECT_EQ(h.dtype(), DType::kFloat16);
  EXPECT_EQ(h.to_floats()[0], 1.5f);
  auto o = make_node("DequantizeLinear", 2, 1);
  set_attr(o, "output_dtype", static_cast<int64_t>(DType::kFloat));
  EXPECT_EQ(out0(o, 23, {f8, Tensor::from<half>({}, {half(0.5f)})}).dtype(), DType::kFloat);
  EXPECT_THROW(out0(d, 13, {f8, scalar_f(1.f)}), InputError);  // float8 arrived in 19
  EXPECT_THROW(out0(n, 13, {Tensor(DType::kInt8, {2, 13}), Tensor(DType::kFloat, {13}), Tensor(DType::kUInt8, {13})}), InputError);
}

TEST(MatMulQuant, DynamicQuantizeLinearMatchesSpec) {
  auto n = make_node("DynamicQuantizeLinear", 1, 3);
  const auto out = run_op(n, 11, {Tensor::from<float>({5}, {0.5f, -0.5f, 1.5f, 2.5f, 127.5f})}, true);
  EXPECT_EQ(values<uint8_t>(out[0].tensor()), (std::vector<uint8_t>{2, 0, 4, 6, 255}));
  EXPECT_FLOAT_EQ(out[1].tensor().to_floats()[0], 128.f / 255.f);
  EXPECT_EQ(values<uint8_t>(out[2].tensor())[0], 1);
  const auto neg = run_op(n, 11, {Tensor::from<float>({2}, {-3.f, -1.f})}, true);
  EXPECT_EQ(values<uint8_t>(neg[0].tensor()), (std::vector<uint8_t>{0, 170}));
  EXPECT_EQ(values<uint8_t>(neg[2].tensor())[0], 255);
  const auto zeros = run_op(n, 11, {Tensor(DType::kFloat, {3})}, true);
  EXPECT_EQ(values<uint8_t>(zeros[0].tensor()), (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_THROW(run_op(n, 11, {Tensor(DType::kDouble, {3})}, true), InputError);
}

// ============================================================================ integer matmuls

struct IntCase {
  Shape a, b;
  DType at, bt;
  Shape za, zb;  // zero point shapes ({} scalar; empty vector with size 0 marker = absent)
  bool has_za, has_zb;
};
void PrintTo(const IntCase& p, std::ostream* os) {
  *os << "a=" << dims(p.a) << ":" << dtype_name(p.at) << " b=" << dims(p.b) << ":" << dtype_name(p.bt)
      << " a_zero_point=" << (p.has_za ? dims(p.za) : "none") << " b_zero_point=" << (p.has_zb ? dims(p.zb) : "none");
}

class MatMulIntegerFastVsRef : public ::testing::TestWithParam<IntCase> {};

TEST_P(MatMulIntegerFastVsRef, Exact) {
  const auto p = GetParam();
  auto n = make_node("MatMulInteger", 4, 1);
  std::vector<Value> in{random_tensor_of(p.at, p.a, 31, -128, 255), random_tensor_of(p.bt, p.b, 32, -128, 255),
                        p.has_za ? Value(random_tensor_of(p.at, p.za, 33, -20, 140)) : Value(),
                        p.has_zb ? Value(random_tensor_of(p.bt, p.zb, 34, -20, 140)) : Value()};
  expect_fast_matches_reference(n, 10, in, 0, 0);
  std::shared_ptr<void> state;
  const auto ref = run_op(n, 10, in, true)[0].tensor();
  for (int i = 0; i < 2; ++i)
    expect_tensors_near(run_cached(n, 10, in, {false, true, false, true}, &state)[0].tensor(), ref, 0, 0);
}

INSTANTIATE_TEST_SUITE_P(
    OddShapes, MatMulIntegerFastVsRef,
    ::testing::Values(IntCase{{13, 127}, {127, 13}, DType::kUInt8, DType::kInt8, {}, {}, true, true},
                      IntCase{{1, 1}, {1, 1}, DType::kUInt8, DType::kUInt8, {}, {}, true, true},
                      IntCase{{127, 13}, {13, 127}, DType::kInt8, DType::kInt8, {127}, {127}, true, true},
                      IntCase{{2, 13, 7}, {7, 5}, DType::kInt8, DType::kUInt8, {2, 13, 1}, {5}, true, true},
                      IntCase{{3, 13, 7}, {3, 7, 5}, DType::kUInt8, DType::kInt8, {}, {3, 1, 5}, false, true},
                      IntCase{{13}, {13, 7}, DType::kUInt8, DType::kInt8, {}, {}, false, false}));

TEST(MatMulQuant, MatMulIntegerExtremesAreExact) {
  // 255 * 127 pair sums overflow int16 (the non-VNNI oneDNN path): must still be exact
  const int64_t K = 127;
  Tensor a(DType::kUInt8, {2, K}), b(DType::kInt8, {K, 3});
  std::fill(a.data<uint8_t>(), a.data<uint8_t>() + a.numel(), 255);
  for (int64_t i = 0; i < b.numel(); ++i) b.data<int8_t>()[i] = i % 2 ? -128 : 127;
  auto n = make_node("MatMulInteger", 2, 1);
  const Tensor fast = out0(n, 10, {a, b}, false), ref = out0(n, 10, {a, b}, true);
  EXPECT_EQ(values<int32_t>(fast), values<int32_t>(ref));
  int64_t want = 0;
  for (int64_t k = 0; k < K; ++k) want += 255 * static_cast<int64_t>(b.data<int8_t>()[k * 3]);
  EXPECT_EQ(values<int32_t>(ref)[0], want);
  EXPECT_THROW(out0(n, 10, {Tensor(DType::kUInt16, {2, 2}), Tensor(DType::kInt8, {2, 2})}), InputError);
  auto z = make_node("MatMulInteger", 4, 1);
  EXPECT_THROW(out0(z, 10, {Tensor(DType::kUInt8, {2, 3}), Tensor(DType::kInt8, {3, 4}), Tensor(DType::kUInt8, {3}),
                            Tensor(DType::kInt8, {})}), InputError);
}

TEST(MatMulQuant, QLinearMatMulRequantizesLikeMlas) {
  auto n = make_node("QLinearMatMul", 8, 1);
  const Tensor a = random_tensor_of(DType::kUInt8, {13, 127}, 41, 0, 255), b = random_tensor_of(DType::kInt8, {127, 7}, 42, -128, 127);
  const std::vector<Value> in{a, scalar_f(0.02f), Tensor::from<uint8_t>({}, {128}), b,
                              random_tensor_of(DType::kFloat, {7}, 43, 0.001, 0.01), Tensor(DType::kInt8, {7}),
                              scalar_f(0.3f), Tensor::from<uint8_t>({}, {100})};
  expect_fast_matches_reference(n, 10, in, 0, 0);
  // one element by hand: float(acc) * (sa * sb / sy), ties to even, + zp, saturated
  const Tensor y = out0(n, 10, in);
  const float sb = in[4].tensor().data<float>()[2];
  int32_t acc = 0;
  for (int k = 0; k < 127; ++k) acc += (a.data<uint8_t>()[3 * 127 + k] - 128) * b.data<int8_t>()[k * 7 + 2];
  const float v = static_cast<float>(acc) * (0.02f * sb / 0.3f);
  EXPECT_EQ(values<uint8_t>(y)[3 * 7 + 2], std::clamp<int>(static_cast<int>(std::nearbyint(v)) + 100, 0, 255));
  // float8 (21) runs, float8 at 10 does not
  Tensor f8a(DType::kFloat8E4M3FN, {1, 2}), f8b(DType::kFloat8E4M3FN, {2, 1});
  for (auto* t : {&f8a, &f8b})
    for (int64_t i = 0; i < t->numel(); ++i) static_cast<uint8_t*>(t->raw())[i] = small_float_encode(DType::kFloat8E4M3FN, 2.0);
  const std::vector<Value> f8in{f8a, scalar_f(1.f), Tensor(DType::kFloat8E4M3FN, {}), f8b, scalar_f(1.f),
                                Tensor(DType::kFloat8E4M3FN, {}), scalar_f(2.f), Tensor(DType::kFloat8E4M3FN, {})};
  EXPECT_EQ(out0(n, 21, f8in).to_floats()[0], 4.f);  // (2*2 + 2*2) / 2
  EXPECT_THROW(out0(n, 10, f8in), InputError);
}

TEST(MatMulQuant, MatMulIntegerToFloatAndDynamicQuantizeMatMul) {
  auto n = make_node("MatMulIntegerToFloat", 7, 1, "com.microsoft");
  const Tensor a = random_tensor_of(DType::kUInt8, {13, 31}, 51, 0, 255), b = random_tensor_of(DType::kInt8, {31, 5}, 52, -128, 127);
  const std::vector<Value> in{a, b, scalar_f(0.01f), random_tensor_of(DType::kFloat, {5}, 53, 0.01, 0.1),
                              Tensor::from<uint8_t>({}, {7}), Tensor(DType::kInt8, {}), random_tensor_of(DType::kFloat, {5}, 54)};
  expect_fast_matches_reference(n, 1, in, 1e-6, 1e-6);
  auto d = make_node("DynamicQuantizeMatMul", 5, 1, "com.microsoft");
  const Tensor x = random_tensor_of(DType::kFloat, {13, 31}, 55);
  const std::vector<Value> din{x, b, random_tensor_of(DType::kFloat, {5}, 56, 0.01, 0.1), Tensor(DType::kInt8, {5}), Value()};
  expect_fast_matches_reference(d, 1, din, 1e-6, 1e-6);
  // close to the float product
  auto mm = make_node("MatMul", 2, 1);
  const Tensor bf = random_tensor_of(DType::kFloat, {31, 5}, 57);
  Tensor bq(DType::kInt8, {31, 5});
  for (int64_t i = 0; i < bq.numel(); ++i) bq.data<int8_t>()[i] = static_cast<int8_t>(std::nearbyint(bf.data<float>()[i] * 100));
  const Tensor yq = out0(d, 1, {x, bq, scalar_f(0.01f), Value(), Value()});
  const Tensor yf = out0(mm, 13, {x, bq.cast(DType::kFloat)});
  for (int64_t i = 0; i < yq.numel(); ++i) EXPECT_NEAR(yq.data<float>()[i], yf.data<float>()[i] * 0.01f, 0.05f);
}

// ============================================================================ Einsum

class EinsumFastVsRef : public ::testing::TestWithParam<std::tuple<std::string, Shape, Shape>> {};

TEST_P(EinsumFastVsRef, Float32) {
  const auto& [eq, sa, sb] = GetParam();
  auto n = make_node("Einsum", 2, 1);
  set_attr(n, "equation", eq);
  expect_fast_matches_reference(n, 12, {random_tensor_of(DType::kFloat, sa, 61), random_tensor_of(DType::kFloat, sb, 62)}, 1e-4, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Equations, EinsumFastVsRef,
    ::testing::Values(std::make_tuple("bij,bjk->bik", Shape{3, 13, 7}, Shape{3, 7, 127}),
                      std::make_tuple("ij,kj", Shape{13, 127}, Shape{1, 127}),
                      std::make_tuple("bhqd,bhkd->bhqk", Shape{2, 3, 5, 13}, Shape{2, 3, 7, 13}),
                      std::make_tuple("...ij,...jk->...ik", Shape{2, 3, 4}, Shape{2, 4, 5}),
                      std::make_tuple("i,i", Shape{127}, Shape{127}),
                      std::make_tuple("ij,jk->ki", Shape{13, 1}, Shape{1, 7}),
                      std::make_tuple("ii,ij->j", Shape{4, 4}, Shape{4, 3}),
                      std::make_tuple("...j,j->...", Shape{2, 1, 5}, Shape{5})));

TEST(MatMulQuant, EinsumReferenceSemantics) {
  auto n = make_node("Einsum", 1, 1);
  set_attr(n, "equation", std::string("ii->i"));  // diagonal
  EXPECT_EQ(out0(n, 12, {Tensor::from<int32_t>({2, 2}, {1, 2, 3, 4})}).to_int64s(), (std::vector<int64_t>{1, 4}));
  auto t = make_node("Einsum", 1, 1);
  set_attr(t, "equation", std::string("ij"));  // implicit output = ij: identity
  EXPECT_EQ(out0(t, 12, {Tensor::from<int64_t>({2, 2}, {1, 2, 3, 4})}).to_int64s(), (std::vector<int64_t>{1, 2, 3, 4}));
  auto ji = make_node("Einsum", 1, 1);
  set_attr(ji, "equation", std::string("ji"));  // implicit output sorted: ij, i.e. a transpose
  EXPECT_EQ(out0(ji, 12, {Tensor::from<int64_t>({2, 2}, {1, 2, 3, 4})}).to_int64s(), (std::vector<int64_t>{1, 3, 2, 4}));
  auto tr = make_node("Einsum", 1, 1);
  set_attr(tr, "equation", std::string("ii"));  // trace
  EXPECT_EQ(out0(tr, 12, {Tensor::from<uint8_t>({2, 2}, {200, 1, 1, 100})}).to_int64s()[0], 44);  // 300 mod 256
  auto bf = make_node("Einsum", 1, 1);
  set_attr(bf, "equation", std::string("ij->i"));
  EXPECT_THROW(out0(bf, 12, {Tensor(DType::kBFloat16, {2, 2})}), InputError);  // bfloat16 arrived in 28
  EXPECT_EQ(out0(bf, 28, {Tensor(DType::kBFloat16, {2, 2})}).dtype(), DType::kBFloat16);
  for (const char* bad : {"ij,jk->ik", "ij->ik", "i.j->i", "ij->ii", "i...j...->i", ""}) {
    auto b = make_node("Einsum", 1, 1);
    set_attr(b, "equation", std::string(bad));
    EXPECT_THROW(out0(b, 12, {Tensor(DType::kFloat, {2, 2})}), InputError) << bad;
  }
  auto mism = make_node("Einsum", 2, 1);
  set_attr(mism, "equation", std::string("ij,jk"));
  EXPECT_THROW(out0(mism, 12, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {4, 2})}), InputError);
}

// ============================================================================ Attention family

namespace {

// Plain softmax(Q K^T * scale + bias) V for one (q [Sq, D], k [T, D], v [T, Dv]).
std::vector<float> naive_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                   int64_t Sq, int64_t T, int64_t D, int64_t Dv, const std::vector<float>& bias) {
  std::vector<float> y(static_cast<size_t>(Sq * Dv), 0.f);
  for (int64_t i = 0; i < Sq; ++i) {
    std::vector<double> s(static_cast<size_t>(T));
    double mx = -INFINITY;
    for (int64_t j = 0; j < T; ++j) {
      double acc = 0;
      for (int64_t x = 0; x < D; ++x) acc += q[i * D + x] * k[j * D + x];
      s[j] = acc / std::sqrt(static_cast<double>(D)) + (bias.empty() ? 0.0 : bias[i * T + j]);
      mx = std::max(mx, s[j]);
    }
    double sum = 0;
    for (auto& e : s) sum += (e = std::exp(e - mx));
    for (int64_t j = 0; j < T; ++j)
      for (int64_t x = 0; x < Dv; ++x) y[i * Dv + x] += static_cast<float>(s[j] / sum * v[j * Dv + x]);
  }
  return y;
}

}  // namespace

TEST(MatMulQuant, AttentionMatchesNaiveWithCausalMask) {
  const Tensor q = random_tensor_of(DType::kFloat, {1, 1, 4, 8}, 71), k = random_tensor_of(DType::kFloat, {1, 1, 6, 8}, 72),
               v = random_tensor_of(DType::kFloat, {1, 1, 6, 5}, 73);
  auto n = make_node("Attention", 3, 1);
  const Tensor y = out0(n, 23, {q, k, v});
  const auto want = naive_attention(q.to_floats(), k.to_floats(), v.to_floats(), 4, 6, 8, 5, {});
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y.to_floats()[i], want[i], 1e-5);
  set_attr(n, "is_causal", int64_t{1});  // top-left aligned without a cache: query i sees keys 0..i
  std::vector<float> bias(24, 0.f);
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 6; ++j) bias[i * 6 + j] = -INFINITY;
  const auto causal_want = naive_attention(q.to_floats(), k.to_floats(), v.to_floats(), 4, 6, 8, 5, bias);
  const Tensor yc = out0(n, 23, {q, k, v});
  for (size_t i = 0; i < causal_want.size(); ++i) EXPECT_NEAR(yc.to_floats()[i], causal_want[i], 1e-5);
}

TEST(MatMulQuant, AttentionGqaEqualsRepeatedHeadsAnd3D) {
  const Tensor q = random_tensor_of(DType::kFloat, {2, 4, 3, 8}, 81), k = random_tensor_of(DType::kFloat, {2, 2, 5, 8}, 82),
               v = random_tensor_of(DType::kFloat, {2, 2, 5, 8}, 83);
  // K / V heads repeated interleaved: [h0, h0, h1, h1]
  auto repeat = [](const Tensor& t) {
    Tensor r(DType::kFloat, {2, 4, 5, 8});
    for (int b = 0; b < 2; ++b)
      for (int h = 0; h < 4; ++h)
        std::copy_n(t.data<float>() + (b * 2 + h / 2) * 40, 40, r.data<float>() + (b * 4 + h) * 40);
    return r;
  };
  auto n = make_node("Attention", 3, 1);
  expect_tensors_near(out0(n, 24, {q, k, v}), out0(n, 24, {q, repeat(k), repeat(v)}), 1e-6, 1e-6);
  // 3-D form: (B, S, H * D) with the head attributes gives the same values
  auto to3 = [](const Tensor& t) {  // (B, H, S, D) -> (B, S, H * D)
    const int64_t B = t.dim(0), H = t.dim(1), S = t.dim(2), D = t.dim(3);
    Tensor r(DType::kFloat, {B, S, H * D});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < D; ++d) r.data<float>()[((b * S + s) * H + h) * D + d] = t.data<float>()[((b * H + h) * S + s) * D + d];
    return r;
  };
  auto n3 = make_node("Attention", 3, 1);
  set_attr(n3, "q_num_heads", int64_t{4});
  set_attr(n3, "kv_num_heads", int64_t{2});
  expect_tensors_near(out0(n3, 23, {to3(q), to3(k), to3(v)}), to3(out0(n, 23, {q, k, v})), 1e-6, 1e-6);
  EXPECT_THROW(out0(n3, 25, {q, k, v}), InputError);  // head attributes with 4-D inputs (25)
  auto n3bad = make_node("Attention", 3, 1);
  set_attr(n3bad, "q_num_heads", int64_t{5});
  set_attr(n3bad, "kv_num_heads", int64_t{2});
  EXPECT_THROW(out0(n3bad, 23, {to3(q), to3(k), to3(v)}), InputError);  // 5 does not divide 32
  EXPECT_THROW(out0(n, 23, {q, random_tensor_of(DType::kFloat, {2, 3, 5, 8}, 1), random_tensor_of(DType::kFloat, {2, 3, 5, 8}, 2)}),
               InputError);  // 4 query heads, 3 kv heads
}

TEST(MatMulQuant, AttentionMasksPastAndFullyMaskedRows) {
  const Tensor q = random_tensor_of(DType::kFloat, {1, 2, 3, 4}, 91), k = random_tensor_of(DType::kFloat, {1, 2, 2, 4}, 92),
               v = random_tensor_of(DType::kFloat, {1, 2, 2, 4}, 93);
  const Tensor pk = random_tensor_of(DType::kFloat, {1, 2, 3, 4}, 94), pv = random_tensor_of(DType::kFloat, {1, 2, 3, 4}, 95);
  // bool mask (3, 5): row 1 all False -> zero output row
  Tensor mask(DType::kBool, {3, 5});
  for (int j = 0; j < 5; ++j) {
    mask.data<bool>()[j] = true;
    mask.data<bool>()[10 + j] = j < 2;
  }
  auto n = make_node("Attention", 6, 3);
  const auto out = run_op(n, 23, {q, k, v, mask, pk, pv}, true);
  const Tensor& y = out[0].tensor();
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 4}));
  for (int h = 0; h < 2; ++h)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(y.data<float>()[(h * 3 + 1) * 4 + x], 0.f);
  EXPECT_EQ(out[1].tensor().shape(), (Shape{1, 2, 5, 4}));  // present = past ++ new
  EXPECT_EQ(out[1].tensor().data<float>()[3 * 4], k.data<float>()[0]);
  // a mask shorter than the total length is padded with False
  Tensor short_mask(DType::kBool, {3, 4});
  std::fill(short_mask.data<bool>(), short_mask.data<bool>() + 12, true);
  Tensor full_mask(DType::kBool, {3, 5});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) full_mask.data<bool>()[i * 5 + j] = j < 4;
  expect_tensors_near(run_op(n, 23, {q, k, v, short_mask, pk, pv}, true)[0].tensor(),
                      run_op(n, 23, {q, k, v, full_mask, pk, pv}, true)[0].tensor(), 0, 0);
  // invalid: past_key without past_value, mask not broadcastable, bad mode
  EXPECT_THROW(run_op(n, 23, {q, k, v, Value(), pk, Value()}, true), InputError);
  EXPECT_THROW(run_op(n, 23, {q, k, v, Tensor(DType::kBool, {2, 5}), pk, pv}, true), InputError);
  auto bad = make_node("Attention", 3, 1);
  set_attr(bad, "qk_matmul_output_mode", int64_t{4});
  EXPECT_THROW(out0(bad, 23, {q, k, v}), InputError);
}

TEST(MatMulQuant, AttentionNonpadAndWindowVersions) {
  const Tensor q = random_tensor_of(DType::kFloat, {2, 1, 2, 4}, 101), k = random_tensor_of(DType::kFloat, {2, 1, 5, 4}, 102),
               v = random_tensor_of(DType::kFloat, {2, 1, 5, 4}, 103);
  auto n = make_node("Attention", 7, 1);
  set_attr(n, "is_causal", int64_t{1});
  const Tensor lens = Tensor::from<int64_t>({2}, {3, 5});
  const Tensor y = out0(n, 24, {q, k, v, Value(), Value(), Value(), lens});
  EXPECT_EQ(y.shape(), (Shape{2, 1, 2, 4}));
  // batch 0 (3 valid keys): bottom-right causal offset 3 - 2 = 1, query i sees keys 0..i + 1
  const auto qv = q.to_floats(), kv = k.to_floats(), vv = v.to_floats();
  const std::vector<float> q0(qv.begin(), qv.begin() + 8), k0(kv.begin(), kv.begin() + 20), v0(vv.begin(), vv.begin() + 20);
  std::vector<float> bias(10, 0.f);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j)
      if (j > i + 1 || j >= 3) bias[i * 5 + j] = -INFINITY;
  const auto want = naive_attention(q0, k0, v0, 2, 5, 4, 4, bias);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(y.data<float>()[i], want[i], 1e-5);
  EXPECT_THROW(out0(n, 23, {q, k, v, Value(), Value(), Value(), lens}), InputError);  // no nonpad input in 23
  auto w = make_node("Attention", 3, 1);
  set_attr(w, "left_window_size", int64_t{-2});
  EXPECT_THROW(out0(w, 25, {q, k, v}), InputError);
}

TEST(MatMulQuant, RotaryEmbeddingIdentityAndInterleave) {
  const Tensor x = random_tensor_of(DType::kFloat, {2, 3, 4, 8}, 111);  // (B, H, S, D)
  Tensor cos(DType::kFloat, {2, 4, 4}), sin(DType::kFloat, {2, 4, 4});
  std::fill(cos.data<float>(), cos.data<float>() + cos.numel(), 1.f);
  auto n = make_node("RotaryEmbedding", 3, 1);
  expect_tensors_near(out0(n, 23, {x, cos, sin}), x, 0, 0);
  // 90 degrees: (x1, x2) -> (-x2, x1) on the halves
  std::fill(cos.data<float>(), cos.data<float>() + cos.numel(), 0.f);
  std::fill(sin.data<float>(), sin.data<float>() + sin.numel(), 1.f);
  const Tensor y = out0(n, 23, {x, cos, sin});
  EXPECT_EQ(y.data<float>()[0], -x.data<float>()[4]);
  EXPECT_EQ(y.data<float>()[4], x.data<float>()[0]);
  set_attr(n, "interleaved", int64_t{1});
  const Tensor yi = out0(n, 23, {x, cos, sin});
  EXPECT_EQ(yi.data<float>()[0], -x.data<float>()[1]);
  EXPECT_EQ(yi.data<float>()[1], x.data<float>()[0]);
  auto p = make_node("RotaryEmbedding", 4, 1);
  set_attr(p, "rotary_embedding_dim", int64_t{4});
  const Tensor pos = Tensor::from<int64_t>({2, 4}, {0, 1, 2, 9, 0, 0, 0, 0});
  EXPECT_THROW(out0(p, 23, {x, Tensor(DType::kFloat, {9, 2}), Tensor(DType::kFloat, {9, 2}), pos}), InputError);  // index 9
  EXPECT_THROW(out0(p, 23, {x, Tensor(DType::kFloat, {10, 3}), Tensor(DType::kFloat, {10, 3}), pos}), InputError);  // width
  auto odd = make_node("RotaryEmbedding", 3, 1);
  set_attr(odd, "rotary_embedding_dim", int64_t{3});
  EXPECT_THROW(out0(odd, 23, {x, cos, sin}), InputError);
}

TEST(MatMulQuant, LinearAttentionLinearRuleIsCumulativeOuterProducts) {
  const int64_t B = 1, T = 3, H = 1, dk = 2, dv = 3;
  const Tensor q = random_tensor_of(DType::kFloat, {B, T, H * dk}, 121), k = random_tensor_of(DType::kFloat, {B, T, H * dk}, 122),
               v = random_tensor_of(DType::kFloat, {B, T, H * dv}, 123);
  auto n = make_node("LinearAttention", 3, 2);
  set_attr(n, "update_rule", std::string("linear"));
  set_attr(n, "q_num_heads", int64_t{1});
  set_attr(n, "kv_num_heads", int64_t{1});
  set_attr(n, "scale", 1.0f);
  const auto out = run_op(n, 27, {q, k, v}, true);
  std::vector<double> S(dk * dv, 0.0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t x = 0; x < dk; ++x)
      for (int64_t m = 0; m < dv; ++m) S[x * dv + m] += k.data<float>()[t * dk + x] * v.data<float>()[t * dv + m];
    for (int64_t m = 0; m < dv; ++m) {
      double o = 0;
      for (int64_t x = 0; x < dk; ++x) o += q.data<float>()[t * dk + x] * S[x * dv + m];
      EXPECT_NEAR(out[0].tensor().data<float>()[t * dv + m], o, 1e-5);
    }
  }
  EXPECT_EQ(out[1].tensor().shape(), (Shape{1, 1, 2, 3}));
  auto g = make_node("LinearAttention", 3, 2);
  set_attr(g, "update_rule", std::string("gated"));  // needs decay
  set_attr(g, "q_num_heads", int64_t{1});
  set_attr(g, "kv_num_heads", int64_t{1});
  EXPECT_THROW(run_op(g, 27, {q, k, v}, true), InputError);
  auto bad = make_node("LinearAttention", 3, 2);
  set_attr(bad, "update_rule", std::string("other"));
  set_attr(bad, "q_num_heads", int64_t{1});
  set_attr(bad, "kv_num_heads", int64_t{1});
  EXPECT_THROW(run_op(bad, 27, {q, k, v}, true), InputError);
}

TEST(MatMulQuant, SwiGLUFormulaAndShapes) {
  const Tensor a = random_tensor_of(DType::kFloat, {13}, 131), b = random_tensor_of(DType::kFloat, {13}, 132);
  auto n = make_node("SwiGLU", 2, 1);
  set_attr(n, "alpha", 1.702f);
  const Tensor y = out0(n, 28, {a, b});
  for (int i = 0; i < 13; ++i) {
    const float av = a.data<float>()[i];
    EXPECT_NEAR(y.data<float>()[i], av / (1 + std::exp(-1.702f * av)) * b.data<float>()[i], 1e-6);
  }
  EXPECT_THROW(out0(n, 28, {a, random_tensor_of(DType::kFloat, {1}, 1)}), InputError);
  EXPECT_THROW(out0(n, 28, {Tensor(DType::kInt32, {2}), Tensor(DType::kInt32, {2})}), InputError);
}

TEST(MatMulQuant, QLinearContribOpsMatchDefinitions) {
  auto add = make_node("QLinearAdd", 8, 1, "com.microsoft");
  const Tensor a = Tensor::from<uint8_t>({3}, {10, 200, 255}), b = Tensor::from<uint8_t>({1}, {50});
  const std::vector<Value> in{a, scalar_f(0.1f), Tensor::from<uint8_t>({}, {0}), b, scalar_f(0.2f),
                              Tensor::from<uint8_t>({}, {40}), scalar_f(0.5f), Tensor::from<uint8_t>({}, {5})};
  // (0.1 a + 0.2 (b - 40)) / 0.5 + 5: a = 10 -> 2 + 4 + 5 = 11; 200 -> 40 + 4 + 5 = 49; 255 -> 51 + 4 + 5 = 60
  EXPECT_EQ(values<uint8_t>(out0(add, 1, in)), (std::vector<uint8_t>{11, 49, 60}));
  auto gap = make_node("QLinearGlobalAveragePool", 5, 1, "com.microsoft");
  const Tensor x = Tensor::from<uint8_t>({1, 2, 2, 2}, {1, 2, 3, 4, 10, 10, 10, 12});
  const Tensor p = out0(gap, 1, {x, scalar_f(1.f), Tensor::from<uint8_t>({}, {0}), scalar_f(1.f), Tensor::from<uint8_t>({}, {0})});
  EXPECT_EQ(p.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values<uint8_t>(p), (std::vector<uint8_t>{2, 10}));  // 2.5 -> 2 (even), 10.5 -> 10
  auto cat = make_node("QLinearConcat", 5, 1, "com.microsoft");
  EXPECT_THROW(out0(cat, 1, {scalar_f(1.f), Tensor::from<uint8_t>({}, {0}), a, scalar_f(1.f), Tensor::from<uint8_t>({}, {0})}),
               InputError);  // axis is required
  EXPECT_THROW(out0(add, 1, {a, scalar_f(0.1f), Tensor::from<int8_t>({}, {0}), b, scalar_f(0.2f), Tensor::from<uint8_t>({}, {40}),
                             scalar_f(0.5f), Tensor::from<uint8_t>({}, {5})}),
               InputError);  // zero point type differs
}

TEST(MatMulQuant, MatMulNBitsStillDecodes) {
  // K = 16, N = 2, block 16: codes 8 + (k % 3), zero point 8, scales 0.5 and 1 -> w = (k % 3) * s
  auto n = make_node("MatMulNBits", 3, 1, "com.microsoft");
  set_attr(n, "K", int64_t{16});
  set_attr(n, "N", int64_t{2});
  set_attr(n, "bits", int64_t{4});
  set_attr(n, "block_size", int64_t{16});
  Tensor bq(DType::kUInt8, {2, 1, 8});
  for (int col = 0; col < 2; ++col)
    for (int j = 0; j < 8; ++j)
      bq.data<uint8_t>()[col * 8 + j] = static_cast<uint8_t>((8 + (2 * j) % 3) | ((8 + (2 * j + 1) % 3) << 4));
  const Tensor a = random_tensor_of(DType::kFloat, {3, 16}, 141);
  const Tensor y = out0(n, 1, {a, bq, Tensor::from<float>({2}, {0.5f, 1.f})});
  ASSERT_EQ(y.shape(), (Shape{3, 2}));
  for (int r = 0; r < 3; ++r)
    for (int col = 0; col < 2; ++col) {
      double want = 0;
      for (int k = 0; k < 16; ++k) want += a.data<float>()[r * 16 + k] * (k % 3) * (col ? 1.0 : 0.5);
      EXPECT_NEAR(y.data<float>()[r * 2 + col], want, 1e-5);
    }
}

TEST(MatMulQuant, AttentionFastMatchesReference) {
  // odd shapes, GQA, past, float / bool masks, causal, softcap and every qk_matmul_output mode
  const Tensor q = random_tensor_of(DType::kFloat, {2, 4, 13, 13}, 151), k = random_tensor_of(DType::kFloat, {2, 2, 127, 13}, 152),
               v = random_tensor_of(DType::kFloat, {2, 2, 127, 7}, 153);
  const Tensor pk = random_tensor_of(DType::kFloat, {2, 2, 1, 13}, 154), pv = random_tensor_of(DType::kFloat, {2, 2, 1, 7}, 155);
  const Tensor fmask = random_tensor_of(DType::kFloat, {1, 4, 13, 128}, 156), bmask = random_tensor_of(DType::kBool, {13, 100}, 157);
  for (int64_t mode = 0; mode < 4; ++mode)
    for (int causal = 0; causal < 2; ++causal)
      for (int mask = 0; mask < 3; ++mask) {
        auto n = make_node("Attention", 6, 4);
        set_attr(n, "qk_matmul_output_mode", mode);
        set_attr(n, "is_causal", static_cast<int64_t>(causal));
        if (mode == 1) set_attr(n, "softcap", 2.5f);
        std::vector<Value> in{q, k, v, mask == 0 ? Value() : mask == 1 ? Value(fmask) : Value(bmask), pk, pv};
        const auto fast = run_op(n, 23, in, false), ref = run_op(n, 23, in, true);
        for (size_t o = 0; o < 4; ++o) {
          const auto x = fast[o].tensor().to_doubles(), y = ref[o].tensor().to_doubles();
          ASSERT_EQ(x.size(), y.size());
          for (size_t i = 0; i < x.size(); ++i)
            if (x[i] != y[i])  // equal infinities from the masks pass here
              ASSERT_LE(std::fabs(x[i] - y[i]), 1e-5 + 1e-4 * std::fabs(y[i])) << "output " << o << " at " << i;
        }
      }
  // 3-D with one head and one query
  auto n3 = make_node("Attention", 3, 1);
  set_attr(n3, "q_num_heads", int64_t{1});
  set_attr(n3, "kv_num_heads", int64_t{1});
  expect_fast_matches_reference(n3, 23, {random_tensor_of(DType::kFloat, {1, 1, 13}, 158), random_tensor_of(DType::kFloat, {1, 127, 13}, 159),
                                         random_tensor_of(DType::kFloat, {1, 127, 1}, 160)}, 1e-4, 1e-5);
}
