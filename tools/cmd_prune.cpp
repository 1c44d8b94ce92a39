// SPDX-License-Identifier: Apache-2.0
// qtool prune MODEL --sparsity S [--pattern unstructured|N:M|channel] [--scope layer|global]
//   [--exclude NODE,...] [--sparsity-map map.json] [--save-masks masks.npz] [-o OUT]
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/json_file.h"
#include "prune/prune.h"
#include "prune/sensitivity.h"
#include "prune/sparse_storage.h"
#include "runtime/executor.h"
#include "runtime/value_shapes.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

struct PruneArgs {
  std::string model, out, map, masks, data, labels, write_map;
  bool sensitivity = false, allocate = false;
  std::vector<double> levels{0.3, 0.5, 0.7, 0.8, 0.9, 0.95};
  PruneOptions opts;
  std::vector<std::string> input_shapes;
  DataOptions data_opts;
};

std::map<std::string, double> read_sparsity_map(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "sparsity map");
  const nlohmann::json& layers = j.contains("layers") ? j["layers"] : j;  // {"layers": {...}} or a plain object
  if (!layers.is_object()) throw InputError(path + ": expected an object {\"node\": sparsity, ...}");
  std::map<std::string, double> out;
  for (auto it = layers.begin(); it != layers.end(); ++it) {
    if (!it.value().is_number()) throw InputError(path + ": sparsity of '" + it.key() + "' must be a number");
    out[it.key()] = it.value().get<double>();
  }
  return out;
}

std::string file_bytes(const Model& m) {
  std::string bytes;
  m.proto.SerializeToString(&bytes);
  return bytes;
}

void run_prune(PruneArgs a) {
  Model model = load_model(a.model);
  if (a.sensitivity || a.allocate) require_supported(model);  // only these run the model
  a.opts.input_shapes = parse_input_shapes(a.input_shapes);
  PruneOptions opts = a.opts;
  if (!a.map.empty()) opts.sparsity_map = read_sparsity_map(a.map);
  if ((a.sensitivity || a.allocate) && a.data.empty())
    throw InputError("--sensitivity and --allocate need --data (and --labels for top-1; SQNR vs the model otherwise)");
  if (a.allocate && !a.map.empty()) throw InputError("give --allocate or --sparsity-map, not both");
  if (a.sensitivity || a.allocate) {
    auto data = open_data(a.data, model_input_specs(model), a.data_opts);
    std::vector<int64_t> labels;
    if (!a.labels.empty()) labels = read_labels(a.labels);
    SensitivityTable table = measure_sensitivity(model, *data, labels, a.levels, opts);
    std::cout << table.to_text();
    if (!a.allocate) return;
    opts.sparsity_map = allocate_sparsity(table, opts.sparsity);
    fs::path map_path = a.write_map;
    if (map_path.empty()) {
      const fs::path base = a.out.empty() ? fs::path(a.model).parent_path() / (fs::path(a.model).stem().string() + ".pruned")
                                          : fs::path(a.out).replace_extension("");
      map_path = base.string() + ".sparsity.json";
    }
    nlohmann::ordered_json j;
    j["method"] = "sensitivity threshold allocation (Han et al. 2015; Distiller sensitivity pruning)";
    j["target_sparsity"] = opts.sparsity;
    j["metric"] = table.metric;
    j["layers"] = opts.sparsity_map;
    write_file_atomic(map_path, j.dump(2) + "\n");
    std::cout << "allocation for " << opts.sparsity * 100 << "% overall sparsity -> " << map_path.string() << "\n";
    for (const auto& [node, sp] : opts.sparsity_map) {
      char b[96];
      std::snprintf(b, sizeof b, "  %-28s %5.1f%%\n", node.c_str(), 100 * sp);
      std::cout << b;
    }
  }
  fs::path out = a.out.empty() ? fs::path(a.model).parent_path() / (fs::path(a.model).stem().string() + ".pruned.onnx")
                               : fs::path(a.out);
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(out, a.model, ec))
    throw InputError(out.string() + ": refusing to overwrite the input model; choose another output path with -o");
  const std::string before = file_bytes(model);
  Model pruned = model;
  PruneReport report = prune_model(pruned, opts);
  SparseStorageStats sparse = store_sparse_initializers(pruned);
  check_model(pruned, out.string() + " (pruned)");
  save_model(pruned, out);
  if (!a.masks.empty()) save_masks(report, a.masks);
  const std::string after = file_bytes(pruned);

  std::ostringstream s;
  s << "qtool prune: " << a.model << " -> " << out.string() << "\n";
  s << "  pattern:         " << opts.pattern << (opts.pattern == "unstructured" ? ", scope " + opts.scope : "") << "\n";
  s << "  layers:          (node, weight elements before -> after, sparsity)\n";
  char buf[160];
  for (const auto& l : report.layers) {
    std::snprintf(buf, sizeof buf, "    %-28s %9lld -> %9lld  %5.1f%%\n", l.node.c_str(), static_cast<long long>(l.params_before),
                  static_cast<long long>(l.params_after), 100.0 * l.sparsity());
    s << buf;
  }
  for (const auto& k : report.skipped) s << "  skipped:         " << k << "\n";
  std::snprintf(buf, sizeof buf, "  dense params:    %lld -> %lld (%.1f%% fewer)\n", static_cast<long long>(report.dense_params_before),
                static_cast<long long>(report.dense_params_after),
                100.0 * (1.0 - static_cast<double>(report.dense_params_after) / std::max<int64_t>(1, report.dense_params_before)));
  s << buf;
  if (sparse.tensors) s << "  sparse storage:  " << sparse.tensors << " tensors as sparse_initializer\n";
  s << size_lines(model, pruned);
  if (!a.masks.empty()) s << "  masks:           " << a.masks << " (" << report.masks.size() << " tensors, 1 = kept)\n";
  std::cout << s.str();
}

}  // namespace

void add_prune_command(CLI::App& app) {
  auto args = std::make_shared<PruneArgs>();
  auto* cmd = app.add_subcommand("prune", "magnitude pruning: unstructured, N:M or whole channels (graph rewired)");
  cmd->add_option("model", args->model, "input .onnx model")->required();
  cmd->add_option("--sparsity", args->opts.sparsity, "fraction of weights (or filters, for channel) to remove (default 0.5)");
  cmd->add_option("--pattern", args->opts.pattern, "unstructured (default), N:M such as 2:4, or channel");
  cmd->add_option("--scope", args->opts.scope, "unstructured: layer (same sparsity per layer, default) or global");
  cmd->add_option("--exclude", args->opts.exclude, "node names left dense, comma separated")->delimiter(',');
  cmd->add_option("--input-shape", args->input_shapes,
                  "concrete extents NAME:d0,d1,... for inputs with symbolic ones (channel pruning through Flatten "
                  "needs value shapes); repeatable")
      ->delimiter(';');
  cmd->add_option("--sparsity-map", args->map, "JSON {\"node\": sparsity, ...} overriding --sparsity per layer");
  cmd->add_option("--save-masks", args->masks, "write the 0/1 masks (uint8, one per weight) to this .npz");
  cmd->add_option("-o,--output", args->out, "output path (default: <model stem>.pruned.onnx beside the input)");
  cmd->add_flag("--sensitivity", args->sensitivity,
                "prune each layer alone at several sparsities (--levels) on --data and print the ranked table");
  cmd->add_flag("--allocate", args->allocate,
                "turn --sparsity (overall) into per-layer sparsities from the sensitivity table, write the map "
                "(--write-map) and prune with it");
  cmd->add_option("--data", args->data, "data for --sensitivity / --allocate (.npy, .npz, folder)");
  cmd->add_option("--labels", args->labels, "labels .npy for top-1 (without: SQNR vs the unpruned model)");
  cmd->add_option("--levels", args->levels, "sparsities measured per layer (default 0.3,0.5,0.7,0.8,0.9,0.95)")
      ->delimiter(',');
  cmd->add_option("--write-map", args->write_map, "where --allocate writes its map (default <output>.sparsity.json)");
  add_data_options(cmd, args->data_opts);
  cmd->callback([args] { run_prune(*args); });
}

}  // namespace qtool::cli
