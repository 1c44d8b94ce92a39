// SPDX-License-Identifier: Apache-2.0
// qtool sweep MODEL --calib DATA --data EVAL [--labels L] [--bits 8,4,2,1] [--sparsity 0,0.5,0.75]
//   [--method M] [--out-dir DIR] [--resume] [--no-sensitivity]
// Compresses the model in every configuration (bits x sparsity) on all cores, evaluates each in
// qtool's executor, and writes report.json / report.csv / report.svg / report.html (eval/report.h).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "core/parallel.h"
#include "core/progress.h"
#include "eval/layer_sensitivity.h"
#include "eval/report.h"
#include "prune/sparse_storage.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

struct SweepArgs {
  std::string model, calib, data, labels, method = "mse", out_dir;
  std::vector<int> bits{8, 4};
  std::vector<double> sparsity{0};
  bool resume = false, no_sensitivity = false;
  DataOptions data_opts;
};

struct Config {
  std::string id;
  int bits;
  double sparsity;
};

std::string format_of(int bits) {
  return bits == 8 ? "int8" : bits == 4 ? "int4" : bits == 2 ? "int2" : bits == 1 ? "binary" : "";
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void run_sweep(const SweepArgs& a) {
  Model model = load_model(a.model);
  require_supported(model);
  const auto specs = model_input_specs(model);
  for (int b : a.bits)
    if (format_of(b).empty()) throw InputError("--bits: " + std::to_string(b) + " is not one of 8, 4, 2, 1");
  for (double s : a.sparsity)
    if (!(s >= 0 && s < 1)) throw InputError("--sparsity values must be in [0, 1), got " + std::to_string(s));
  std::vector<Config> configs;
  for (int b : a.bits)
    for (double s : a.sparsity) {
      if (b == 1 && s > 0) {
        spdlog::warn("skipping binary with sparsity {}: binary weights have no zero level", s);
        continue;
      }
      char id[64];
      std::snprintf(id, sizeof id, s > 0 ? "%s-s%.2f" : "%s", format_of(b).c_str(), s);
      configs.push_back({id, b, s});
    }
  const fs::path dir = a.out_dir.empty() ? fs::path(a.model).parent_path() / (fs::path(a.model).stem().string() + ".sweep")
                                         : fs::path(a.out_dir);
  fs::create_directories(dir);
  std::vector<int64_t> labels;
  if (!a.labels.empty()) labels = read_labels(a.labels);
  // both data sets are opened (and their shapes checked) before any work
  open_data(a.calib, specs, a.data_opts);
  auto eval = open_data(a.data, specs, a.data_opts);

  Report report;
  report.model = fs::path(a.model).filename().string();
  report.metric = labels.empty() ? "sqnr_db" : "top1";
  std::map<std::string, ReportRow> done;
  if (a.resume && fs::exists(dir / "report.json")) {
    Report old = Report::from_json(read_text(dir / "report.json"));
    if (old.metric == report.metric)
      for (const auto& r : old.rows)
        if (r.config == "fp32" || fs::exists(dir / r.path)) done[r.config] = r;
    spdlog::info("resuming: {} of {} configurations already done", done.count("fp32") ? done.size() - 1 : done.size(),
                 configs.size());
  }
  std::string original;
  model.proto.SerializeToString(&original);
  ReportRow fp32;
  if (done.count("fp32")) {
    fp32 = done["fp32"];
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    Measured m = measure(model, model, *eval, labels);
    fp32.config = "fp32";
    fp32.path = "";
    fp32.file_bytes = static_cast<int64_t>(fs::file_size(a.model));
    fp32.zip_bytes = zip_bytes(original);
    fp32.value = m.value;  // SQNR of fp32 vs itself: +inf
    fp32.delta = labels.empty() ? INFINITY : 0.0;
    fp32.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    done["fp32"] = fp32;
  }
  std::mutex mu;
  auto save_state = [&]() {  // called with mu held: report.json after every configuration (resume)
    Report r = report;
    r.rows.clear();
    r.rows.push_back(done["fp32"]);
    for (const auto& c : configs)
      if (done.count(c.id)) r.rows.push_back(done[c.id]);
    write_file_atomic(dir / "report.json", r.to_json());
  };
  {
    std::lock_guard<std::mutex> lock(mu);
    save_state();
  }
  std::vector<Config> todo;
  for (const auto& c : configs)
    if (!done.count(c.id)) todo.push_back(c);
  Progress progress("sweep", static_cast<int64_t>(todo.size()));
  parallel_for(static_cast<int64_t>(todo.size()), [&](int64_t k) {
    const Config& c = todo[k];
    const auto t0 = std::chrono::steady_clock::now();
    auto calib = open_data(a.calib, specs, a.data_opts);  // one reader per thread
    auto ev = open_data(a.data, specs, a.data_opts);
    CompressOptions o;
    o.plan.bits = c.bits;
    o.method = a.method;
    if (c.sparsity > 0) {
      o.prune_enabled = true;
      o.prune.sparsity = c.sparsity;
    }
    CompressResult res = compress(model, o, calib.get());
    const std::string file = c.id + ".onnx";
    save_model(res.model, dir / file);
    std::string bytes;
    res.model.proto.SerializeToString(&bytes);
    Measured m = measure(res.model, model, *ev, labels);
    ReportRow row;
    row.config = c.id;
    row.weights = format_of(c.bits);
    row.sparsity = c.sparsity;
    row.activations = res.activations ? "int8" : "float";
    row.bits_per_weight = code_bits_per_weight(res.stats);
    row.file_bytes = static_cast<int64_t>(fs::file_size(dir / file));
    row.zip_bytes = zip_bytes(bytes);
    row.size_ratio = static_cast<double>(row.file_bytes) / fp32.file_bytes;
    row.value = m.value;
    row.delta = labels.empty() ? m.value : 100.0 * (m.value - fp32.value);  // SQNR: vs fp32 already
    row.agreement = m.agreement;
    row.path = file;
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu);
    done[c.id] = row;
    save_state();
    progress.advance(1);
  });
  report.rows.push_back(done["fp32"]);
  for (const auto& c : configs) report.rows.push_back(done[c.id]);
  if (!a.no_sensitivity) {
    auto calib = open_data(a.calib, specs, a.data_opts);
    CompressOptions base;
    base.method = a.method;
    report.sensitivity_html = layer_sensitivity(model, *calib, *eval, labels, base).to_html();
  }
  write_file_atomic(dir / "report.json", report.to_json());
  write_file_atomic(dir / "report.csv", report.to_csv());
  write_file_atomic(dir / "report.svg", report.to_svg());
  write_file_atomic(dir / "report.html", report.to_html());
  std::cout << "qtool sweep: " << a.model << " (" << configs.size() << " configurations, "
            << (labels.empty() ? "SQNR of output 0 vs fp32" : "top-1") << " on " << eval->describe() << ")\n"
            << report.to_text() << "  written: " << (dir / "report.{json,csv,svg,html}").string() << "\n";
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand("sweep", "compress in every configuration (bits x sparsity), evaluate each, and write "
                                          "the accuracy/size report (table, JSON, CSV, SVG, HTML)");
  cmd->add_option("model", a->model, "input .onnx model")->required();
  cmd->add_option("--calib", a->calib, "calibration data")->required();
  cmd->add_option("--data", a->data, "evaluation data")->required();
  cmd->add_option("--labels", a->labels, "labels .npy for top-1 (without: SQNR of output 0 vs fp32)");
  cmd->add_option("--bits", a->bits, "weight bits to sweep (default 8,4; 8 = W8A8, below 8 weight-only)")->delimiter(',');
  cmd->add_option("--sparsity", a->sparsity, "unstructured sparsities to sweep (default 0)")->delimiter(',');
  cmd->add_option("--method", a->method, "observer for int8 activations (default mse)");
  cmd->add_option("--out-dir", a->out_dir, "output folder (default <model stem>.sweep beside the model)");
  cmd->add_flag("--resume", a->resume, "keep the configurations an earlier, interrupted run finished");
  cmd->add_flag("--no-sensitivity", a->no_sensitivity, "leave the per-layer sensitivity table out of report.html");
  add_data_options(cmd, a->data_opts);
  cmd->callback([a] { run_sweep(*a); });
}

}  // namespace qtool::cli
