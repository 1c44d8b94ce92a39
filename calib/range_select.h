// SPDX-License-Identifier: Apache-2.0
// Range selection by the readers' outputs ("--method auto", issue 12 goal 6): for a tensor with
// several candidate ranges (calib/observers/auto.cpp), quantize it with each candidate (QDQ
// round trip: q = saturate(round_half_even(x / scale) + zero_point), as onnxruntime does) and run
// every node that reads it on the quantized copy, the other inputs left float. The candidate with
// the smallest sum over readers of ||y - y_q||^2 / ||y||^2 (relative squared error of the reader's
// float outputs, i.e. the reader's output SQNR) wins: a range is judged by what the next layer
// computes from it (a Conv sums many clipped or rounded inputs), not by the tensor's own error.
// Selection in the spirit of layer-output calibration objectives (Nagel et al. 2021, "A White Paper
// on Neural Network Quantization", sec. 3.5; NNCF / ORT's output-MSE range search).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "io/model.h"
#include "quant/qparams.h"

namespace qtool {

struct RangeSelectOptions {
  ActType act_type = ActType::kUInt8;  // the grid each candidate becomes (quant/qparams.h)
  int64_t max_samples = 64;            // the first samples of the calibration data are run
  int64_t max_batch = 16;
};

// Returns the chosen range of every tensor in `candidates` (ranges as [min, max] floats, each
// vector non-empty). Tensors whose readers cannot be run alone (only If/Loop/Scan bodies read them,
// readers without float outputs) or that are never produced keep their first candidate. Throws
// InputError when the data does not fit the model (as calibrate()).
std::map<std::string, Range> select_ranges_by_reader_output(const Model& model, Dataset& data,
                                                            const std::map<std::string, std::vector<Range>>& candidates,
                                                            const RangeSelectOptions& opts);

// The QDQ round trip of x on the grid of r (float32 in, float32 out, same shape).
Tensor fake_quantize(const Tensor& x, Range r, ActType type);

}  // namespace qtool
