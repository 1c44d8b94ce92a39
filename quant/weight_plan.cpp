// SPDX-License-Identifier: Apache-2.0
#include "quant/weight_plan.h"

#include <algorithm>

#include "core/error.h"

namespace qtool {

namespace {
std::string label_of(const onnx::NodeProto& n) { return n.name().empty() ? n.output(0) : n.name(); }
}  // namespace

WeightSpec weight_spec_for_bits(int bits, int symmetric, int64_t group_size) {
  WeightSpec s;
  switch (bits) {
    case 8: s.format = "int8"; break;
    case 4: s.format = "int4"; break;
    case 2: s.format = "int2"; break;
    case 1: s.format = "binary"; break;
    case 16: s.format = "fp16"; return s;
    case 32: s.format = "float"; return s;
    default: throw InputError("unsupported weight bit width " + std::to_string(bits) + " (use 8, 4, 2, 1, 16 or 32)");
  }
  s.symmetric = symmetric < 0 ? bits == 8 : symmetric != 0;
  if (group_size && bits < 4)
    throw InputError("--group-size applies to 8- and 4-bit weights; " + std::to_string(bits) +
                     "-bit weights are per output channel");
  if (bits == 1) s.symmetric = true;
  s.group_size = group_size;
  return s;
}

std::vector<std::string> weighted_nodes(const Model& model) {
  std::vector<std::string> out;
  for (const auto& n : model.graph().node())
    if ((n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul") && n.input_size() > 1 &&
        model.find_initializer(n.input(1)))
      out.push_back(label_of(n));
  return out;
}

void apply_weight_plan(const Model& model, const WeightPlanOptions& plan, QuantOptions& opts) {
  if (plan.group_size && plan.group_size != 16 && plan.group_size != 32 && plan.group_size != 64 &&
      plan.group_size != 128)
    throw InputError("--group-size must be 16, 32, 64 or 128, got " + std::to_string(plan.group_size));
  if (!plan.dtype.empty()) {
    if (plan.dtype != "fp16" && plan.dtype != "bf16")
      throw InputError("--dtype must be fp16 or bf16, got '" + plan.dtype + "'");
    opts.weights = WeightSpec{plan.dtype, true, 0};
    opts.bits = 16;
  } else if (plan.ternary) {
    opts.weights = WeightSpec{"ternary", true, 0};
    if (plan.group_size) throw InputError("--group-size does not apply to --ternary (per output channel)");
    opts.bits = 2;
  } else {
    if (plan.bits != 8 && plan.bits != 4 && plan.bits != 2 && plan.bits != 1)
      throw InputError("--bits " + std::to_string(plan.bits) + " is not supported (use 8, 4, 2 or 1)");
    opts.weights = weight_spec_for_bits(plan.bits, plan.symmetric, plan.group_size);
    opts.bits = plan.bits;
  }
  const auto nodes = weighted_nodes(model);
  opts.layer_weights.clear();
  if (plan.keep_first_last_bits && !nodes.empty()) {
    const WeightSpec s = weight_spec_for_bits(plan.keep_first_last_bits, plan.symmetric, 0);
    opts.layer_weights[nodes.front()] = s;
    opts.layer_weights[nodes.back()] = s;
  }
  for (const auto& [name, bits] : plan.layer_bits) {
    if (std::find(nodes.begin(), nodes.end(), name) == nodes.end())
      throw InputError("--layer-bits: no Conv/Gemm/MatMul node with an initializer weight named '" + name + "'");
    try {
      opts.layer_weights[name] = weight_spec_for_bits(bits, plan.symmetric, bits >= 4 && bits <= 8 ? plan.group_size : 0);
    } catch (const InputError& e) {
      throw InputError("--layer-bits " + name + "=" + std::to_string(bits) + ": " + e.what());
    }
  }
  bool needs_21 = opts.weights.format == "int4" || opts.weights.group_size;
  for (const auto& [name, s] : opts.layer_weights) needs_21 |= s.format == "int4" || s.group_size;
  opts.target_opset = needs_21 ? 21 : 13;
}

std::vector<std::string> low_bit_nodes(const Model& model, const QuantOptions& opts) {
  std::vector<std::string> out;
  for (const auto& label : weighted_nodes(model)) {
    if (opts.exclude.count(label)) continue;
    const WeightSpec& s = opts.layer_weights.count(label) ? opts.layer_weights.at(label) : opts.weights;
    if (s.format == "int4" || s.format == "int2" || s.format == "ternary") out.push_back(label);
  }
  return out;
}

}  // namespace qtool
