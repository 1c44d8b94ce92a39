// SPDX-License-Identifier: Apache-2.0
// Weight formats: how one group of weights (one output channel, or one block of `group_size`
// input channels of it) maps to integer codes and back. Every format decodes the same way,
//   w ~ (code - zero) * scale,
// so one DequantizeLinear (int8/int4) or one small decode subgraph (2-bit, binary, ternary) in the
// written file reproduces exactly what the quantizer chose.
//
//   int8 / int4 / int2  uniform grid. Symmetric: codes [-(2^(b-1)-1), 2^(b-1)-1], zero 0
//                       (int8 [-127,127], int4 [-7,7], int2 [-1,1]). Asymmetric: codes [0, 2^b-1],
//                       integer zero point. Scale from the group's range; below 8 bits the range is
//                       shrunk to the clipping ratio (1.0 .. 0.5) with the least squared error.
//   binary              XNOR-Net (Rastegari et al., ECCV 2016): w ~ alpha * sign(w), alpha = mean|w|.
//                       codes {0,1}, zero 0.5, scale 2 alpha.
//   ternary             TWN (Li & Liu, 2016): threshold delta = 0.7 mean|w|, alpha = mean of |w| above
//                       delta; w ~ alpha * {-1, 0, +1}. codes {0,1,2}, zero 1, scale alpha.
// Formats register by name in quant/weight_format.cpp (one factory per file in quant/formats/).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qtool {

struct GroupParams {
  float scale = 1.f;
  float zero = 0.f;       // in code units (an integer for int formats)
  float threshold = 0.f;  // ternary only: |w| <= threshold encodes to 0
};

class WeightFormat {
 public:
  virtual ~WeightFormat() = default;
  virtual std::string name() const = 0;  // "int4", "binary", ...
  virtual int bits() const = 0;          // storage bits per weight
  virtual int32_t code_min() const = 0;
  virtual int32_t code_max() const = 0;
  // Codes are signed (INT8/INT4 storage, zero 0) rather than unsigned with a zero point.
  virtual bool signed_codes() const { return code_min() < 0; }
  // Parameters for one group from its n float values (n >= 1).
  virtual GroupParams fit(const float* w, int64_t n) const = 0;
  virtual int32_t encode(float w, const GroupParams& p) const = 0;
  float decode(int32_t code, const GroupParams& p) const { return (static_cast<float>(code) - p.zero) * p.scale; }
};

// Throws InputError naming the known formats when `name` is unknown.
// `symmetric` applies to the uniform formats (int8/int4/int2).
std::unique_ptr<WeightFormat> make_weight_format(const std::string& name, bool symmetric);
std::vector<std::string> weight_format_names();

// Factories, one per file in quant/formats/.
std::unique_ptr<WeightFormat> make_uniform_format(int bits, bool symmetric);
std::unique_ptr<WeightFormat> make_binary_format();
std::unique_ptr<WeightFormat> make_ternary_format();

// Sum of squared errors of a group under params p (for clipping searches and tests).
double group_sse(const WeightFormat& f, const float* w, int64_t n, const GroupParams& p);

}  // namespace qtool
