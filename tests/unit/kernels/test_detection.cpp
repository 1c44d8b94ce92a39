// SPDX-License-Identifier: Apache-2.0
// NonMaxSuppression (runtime/kernels/detection.cpp): the spec's examples, output order, the IoU
// boundary, both box formats, limits and thresholds, invalid inputs.
#include "../kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

// The spec's six boxes (two clusters of three and one far box), [y1, x1, y2, x2].
const std::vector<float> kBoxes = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f,
                                   0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101};
const std::vector<float> kScores = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};

std::vector<int64_t> nms(const std::vector<Value>& in, int64_t center = 0, int opset = 11) {
  auto n = make_node("NonMaxSuppression", static_cast<int>(in.size()), 1);
  if (center) set_attr(n, "center_point_box", center);
  const auto out = run_op(n, opset, in, true)[0].tensor();
  EXPECT_EQ(out.rank(), 2);
  EXPECT_EQ(out.dim(1), 3);
  return out.to_int64s();
}

}  // namespace

TEST(NonMaxSuppressionKernel, SuppressByIouAndScore) {
  const Tensor boxes = Tensor::from<float>({1, 6, 4}, kBoxes);
  const Tensor scores = Tensor::from<float>({1, 1, 6}, kScores);
  const auto max3 = Tensor::from<int64_t>({1}, {3});
  const auto iou = Tensor::from<float>({1}, {0.5f});
  EXPECT_EQ(nms({boxes, scores, max3, iou}), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  // score threshold 0.4 drops box 5
  EXPECT_EQ(nms({boxes, scores, max3, iou, Tensor::from<float>({1}, {0.4f})}),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0}));
  // at most 2 per class; version 10 behaves the same
  EXPECT_EQ(nms({boxes, scores, Tensor::from<int64_t>({1}, {2}), iou}, 0, 10), (std::vector<int64_t>{0, 0, 3, 0, 0, 0}));
  // no max_output_boxes_per_class (or 0): nothing selected
  EXPECT_TRUE(nms({boxes, scores}).empty());
  EXPECT_TRUE(nms({boxes, scores, Tensor::from<int64_t>({1}, {0}), iou}).empty());
}

TEST(NonMaxSuppressionKernel, CenterPointFormatGivesTheSameSelection) {
  std::vector<float> centers;
  for (size_t i = 0; i < kBoxes.size(); i += 4) {
    const float y1 = kBoxes[i], x1 = kBoxes[i + 1], y2 = kBoxes[i + 2], x2 = kBoxes[i + 3];
    centers.insert(centers.end(), {(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1});
  }
  const Tensor scores = Tensor::from<float>({1, 1, 6}, kScores);
  const auto max3 = Tensor::from<int64_t>({1}, {3});
  const auto iou = Tensor::from<float>({1}, {0.5f});
  EXPECT_EQ(nms({Tensor::from<float>({1, 6, 4}, centers), scores, max3, iou}, 1),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  // flipped corners are the same boxes
  std::vector<float> flipped = kBoxes;
  for (size_t i = 0; i < flipped.size(); i += 4) {
    std::swap(flipped[i], flipped[i + 2]);
    std::swap(flipped[i + 1], flipped[i + 3]);
  }
  EXPECT_EQ(nms({Tensor::from<float>({1, 6, 4}, flipped), scores, max3, iou}),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
}

TEST(NonMaxSuppressionKernel, OrderTiesAndIouBoundary) {
  // two classes, two batches; equal scores go by box index; IoU exactly at the threshold is kept
  const std::vector<float> b = {0, 0, 1, 1, 0, 0.5f, 1, 1.5f, 0, 2, 1, 3};  // box 1 overlaps box 0 with IoU 1/3
  std::vector<float> two(b);
  two.insert(two.end(), b.begin(), b.end());
  const Tensor boxes = Tensor::from<float>({2, 3, 4}, two);
  const Tensor scores = Tensor::from<float>({2, 2, 3}, {0.5f, 0.5f, 0.5f, 0.1f, 0.9f, 0.2f,  //
                                                        0.3f, 0.8f, 0.3f, 0.7f, 0.7f, 0.7f});
  const auto max9 = Tensor::from<int64_t>({1}, {9});
  EXPECT_EQ(nms({boxes, scores, max9, Tensor::from<float>({1}, {1.f / 3})}),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 1, 0, 1, 2, 0, 1, 0,  //
                                  1, 0, 1, 1, 0, 0, 1, 0, 2, 1, 1, 0, 1, 1, 1, 1, 1, 2}));
  // just below the IoU: box 1 is suppressed by the better of boxes 0 / 1
  EXPECT_EQ(nms({boxes, scores, max9, Tensor::from<float>({1}, {0.33f})}),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 2, 0, 1, 1, 0, 1, 2, 1, 0, 1, 1, 0, 2, 1, 1, 0, 1, 1, 2}));
}

TEST(NonMaxSuppressionKernel, InvalidInputsAreInputErrors) {
  auto n = make_node("NonMaxSuppression", 2, 1);
  const Tensor scores = Tensor::from<float>({1, 1, 6}, kScores);
  EXPECT_THROW(run_op(n, 11, {Tensor::from<float>({1, 6, 3}, std::vector<float>(18)), scores}, true), InputError);
  EXPECT_THROW(run_op(n, 11, {Tensor::from<float>({1, 5, 4}, std::vector<float>(20)), scores}, true), InputError);
  EXPECT_THROW(run_op(n, 11, {Tensor::from<float>({2, 6, 4}, std::vector<float>(48)), scores}, true), InputError);
  auto m = make_node("NonMaxSuppression", 4, 1);
  const Tensor boxes = Tensor::from<float>({1, 6, 4}, kBoxes);
  EXPECT_THROW(run_op(m, 11, {boxes, scores, Tensor::from<int64_t>({1}, {1}), Tensor::from<float>({1}, {1.5f})}, true),
               InputError);
  EXPECT_THROW(run_op(m, 11, {boxes, scores, Tensor::from<int64_t>({2}, {1, 2}), Tensor::from<float>({1}, {0.5f})}, true),
               InputError);
  set_attr(m, "center_point_box", int64_t{2});
  EXPECT_THROW(run_op(m, 11, {boxes, scores, Tensor::from<int64_t>({1}, {1}), Tensor::from<float>({1}, {0.5f})}, true),
               InputError);
  // NaN scores neither crash nor break the ordering
  auto k = make_node("NonMaxSuppression", 3, 1);
  const Tensor nan_scores = Tensor::from<float>({1, 1, 6}, {NAN, 0.5f, NAN, 0.9f, 0.1f, NAN});
  EXPECT_NO_THROW(run_op(k, 11, {boxes, nan_scores, Tensor::from<int64_t>({1}, {6})}, true));
}
