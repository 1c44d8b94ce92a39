// SPDX-License-Identifier: Apache-2.0
// Quantization plans as JSON: the per-layer choice `qtool auto` makes and `qtool quantize --plan`
// replays exactly.
//   {"format": "qtool-quantization-plan", "version": 1,
//    "default": {"format": "int8", "symmetric": true, "group_size": 0},
//    "layers": {"Conv_3": {"format": "int4", "symmetric": false, "group_size": 0}, ...},
//    "exclude": ["Gemm_9"], "act_bits": 8}
// format is int8 | int4 | int2 | binary | ternary | fp16 | bf16 | float.
#pragma once
#include <string>

#include "quant/compress.h"

namespace qtool {

std::string plan_to_json(const WeightSpec& default_spec, const std::map<std::string, WeightSpec>& layers,
                         const std::vector<std::string>& exclude, int act_bits);
// Sets opts.plan (default spec), opts.layer_specs, opts.exclude, opts.act_bits. Throws InputError
// naming the file on a malformed plan.
void read_plan(const std::string& path, CompressOptions& opts);

}  // namespace qtool
