// SPDX-License-Identifier: Apache-2.0
// qtool C API: every entry point catches every exception and turns it into a status code and a
// per-thread message (capi/qtool.h).
#include "capi/qtool.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>

#include "calib/dataset.h"
#include "core/version.h"
#include "eval/evaluate.h"
#include "eval/inspect.h"
#include "io/onnx_tensor.h"
#include "prune/prune.h"
#include "prune/sparse_storage.h"
#include "quant/compress.h"
#include "runtime/executor.h"

struct qt_model {
  qtool::Model model;
  std::map<std::string, qtool::Tensor> masks;
  std::string mask_names;
};

struct qt_data {
  // in memory: per input, the batches in order; or a file data set
  std::map<std::string, std::vector<qtool::Tensor>> batches;
  std::unique_ptr<qtool::Dataset> file;
  std::unique_ptr<qtool::Dataset> merged;  // memory batches stacked, rebuilt when batches change
  bool dirty = true;
};

namespace {

thread_local std::string g_error;

// A library should not chat on its host's stderr: warnings and errors only, unless QTOOL_LOG=info|debug.
const bool g_quiet = [] {
  const char* env = std::getenv("QTOOL_LOG");
  spdlog::set_level(env ? spdlog::level::from_str(env) : spdlog::level::warn);
  return true;
}();

struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename F>
qt_status guarded(F&& f) {
  g_error.clear();
  try {
    f();
    return QT_STATUS_OK;
  } catch (const ArgumentError& e) {
    g_error = e.what();
    return QT_STATUS_INVALID_ARGUMENT;
  } catch (const NotFound& e) {
    g_error = e.what();
    return QT_STATUS_NOT_FOUND;
  } catch (const qtool::InputError& e) {
    g_error = e.what();
    return QT_STATUS_BAD_INPUT;
  } catch (const std::bad_alloc&) {
    g_error = "out of memory";
    return QT_STATUS_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    g_error = e.what();
    return QT_STATUS_FAILURE;
  } catch (...) {
    g_error = "unknown failure";
    return QT_STATUS_FAILURE;
  }
}

void need(const void* p, const char* what) {
  if (!p) throw ArgumentError(std::string(what) + " must not be NULL");
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

qtool::Dataset& dataset_for(qt_data* d, const qtool::Model& model) {
  if (d->file) return *d->file;
  if (d->batches.empty()) throw ArgumentError("data set is empty: add batches with qt_data_add_batch");
  if (d->dirty || !d->merged) {
    qtool::TensorMap arrays;
    for (auto& [name, list] : d->batches) {
      qtool::Shape s = list[0].shape();
      int64_t n = 0;
      for (const auto& t : list) n += t.dim(0);
      s[0] = n;
      qtool::Tensor all(qtool::DType::kFloat, s);
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

qtool::CompressOptions compress_options(const nlohmann::json& j) {
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
  static const std::set<std::string> known = {"bits", "ternary", "dtype", "group_size", "symmetric", "act_bits",
                                              "act_type", "method", "percentile", "rounding", "format", "exclude",
                                              "op_types", "keep_first_last", "layer_bits", "sparsity", "pattern", "scope"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw ArgumentError("unknown option '" + it.key() + "'");
  get("bits", o.plan.bits);
  get("ternary", o.plan.ternary);
  get("dtype", o.plan.dtype);
  get("group_size", o.plan.group_size);
  get("symmetric", o.plan.symmetric);
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
  get("sparsity", o.prune.sparsity);
  get("pattern", o.prune.pattern);
  get("scope", o.prune.scope);
  o.prune_enabled = o.prune.sparsity > 0 || o.prune.pattern != "unstructured";
  return o;
}

qt_status run_quantize(const qt_model* model, const qtool::CompressOptions& o, qt_data* calib, qt_model** out) {
  auto r = qtool::compress(model->model, o, calib ? &dataset_for(calib, model->model) : nullptr);
  auto* m = new qt_model{std::move(r.model), std::move(r.pruning.masks), {}};
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
  }
  return "unknown status";
}

const char* qt_last_error(void) { return g_error.c_str(); }

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
    std::error_code ec;
    if (!model->model.path.empty() && std::filesystem::exists(path, ec) &&
        std::filesystem::equivalent(path, model->model.path, ec))
      throw qtool::InputError(std::string(path) + ": refusing to overwrite the file the model was loaded from");
    qtool::save_model(model->model, path);
  });
}

qt_status qt_model_serialize(const qt_model* model, void** data, size_t* size) {
  return guarded([&] {
    need(model, "model");
    need(data, "data");
    need(size, "size");
    std::string bytes;
    if (!model->model.proto.SerializeToString(&bytes)) throw std::runtime_error("cannot serialize the model");
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
    if (data->file) throw ArgumentError("this data set reads files; batches cannot be added");
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

qt_status qt_data_open(const char* path, const qt_model* model, const char* options_json, qt_data** out) {
  return guarded([&] {
    need(path, "path");
    need(model, "model");
    need(out, "out");
    auto j = parse_options(options_json, "data options");
    qtool::ImageOptions io;
    try {
      if (j.contains("size")) {
        const std::string s = j["size"];
        auto x = s.find('x');
        if (x == std::string::npos) throw ArgumentError("size must be WxH, got '" + s + "'");
        io.width = std::stoi(s.substr(0, x));
        io.height = std::stoi(s.substr(x + 1));
      }
      if (j.contains("mean")) io.mean = j["mean"].get<std::vector<float>>();
      if (j.contains("std")) io.std = j["std"].get<std::vector<float>>();
      if (j.contains("scale")) io.scale = j["scale"];
      if (j.contains("layout")) io.nchw = j["layout"].get<std::string>() != "nhwc";
      if (j.contains("bgr")) io.rgb = !j["bgr"].get<bool>();
    } catch (const nlohmann::json::exception& e) {
      throw ArgumentError(std::string("data options: ") + e.what());
    }
    auto d = std::make_unique<qt_data>();
    d->file = qtool::open_dataset(path, qtool::model_input_specs(model->model), io);
    *out = d.release();
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
    auto o = compress_options(parse_options(options_json, "quantize options"));
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
      static const std::set<std::string> known = {"sparsity", "pattern", "scope", "exclude", "sparsity_map"};
      for (auto it = j.begin(); it != j.end(); ++it)
        if (!known.count(it.key())) throw ArgumentError("unknown prune option '" + it.key() + "'");
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
    std::string bytes;
    model->model.proto.SerializeToString(&bytes);
    qtool::Model m = model->model;
    m.path.clear();
    auto s = qtool::summarize(m);
    report->file_bytes = static_cast<int64_t>(bytes.size());
    report->zip_bytes = qtool::zip_bytes(bytes);
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
