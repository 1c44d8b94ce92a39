// SPDX-License-Identifier: Apache-2.0
// qtool sweep MODEL --calib DATA --data EVAL [--labels L] [--bits 8,4,2,1] [--sparsity 0,0.5,0.75]
//   [--method M] [--out-dir DIR] [--resume] [--sensitivity]
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

std::string join_methods(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : ",") + m;
  return out;
}

struct SweepArgs {
  std::string model, calib, data, labels, out_dir, ray, size_axis = "file";
  std::vector<std::string> methods{"mse"};
  std::vector<int> bits{8, 4};
  std::vector<double> sparsity{0};
  bool resume = false, sensitivity = false, no_sensitivity = false, force = false;
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
  OutputGuard guard(a.force);
  guard.input_model(model);
  for (const auto& p : {a.calib, a.data, a.labels}) guard.input(p);
  {
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
      throw InputError(dir.string() + ": exists and is not a folder (--out-dir names the report folder)");
    fs::create_directories(dir, ec);
    if (ec) throw InputError(dir.string() + ": cannot create the report folder: " + ec.message());
  }
  // report.json of an earlier run is replaced only with --resume, --force or an explicit --out-dir
  guard.output(dir / "report.json", !a.out_dir.empty() || a.resume, "--out-dir");
  for (const char* f : {"report.csv", "report.svg", "report.html"}) guard.output(dir / f, true, "--out-dir");
  for (const auto& c : configs) guard.output(dir / (c.id + ".onnx"), true, "--out-dir");
  const std::vector<int64_t> labels = open_labels(a.labels, a.data, specs, a.data_opts);
  if (a.size_axis != "file" && a.size_axis != "zip")
    throw InputError("--size-axis must be file or zip, got '" + a.size_axis + "'");
  // both data sets are opened (and their shapes checked) before any work
  open_data(a.calib, specs, a.data_opts);
  auto eval = open_data(a.data, specs, a.data_opts);

  Report report;
  report.model = fs::path(a.model).filename().string();
  report.metric = labels.empty() ? "sqnr_db" : "top1";
  report.size_axis = a.size_axis;
  {
    auto calib_desc = open_data(a.calib, specs, a.data_opts);
    report.provenance = make_provenance(a.model, calib_desc.get(), eval.get(), join_methods(a.methods));
  }
  std::map<std::string, ReportRow> done;
  if (a.resume && fs::exists(dir / "report.json")) {
    Report old;
    try {
      old = Report::from_json(read_text(dir / "report.json"));
    } catch (const std::exception& e) {
      throw InputError((dir / "report.json").string() + ": cannot resume from it (" + e.what() + ")");
    }
    if (old.metric == report.metric)
      for (const auto& r : old.rows)
        if (r.config == "fp32" || fs::exists(dir / r.path)) done[r.config] = r;
    spdlog::info("resuming: {} of {} configurations already done", done.count("fp32") ? done.size() - 1 : done.size(),
                 configs.size());
  }
  // one bar for the whole sweep: fp32 and every configuration still to do (nested loops show in its postfix)
  int64_t steps = done.count("fp32") ? 0 : 1;
  for (const auto& c : configs) steps += done.count(c.id) ? 0 : 1;
  Progress progress("sweep", steps);
  ReportRow fp32;
  if (done.count("fp32")) {
    fp32 = done["fp32"];
  } else {
    progress.set_note("fp32");
    fp32 = sweep_fp32_row(model, static_cast<int64_t>(model.bytes_on_disk()), *eval, labels);
    done["fp32"] = fp32;
    progress.advance(1);
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
  parallel_for_workers(static_cast<int64_t>(todo.size()), jobs, threads, [&](int64_t k) {
    progress.set_note(todo[k].id);
    auto calib = open_data(a.calib, specs, a.data_opts);  // one reader per thread
    auto ev = open_data(a.data, specs, a.data_opts);
    ReportRow row = run_sweep_unit(model, todo[k], *calib, *ev, labels, fp32, dir, a.data_opts.skip_nonfinite);
    std::lock_guard<std::mutex> lock(mu);
    done[todo[k].id] = row;
    save_state();
    progress.advance(1);
  });
  progress.finish();
  report.rows.push_back(done["fp32"]);
  for (const auto& c : configs) report.rows.push_back(done[c.id]);
  auto write_reports = [&] {
    write_file_atomic(dir / "report.json", report.to_json());
    write_file_atomic(dir / "report.csv", report.to_csv());
    write_file_atomic(dir / "report.svg", report.to_svg());
    write_file_atomic(dir / "report.html", report.to_html());
  };
  write_reports();
  // the table first; the optional per-layer sensitivity (slow: three runs per layer) after it
  std::cout << "qtool sweep: " << a.model << " (" << configs.size() << " configurations, "
            << (labels.empty() ? "smallest SQNR over the outputs vs fp32" : "top-1") << " on " << eval->describe() << ")\n"
            << report.to_text() << "  written: " << (dir / "report.{json,csv,svg,html}").string() << "\n"
            << std::flush;
  if (a.sensitivity) {
    auto calib = open_data(a.calib, specs, a.data_opts);
    CompressOptions base;
    base.method = a.methods[0];
    spdlog::info("per-layer sensitivity for report.html (int8, int4 and 50% pruned per layer)");
    report.sensitivity_html = layer_sensitivity(model, *calib, *eval, labels, base).to_html();
    write_reports();
    std::cout << "  per-layer sensitivity: " << (dir / "report.html").string() << "\n";
  }
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand("sweep", "compress in every configuration (bits x sparsity), evaluate each, and write "
                                          "the accuracy/size report (table, JSON, CSV, SVG, HTML)");
  cmd->add_option("model", a->model, "input .onnx model")->required();
  cmd->add_option("--calib", a->calib, "calibration data")->required();
  cmd->add_option("--data", a->data, "evaluation data")->required();
  cmd->add_option("--labels", a->labels, "labels .npy or 'folders' (class subfolders) for top-1 (without: smallest SQNR over the outputs vs fp32)");
  cmd->add_option("--bits", a->bits, "weight bits to sweep (default 8,4; 8 = W8A8, below 8 weight-only)")->delimiter(',');
  cmd->add_option("--sparsity", a->sparsity, "unstructured sparsities to sweep (default 0)")->delimiter(',');
  cmd->add_option("--method", a->methods, "observers for int8 activations to sweep (default mse; with several, "
                                          "configuration ids end in -<method>)")->delimiter(',');
  cmd->add_option("--out-dir", a->out_dir, "output folder (default <model stem>.sweep beside the model)");
  cmd->add_option("--size-axis", a->size_axis,
                  "x axis of the plot: file (default) or zip (the zip-compressed, download size: pruned models at "
                  "their real size)");
  cmd->add_flag("--resume", a->resume, "keep the configurations an earlier, interrupted run finished");
  auto* sens = cmd->add_flag("--sensitivity", a->sensitivity,
                             "after the table, measure per-layer sensitivity (three runs per layer) into report.html");
  // the default since 0.2: kept so that scripts written for the old default still run
  cmd->add_flag("--no-sensitivity", a->no_sensitivity, "no per-layer sensitivity (the default)")->excludes(sens);
  cmd->add_option("--jobs", a->jobs, "configurations run at once (default: cores / --threads, or all cores)");
  cmd->add_option("--threads", a->threads, "threads per configuration (default: cores / --jobs); jobs x threads <= cores");
  add_ray_option(cmd, a->ray);
  add_data_options(cmd, a->data_opts);
  add_force_option(cmd, a->force);
  cmd->callback([a] { run_sweep(*a); });
}

}  // namespace qtool::cli
