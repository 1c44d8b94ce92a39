// SPDX-License-Identifier: Apache-2.0
// oneDNN-backed kernels against plain reference loops (fixed seeds, odd shapes).
#include <gtest/gtest.h>

#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {

// Direct convolution reference (NCHW, OIHW, groups, strides, pads, dilations).
Tensor ref_conv(const Tensor& x, const Tensor& w, const Tensor& b, int group, int stride, int pad, int dil) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (wd + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
  Tensor y(DType::kFloat, {n, o, oh, ow});
  const int64_t cg = c / group, og = o / group;
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b.data<float>()[oc];
          const int64_t g = oc / og;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                int64_t yy = i * stride - pad + u * dil, xx = j * stride - pad + v * dil;
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                acc += x.data<float>()[((b0 * c + g * cg + ic) * h + yy) * wd + xx] *
                       w.data<float>()[((oc * cg + ic) * kh + u) * kw + v];
              }
          y.data<float>()[((b0 * o + oc) * oh + i) * ow + j] = static_cast<float>(acc);
        }
  return y;
}

void expect_close(const Tensor& a, const Tensor& b, float tol = 1e-4f) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data<float>()[i], y = b.data<float>()[i];
    ASSERT_LE(std::fabs(x - y), tol * (1 + std::fabs(y))) << "at " << i;
  }
}

}  // namespace

struct ConvCase {
  int64_t n, c, h, w, o, k;
  int group, stride, pad, dil;
};
void PrintTo(const ConvCase& p, std::ostream* os) {
  *os << "x=[" << p.n << "," << p.c << "," << p.h << "," << p.w << "] o=" << p.o << " k=" << p.k
      << " group=" << p.group << " stride=" << p.stride << " pad=" << p.pad << " dil=" << p.dil;
}

class ConvVsReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvVsReference, Matches) {
  const ConvCase p = GetParam();
  const std::string text = R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[N,C,H,W] x) => (float[N,O,P,Q] y) {
      y = Conv<group = )" + std::to_string(p.group) + ", strides = [" + std::to_string(p.stride) + "," +
                           std::to_string(p.stride) + "], pads = [" + std::to_string(p.pad) + "," + std::to_string(p.pad) +
                           "," + std::to_string(p.pad) + "," + std::to_string(p.pad) + "], dilations = [" +
                           std::to_string(p.dil) + "," + std::to_string(p.dil) + R"(]>(x, w, b)
    })";
  Model m = test::parse_model(text.c_str());
  Tensor w = test::random_tensor({p.o, p.c / p.group, p.k, p.k}, 2), b = test::random_tensor({p.o}, 3);
  m.set_initializer("w", w);
  m.set_initializer("b", b);
  Tensor x = test::random_tensor({p.n, p.c, p.h, p.w}, 1);
  Executor exec(m);
  auto out = exec.run({{"x", x}});
  expect_close(out.at("y"), ref_conv(x, w, b, p.group, p.stride, p.pad, p.dil));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvVsReference,
                         ::testing::Values(ConvCase{1, 3, 13, 13, 8, 3, 1, 1, 1, 1},     // plain
                                           ConvCase{2, 6, 7, 11, 6, 3, 6, 2, 1, 1},      // depthwise, stride 2
                                           ConvCase{1, 4, 9, 9, 6, 3, 2, 1, 2, 2},       // grouped, dilated
                                           ConvCase{3, 1, 1, 1, 1, 1, 1, 1, 0, 1},       // 1x1x1
                                           ConvCase{1, 5, 27, 31, 13, 5, 1, 3, 2, 1}));  // odd sizes

TEST(Kernels, MatMulBroadcastMatchesReference) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[A,B,M,K] a, float[B,K,N] b) => (float[A,B,M,N] y) { y = MatMul(a, b) })");
  Tensor a = test::random_tensor({2, 3, 5, 7}, 4), b = test::random_tensor({3, 7, 13}, 5);
  auto out = Executor(m).run({{"a", a}, {"b", b}}).at("y");
  Tensor ref(DType::kFloat, {2, 3, 5, 13});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int r = 0; r < 5; ++r)
        for (int c = 0; c < 13; ++c) {
          double acc = 0;
          for (int k = 0; k < 7; ++k) acc += a.data<float>()[((i * 3 + j) * 5 + r) * 7 + k] * b.data<float>()[(j * 7 + k) * 13 + c];
          ref.data<float>()[((i * 3 + j) * 5 + r) * 13 + c] = static_cast<float>(acc);
        }
  expect_close(out, ref);
}

TEST(Kernels, GemmTransposeAndBias) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[M,K] a) => (float[M,N] y) { y = Gemm<transB = 1, alpha = 2.0>(a, w, c) })");
  Tensor a = test::random_tensor({3, 4}, 6), w = test::random_tensor({5, 4}, 7), c = test::random_tensor({5}, 8);
  m.set_initializer("w", w);
  m.set_initializer("c", c);
  auto y = Executor(m).run({{"a", a}}).at("y");
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) {
      double acc = 0;
      for (int k = 0; k < 4; ++k) acc += a.data<float>()[i * 4 + k] * w.data<float>()[j * 4 + k];
      EXPECT_NEAR(y.data<float>()[i * 5 + j], 2 * acc + c.data<float>()[j], 1e-5);
    }
}

TEST(Kernels, MaxPoolCeilMode) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,1,5,5] x) => (float[1,1,3,3] y) { y = MaxPool<kernel_shape = [2,2], strides = [2,2], ceil_mode = 1>(x) })");
  Tensor x(DType::kFloat, {1, 1, 5, 5});
  for (int i = 0; i < 25; ++i) x.data<float>()[i] = static_cast<float>(i);
  auto y = Executor(m).run({{"x", x}}).at("y");
  ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  const std::vector<float> want{6, 8, 9, 16, 18, 19, 21, 23, 24};
  EXPECT_EQ(y.to_floats(), want);
}

TEST(Kernels, QuantizeDequantizePerAxis) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,3] x) => (float[2,3] y) {
      q = QuantizeLinear<axis = 1>(x, s, z)
      y = DequantizeLinear<axis = 1>(q, s, z)
    })");
  m.set_initializer("s", Tensor::from<float>({3}, {0.1f, 0.5f, 1.f}));
  m.set_initializer("z", Tensor::from<int8_t>({3}, {0, 0, 0}));
  Tensor x = Tensor::from<float>({2, 3}, {0.04f, 0.26f, 2.5f, -0.15f, -100.f, 3.5f});
  auto y = Executor(m).run({{"x", x}}).at("y").to_floats();
  // 0.04/0.1 = 0.4 -> 0; 0.26/0.5 = 0.52 -> 1; 2.5 -> 2 (half to even); -1.5 -> -2; -200 -> -128; 3.5 -> 4
  const std::vector<float> want{0.f, 0.5f, 2.f, -0.2f, -64.f, 4.f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << i;
}

TEST(Executor, HookSeesEveryIntermediate) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2] x) => (float[2] y) { a = Relu(x)
      b = Neg(a)
      y = Abs(b) })");
  Executor exec(m);
  std::vector<std::string> seen;
  exec.set_hook([&](const std::string& name, const Tensor&) { seen.push_back(name); });
  exec.run({{"x", Tensor::from<float>({2}, {-1.f, 2.f})}});
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "y"}));
}

TEST(Executor, RejectsWrongInputShape) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,3] x) => (float[1,3] y) { y = Relu(x) })");
  Executor exec(m);
  EXPECT_THROW(exec.run({{"x", Tensor(DType::kFloat, {1, 4})}}), InputError);
}

TEST(Executor, ListsEveryUnsupportedOp) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2] x) => (float[2] y) { a = Relu(x)
      b = NoSuchOpA(a)
      c = NoSuchOpA(b)
      y = NoSuchOpB(c) })");
  auto bad = find_unsupported_ops(m);
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("NoSuchOpA"), std::string::npos);
  EXPECT_NE(bad[1].find("NoSuchOpB"), std::string::npos);
}
