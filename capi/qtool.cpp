// SPDX-License-Identifier: Apache-2.0
// qtool C API: every entry point catches every exception and turns it into a status code and a
// per-thread message (capi/qtool.h).
#include "capi/qtool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include <cstdlib>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>

#include "calib/dataset.h"
#include "calib/sample_select.h"
#include "capi/capi_internal.h"
#include "capi/stream_dataset.h"
#include "core/suggest.h"
#include "core/version.h"
#include "eval/evaluate.h"
#include "eval/inspect.h"
#include "io/onnx_tensor.h"
#include "prune/prune.h"
#include "prune/sparse_storage.h"
#include "quant/compress.h"
#include "quant/plan.h"
#include "runtime/executor.h"

using qtool::capi::ArgumentError;
using qtool::capi::dataset_for;
using qtool::capi::guarded;
using qtool::capi::need;
using qtool::capi::NotFound;
using qtool::capi::parse_options;

qt_data::~qt_data() = default;

namespace qtool::capi {

std::string& last_error() {
  thread_local std::string message;
  return message;
}

nlohmann::json parse_options(const char* json, const char* what) {
  if (!json || !*json) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(json);
    if (!j.is_object()) throw ArgumentError(std::string(what) + ": expected a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(std::string(what) + ": invalid JSON (" + e.what() + ")");
  }
}

void check_keys(const nlohmann::json& j, const std::vector<std::string>& known, const char* what) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      throw ArgumentError(std::string(what) + ": unknown option '" + it.key() + "'" +
                          qtool::did_you_mean(it.key(), known));
}

qtool::Dataset& dataset_for(qt_data* d, const qtool::Model& model) {
  if (d->file) return *d->file;
  if (d->stream) {
    d->stream->bind(qtool::model_input_specs(model));
    return *d->stream;
  }
  if (d->batches.empty()) throw ArgumentError("data set is empty: add batches with qt_data_add_batch");
  if (d->dirty || !d->merged) {
    qtool::TensorMap arrays;
    for (auto& [name, list] : d->batches) {
      qtool::Shape s = list[0].shape();
      int64_t n = 0;
      for (const auto& t : list) n += t.dim(0);
      s[0] = n;
      qtool::Tensor all(list[0].dtype(), s);
      size_t off = 0;
      for (const auto& t : list) {
        std::memcpy(static_cast<uint8_t*>(all.raw()) + off, t.raw(), t.nbytes());
        off += t.nbytes();
      }
      arrays[name] = all;
    }
    d->merged = qtool::memory_dataset(arrays, qtool::model_input_specs(model), "in-memory data");
    d->dirty = false;
  }
  return *d->merged;
}

char* give_string(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

std::vector<int64_t> take_labels(const int64_t* labels, size_t n, int64_t samples) {
  if (n && !labels) throw ArgumentError("labels must not be NULL when n_labels > 0");
  if (n && static_cast<int64_t>(n) != samples)
    throw ArgumentError(std::to_string(n) + " labels for " + std::to_string(samples) + " samples");
  return std::vector<int64_t>(labels, labels + n);
}

qtool::Tensor tensor_from_array(const qt_array& a, const char* what) {
  static const std::vector<int> plain = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13};
  const std::string name = a.name ? a.name : "";
  if (std::find(plain.begin(), plain.end(), a.dtype) == plain.end())
    throw ArgumentError(std::string(what) + " '" + name + "': unsupported dtype " + std::to_string(a.dtype) +
                        " (QT_DTYPE_FLOAT32, INT64, ...)");
  if (a.rank && !a.shape) throw ArgumentError(std::string(what) + " '" + name + "': shape must not be NULL");
  qtool::Shape s(a.shape, a.shape + a.rank);
  for (auto d : s)
    if (d < 0) throw ArgumentError(std::string(what) + " '" + name + "': negative extent in " + qtool::shape_str(s));
  qtool::Tensor t(static_cast<qtool::DType>(a.dtype), s);
  if (t.nbytes()) {
    need(a.values, "values");
    std::memcpy(t.raw(), a.values, t.nbytes());
  }
  return t;
}

}  // namespace qtool::capi

namespace {

// A library should not chat on its host's stderr: warnings and errors only, unless QTOOL_LOG=info|debug.
const bool g_quiet = [] {
  const char* env = std::getenv("QTOOL_LOG");
  spdlog::set_level(env ? spdlog::level::from_str(env) : spdlog::level::warn);
  return true;
}();

const onnx::TensorProto& find_tensor(const qt_model* m, const char* name) {
  need(name, "name");
  auto* t = m->model.find_initializer(name);
  if (!t) throw NotFound(std::string("model has no tensor named '") + name + "'");
  return *t;
}

// An initializer, or a value computed from initializers only (a weight stored behind Cast, e.g.
// bf16/fp16 storage widened at run time, or behind a dequantizing subgraph), as the executor folds it.
qtool::Tensor read_weight(const qt_model* m, const char* name) {
  need(name, "name");
  if (auto* t = m->model.find_initializer(name)) return qtool::tensor_from_proto(*t);
  try {
    qtool::Executor ex(m->model);
    if (const qtool::Tensor* c = ex.constant(name)) return *c;
  } catch (const qtool::InputError&) {
  }
  throw NotFound(std::string("model has no tensor named '") + name + "' (neither an initializer nor computed from initializers)");
}

// Options of qt_quantize_json. `table` receives a calibration table named by "calib_table".
qtool::CompressOptions compress_options(const nlohmann::json& j, qtool::CalibrationTable& table) {
  qtool::CompressOptions o;
  auto get = [&](const char* k, auto& v) {
    if (j.contains(k)) {
      try {
        j.at(k).get_to(v);
      } catch (const nlohmann::json::exception&) {
        throw ArgumentError(std::string("option '") + k + "' has the wrong type");
      }
    }
  };
  qtool::capi::check_keys(j,
                          {"bits", "ternary", "dtype", "group_size", "symmetric", "act_bits", "act_type", "method",
                           "percentile", "rounding", "format", "exclude", "op_types", "keep_first_last", "layer_bits",
                           "sparsity", "pattern", "scope", "plan", "calib_table", "input_shapes", "skip_nonfinite",
                           "target", "keep_float_constants", "overflow_fix"},
                          "quantize options");
  // options that contradict each other are errors, as on the command line
  auto given = [&](const char* k) { return j.contains(k) && !j[k].is_null() && j[k] != false; };
  const std::vector<std::pair<const char*, const char*>> conflicts = {
      {"bits", "dtype"}, {"bits", "ternary"}, {"dtype", "ternary"}, {"group_size", "dtype"}, {"group_size", "ternary"},
      {"plan", "bits"}, {"plan", "dtype"}, {"plan", "ternary"}, {"plan", "layer_bits"}, {"plan", "keep_first_last"},
      {"plan", "group_size"}};
  for (const auto& [x, y] : conflicts)
    if (given(x) && given(y)) throw ArgumentError(std::string("give '") + x + "' or '" + y + "', not both");
  get("bits", o.plan.bits);
  get("ternary", o.plan.ternary);
  get("dtype", o.plan.dtype);
  get("group_size", o.plan.group_size);
  if (j.contains("symmetric") && j["symmetric"].is_boolean()) o.plan.symmetric = j["symmetric"].get<bool>() ? 1 : 0;
  else get("symmetric", o.plan.symmetric);
  get("keep_first_last", o.plan.keep_first_last_bits);
  get("layer_bits", o.plan.layer_bits);
  get("act_bits", o.act_bits);
  get("act_type", o.act_type);
  get("method", o.method);
  get("percentile", o.percentile);
  get("rounding", o.rounding);
  get("format", o.format);
  get("exclude", o.exclude);
  get("op_types", o.op_types);
  get("target", o.target);
  get("keep_float_constants", o.keep_float_constants);
  get("overflow_fix", o.overflow_fix);
  get("sparsity", o.prune.sparsity);
  get("pattern", o.prune.pattern);
  get("scope", o.prune.scope);
  get("skip_nonfinite", o.skip_nonfinite);
  get("input_shapes", o.input_shapes);
  o.prune.input_shapes = o.input_shapes;
  o.prune_enabled = o.prune.sparsity > 0 || o.prune.pattern != "unstructured";
  if (given("bits") && o.plan.bits == 1 && o.prune.sparsity > 0)
    throw ArgumentError("give 'bits': 1 or 'sparsity', not both: binary weights have no zero level");
  std::string plan, table_path;
  get("plan", plan);
  get("calib_table", table_path);
  if (!plan.empty()) qtool::read_plan(plan, o);
  if (!table_path.empty()) {
    table = qtool::CalibrationTable::load(table_path);
    o.table = &table;
  }
  return o;
}

qt_status run_quantize(const qt_model* model, const qtool::CompressOptions& o, qt_data* calib, qt_model** out) {
  auto r = qtool::compress(model->model, o, calib ? &dataset_for(calib, model->model) : nullptr);
  auto* m = new qt_model{std::move(r.model), std::move(r.pruning.masks), {}, nullptr};
  *out = m;
  return QT_STATUS_OK;
}

}  // namespace

extern "C" {

const char* qt_status_string(qt_status s) {
  switch (s) {
    case QT_STATUS_OK: return "ok";
    case QT_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case QT_STATUS_BAD_INPUT: return "bad input";
    case QT_STATUS_NOT_FOUND: return "not found";
    case QT_STATUS_FAILURE: return "failure";
    case QT_STATUS_OUT_OF_MEMORY: return "out of memory";
    case QT_STATUS_CALLBACK_FAILED: return "callback failed";
  }
  return "unknown status";
}

const char* qt_last_error(void) { return qtool::capi::last_error().c_str(); }

const char* qt_version(void) { return QTOOL_VERSION; }

qt_status qt_model_load(const char* path, qt_model** out) {
  return guarded([&] {
    need(path, "path");
    need(out, "out");
    *out = nullptr;
    *out = new qt_model{qtool::load_model(path), {}, {}};
  });
}

qt_status qt_model_load_from_memory(const void* data, size_t size, qt_model** out) {
  return guarded([&] {
    need(data, "data");
    need(out, "out");
    *out = nullptr;
    *out = new qt_model{qtool::load_model_from_bytes(std::string(static_cast<const char*>(data), size), "<memory>"), {}, {}};
    qtool::check_model((*out)->model, "<memory>");
  });
}

qt_status qt_model_save(const qt_model* model, const char* path) {
  return guarded([&] {
    need(model, "model");
    need(path, "path");
    qtool::save_model(model->model, path);  // refuses the model's own file and external data
  });
}

qt_status qt_model_serialize(const qt_model* model, void** data, size_t* size) {
  return guarded([&] {
    need(model, "model");
    need(data, "data");
    need(size, "size");
    const std::string bytes = qtool::serialize_model(model->model);  // external data read in
    void* p = std::malloc(std::max<size_t>(1, bytes.size()));
    if (!p) throw std::bad_alloc();
    std::memcpy(p, bytes.data(), bytes.size());
    *data = p;
    *size = bytes.size();
  });
}

void qt_buffer_free(void* data) { std::free(data); }

void qt_model_free(qt_model* model) { delete model; }

qt_status qt_model_tensor_shape(const qt_model* model, const char* name, int64_t* shape, size_t* rank) {
  return guarded([&] {
    need(model, "model");
    need(shape, "shape");
    need(rank, "rank");
    const qtool::Tensor t = read_weight(model, name);
    if (t.rank() > 8) throw ArgumentError(std::string("tensor '") + name + "' has rank > 8");
    *rank = static_cast<size_t>(t.rank());
    for (int i = 0; i < t.rank(); ++i) shape[i] = t.dim(i);
  });
}

qt_status qt_model_get_tensor(const qt_model* model, const char* name, float* values, size_t count) {
  return guarded([&] {
    need(model, "model");
    need(values, "values");
    const qtool::Tensor t = read_weight(model, name);
    if (static_cast<int64_t>(count) != t.numel())
      throw ArgumentError(std::string("tensor '") + name + "' has " + std::to_string(t.numel()) + " values, buffer holds " +
                          std::to_string(count));
    auto v = t.to_floats();
    std::memcpy(values, v.data(), v.size() * sizeof(float));
  });
}

qt_status qt_model_set_tensor(qt_model* model, const char* name, const float* values, size_t count) {
  return guarded([&] {
    need(model, "model");
    need(values, "values");
    const auto& p = find_tensor(model, name);
    if (p.data_type() != onnx::TensorProto::FLOAT)
      throw ArgumentError(std::string("tensor '") + name + "' is not float32; only float weights can be replaced");
    qtool::Shape s(p.dims().begin(), p.dims().end());
    qtool::Tensor t(qtool::DType::kFloat, s);
    if (static_cast<int64_t>(count) != t.numel())
      throw ArgumentError(std::string("tensor '") + name + "' has " + std::to_string(t.numel()) + " values, got " +
                          std::to_string(count));
    std::memcpy(t.raw(), values, count * sizeof(float));
    model->model.set_initializer(name, t);
    model->exec.reset();  // the executor holds the old weights
  });
}

qt_status qt_model_get_mask(const qt_model* model, const char* weight, uint8_t* mask, size_t count) {
  return guarded([&] {
    need(model, "model");
    need(weight, "weight");
    need(mask, "mask");
    auto it = model->masks.find(weight);
    if (it == model->masks.end()) throw NotFound(std::string("no pruning mask for '") + weight + "'");
    if (static_cast<int64_t>(count) != it->second.numel())
      throw ArgumentError(std::string("mask of '") + weight + "' has " + std::to_string(it->second.numel()) +
                          " values, buffer holds " + std::to_string(count));
    std::memcpy(mask, it->second.raw(), count);
  });
}

qt_status qt_model_mask_names(const qt_model* model, const char** names) {
  return guarded([&] {
    need(model, "model");
    need(names, "names");
    auto* m = const_cast<qt_model*>(model);
    m->mask_names.clear();
    for (const auto& [k, v] : m->masks) m->mask_names += (m->mask_names.empty() ? "" : ",") + k;
    *names = m->mask_names.c_str();
  });
}

qt_status qt_data_create(qt_data** out) {
  return guarded([&] {
    need(out, "out");
    *out = new qt_data();
  });
}

qt_status qt_data_add_batch(qt_data* data, const char* input, const float* values, const int64_t* shape, size_t rank) {
  return guarded([&] {
    need(data, "data");
    need(input, "input");
    need(values, "values");
    need(shape, "shape");
    if (data->file || data->stream) throw ArgumentError("this data set reads files or a source; batches cannot be added");
    if (rank < 1) throw ArgumentError("a batch needs a sample axis (rank >= 1)");
    qtool::Shape s(shape, shape + rank);
    for (auto d : s)
      if (d < 0) throw ArgumentError("negative extent in batch shape " + qtool::shape_str(s));
    auto& list = data->batches[input];
    if (!list.empty()) {
      qtool::Shape a(list[0].shape().begin() + 1, list[0].shape().end()), b(s.begin() + 1, s.end());
      if (a != b)
        throw ArgumentError(std::string("input '") + input + "': batch sample shape " + qtool::shape_str(b) +
                            " differs from earlier batches " + qtool::shape_str(a));
    }
    qtool::Tensor t(qtool::DType::kFloat, s);
    std::memcpy(t.raw(), values, t.nbytes());
    list.push_back(t);
    data->dirty = true;
  });
}

namespace {

// The sample selection keys of the data options: offset, limit, sample, seed (calib/sample_select.h)
// and whole (every array fed whole).
std::pair<qtool::SampleSelection, bool> selection_of(const nlohmann::json& j) {
  qtool::SampleSelection s;
  bool whole = false;
  try {
    if (j.contains("offset")) s.offset = j["offset"].get<int64_t>();
    if (j.contains("limit")) s.limit = j["limit"].get<int64_t>();
    if (j.contains("sample")) s.sample = j["sample"].get<std::string>();
    if (j.contains("seed")) s.seed = j["seed"].get<uint64_t>();
    if (j.contains("whole")) whole = j["whole"].get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(std::string("data options: ") + e.what());
  }
  return {s, whole};
}

// The data options (qt_data_open's options_json) parsed: image options, sample selection, whole.
struct DataOpen {
  qtool::ImageOptions image;
  qtool::SampleSelection selection;
  bool whole = false;
};

DataOpen data_options_of(const char* options_json) {
  auto j = parse_options(options_json, "data options");
  qtool::ImageOptions io;
  qtool::capi::check_keys(j, {"size", "mean", "std", "scale", "layout", "bgr", "resize_shorter", "center_crop",
                              "letterbox", "pad_value", "jpeg_fancy_upsampling", "offset", "limit", "sample", "seed",
                              "whole"},
                          "data options");
  auto wh = [&](const char* k, int& w, int& h) {
    if (!j.contains(k)) return;
    if (!j[k].is_string()) throw ArgumentError(std::string(k) + " must be a \"WxH\" string");
    const std::string s = j[k];
    const auto x = s.find_first_of("xX");
    const std::string ws = x == std::string::npos ? "" : s.substr(0, x), hs = x == std::string::npos ? "" : s.substr(x + 1);
    auto digits = [](const std::string& d) {
      return !d.empty() && d.size() <= 6 && d.find_first_not_of("0123456789") == std::string::npos;
    };
    if (!digits(ws) || !digits(hs)) throw ArgumentError(std::string(k) + " must be WxH (e.g. 320x240), got '" + s + "'");
    w = std::stoi(ws);
    h = std::stoi(hs);
    if (w <= 0 || h <= 0) throw ArgumentError(std::string(k) + " must be WxH with positive sizes, got '" + s + "'");
  };
  try {
    wh("size", io.width, io.height);
    wh("center_crop", io.crop_width, io.crop_height);
    wh("letterbox", io.letterbox_width, io.letterbox_height);
    if (j.contains("resize_shorter")) io.resize_shorter = j["resize_shorter"];
    if (j.contains("pad_value")) io.pad_value = j["pad_value"];
    if (j.contains("mean")) io.mean = j["mean"].get<std::vector<float>>();
    if (j.contains("std")) io.std = j["std"].get<std::vector<float>>();
    if (j.contains("scale")) io.scale = j["scale"];
    if (j.contains("layout")) io.nchw = j["layout"].get<std::string>() != "nhwc";
    if (j.contains("bgr")) io.rgb = !j["bgr"].get<bool>();
    if (j.contains("jpeg_fancy_upsampling")) io.jpeg_fancy_upsampling = j["jpeg_fancy_upsampling"];
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(std::string("data options: ") + e.what());
  }
  if (io.letterbox_width && (io.width || io.resize_shorter || io.crop_width))
    throw ArgumentError("give 'letterbox' or 'size' / 'resize_shorter' / 'center_crop', not both");
  if (io.resize_shorter && io.width) throw ArgumentError("give 'resize_shorter' or 'size', not both");
  const auto [sel, whole] = selection_of(j);
  return {io, sel, whole};
}

}  // namespace

qt_status qt_data_open(const char* path, const qt_model* model, const char* options_json, qt_data** out) {
  return guarded([&] {
    need(path, "path");
    need(model, "model");
    need(out, "out");
    const DataOpen o = data_options_of(options_json);
    const auto specs = qtool::model_input_specs(model->model);
    auto d = std::make_unique<qt_data>();
    d->file = qtool::select_dataset(qtool::open_dataset(path, specs, o.image, o.whole), o.selection, specs, o.whole);
    if (d->file->size() == 0) throw qtool::InputError(std::string(path) + ": no samples selected");
    *out = d.release();
  });
}

qt_status qt_labels_open(const char* labels, const char* data_path, const qt_model* model, const char* options_json,
                         char** labels_json) {
  return guarded([&] {
    need(labels, "labels");
    need(data_path, "data_path");
    need(model, "model");
    need(labels_json, "labels_json");
    *labels_json = nullptr;
    const DataOpen o = data_options_of(options_json);
    const auto l = qtool::select_labels(labels, data_path, qtool::model_input_specs(model->model), o.image, o.whole,
                                        o.selection);
    *labels_json = qtool::capi::give_string(nlohmann::json(l).dump());
  });
}

qt_status qt_data_size(const qt_data* data, int64_t* samples) {
  return guarded([&] {
    need(data, "data");
    need(samples, "samples");
    if (data->file) {
      *samples = data->file->size();
      return;
    }
    if (data->stream) {
      *samples = data->stream->size();
      return;
    }
    int64_t n = 0;
    if (!data->batches.empty())
      for (const auto& t : data->batches.begin()->second) n += t.dim(0);
    *samples = n;
  });
}

void qt_data_free(qt_data* data) { delete data; }

void qt_quantize_options_init(qt_quantize_options* o) {
  if (!o) return;
  *o = qt_quantize_options{8, 0, nullptr, 0, -1, 0, "mse", "gptq", "qdq", 0.0, "unstructured"};
}

qt_status qt_quantize(const qt_model* model, const qt_quantize_options* options, qt_data* calib, qt_model** out) {
  return guarded([&] {
    need(model, "model");
    need(options, "options");
    need(out, "out");
    *out = nullptr;
    qtool::CompressOptions o;
    o.plan.bits = options->bits;
    o.plan.ternary = options->ternary != 0;
    if (options->dtype) o.plan.dtype = options->dtype;
    o.plan.group_size = options->group_size;
    o.plan.symmetric = options->symmetric;
    o.act_bits = options->act_bits;
    if (options->method) o.method = options->method;
    if (options->rounding) o.rounding = options->rounding;
    if (options->format) o.format = options->format;
    o.prune.sparsity = options->sparsity;
    if (options->pattern) o.prune.pattern = options->pattern;
    o.prune_enabled = o.prune.sparsity > 0 || o.prune.pattern != "unstructured";
    try {
      qtool::validate(o);
    } catch (const qtool::InputError& e) {
      throw ArgumentError(e.what());
    }
    run_quantize(model, o, calib, out);
  });
}

qt_status qt_quantize_json(const qt_model* model, const char* options_json, qt_data* calib, qt_model** out) {
  return guarded([&] {
    need(model, "model");
    need(out, "out");
    *out = nullptr;
    qtool::CalibrationTable table;
    auto o = compress_options(parse_options(options_json, "quantize options"), table);
    try {
      qtool::validate(o);
    } catch (const qtool::InputError& e) {
      throw ArgumentError(e.what());
    }
    run_quantize(model, o, calib, out);
  });
}

qt_status qt_prune(const qt_model* model, const char* options_json, qt_model** out) {
  return guarded([&] {
    need(model, "model");
    need(out, "out");
    *out = nullptr;
    auto j = parse_options(options_json, "prune options");
    qtool::PruneOptions o;
    try {
      qtool::capi::check_keys(j, {"sparsity", "pattern", "scope", "exclude", "sparsity_map"}, "prune options");
      if (j.contains("sparsity")) o.sparsity = j["sparsity"];
      if (j.contains("pattern")) o.pattern = j["pattern"];
      if (j.contains("scope")) o.scope = j["scope"];
      if (j.contains("exclude")) o.exclude = j["exclude"].get<std::vector<std::string>>();
      if (j.contains("sparsity_map")) o.sparsity_map = j["sparsity_map"].get<std::map<std::string, double>>();
    } catch (const nlohmann::json::exception& e) {
      throw ArgumentError(std::string("prune options: ") + e.what());
    }
    auto m = std::make_unique<qt_model>(qt_model{model->model, {}, {}});
    qtool::PruneReport rep;
    try {
      rep = qtool::prune_model(m->model, o);
    } catch (const qtool::InputError& e) {
      throw ArgumentError(e.what());
    }
    m->masks = std::move(rep.masks);
    *out = m.release();
  });
}

qt_status qt_evaluate(const qt_model* model, qt_data* data, const int64_t* labels, size_t n_labels, const qt_model* ref,
                      qt_eval_result* result) {
  return guarded([&] {
    need(model, "model");
    need(data, "data");
    need(result, "result");
    if (n_labels && !labels) throw ArgumentError("labels must not be NULL when n_labels > 0");
    qtool::EvalOptions eo;
    eo.labels.assign(labels, labels + n_labels);
    auto& ds = dataset_for(data, model->model);
    if (n_labels && static_cast<int64_t>(n_labels) != ds.size())
      throw ArgumentError(std::to_string(n_labels) + " labels for " + std::to_string(ds.size()) + " samples");
    auto r = qtool::evaluate(model->model, ds, eo, ref ? &ref->model : nullptr);
    result->samples = r.samples;
    result->top1 = r.top1.value_or(-1.0);
    result->agreement = r.agreement.value_or(-1.0);
    result->sqnr_db = r.outputs.empty() ? -1.0 : r.outputs[0].sqnr_db;
  });
}

qt_status qt_size(const qt_model* model, qt_size_report* report) {
  return guarded([&] {
    need(model, "model");
    need(report, "report");
    qtool::Model m = model->model;
    m.path.clear();
    auto s = qtool::summarize(m);
    report->file_bytes = static_cast<int64_t>(model->model.serialized_bytes());
    // compressing needs the whole model in memory: not for models over 256 MiB
    report->zip_bytes = model->model.serialized_bytes() <= (uint64_t{256} << 20)
                            ? static_cast<int64_t>(qtool::zip_bytes(qtool::serialize_model(model->model)))
                            : -1;
    report->parameters = s.parameters;
    report->weight_params = 0;
    report->weight_bytes = 0;
    for (const auto& w : s.weights) {
      report->weight_params += w.params;
      report->weight_bytes += w.bytes;
    }
    report->bits_per_weight = report->weight_params ? 8.0 * report->weight_bytes / report->weight_params : 0.0;
  });
}

}  // extern "C"
