// SPDX-License-Identifier: Apache-2.0
// Detection post-processing: NonMaxSuppression (ai.onnx 10, 11).
//
// Greedy NMS as the ONNX spec and its reference (onnx/reference/ops/op_non_max_suppression.py,
// itself onnxruntime's algorithm) define it: per batch and class, boxes whose score is above
// score_threshold (when given) are visited by descending score (equal scores: lower box index
// first); a box is kept unless its IoU with a box already kept for that class is strictly greater
// than iou_threshold; at most max_output_boxes_per_class are kept (absent or 0: none). The output
// lists [batch, class, box] in that order. Boxes are [y1, x1, y2, x2] (any two opposite corners)
// or, with center_point_box = 1, [x_center, y_center, width, height]. IoU is computed in float32
// with the reference's order of operations, so boundary cases (IoU == threshold) agree.
#include <algorithm>
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

void nms_validate(KernelContext& c) {
  const int64_t cpb = attr_int(c.node, "center_point_box", 0);
  if (cpb != 0 && cpb != 1) c.fail("attribute 'center_point_box' must be 0 or 1, got " + std::to_string(cpb));
  if (c.has(0)) {
    const Tensor& b = c.in(0);
    if (b.dtype() != DType::kFloat) c.fail("input 'boxes' must be float32, got " + dtype_name(b.dtype()));
    if (b.rank() != 3 || b.dim(2) != 4)
      c.fail("input 'boxes' must have shape [num_batches, spatial_dimension, 4], got " + shape_str(b.shape()));
  }
  if (c.has(1)) {
    const Tensor& s = c.in(1);
    if (s.dtype() != DType::kFloat) c.fail("input 'scores' must be float32, got " + dtype_name(s.dtype()));
    if (s.rank() != 3) c.fail("input 'scores' must have shape [num_batches, num_classes, spatial_dimension], got " + shape_str(s.shape()));
  }
  if (c.has(0) && c.has(1)) {
    const Tensor& b = c.in(0);
    const Tensor& s = c.in(1);
    if (b.dim(0) != s.dim(0) || b.dim(1) != s.dim(2))
      c.fail("boxes " + shape_str(b.shape()) + " and scores " + shape_str(s.shape()) +
             " disagree on num_batches or spatial_dimension");
  }
  auto scalar_check = [&](int i, const char* name, bool integer) {
    if (!c.has(i)) return;
    const Tensor& t = c.in(i);
    if (t.numel() > 1) c.fail(std::string("input '") + name + "' must be a scalar, got shape " + shape_str(t.shape()));
    if (integer ? !dtype_is_integer(t.dtype()) : !dtype_is_float(t.dtype()))
      c.fail(std::string("input '") + name + "' has type " + dtype_name(t.dtype()));
  };
  scalar_check(2, "max_output_boxes_per_class", true);
  scalar_check(3, "iou_threshold", false);
  scalar_check(4, "score_threshold", false);
  if (c.has(3) && c.in(3).numel() == 1) {
    const double iou = c.in(3).to_doubles()[0];
    if (!(iou >= 0 && iou <= 1)) c.fail("input 'iou_threshold' must be in [0, 1], got " + std::to_string(iou));
  }
}

// A box as the reference sees it: corner coordinates sorted, area.
struct NmsBox {
  float x_min, x_max, y_min, y_max, area;
};

NmsBox make_box(const float* b, bool center) {
  NmsBox r;
  if (!center) {
    r.x_min = std::min(b[1], b[3]);
    r.x_max = std::max(b[1], b[3]);
    r.y_min = std::min(b[0], b[2]);
    r.y_max = std::max(b[0], b[2]);
  } else {
    const float wh = b[2] / 2, hh = b[3] / 2;
    r.x_min = b[0] - wh;
    r.x_max = b[0] + wh;
    r.y_min = b[1] - hh;
    r.y_max = b[1] + hh;
  }
  r.area = (r.x_max - r.x_min) * (r.y_max - r.y_min);
  return r;
}

bool suppressed(const NmsBox& a, const NmsBox& b, float iou_threshold) {
  const float ix_min = std::max(a.x_min, b.x_min), ix_max = std::min(a.x_max, b.x_max);
  if (!(ix_max > ix_min)) return false;
  const float iy_min = std::max(a.y_min, b.y_min), iy_max = std::min(a.y_max, b.y_max);
  if (!(iy_max > iy_min)) return false;
  const float inter = (ix_max - ix_min) * (iy_max - iy_min);
  if (!(inter > 0)) return false;
  const float uni = a.area + b.area - inter;
  if (!(a.area > 0) || !(b.area > 0) || !(uni > 0)) return false;
  return inter / uni > iou_threshold;
}

void non_max_suppression(KernelContext& c) {
  nms_validate(c);
  const Tensor& boxes = c.in(0);
  const Tensor& scores = c.in(1);
  const bool center = attr_int(c.node, "center_point_box", 0) == 1;
  int64_t max_out = 0;
  if (c.has(2) && c.in(2).numel() == 1) max_out = std::max<int64_t>(c.in(2).to_int64s()[0], 0);
  float iou_threshold = 0.f;
  if (c.has(3) && c.in(3).numel() == 1) iou_threshold = c.in(3).to_floats()[0];
  const bool has_score_threshold = c.has(4) && c.in(4).numel() == 1;
  const float score_threshold = has_score_threshold ? c.in(4).to_floats()[0] : 0.f;
  const int64_t B = boxes.dim(0), S = boxes.dim(1), C = scores.dim(1);
  const float* bp = boxes.data<float>();
  const float* sp = scores.data<float>();
  std::vector<int64_t> out;
  std::vector<NmsBox> bx(S);
  std::vector<int64_t> cand;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < B && max_out > 0; ++b) {
    for (int64_t s = 0; s < S; ++s) bx[s] = make_box(bp + (b * S + s) * 4, center);
    for (int64_t cl = 0; cl < C; ++cl) {
      const float* cs = sp + (b * C + cl) * S;
      cand.clear();
      for (int64_t s = 0; s < S; ++s)
        if (!has_score_threshold || cs[s] > score_threshold) cand.push_back(s);
      // Descending score, NaN last, equal scores by ascending index (stable).
      std::stable_sort(cand.begin(), cand.end(), [&](int64_t i, int64_t j) {
        const float a = cs[i], d = cs[j];
        if (std::isnan(a)) return false;
        if (std::isnan(d)) return true;
        return a > d;
      });
      kept.clear();
      for (int64_t i : cand) {
        if (static_cast<int64_t>(kept.size()) >= max_out) break;
        bool keep = true;
        for (int64_t k : kept)
          if (suppressed(bx[i], bx[k], iou_threshold)) {
            keep = false;
            break;
          }
        if (!keep) continue;
        kept.push_back(i);
        out.insert(out.end(), {b, cl, i});
      }
    }
  }
  const int64_t n = static_cast<int64_t>(out.size() / 3);
  c.outputs[0] = Tensor::from<int64_t>({n, 3}, out);
}

}  // namespace

void register_detection_ops(OpRegistry& r) {
  r.add("", "NonMaxSuppression", {10, 11}, OpDef{non_max_suppression, nullptr, nms_validate});
}

}  // namespace qtool
