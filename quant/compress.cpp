// SPDX-License-Identifier: Apache-2.0
#include "quant/compress.h"

#include "core/suggest.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "quant/gptq_sequential.h"
#include "quant/quantize_model.h"

namespace qtool {

void validate(const CompressOptions& a) {
  if (!a.act_type.empty() && a.act_type != "uint8" && a.act_type != "int8" && a.act_type != "symmetric" &&
      a.act_type != "int8-asymmetric")
    throw InputError("--act-type must be uint8, int8, symmetric or int8-asymmetric, got '" + a.act_type + "'");
  if (!a.overflow_fix.empty() && a.overflow_fix != "pairs" && a.overflow_fix != "off")
    throw InputError("--overflow-fix must be pairs or off, got '" + a.overflow_fix + "'");
  if (a.target != "onnxruntime" && a.target != "openvino")
    throw InputError("--target must be onnxruntime or openvino, got '" + a.target + "'");
  if (a.act_bits != 0 && a.act_bits != 8 && a.act_bits != 32)
    throw InputError("--act-bits must be 8 (int8 activations) or 32 (float), got " + std::to_string(a.act_bits));
  if (a.rounding != "gptq" && a.rounding != "nearest")
    throw InputError("--rounding must be gptq or nearest, got '" + a.rounding + "'");
  if (a.format != "qdq" && a.format != "matmulnbits")
    throw InputError("--format must be qdq or matmulnbits, got '" + a.format + "'");
  if (a.format == "matmulnbits" && (a.plan.bits != 4 || a.plan.ternary || !a.plan.dtype.empty()))
    throw InputError("--format matmulnbits needs --bits 4");
  const auto known_ops = default_op_types();
  for (const auto& op : a.op_types)
    if (!known_ops.count(op)) {
      std::string list;
      for (const auto& k : known_ops) list += (list.empty() ? "" : ", ") + k;
      throw InputError("--op-types: cannot quantize '" + op + "' (supported: " + list + ")");
    }
  make_observer(a.method);
  if (!(a.percentile > 0 && a.percentile <= 100))
    throw InputError("--percentile must be in (0, 100], got " + std::to_string(a.percentile));
  if (a.prune_enabled) find_pruner(a.prune.pattern);
  if (a.plan.dtype.empty() && !a.plan.ternary && a.plan.bits != 8 && a.plan.bits != 4 && a.plan.bits != 2 &&
      a.plan.bits != 1)
    throw InputError("--bits " + std::to_string(a.plan.bits) + " is not supported (use 8, 4, 2 or 1)");
  if (!a.plan.dtype.empty() && a.plan.dtype != "fp16" && a.plan.dtype != "bf16")
    throw InputError("--dtype must be fp16 or bf16, got '" + a.plan.dtype + "'");
  const int64_t g = a.plan.group_size;
  if (g && g != 16 && g != 32 && g != 64 && g != 128)
    throw InputError("--group-size must be 16, 32, 64 or 128, got " + std::to_string(g));
}

CompressResult compress(const Model& model, const CompressOptions& a, Dataset* raw_data) {
  validate(a);
  std::unique_ptr<Dataset> checked;  // calibration data must be finite (calib/dataset.h)
  if (raw_data) {
    int64_t skipped = 0;
    checked = finite_samples(*raw_data, a.skip_nonfinite, &skipped);
    if (skipped) spdlog::warn("{}: skipped {} samples holding non-finite values", raw_data->describe(), skipped);
  }
  Dataset* data = checked.get();
  CompressResult res;
  PassContext ctx;
  WeightPlanOptions plan = a.plan;
  if (a.format == "matmulnbits") {
    if (!plan.group_size) plan.group_size = 32;  // MatMulNBits is always blocked along K
    ctx.options.matmulnbits = true;
  }
  apply_weight_plan(model, plan, ctx.options);
  const auto nodes = weighted_nodes(model);
  for (const auto& [name, spec] : a.layer_specs) {
    if (std::find(nodes.begin(), nodes.end(), name) == nodes.end())
      throw InputError("plan: no Conv/Gemm/MatMul node with an initializer weight named '" + name + "'" +
                       valid_names_hint(name, nodes));
    ctx.options.layer_weights[name] = spec;
    if (spec.format == "int4" || spec.group_size) ctx.options.target_opset = 21;
  }
  ctx.options.quantize_activations = a.act_bits ? a.act_bits == 8 : ctx.options.weights.format == "int8";
  ctx.options.target = a.target == "openvino" ? QdqTarget::kOpenVino : QdqTarget::kOnnxRuntime;
  const std::string act_type = a.act_type.empty() ? default_act_type(a.target) : a.act_type;
  ctx.options.act_type = parse_act_type(act_type);
  ctx.options.overflow_fix = a.overflow_fix != "off";  // empty: pairs
  if (ctx.options.target == QdqTarget::kOpenVino && ctx.options.act_type == ActType::kInt8 &&
      ctx.options.quantize_activations)
    spdlog::warn("--act-type int8 with --target openvino: OpenVINO 2026.4 computes int8 activations around Concat "
                 "wrongly (the default, symmetric, stores them as uint8 with zero point 128 for that reason)");
  ctx.options.exclude.insert(a.exclude.begin(), a.exclude.end());
  ctx.options.quantize_constants = !a.keep_float_constants;
  ctx.options.op_types = std::set<std::string>(a.op_types.begin(), a.op_types.end());
  ctx.options.input_shapes = a.input_shapes;
  for (const auto& name : a.exclude) {
    bool found = false;
    std::vector<std::string> labels;
    for (const auto& n : model.graph().node()) {
      labels.push_back(n.name().empty() ? n.output(0) : n.name());
      found |= labels.back() == name;
    }
    if (!found)
      throw InputError("--exclude: no node named '" + name + "' in " + model.path.string() + valid_names_hint(name, labels));
  }

  Model prepared = prepare_for_quantization(model, ctx);
  if (a.prune_enabled) {
    if (ctx.options.weights.format == "binary")
      throw InputError("--sparsity with --bits 1: binary weights have no zero level, the pruned weights would not stay zero");
    PruneOptions popts = a.prune;
    popts.exclude.insert(popts.exclude.end(), a.exclude.begin(), a.exclude.end());
    res.pruning = prune_model(prepared, popts);
  }
  res.calib_note = "none: weights only, activations stay float";
  if (a.table && ctx.options.quantize_activations) {
    // A table made for another model names none of this one's tensors: that is an error, not a
    // silent weight-only model.
    const auto wanted = qdq_activation_tensors(prepared, ctx.options);
    std::vector<std::string> missing;
    for (const auto& t : wanted)
      if (!a.table->ranges.count(t)) missing.push_back(t);
    if (!wanted.empty() && missing.size() == wanted.size())
      throw InputError("calibration table: has a range for none of the " + std::to_string(wanted.size()) +
                       " activation tensors this model needs (e.g. '" + wanted[0] +
                       "'); was it computed for another model? (qtool calibrate writes one for this model)");
    if (!missing.empty())
      spdlog::warn("calibration table: no range for {} of {} activation tensors (e.g. '{}'); their nodes keep float "
                   "activations", missing.size(), wanted.size(), missing[0]);
  }
  if (a.table) {
    res.table = *a.table;
    ctx.table = &res.table;
    res.calib_note = "from a calibration table (" + res.table.method + ", " + std::to_string(res.table.samples) + " samples)";
  } else if (data && ctx.options.quantize_activations) {
    CalibrateOptions copts;
    copts.method = a.method;
    copts.observer.percentile = a.percentile;
    copts.observer.unsigned_levels = asymmetric_grid(ctx.options.act_type);
    copts.act_type = ctx.options.act_type;
    copts.skip_nonfinite = a.skip_nonfinite;
    res.table = calibrate(prepared, *data, qdq_activation_tensors(prepared, ctx.options), copts);
    ctx.table = &res.table;
    res.calib_note = a.method + " on " + data->describe();
  } else if (ctx.options.quantize_activations) {
    spdlog::warn("no calibration data: weights are quantized, activations stay float");
  } else {
    res.calib_note = "activations stay float (weight-only; --act-bits 8 for int8 activations)";
  }
  std::map<std::string, QuantizedWeight> gptq_weights;
  res.rounding_note = "nearest";
  res.gptq_nodes = low_bit_nodes(prepared, ctx.options);
  if (!res.gptq_nodes.empty() && a.rounding == "gptq") {
    if (data) {
      gptq_weights = gptq_sequential(prepared, *data, ctx.options, {}, a.prune_enabled ? &res.pruning.masks : nullptr);
      ctx.quantized = &gptq_weights;
      res.rounding_note = "GPTQ on " + data->describe();
    } else {
      spdlog::warn("no calibration data: low-bit weights use round-to-nearest (GPTQ needs calibration inputs)");
    }
  }
  res.model = quantize_prepared(std::move(prepared), ctx);  // its weights are not needed twice
  res.model.path = model.path;
  res.options = ctx.options;
  res.stats = ctx.stats;
  res.activations = ctx.table && ctx.options.quantize_activations && ctx.stats.activations_quantized > 0;
  return res;
}

std::string default_act_type(const std::string& target) { return target == "openvino" ? "symmetric" : "uint8"; }

std::string describe_weights(const WeightSpec& s) {
  if (s.format == "fp16" || s.format == "bf16" || s.format == "float") return s.format;
  std::string d = s.format;
  if (s.format != "binary" && s.format != "ternary") d += s.symmetric ? " symmetric" : " asymmetric";
  d += s.group_size ? ", blocks of " + std::to_string(s.group_size) + " input channels" : ", per output channel";
  return d;
}

std::string default_suffix(const QuantOptions& o) {
  const std::string f = o.weights.format;
  return f == "binary" || f == "ternary" || f == "fp16" || f == "bf16" ? f : "int" + std::to_string(o.bits);
}

double code_bits_per_weight(const PassStats& stats) {
  int64_t params = 0;
  double bits = 0;
  for (const auto& [fmt, n] : stats.weight_params) {
    params += n;
    bits += static_cast<double>(n) * (fmt == "int8" ? 8 : fmt == "int4" ? 4 : fmt == "int2" || fmt == "ternary" ? 2
                                      : fmt == "binary" ? 1 : 16);
  }
  return params ? bits / params : 0.0;
}

}  // namespace qtool
