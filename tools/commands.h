// SPDX-License-Identifier: Apache-2.0
// qtool CLI: one file per subcommand; each registers itself on the root CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

#include "calib/dataset.h"

namespace qtool::cli {

// Thrown by `qtool gate` after printing its verdict when a rule fails: exit code 1.
struct GateFailed {};

void add_quantize_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_prune_command(CLI::App& app);
void add_sensitivity_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_auto_command(CLI::App& app);
void add_gate_command(CLI::App& app);
void add_ops_command(CLI::App& app);

// Options shared by every command that reads a data set (tools/common_options.cpp).
struct DataOptions {
  std::string size;                     // "WxH"
  std::vector<float> mean{0.f}, std{1.f};
  float scale = 1.f / 255.f;
  std::string layout = "nchw";
  bool bgr = false, jpeg_fancy = false;
  int64_t offset = 0, limit = -1;
  bool whole = false;                   // feed every array whole (no sample axis)
  ImageOptions image() const;           // throws InputError on a bad --size / --layout
};
void add_data_options(CLI::App* cmd, DataOptions& opts);
std::unique_ptr<Dataset> open_data(const std::string& path, const std::vector<InputSpec>& inputs,
                                   const DataOptions& opts);
std::string format_bytes(int64_t bytes);
// "  file size: ... -> ... (x% of the input, N.NNx smaller)" and the zip-compressed line, for the
// serialized input and output models.
std::string size_lines(const Model& input, const Model& output);

}  // namespace qtool::cli
