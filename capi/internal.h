// SPDX-License-Identifier: Apache-2.0
// Shared by the C API's source files (capi/qtool.cpp, capi/search_api.cpp): the handle types and
// `guarded`, which turns every exception into a qt_status and the per-thread message.
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "calib/dataset.h"
#include "capi/qtool.h"
#include "core/error.h"
#include "io/model.h"

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

namespace qtool::capi {

extern thread_local std::string g_error;

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

void need(const void* p, const char* what);
nlohmann::json parse_options(const char* json, const char* what);
qtool::Dataset& dataset_for(qt_data* d, const qtool::Model& model);
// A qtool-owned copy of `text` for the caller (release with qt_buffer_free).
char* copy_out(const std::string& text);

}  // namespace qtool::capi
