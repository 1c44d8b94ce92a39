// SPDX-License-Identifier: Apache-2.0
// C API of search/ (capi/qtool.h, "threads" and "search"): one sweep configuration or one layer's
// sensitivity probe per call, and the report writers, so that a scheduler outside the library (the
// Ray driver in python/qtool/distributed.py) runs the same units of work as `qtool sweep` and gets
// byte-identical reports.
#include <cmath>
#include <filesystem>
#include <thread>

#include "capi/capi_internal.h"
#include "core/parallel.h"
#include "eval/auto_precision.h"
#include "eval/layer_sensitivity.h"
#include "eval/report.h"
#include "io/npy.h"
#include "quant/plan.h"
#include "search/sweep_unit.h"

namespace fs = std::filesystem;
using namespace qtool::capi;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

std::vector<int64_t> labels_of(const int64_t* labels, size_t n) {
  if (n && !labels) throw ArgumentError("labels must not be NULL when n_labels > 0");
  return n ? std::vector<int64_t>(labels, labels + n) : std::vector<int64_t>{};
}

double number_or_inf(const json& j, const char* key) {
  const auto& v = j.at(key);
  return v.is_null() ? INFINITY : v.get<double>();
}

// One row as report.json writes it (eval/report.cpp is the single writer: a report of one row).
std::string row_json(const qtool::ReportRow& row, const std::string& metric) {
  qtool::Report r;
  r.metric = metric;
  r.rows.push_back(row);
  return json::parse(r.to_json()).at("rows").at(0).dump();
}

qtool::ReportRow row_from_json(const std::string& text) {
  // reuse Report::from_json, which reads every column of a row
  json j = json::parse(text);
  json rep = {{"model", ""}, {"metric", ""}, {"rows", json::array({j})}};
  return qtool::Report::from_json(rep.dump()).rows.at(0);
}

template <typename T>
void get(const json& j, const char* key, T& v) {
  if (!j.contains(key)) return;
  try {
    j.at(key).get_to(v);
  } catch (const json::exception&) {
    throw ArgumentError(std::string("option '") + key + "' has the wrong type");
  }
}

}  // namespace

extern "C" {

qt_status qt_set_threads(int threads) {
  return guarded([&] {
    if (threads < 1) throw ArgumentError("threads must be >= 1, got " + std::to_string(threads));
    qtool::set_thread_budget(threads);
  });
}

int qt_hardware_threads(void) { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

qt_status qt_data_save_npz(qt_data* data, const qt_model* model, const char* path) {
  return guarded([&] {
    need(data, "data");
    need(model, "model");
    need(path, "path");
    auto& ds = dataset_for(data, model->model);
    qtool::TensorMap all = ds.batch(0, ds.size());
    std::map<std::string, qtool::Tensor> arrays(all.begin(), all.end());
    qtool::write_npz(path, arrays);
  });
}

qt_status qt_sweep_configs(const char* options_json, char** configs_json) {
  return guarded([&] {
    need(configs_json, "configs_json");
    *configs_json = nullptr;
    json j = parse_options(options_json, "sweep options");
    std::vector<int> bits{8, 4};
    std::vector<double> sparsity{0};
    std::vector<std::string> methods{"mse"};
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "bits" && it.key() != "sparsity" && it.key() != "method")
        throw ArgumentError("unknown sweep option '" + it.key() + "'");
    get(j, "bits", bits);
    get(j, "sparsity", sparsity);
    get(j, "method", methods);
    ojson out = ojson::array();
    for (const auto& c : qtool::sweep_configs(bits, sparsity, methods))
      out.push_back({{"id", c.id}, {"bits", c.bits}, {"sparsity", c.sparsity}, {"method", c.method}});
    *configs_json = give_string(out.dump());
  });
}

qt_status qt_sweep_fp32_row(const qt_model* model, int64_t file_bytes, qt_data* eval, const int64_t* labels,
                            size_t n_labels, char** out) {
  return guarded([&] {
    need(model, "model");
    need(eval, "eval");
    need(out, "row_json");
    *out = nullptr;
    const auto l = labels_of(labels, n_labels);
    auto row = qtool::sweep_fp32_row(model->model, file_bytes, dataset_for(eval, model->model), l);
    *out = give_string(row_json(row, l.empty() ? "sqnr_db" : "top1"));
  });
}

qt_status qt_sweep_run_config(const qt_model* model, const char* config_json, qt_data* calib, qt_data* eval,
                              const int64_t* labels, size_t n_labels, const char* fp32_row_json, const char* out_dir,
                              char** out) {
  return guarded([&] {
    need(model, "model");
    need(calib, "calib");
    need(eval, "eval");
    need(fp32_row_json, "fp32_row_json");
    need(out_dir, "out_dir");
    need(out, "row_json");
    *out = nullptr;
    json j = parse_options(config_json, "sweep configuration");
    qtool::SweepConfig c;
    get(j, "id", c.id);
    get(j, "bits", c.bits);
    get(j, "sparsity", c.sparsity);
    get(j, "method", c.method);
    bool skip_nonfinite = false;  // the sweep's --skip-nonfinite (calibration samples)
    get(j, "skip_nonfinite", skip_nonfinite);
    if (c.id.empty() || c.id.find('/') != std::string::npos)
      throw ArgumentError("sweep configuration needs an \"id\" usable as a file name");
    qtool::ReportRow fp32;
    try {
      fp32 = row_from_json(fp32_row_json);
    } catch (const std::exception& e) {
      throw ArgumentError(std::string("fp32_row_json: ") + e.what());
    }
    const auto l = labels_of(labels, n_labels);
    fs::create_directories(out_dir);
    auto row = qtool::run_sweep_unit(model->model, c, dataset_for(calib, model->model), dataset_for(eval, model->model),
                                     l, fp32, out_dir, skip_nonfinite);
    *out = give_string(row_json(row, l.empty() ? "sqnr_db" : "top1"));
  });
}

qt_status qt_report_write(const char* report_json, const char* out_dir, int json_only, char** text) {
  return guarded([&] {
    need(report_json, "report_json");
    need(out_dir, "out_dir");
    if (text) *text = nullptr;
    qtool::Report r = qtool::Report::from_json(report_json);  // InputError: bad input
    json j = json::parse(report_json);
    if (j.contains("sensitivity_html") && j["sensitivity_html"].is_string()) r.sensitivity_html = j["sensitivity_html"];
    const fs::path dir(out_dir);
    fs::create_directories(dir);
    qtool::write_file_atomic(dir / "report.json", r.to_json());
    if (!json_only) {
      qtool::write_file_atomic(dir / "report.csv", r.to_csv());
      qtool::write_file_atomic(dir / "report.svg", r.to_svg());
      qtool::write_file_atomic(dir / "report.html", r.to_html());
    }
    if (text) *text = give_string(r.to_text());
  });
}

qt_status qt_sensitivity_layers(const qt_model* model, qt_data* eval, const int64_t* labels, size_t n_labels,
                                char** info_json) {
  return guarded([&] {
    need(model, "model");
    need(eval, "eval");
    need(info_json, "info_json");
    *info_json = nullptr;
    const auto l = labels_of(labels, n_labels);
    const auto m = qtool::measure(model->model, model->model, dataset_for(eval, model->model), l);
    ojson out;
    out["layers"] = qtool::weighted_nodes(model->model);
    out["baseline"] = std::isfinite(m.value) ? ojson(m.value) : ojson(nullptr);
    out["metric"] = l.empty() ? "sqnr_db" : "top1";
    *info_json = give_string(out.dump());
  });
}

qt_status qt_sensitivity_probe(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels,
                               size_t n_labels, const char* options_json, char** probe_json) {
  return guarded([&] {
    need(model, "model");
    need(calib, "calib");
    need(eval, "eval");
    need(probe_json, "probe_json");
    *probe_json = nullptr;
    json j = parse_options(options_json, "sensitivity probe options");
    int64_t layer = -1;
    double baseline = INFINITY;
    bool with_pruning = true;
    qtool::CompressOptions base;
    get(j, "layer", layer);
    if (j.contains("baseline") && !j["baseline"].is_null()) get(j, "baseline", baseline);
    get(j, "method", base.method);
    get(j, "with_pruning", with_pruning);
    if (layer < 0) throw ArgumentError("sensitivity probe needs \"layer\" >= 0");
    const auto l = labels_of(labels, n_labels);
    qtool::LayerSensitivityReport rep;
    rep.metric = l.empty() ? "sqnr_db" : "top1";
    rep.layers.push_back(qtool::probe_layer_sensitivity(model->model, static_cast<size_t>(layer),
                                                        dataset_for(calib, model->model),
                                                        dataset_for(eval, model->model), l, base, with_pruning, baseline));
    *probe_json = give_string(json::parse(rep.to_json()).at("layers").at(0).dump());
  });
}

}  // extern "C"

namespace {

qtool::LayerSensitivityReport probes_from_json(const json& j) {
  qtool::LayerSensitivityReport rep;
  try {
      rep.metric = j.at("metric").get<std::string>();
      rep.baseline = number_or_inf(j, "baseline");
      for (const auto& x : j.at("layers")) {
        qtool::LayerSensitivity s;
        s.node = x.at("node");
        s.params = x.at("params");
        s.int8_delta = number_or_inf(x, "int8_delta");
        s.int8_sqnr = number_or_inf(x, "int8_sqnr_db");
        s.int4_delta = number_or_inf(x, "int4_delta");
        s.int4_sqnr = number_or_inf(x, "int4_sqnr_db");
        s.prune_delta = number_or_inf(x, "prune50_delta");
        s.prune_sqnr = number_or_inf(x, "prune50_sqnr_db");
        rep.layers.push_back(s);
      }
  } catch (const json::exception& e) {
    throw ArgumentError(std::string("sensitivity probes: ") + e.what());
  }
  return rep;
}

}  // namespace

extern "C" {

qt_status qt_sensitivity_report(const char* probes_json, char** json_out, char** text, char** html) {
  return guarded([&] {
    need(probes_json, "probes_json");
    for (char** p : {json_out, text, html})
      if (p) *p = nullptr;
    json j;
    try {
      j = json::parse(probes_json);
    } catch (const json::exception& e) {
      throw ArgumentError(std::string("probes_json: ") + e.what());
    }
    auto rep = probes_from_json(j);
    qtool::rank_layer_sensitivity(rep);
    if (json_out) *json_out = give_string(rep.to_json());
    if (text) *text = give_string(rep.to_text());
    if (html) *html = give_string(rep.to_html());
  });
}

qt_status qt_auto_search(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels, size_t n_labels,
                  const char* options_json, const char* out_path, const char* plan_path, char** result_json) {
  return guarded([&] {
    need(model, "model");
    need(calib, "calib");
    need(eval, "eval");
    need(out_path, "out_path");
    need(plan_path, "plan_path");
    need(result_json, "result_json");
    *result_json = nullptr;
    json j = parse_options(options_json, "auto options");
    qtool::AutoOptions o;
    get(j, "max_drop", o.max_drop);
    get(j, "target_size", o.target_size);
    get(j, "method", o.base.method);
    get(j, "exclude", o.base.exclude);
    if (o.max_drop < 0) throw ArgumentError("max_drop must be >= 0");
    std::unique_ptr<qtool::LayerSensitivityReport> sens;
    if (j.contains("sensitivity") && !j["sensitivity"].is_null())
      sens = std::make_unique<qtool::LayerSensitivityReport>(probes_from_json(j["sensitivity"]));
    const auto l = labels_of(labels, n_labels);
    const qtool::WeightSpec def{"int8", true, 0};
    auto r = qtool::auto_precision(
        model->model, dataset_for(calib, model->model), dataset_for(eval, model->model), l, o,
        [&](const qtool::Model& best, const qtool::AutoResult& res) {
          qtool::save_model(best, out_path);  // the best model so far is always on disk
          qtool::write_file_atomic(plan_path, qtool::plan_to_json(def, res.layers, res.excluded, 8));
        },
        sens.get());
    ojson out;
    out["bytes"] = r.bytes;
    out["drop"] = r.drop;
    out["value"] = std::isfinite(r.value) ? ojson(r.value) : ojson(nullptr);
    out["within_budget"] = r.within_budget;
    out["int4"] = ojson::array();
    for (const auto& [name, spec] : r.layers) out["int4"].push_back(name);
    out["excluded"] = r.excluded;
    out["log"] = r.log;
    *result_json = give_string(out.dump());
  });
}

}  // extern "C"
