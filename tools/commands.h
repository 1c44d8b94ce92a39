// SPDX-License-Identifier: Apache-2.0
// qtool CLI: one file per subcommand; each registers itself on the root CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

#include "calib/dataset.h"
#include "eval/report.h"

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
  int resize_shorter = 0;               // --resize-shorter N
  std::string center_crop, letterbox;   // "WxH"
  float pad_value = 114.f;
  std::string sample = "first";         // --sample first|every-k|random (with --limit)
  uint64_t seed = 0;
  std::vector<float> mean{0.f}, std{1.f};
  float scale = 1.f / 255.f;
  std::string layout = "nchw";
  bool bgr = false, jpeg_fancy = false;
  int64_t offset = 0, limit = -1;
  bool whole = false;                   // feed every array whole (no sample axis)
  ImageOptions image() const;           // throws InputError on a bad --size / --layout
  // The samples of a data set of n that --offset / --limit / --sample select, in order.
  std::vector<int64_t> select(int64_t n) const;
};
void add_data_options(CLI::App* cmd, DataOptions& opts);
std::unique_ptr<Dataset> open_data(const std::string& path, const std::vector<InputSpec>& inputs,
                                   const DataOptions& opts);
// Labels for the samples open_data selects: `labels` is a .npy of class ids (for the whole data
// set, or already for the selection) or "folders" (class folders of an image folder, ImageFolder
// order). InputError when the counts do not fit.
std::vector<int64_t> open_labels(const std::string& labels, const std::string& data_path,
                                 const std::vector<InputSpec>& inputs, const DataOptions& opts);
std::string format_bytes(int64_t bytes);
// "  file size: ... -> ... (x% of the input, N.NNx smaller)" and the zip-compressed line, for the
// serialized input and output models.
std::string size_lines(const Model& input, const Model& output);

// tools/provenance.cpp: the command line as typed (set once by main), the SHA-256 of a file, and
// the provenance block of a report.
void set_command_line(int argc, char** argv);
const std::string& command_line();
std::string sha256_file(const std::filesystem::path& path);
Provenance make_provenance(const std::filesystem::path& model, const Dataset* calib, const Dataset* eval,
                           const std::string& observer);

}  // namespace qtool::cli
