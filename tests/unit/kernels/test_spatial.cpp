// SPDX-License-Identifier: Apache-2.0
// GridSample / AffineGrid (runtime/kernels/spatial.cpp): identity grids reproduce the input,
// padding modes, nearest rounding, version-specific mode names, AffineGrid values, bad shapes.
#include "../kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

onnx::NodeProto grid_sample_node(const std::string& mode, const std::string& pad, int64_t align) {
  auto n = make_node("GridSample", 2, 1);
  set_attr(n, "mode", mode);
  set_attr(n, "padding_mode", pad);
  set_attr(n, "align_corners", align);
  return n;
}

Tensor affine_identity_grid(int64_t n, int64_t h, int64_t w, int64_t align) {
  auto a = make_node("AffineGrid", 2, 1);
  set_attr(a, "align_corners", align);
  std::vector<float> theta;
  for (int64_t i = 0; i < n; ++i) theta.insert(theta.end(), {1, 0, 0, 0, 1, 0});
  return run_op(a, 20, {Tensor::from<float>({n, 2, 3}, theta), Tensor::from<int64_t>({4}, {n, 1, h, w})}, true)[0]
      .tensor();
}

}  // namespace

TEST(GridSampleKernel, IdentityGridReproducesInput) {
  for (int64_t align : {0, 1})
    for (const char* mode : {"linear", "nearest", "cubic"}) {
      SCOPED_TRACE(std::string(mode) + " align_corners=" + std::to_string(align));
      const Tensor x = random_tensor_of(DType::kFloat, {2, 3, 13, 7}, 11);
      const Tensor g = affine_identity_grid(2, 13, 7, align);
      auto n = grid_sample_node(mode, "zeros", align);
      const auto out = run_op(n, 22, {x, g}, true);
      expect_tensors_near(out[0].tensor(), x, 1e-5, 1e-5);
    }
}

TEST(GridSampleKernel, PaddingModesAndValues) {
  const Tensor x = Tensor::from<float>({1, 1, 1, 3}, {10, 20, 30});  // W = 3, H = 1
  // x (innermost) coordinates -1.5, -1, 0.25, 1.5 with y = 0; align_corners=1: pixel = (g + 1)
  const Tensor g = Tensor::from<float>({1, 1, 4, 2}, {-1.5f, 0, -1, 0, 0.25f, 0, 1.5f, 0});
  auto zeros = grid_sample_node("linear", "zeros", 1);
  // pixels -0.5, 0, 1.25, 2.5: -0.5 mixes 0 and 10, 2.5 mixes 30 and 0
  EXPECT_EQ(run_op(zeros, 22, {x, g}, true)[0].tensor().to_floats(), (std::vector<float>{5, 10, 22.5f, 15}));
  auto border = grid_sample_node("linear", "border", 1);
  EXPECT_EQ(run_op(border, 22, {x, g}, true)[0].tensor().to_floats(), (std::vector<float>{10, 10, 22.5f, 30}));
  auto refl = grid_sample_node("linear", "reflection", 1);
  // -0.5 reflects to 0.5 (15), 2.5 reflects to 1.5 (25)
  EXPECT_EQ(run_op(refl, 22, {x, g}, true)[0].tensor().to_floats(), (std::vector<float>{15, 10, 22.5f, 25}));
  // nearest rounds half to even: pixel 0.5 -> 0, 1.5 -> 2
  const Tensor h = Tensor::from<float>({1, 1, 2, 2}, {-0.5f, 0, 0.5f, 0});
  auto near = grid_sample_node("nearest", "zeros", 1);
  EXPECT_EQ(run_op(near, 22, {x, h}, true)[0].tensor().to_floats(), (std::vector<float>{10, 30}));
}

TEST(GridSampleKernel, VolumetricAndIntegerInputs) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 2, 3, 4, 5}, 4);
  // 3-D identity grid by hand (align_corners = 1): grid[d, h, w] = (w, h, d) normalised
  std::vector<float> g;
  for (int d = 0; d < 3; ++d)
    for (int h = 0; h < 4; ++h)
      for (int w = 0; w < 5; ++w) g.insert(g.end(), {w / 2.f - 1, h / 1.5f - 1, d - 1.f});
  auto n = grid_sample_node("linear", "zeros", 1);
  expect_tensors_near(run_op(n, 20, {x, Tensor::from<float>({1, 3, 4, 5, 3}, g)}, true)[0].tensor(), x, 1e-5, 1e-5);
  // integer input: interpolated in floating point, truncated on the way out (as Cast)
  const Tensor xi = Tensor::from<int32_t>({1, 1, 1, 2}, {0, 3});
  const Tensor gi = Tensor::from<float>({1, 1, 1, 2}, {0, 0});  // the middle: 1.5
  EXPECT_EQ(run_op(n, 20, {xi, gi}, true)[0].tensor().to_int64s(), (std::vector<int64_t>{1}));
}

TEST(GridSampleKernel, ModeNamesDependOnVersion) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 1, 3, 3}, 2);
  const Tensor g = affine_identity_grid(1, 3, 3, 0);
  auto v16 = grid_sample_node("bilinear", "zeros", 0);
  const auto a = run_op(v16, 16, {x, g}, true)[0].tensor();
  auto v20 = grid_sample_node("linear", "zeros", 0);
  expect_tensors_near(run_op(v20, 20, {x, g}, true)[0].tensor(), a);
  EXPECT_THROW(run_op(v16, 20, {x, g}, true), InputError);  // bilinear is a 16-only name
  EXPECT_THROW(run_op(v20, 16, {x, g}, true), InputError);  // linear is 20+
  auto bicubic = grid_sample_node("bicubic", "zeros", 0);
  EXPECT_NO_THROW(run_op(bicubic, 16, {x, g}, true));
}

TEST(GridSampleKernel, InvalidInputsAreInputErrors) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 1, 3, 3}, 2);
  auto n = grid_sample_node("linear", "zeros", 0);
  EXPECT_THROW(run_op(n, 20, {x, random_tensor_of(DType::kFloat, {1, 2, 2, 3}, 1)}, true), InputError);  // r = 3
  EXPECT_THROW(run_op(n, 20, {x, random_tensor_of(DType::kFloat, {2, 2, 2, 2}, 1)}, true), InputError);  // batch
  EXPECT_THROW(run_op(n, 20, {x, random_tensor_of(DType::kInt32, {1, 2, 2, 2}, 1)}, true), InputError);  // grid type
  auto v16 = grid_sample_node("bilinear", "zeros", 0);
  EXPECT_THROW(run_op(v16, 16, {random_tensor_of(DType::kFloat, {1, 1, 2, 2, 2}, 1),
                                random_tensor_of(DType::kFloat, {1, 1, 1, 1, 3}, 1)}, true),
               InputError);  // 5-D only from 20
  auto bad_pad = grid_sample_node("linear", "mirror", 0);
  EXPECT_THROW(run_op(bad_pad, 20, {x, random_tensor_of(DType::kFloat, {1, 2, 2, 2}, 1)}, true), InputError);
  Shape nine(11, 1);
  EXPECT_THROW(run_op(n, 20, {Tensor(DType::kFloat, nine), Tensor(DType::kFloat, Shape{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9})},
                      true),
               InputError);  // 9 spatial axes: 4^9 taps per output for cubic
  // an input without pixels reads zeros for every padding mode
  for (const char* pad : {"zeros", "border", "reflection"}) {
    auto e = grid_sample_node("linear", pad, 0);
    EXPECT_EQ(run_op(e, 20, {Tensor(DType::kFloat, {1, 1, 0, 3}), Tensor(DType::kFloat, {1, 2, 2, 2})}, true)[0]
                  .tensor()
                  .to_floats(),
              std::vector<float>(4, 0.f));
  }
  // far-out and non-finite grid values neither crash nor read out of bounds
  const Tensor far = Tensor::from<float>({1, 1, 3, 2}, {1e30f, -1e30f, INFINITY, NAN, -INFINITY, 3});
  for (const char* pad : {"zeros", "border", "reflection"})
    for (const char* mode : {"linear", "nearest", "cubic"}) {
      auto m = grid_sample_node(mode, pad, 0);
      EXPECT_NO_THROW(run_op(m, 22, {x, far}, true));
    }
}

TEST(AffineGridKernel, Values) {
  auto a = make_node("AffineGrid", 2, 1);
  // scale x by 2, shift y by 0.5; 1 x 2 x 3 output, align_corners = 0: x in {-2/3, 0, 2/3}, y in {-1/2, 1/2}
  const Tensor theta = Tensor::from<float>({1, 2, 3}, {2, 0, 0, 0, 1, 0.5f});
  const auto out = run_op(a, 20, {theta, Tensor::from<int64_t>({4}, {1, 1, 2, 3})}, true)[0].tensor();
  ASSERT_EQ(out.shape(), (Shape{1, 2, 3, 2}));
  const std::vector<float> want = {-4.f / 3, 0, 0, 0, 4.f / 3, 0, -4.f / 3, 1, 0, 1, 4.f / 3, 1};
  const auto got = out.to_floats();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  // 3-D with align_corners = 1: corners at -1 and 1
  auto b = make_node("AffineGrid", 2, 1);
  set_attr(b, "align_corners", int64_t{1});
  const Tensor t3 = Tensor::from<double>({1, 3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
  const auto g3 = run_op(b, 20, {t3, Tensor::from<int64_t>({5}, {1, 1, 2, 2, 2})}, true)[0].tensor();
  ASSERT_EQ(g3.shape(), (Shape{1, 2, 2, 2, 3}));
  ASSERT_EQ(g3.dtype(), DType::kDouble);
  const auto v = g3.to_doubles();
  EXPECT_EQ(std::vector<double>(v.begin(), v.begin() + 3), (std::vector<double>{-1, -1, -1}));
  EXPECT_EQ(std::vector<double>(v.end() - 3, v.end()), (std::vector<double>{1, 1, 1}));
}

TEST(AffineGridKernel, InvalidInputsAreInputErrors) {
  auto a = make_node("AffineGrid", 2, 1);
  const Tensor theta = random_tensor_of(DType::kFloat, {1, 2, 3}, 1);
  EXPECT_THROW(run_op(a, 20, {theta, Tensor::from<int64_t>({5}, {1, 1, 2, 2, 2})}, true), InputError);  // 3-D size
  EXPECT_THROW(run_op(a, 20, {theta, Tensor::from<int64_t>({4}, {2, 1, 2, 2})}, true), InputError);     // batch
  EXPECT_THROW(run_op(a, 20, {theta, Tensor::from<int64_t>({4}, {1, 1, -2, 2})}, true), InputError);    // negative
  EXPECT_THROW(run_op(a, 20, {theta, Tensor::from<int64_t>({3}, {1, 1, 2})}, true), InputError);        // length
  set_attr(a, "align_corners", int64_t{2});
  EXPECT_THROW(run_op(a, 20, {theta, Tensor::from<int64_t>({4}, {1, 1, 2, 2})}, true), InputError);
}
