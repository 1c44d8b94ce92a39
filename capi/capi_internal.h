// SPDX-License-Identifier: Apache-2.0
// Shared by the C API's translation units (capi/*.cpp): the handle structs, the exception ->
// status mapping (`guarded`) and small argument helpers. Not installed; C users see capi/qtool.h.
#pragma once
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "capi/qtool.h"
#include "core/error.h"
#include "io/model.h"
#include "runtime/executor.h"

struct qt_model {
  qtool::Model model;
  std::map<std::string, qtool::Tensor> masks;
  std::string mask_names;
  std::unique_ptr<qtool::Executor> exec;  // built on the first qt_model_run, dropped by set_tensor
};

namespace qtool::capi {
// A data set fed by qt_data_source callbacks (capi/stream_dataset.cpp).
class StreamDataset;
}  // namespace qtool::capi

struct qt_data {
  // in memory: per input, the batches in order; or a file data set; or a caller's stream
  std::map<std::string, std::vector<qtool::Tensor>> batches;
  std::unique_ptr<qtool::Dataset> file;
  std::unique_ptr<qtool::capi::StreamDataset> stream;
  std::unique_ptr<qtool::Dataset> merged;  // memory batches stacked, rebuilt when batches change
  bool dirty = true;
  ~qt_data();
};

struct qt_values {
  std::vector<std::string> names;
  std::vector<qtool::Tensor> tensors;
};

namespace qtool::capi {

struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A caller's callback (data source) reported a failure.
struct CallbackFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The per-thread message behind qt_last_error().
std::string& last_error();

template <typename F>
qt_status guarded(F&& f) {
  last_error().clear();
  try {
    f();
    return QT_STATUS_OK;
  } catch (const ArgumentError& e) {
    last_error() = e.what();
    return QT_STATUS_INVALID_ARGUMENT;
  } catch (const NotFound& e) {
    last_error() = e.what();
    return QT_STATUS_NOT_FOUND;
  } catch (const CallbackFailed& e) {
    last_error() = e.what();
    return QT_STATUS_CALLBACK_FAILED;
  } catch (const qtool::InputError& e) {
    last_error() = e.what();
    return QT_STATUS_BAD_INPUT;
  } catch (const std::bad_alloc&) {
    last_error() = "out of memory";
    return QT_STATUS_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error() = e.what();
    return QT_STATUS_FAILURE;
  } catch (...) {
    last_error() = "unknown failure";
    return QT_STATUS_FAILURE;
  }
}

inline void need(const void* p, const char* what) {
  if (!p) throw ArgumentError(std::string(what) + " must not be NULL");
}

// A JSON object from options_json (NULL / "" = {}); ArgumentError naming `what` otherwise.
nlohmann::json parse_options(const char* json, const char* what);
// Throws ArgumentError("unknown option 'k'" + closest match) for keys outside `known`.
void check_keys(const nlohmann::json& j, const std::vector<std::string>& known, const char* what);
// The Dataset behind `d`, checked against the model's inputs.
qtool::Dataset& dataset_for(qt_data* d, const qtool::Model& model);
// A malloc'd copy of `s` for the caller (released with qt_buffer_free).
char* give_string(const std::string& s);
// Labels for evaluation-style calls: NULL / 0 = none; checked against the data set's size.
std::vector<int64_t> take_labels(const int64_t* labels, size_t n, int64_t samples);
// A Tensor copied from a caller's array; dtype must be a plain numeric ONNX type.
qtool::Tensor tensor_from_array(const qt_array& a, const char* what);

}  // namespace qtool::capi
