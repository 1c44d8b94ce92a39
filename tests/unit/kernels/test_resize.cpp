// SPDX-License-Identifier: Apache-2.0
// Resize / Upsample (runtime/kernels/resize.cpp): the float32 fast path against the reference
// kernel on odd shapes, hand-computed values for each version's semantics, integer rounding and
// saturation, exact nearest copies, and invalid attributes / inputs.
#include "../kernel_test_util.h"
#include "runtime/op_registry.h"

using namespace qtool;
using namespace qtool::test;

namespace {

onnx::NodeProto resize_node(const std::string& mode, const std::string& ctm = "half_pixel") {
  auto n = make_node("Resize", 4, 1);
  set_attr(n, "mode", mode);
  set_attr(n, "coordinate_transformation_mode", ctm);
  return n;
}

// Inputs X, roi (absent), scales, sizes with the unused one absent.
std::vector<Value> with_scales(const Tensor& x, const std::vector<float>& s) {
  return {x, Value(), Tensor::from<float>({static_cast<int64_t>(s.size())}, s), Value()};
}
std::vector<Value> with_sizes(const Tensor& x, const std::vector<int64_t>& s) {
  return {x, Value(), Value(), Tensor::from<int64_t>({static_cast<int64_t>(s.size())}, s)};
}

std::vector<float> floats_of(const Value& v) { return v.tensor().to_floats(); }

}  // namespace

TEST(ResizeKernel, FastMatchesReferenceOnOddShapes) {
  struct Case {
    Shape shape;
    std::string mode, ctm;
    std::vector<float> scales;      // empty: use sizes
    std::vector<int64_t> sizes;
  };
  const std::vector<Case> cases = {
      {{1, 3, 13, 13}, "nearest", "asymmetric", {1, 1, 2, 2}, {}},
      {{2, 5, 13, 7}, "nearest", "half_pixel", {1, 1, 1.7f, 0.6f}, {}},
      {{1, 1, 1, 127}, "linear", "half_pixel", {1, 1, 3, 0.5f}, {}},
      {{1, 13, 7, 9}, "linear", "align_corners", {}, {1, 13, 13, 1}},
      {{1, 2, 13, 13}, "linear", "pytorch_half_pixel", {}, {1, 2, 1, 27}},
      {{3, 1, 5, 6}, "linear", "asymmetric", {1, 1, 2.5f, 2}, {}},
      {{1, 4, 9, 11}, "nearest", "tf_half_pixel_for_nn", {1, 1, 0.5f, 1.3f}, {}},
      {{2, 3, 7, 5, 4}, "linear", "half_pixel", {1, 1, 1, 2, 3}, {}},   // 5-D, last two axes
      {{13, 8}, "linear", "half_pixel", {}, {27, 3}},                   // 2-D
      {{1, 3, 4, 4}, "nearest", "align_corners", {}, {1, 3, 127, 1}},
  };
  uint32_t seed = 1;
  for (const auto& k : cases) {
    SCOPED_TRACE(shape_str(k.shape) + " " + k.mode + " " + k.ctm);
    const Tensor x = random_tensor_of(DType::kFloat, k.shape, seed++, -3, 3);
    auto n = resize_node(k.mode, k.ctm);
    const auto in = k.scales.empty() ? with_sizes(x, k.sizes) : with_scales(x, k.scales);
    expect_fast_matches_reference(n, 19, in, 1e-5, 1e-5);
  }
}

TEST(ResizeKernel, AlignCornersLinearExactValues) {
  // exactly representable bilinear values, through the fast path
  const Tensor x = Tensor::from<float>({1, 1, 2, 2}, {0, 4, 8, 12});
  auto n = resize_node("linear", "align_corners");
  const auto out = run_op(n, 19, with_sizes(x, {1, 1, 3, 3}), false);
  EXPECT_EQ(floats_of(out[0]), (std::vector<float>{0, 2, 4, 4, 6, 8, 8, 10, 12}));
}

TEST(ResizeKernel, LinearHalfPixelValues) {
  // 1-D [0, 10] upsampled 2x: x_orig = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (edges clamp)
  const Tensor x = Tensor::from<float>({2}, {0, 10});
  auto n = resize_node("linear");
  const auto out = run_op(n, 13, with_scales(x, {2}), true);
  EXPECT_EQ(floats_of(out[0]), (std::vector<float>{0, 2.5f, 7.5f, 10}));
}

TEST(ResizeKernel, NearestModes) {
  const Tensor x = Tensor::from<float>({4}, {1, 2, 3, 4});
  // asymmetric, scale 0.5 on 4 -> out 2 at x_orig 0, 2; scale 4/3 on 4 -> 5 at 0, .75, 1.5, 2.25, 3
  auto run = [&](const std::string& nm, float scale) {
    auto n = resize_node("nearest", "asymmetric");
    set_attr(n, "nearest_mode", nm);
    return floats_of(run_op(n, 13, with_sizes(x, {static_cast<int64_t>(4 * scale)}), true)[0]);
  };
  EXPECT_EQ(run("round_prefer_floor", 1.25f), (std::vector<float>{1, 2, 3, 3, 4}));  // 0 .8 1.6 2.4 3.2
  EXPECT_EQ(run("floor", 1.25f), (std::vector<float>{1, 1, 2, 3, 4}));
  EXPECT_EQ(run("ceil", 1.25f), (std::vector<float>{1, 2, 3, 4, 4}));
  // ties: 3 outputs from 4 with asymmetric -> x_orig = 0, 4/3, 8/3; half_pixel 2 from 4 -> .5, 2.5
  auto tie = [&](const std::string& nm) {
    auto n = resize_node("nearest", "half_pixel");
    set_attr(n, "nearest_mode", nm);
    return floats_of(run_op(n, 13, with_sizes(x, {2}), true)[0]);
  };
  EXPECT_EQ(tie("round_prefer_floor"), (std::vector<float>{1, 3}));
  EXPECT_EQ(tie("round_prefer_ceil"), (std::vector<float>{2, 4}));
}

TEST(ResizeKernel, Resize10AndUpsampleUseAsymmetricSimpleNearest) {
  const Tensor x = Tensor::from<float>({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  auto up9 = make_node("Upsample", 2, 1);
  set_attr(up9, "mode", std::string("nearest"));
  const auto s = Tensor::from<float>({4}, {1, 1, 2, 2});
  const auto out9 = run_op(up9, 9, {x, s}, true);
  EXPECT_EQ(out9[0].tensor().shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(floats_of(out9[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                                    4, 4, 5, 5, 6, 6}));
  // Upsample-7: scales attribute, same result; fast and reference agree
  auto up7 = make_node("Upsample", 1, 1);
  set_attr(up7, "scales", std::vector<float>{1, 1, 2, 2});
  EXPECT_EQ(floats_of(run_op(up7, 7, {x}, false)[0]), floats_of(out9[0]));
  // Resize-10 downsampling along the last axis (scale 2/3): x_orig = 0, 1.5 -> ceil -> 0, 2
  auto r10 = make_node("Resize", 2, 1);
  const auto out10 = run_op(r10, 10, {x, Tensor::from<float>({4}, {1, 1, 1, 0.6667f})}, true);
  EXPECT_EQ(out10[0].tensor().shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(floats_of(out10[0]), (std::vector<float>{1, 3, 4, 6}));
  // Resize-10 linear is asymmetric: [1, 2, 3] x2 -> 1, 1.5, 2, 2.5, 3, 3
  auto r10l = make_node("Resize", 2, 1);
  set_attr(r10l, "mode", std::string("linear"));
  const auto lin = run_op(r10l, 10, {Tensor::from<float>({3}, {1, 2, 3}), Tensor::from<float>({1}, {2})}, true);
  EXPECT_EQ(floats_of(lin[0]), (std::vector<float>{1, 1.5f, 2, 2.5f, 3, 3}));
}

TEST(ResizeKernel, IntegerOutputsRoundHalfToEvenAndSaturate) {
  // linear 1-D, asymmetric x2: midpoints 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half to even)
  const Tensor x = Tensor::from<int8_t>({4}, {0, 1, 2, 3});
  auto n = resize_node("linear", "asymmetric");
  const auto out = run_op(n, 13, with_scales(x, {2}), true);
  EXPECT_EQ(out[0].tensor().to_int64s(), (std::vector<int64_t>{0, 0, 1, 2, 2, 2, 3, 3}));
  // cubic overshoot on a step saturates for uint8 instead of wrapping
  const Tensor u = Tensor::from<uint8_t>({6}, {0, 0, 0, 255, 255, 255});
  auto c = resize_node("cubic");
  const auto cu = run_op(c, 13, with_scales(u, {3}), true)[0].tensor().to_int64s();
  for (int64_t v : cu) {
    EXPECT_GE(v, 0);
    EXPECT_LE(v, 255);
  }
  EXPECT_EQ(cu.front(), 0);
  EXPECT_EQ(cu.back(), 255);
}

TEST(ResizeKernel, NearestCopiesInt64Exactly) {
  const int64_t big = (int64_t{1} << 60) + 1;  // not representable in double
  const Tensor x = Tensor::from<int64_t>({2}, {big, -big});
  auto n = resize_node("nearest");
  EXPECT_EQ(run_op(n, 19, with_scales(x, {2}), true)[0].tensor().to_int64s(),
            (std::vector<int64_t>{big, big, -big, -big}));
  const Tensor b = Tensor::from<bool>({2}, {true, false});
  EXPECT_EQ(run_op(n, 19, with_scales(b, {1.5f}), true)[0].tensor().to_int64s(), (std::vector<int64_t>{1, 1, 0}));
}

TEST(ResizeKernel, CubicAndAntialiasMatchKnownValues) {
  // 4x4 [[1..16]] -> 2x2 with the antialias (triangle of width 2 / scale) filter, as onnx.reference
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i + 1);
  const Tensor x = Tensor::from<float>({1, 1, 4, 4}, v);
  auto n = resize_node("linear");
  set_attr(n, "antialias", int64_t{1});
  const auto out = floats_of(run_op(n, 18, with_scales(x, {1, 1, 0.5f, 0.5f}), false)[0]);
  const std::vector<float> want = {4.125f, 5.875f, 11.125f, 12.875f};
  ASSERT_EQ(out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[i], want[i], 1e-5);
  // cubic at an integral source coordinate is the sample itself (scale 1 along H, 2 along W,
  // asymmetric: even outputs hit input samples)
  auto c = resize_node("cubic", "asymmetric");
  const auto cu = floats_of(run_op(c, 19, with_scales(x, {1, 1, 1, 2}), true)[0]);
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(cu[r * 8 + 2 * k], v[r * 4 + k]);
}

TEST(ResizeKernel, TfCropAndResizeExtrapolates) {
  const Tensor x = Tensor::from<float>({1, 3}, {10, 20, 30});
  auto n = resize_node("linear", "tf_crop_and_resize");
  set_attr(n, "extrapolation_value", 7.f);
  // roi over the last axis [-0.5, 1.5], 4 outputs: x_orig = -1, 1/3, 5/3, 3 (-1 and 3 are outside)
  const auto out = floats_of(run_op(
      n, 13, {x, Tensor::from<float>({4}, {0, -0.5f, 1, 1.5f}), Value(), Tensor::from<int64_t>({2}, {1, 4})}, false)[0]);
  const std::vector<float> want = {7, 40.f / 3, 80.f / 3, 7};
  ASSERT_EQ(out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[i], want[i], 1e-5);
}

TEST(ResizeKernel, AxesAndKeepAspectRatio) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 2, 4, 6}, 3);
  auto n = resize_node("nearest");
  set_attr(n, "axes", std::vector<int64_t>{2, 3});
  set_attr(n, "keep_aspect_ratio_policy", std::string("not_larger"));
  const auto out = run_op(n, 18, with_sizes(x, {8, 8}), false);
  EXPECT_EQ(out[0].tensor().shape(), (Shape{1, 2, 5, 8}));  // scale min(2, 4/3): 4*4/3 = 5.33 -> 5
  auto m = resize_node("nearest");
  set_attr(m, "axes", std::vector<int64_t>{-1, 2});
  set_attr(m, "keep_aspect_ratio_policy", std::string("not_smaller"));
  EXPECT_EQ(run_op(m, 18, with_sizes(x, {3, 3}), true)[0].tensor().shape(), (Shape{1, 2, 3, 5}));
}

TEST(ResizeKernel, HalfPixelSymmetricOnlyFrom19) {
  const Tensor x = Tensor::from<float>({4}, {1, 2, 3, 4});
  auto n = resize_node("linear", "half_pixel_symmetric");
  EXPECT_THROW(run_op(n, 18, with_scales(x, {0.6f}), true), InputError);
  // 4 * 0.6 = 2.4 -> 2 outputs; the offset centres them: x_orig = 2/3 and 7/3 -> 5/3 and 10/3
  const auto out = floats_of(run_op(n, 19, with_scales(x, {0.6f}), true)[0]);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(out[0], 5.f / 3, 1e-5);
  EXPECT_NEAR(out[1], 10.f / 3, 1e-5);
}

TEST(ResizeKernel, InvalidInputsAreInputErrors) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 1, 4, 4}, 5);
  const auto scales = Tensor::from<float>({4}, {1, 1, 2, 2});
  const auto sizes = Tensor::from<int64_t>({4}, {1, 1, 8, 8});
  auto n = resize_node("linear");
  EXPECT_THROW(run_op(n, 13, {x, Value(), scales, sizes}, true), InputError);       // both
  EXPECT_THROW(run_op(n, 13, {x, Value(), Value(), Value()}, true), InputError);    // neither
  EXPECT_THROW(run_op(n, 13, with_scales(x, {2, 2}), true), InputError);            // wrong length
  EXPECT_THROW(run_op(n, 13, with_scales(x, {1, 1, 0, 2}), true), InputError);      // zero scale
  EXPECT_THROW(run_op(n, 13, with_sizes(x, {1, 1, -1, 2}), true), InputError);      // negative size
  EXPECT_THROW(run_op(n, 13, with_scales(x, {1, 1, 1e30f, 1e30f}), true), InputError);  // overflow
  auto bad_mode = resize_node("bicubic");
  EXPECT_THROW(run_op(bad_mode, 13, with_scales(x, {1, 1, 2, 2}), true), InputError);
  auto bad_ctm = resize_node("linear", "corners");
  EXPECT_THROW(run_op(bad_ctm, 13, with_scales(x, {1, 1, 2, 2}), true), InputError);
  auto bad_nm = resize_node("nearest");
  set_attr(bad_nm, "nearest_mode", std::string("round"));
  EXPECT_THROW(run_op(bad_nm, 13, with_scales(x, {1, 1, 2, 2}), true), InputError);
  auto dup = resize_node("nearest");
  set_attr(dup, "axes", std::vector<int64_t>{2, -2});
  EXPECT_THROW(run_op(dup, 18, with_scales(x, {2, 2}), true), InputError);
  auto crop = resize_node("linear", "tf_crop_and_resize");
  EXPECT_THROW(run_op(crop, 13, with_scales(x, {1, 1, 2, 2}), true), InputError);  // no roi
  auto cubic10 = make_node("Resize", 2, 1);
  set_attr(cubic10, "mode", std::string("cubic"));
  EXPECT_THROW(run_op(cubic10, 10, {x, scales}, true), InputError);
  auto up = make_node("Upsample", 2, 1);
  EXPECT_THROW(run_op(up, 9, {x, Tensor::from<float>({4}, {1, 1, 0.5f, 2})}, true), InputError);
  auto up7 = make_node("Upsample", 1, 1);
  EXPECT_THROW(run_op(up7, 7, {x}, true), InputError);  // scales attribute missing
  // validation alone (as passes call it) catches attribute errors without inputs
  EXPECT_THROW(validate_node(bad_mode, 13, {nullptr, nullptr, nullptr, nullptr}), InputError);
}

TEST(ResizeKernel, EmptyOutputsBuildNoTables) {
  // an extent of 0 next to a huge one: the output is empty, nothing is allocated for the huge axis
  const Tensor x = random_tensor_of(DType::kFloat, {2, 3}, 1);
  for (const char* mode : {"nearest", "linear", "cubic"}) {
    auto n = resize_node(mode);
    for (bool ref : {true, false}) {
      const auto out = run_op(n, 19, with_sizes(x, {0, int64_t{1} << 40}), ref);
      EXPECT_EQ(out[0].tensor().shape(), (Shape{0, int64_t{1} << 40}));
    }
  }
}

TEST(ResizeKernel, RegisteredAtEverySinceVersion) {
  const auto& reg = OpRegistry::instance();
  for (int v : {10, 11, 13, 18, 19}) EXPECT_EQ(reg.find("", "Resize", v).version, v);
  EXPECT_EQ(reg.find("", "Resize", 28).version, 19);
  for (int v : {7, 9, 10}) EXPECT_EQ(reg.find("", "Upsample", v).version, v);
  EXPECT_EQ(reg.find("", "Upsample", 8).version, 7);
}
