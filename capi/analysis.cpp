// SPDX-License-Identifier: Apache-2.0
// C API: evaluation with every output, calibration tables, per-layer sensitivity, mixed precision
// (auto), inspection and report rendering. Each returns the JSON of the matching CLI command.
#include <cmath>

#include "calib/calibrate.h"
#include "capi/capi_internal.h"
#include "eval/auto_precision.h"
#include "eval/evaluate.h"
#include "eval/inspect.h"
#include "eval/layer_sensitivity.h"
#include "eval/report.h"
#include "quant/plan.h"
#include "quant/quantize_model.h"

using qtool::capi::ArgumentError;
using qtool::capi::check_keys;
using qtool::capi::dataset_for;
using qtool::capi::give_string;
using qtool::capi::guarded;
using qtool::capi::need;
using qtool::capi::parse_options;
using qtool::capi::take_labels;

namespace {

template <typename T>
void get(const nlohmann::json& j, const char* k, T& v) {
  if (!j.contains(k)) return;
  try {
    j.at(k).get_to(v);
  } catch (const nlohmann::json::exception&) {
    throw ArgumentError(std::string("option '") + k + "' has the wrong type");
  }
}

}  // namespace

extern "C" {

qt_status qt_evaluate_json(const qt_model* model, qt_data* data, const int64_t* labels, size_t n_labels,
                           const qt_model* ref, char** json) {
  return guarded([&] {
    need(model, "model");
    need(data, "data");
    need(json, "json");
    auto& ds = dataset_for(data, model->model);
    qtool::EvalOptions eo;
    eo.labels = take_labels(labels, n_labels, ds.size());
    auto r = qtool::evaluate(model->model, ds, eo, ref ? &ref->model : nullptr);
    *json = give_string(r.to_json());
  });
}

qt_status qt_calibrate(const qt_model* model, qt_data* calib, const char* options_json, char** table_json) {
  return guarded([&] {
    need(model, "model");
    need(calib, "calib");
    need(table_json, "table_json");
    auto j = parse_options(options_json, "calibrate options");
    check_keys(j, {"method", "percentile", "act_type"}, "calibrate options");
    qtool::CalibrateOptions copts;
    std::string act_type = "uint8";
    get(j, "method", copts.method);
    get(j, "percentile", copts.observer.percentile);
    get(j, "act_type", act_type);
    if (act_type != "uint8" && act_type != "int8" && act_type != "int8-asymmetric")
      throw ArgumentError("act_type must be uint8, int8 or int8-asymmetric, got '" + act_type + "'");
    copts.act_type = qtool::parse_act_type(act_type);
    copts.observer.unsigned_levels = qtool::asymmetric_grid(copts.act_type);
    try {
      qtool::make_observer(copts.method);
    } catch (const qtool::InputError& e) {
      throw ArgumentError(e.what());
    }
    qtool::PassContext ctx;
    qtool::Model prepared = qtool::prepare_for_quantization(model->model, ctx);
    auto& ds = dataset_for(calib, prepared);
    auto table = qtool::calibrate(prepared, ds, qtool::qdq_activation_tensors(prepared, ctx.options), copts);
    *table_json = give_string(table.to_json());
  });
}

qt_status qt_sensitivity(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels, size_t n_labels,
                         const char* options_json, char** json) {
  return guarded([&] {
    need(model, "model");
    need(calib, "calib");
    need(eval, "eval");
    need(json, "json");
    auto j = parse_options(options_json, "sensitivity options");
    check_keys(j, {"method", "with_pruning"}, "sensitivity options");
    qtool::CompressOptions base;
    bool with_pruning = true;
    get(j, "method", base.method);
    get(j, "with_pruning", with_pruning);
    auto& c = dataset_for(calib, model->model);
    auto& e = dataset_for(eval, model->model);
    auto rep = qtool::layer_sensitivity(model->model, c, e, take_labels(labels, n_labels, e.size()), base, with_pruning);
    *json = give_string(rep.to_json());
  });
}

qt_status qt_auto(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels, size_t n_labels,
                  const char* options_json, qt_model** out, char** json) {
  return guarded([&] {
    need(model, "model");
    need(calib, "calib");
    need(eval, "eval");
    need(out, "out");
    need(json, "json");
    *out = nullptr;
    auto j = parse_options(options_json, "auto options");
    check_keys(j, {"max_drop", "target_size", "exclude", "method"}, "auto options");
    qtool::AutoOptions o;
    get(j, "max_drop", o.max_drop);
    get(j, "target_size", o.target_size);
    get(j, "exclude", o.base.exclude);
    get(j, "method", o.base.method);
    if (o.max_drop < 0) throw ArgumentError("max_drop must be >= 0");
    auto& c = dataset_for(calib, model->model);
    auto& e = dataset_for(eval, model->model);
    qtool::Model best;
    auto r = qtool::auto_precision(model->model, c, e, take_labels(labels, n_labels, e.size()), o,
                                   [&](const qtool::Model& m, const qtool::AutoResult&) { best = m; });
    const qtool::WeightSpec def{"int8", true, 0};
    nlohmann::ordered_json res;
    res["plan"] = nlohmann::ordered_json::parse(qtool::plan_to_json(def, r.layers, r.excluded, 8));
    res["drop"] = r.drop;
    res["value"] = std::isfinite(r.value) ? nlohmann::ordered_json(r.value) : nlohmann::ordered_json(nullptr);
    res["bytes"] = r.bytes;
    res["within_budget"] = r.within_budget;
    res["log"] = r.log;
    auto m = std::make_unique<qt_model>();
    m->model = std::move(best);
    *json = give_string(res.dump(2));
    *out = m.release();
  });
}

qt_status qt_inspect(const qt_model* model, char** json) {
  return guarded([&] {
    need(model, "model");
    need(json, "json");
    *json = give_string(qtool::summarize(model->model).to_json());
  });
}

qt_status qt_report_render(const char* report_json, const char* format, char** out) {
  return guarded([&] {
    need(report_json, "report_json");
    need(format, "format");
    need(out, "out");
    qtool::Report r;
    try {
      r = qtool::Report::from_json(report_json);
    } catch (const qtool::InputError& e) {
      throw ArgumentError(e.what());
    }
    const std::string f = format;
    std::string text;
    if (f == "text") text = r.to_text();
    else if (f == "csv") text = r.to_csv();
    else if (f == "svg") text = r.to_svg();
    else if (f == "html") text = r.to_html();
    else if (f == "json") text = r.to_json();
    else throw ArgumentError("format must be text, csv, svg, html or json, got '" + f + "'");
    *out = give_string(text);
  });
}

}  // extern "C"
