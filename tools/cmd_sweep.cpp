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
#include <thread>

#include "core/parallel.h"
#include "core/progress.h"
#include "eval/layer_sensitivity.h"
#include "eval/report.h"
#include "search/sweep_unit.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

struct SweepArgs {
  std::string model, calib, data, labels, out_dir, ray;
  std::vector<std::string> methods{"mse"};
  std::vector<int> bits{8, 4};
  std::vector<double> sparsity{0};
  bool resume = false, no_sensitivity = false;
  int jobs = 0, threads = 0;
  DataOptions data_opts;
};

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Concurrent configurations x oneDNN threads each, never more threads than cores.
std::pair<int, int> split_cores(int jobs, int threads, int64_t todo) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (jobs < 0 || threads < 0) throw InputError("--jobs and --threads must be >= 1");
  if (jobs > cores) throw InputError("--jobs " + std::to_string(jobs) + " exceeds the " + std::to_string(cores) + " cores");
  if (threads > cores)
    throw InputError("--threads " + std::to_string(threads) + " exceeds the " + std::to_string(cores) + " cores");
  if (jobs && threads && jobs * threads > cores)
    throw InputError("--jobs " + std::to_string(jobs) + " x --threads " + std::to_string(threads) + " = " +
                     std::to_string(jobs * threads) + " threads on " + std::to_string(cores) + " cores");
  if (!jobs) jobs = threads ? cores / threads : static_cast<int>(std::min<int64_t>(cores, std::max<int64_t>(1, todo)));
  if (!threads) threads = std::max(1, cores / jobs);
  return {std::max(1, jobs), threads};
}

void run_sweep(const SweepArgs& a) {
  Model model = load_model(a.model);
  require_supported(model);
  const auto specs = model_input_specs(model);
  const std::vector<SweepConfig> configs = sweep_configs(a.bits, a.sparsity, a.methods);
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
  ReportRow fp32;
  if (done.count("fp32")) {
    fp32 = done["fp32"];
  } else {
    fp32 = sweep_fp32_row(model, static_cast<int64_t>(fs::file_size(a.model)), *eval, labels);
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
  std::vector<SweepConfig> todo;
  for (const auto& c : configs)
    if (!done.count(c.id)) todo.push_back(c);
  const auto [jobs, threads] = split_cores(a.jobs, a.threads, static_cast<int64_t>(todo.size()));
  spdlog::info("sweep: {} configurations to run, {} at a time with {} thread(s) each", todo.size(), jobs, threads);
  Progress progress("sweep", static_cast<int64_t>(todo.size()));
  parallel_for_workers(static_cast<int64_t>(todo.size()), jobs, threads, [&](int64_t k) {
    auto calib = open_data(a.calib, specs, a.data_opts);  // one reader per thread
    auto ev = open_data(a.data, specs, a.data_opts);
    ReportRow row = run_sweep_unit(model, todo[k], *calib, *ev, labels, fp32, dir);
    std::lock_guard<std::mutex> lock(mu);
    done[todo[k].id] = row;
    save_state();
    progress.advance(1);
  });
  report.rows.push_back(done["fp32"]);
  for (const auto& c : configs) report.rows.push_back(done[c.id]);
  if (!a.no_sensitivity) {
    auto calib = open_data(a.calib, specs, a.data_opts);
    CompressOptions base;
    base.method = a.methods[0];
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
  cmd->add_option("--method", a->methods, "observers for int8 activations to sweep (default mse; with several, "
                                          "configuration ids end in -<method>)")->delimiter(',');
  cmd->add_option("--out-dir", a->out_dir, "output folder (default <model stem>.sweep beside the model)");
  cmd->add_flag("--resume", a->resume, "keep the configurations an earlier, interrupted run finished");
  cmd->add_flag("--no-sensitivity", a->no_sensitivity, "leave the per-layer sensitivity table out of report.html");
  cmd->add_option("--jobs", a->jobs, "configurations run at once (default: cores / --threads, or all cores)");
  cmd->add_option("--threads", a->threads, "threads per configuration (default: cores / --jobs); jobs x threads <= cores");
  add_ray_option(cmd, a->ray);
  add_data_options(cmd, a->data_opts);
  cmd->callback([a] { run_sweep(*a); });
}

}  // namespace qtool::cli
