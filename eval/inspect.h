// inspect: what a model is made of (op histogram, parameter count, bytes by data type).
#pragma once
#include <map>
#include <string>

#include "io/model.h"

namespace qtool {

struct ModelSummary {
  int64_t file_bytes = 0;
  int64_t ir_version = 0;
  int opset = 0;
  int64_t nodes = 0;
  std::map<std::string, int64_t> op_histogram;
  int64_t parameters = 0;                      // elements in initializers
  std::map<std::string, int64_t> bytes_by_dtype;
  std::map<std::string, int64_t> params_by_dtype;
  std::string to_text() const;
  std::string to_json() const;
};

ModelSummary summarize(const Model& model);

}  // namespace qtool
