// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "core/error.h"
#include "io/npy.h"
#include "prune/prune.h"
#include "quant/pass.h"

namespace qtool {

bool parse_nm(const std::string& pattern, int& n, int& m) {
  auto colon = pattern.find(':');
  if (colon == std::string::npos) return false;
  try {
    size_t a = 0, b = 0;
    n = std::stoi(pattern.substr(0, colon), &a);
    m = std::stoi(pattern.substr(colon + 1), &b);
    if (a != colon || b != pattern.size() - colon - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  return n >= 1 && n < m && m <= 64;
}

PrunerFn find_pruner(const std::string& pattern) {
  int n = 0, m = 0;
  if (pattern == "unstructured") return prune_unstructured;
  if (pattern == "channel") return prune_channels;
  if (parse_nm(pattern, n, m)) return prune_nm;
  throw InputError("unknown pruning pattern '" + pattern + "' (known: unstructured, N:M such as 2:4, channel)");
}

std::vector<PrunableWeight> prunable_weights(const Model& model, const PruneOptions& opts) {
  std::vector<PrunableWeight> out;
  for (const auto& n : model.graph().node()) {
    if (n.op_type() != "Conv" && n.op_type() != "Gemm" && n.op_type() != "MatMul") continue;
    if (n.input_size() < 2) continue;
    auto* w = model.find_initializer(n.input(1));
    if (!w || w->data_type() != onnx::TensorProto::FLOAT || w->dims_size() < 2) continue;
    const std::string label = n.name().empty() ? n.output(0) : n.name();
    if (std::find(opts.exclude.begin(), opts.exclude.end(), label) != opts.exclude.end()) continue;
    int axis = 0;
    if (n.op_type() == "MatMul") axis = 1;
    if (n.op_type() == "Gemm") {
      axis = 0;
      for (const auto& a : n.attribute())
        if (a.name() == "transB") axis = a.i() ? 0 : 1;
    }
    if (w->dims_size() != 2 && axis == 1) continue;  // batched MatMul weights
    out.push_back({&n, label, n.input(1), axis});
  }
  return out;
}

double layer_sparsity(const PruneOptions& opts, const std::string& label) {
  auto it = opts.sparsity_map.find(label);
  return it == opts.sparsity_map.end() ? opts.sparsity : it->second;
}

PruneReport prune_model(Model& model, const PruneOptions& opts) {
  if (!(opts.sparsity >= 0 && opts.sparsity < 1))
    throw InputError("--sparsity must be in [0, 1), got " + std::to_string(opts.sparsity));
  if (opts.scope != "layer" && opts.scope != "global")
    throw InputError("--scope must be layer or global, got '" + opts.scope + "'");
  PrunerFn fn = find_pruner(opts.pattern);
  std::vector<std::string> labels;
  for (const auto& n : model.graph().node()) labels.push_back(n.name().empty() ? n.output(0) : n.name());
  auto known = [&](const std::string& l) { return std::find(labels.begin(), labels.end(), l) != labels.end(); };
  for (const auto& e : opts.exclude)
    if (!known(e)) throw InputError("--exclude: no node named '" + e + "' in " + model.path.string());
  for (const auto& [l, s] : opts.sparsity_map) {
    if (!known(l)) throw InputError("sparsity map: no node named '" + l + "' in " + model.path.string());
    if (!(s >= 0 && s < 1)) throw InputError("sparsity map: '" + l + "' has sparsity " + std::to_string(s) + " outside [0, 1)");
  }
  PruneReport report;
  // Weights computed from constants (e.g. ConstantOfShape, Reshape of a weight) become
  // initializers first, so they are pruned like any other.
  PassContext fold;
  fold_constants(model, fold);
  auto count = [&]() {
    int64_t total = 0;
    for (const auto& t : model.graph().initializer()) {
      int64_t e = 1;
      for (auto d : t.dims()) e *= d;
      total += e;
    }
    return total;
  };
  report.dense_params_before = count();
  fn(model, opts, report);
  report.dense_params_after = count();
  return report;
}

void save_masks(const PruneReport& report, const std::string& path) {
  if (report.masks.empty()) throw InputError("no masks to save: channel pruning removes weights instead of masking them");
  write_npz(path, report.masks);
}

}  // namespace qtool
