// SPDX-License-Identifier: Apache-2.0
// qtool CLI: one file per subcommand; each registers itself on the root CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "io/model.h"
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

// Every output of a command is checked before any work starts (issue 14, data loss; issue 13.6):
//   - it must not be one of the command's inputs (the model, its external data, data files,
//     labels, tables, plans, maps: same device and inode, so a hard link or a symlink counts),
//     nor lie inside a data folder the command reads, nor be another output of the same command;
//   - an existing file is replaced only when the user named it (-o, --save-*, --plan, ...) or
//     passed --force; outputs qtool names by default (beside the input) are never silently
//     overwritten;
//   - the writing rules of io/output_file.h apply (symlinks followed, devices written through,
//     read-only folders refused).
class OutputGuard {
 public:
  explicit OutputGuard(bool force) : force_(force) {}
  void input(const std::string& path);  // a file or folder the command reads (empty: ignored)
  void input_model(const Model& model);  // the model file and its external data files
  // Checks `path` for option `option` (e.g. "-o"); `named`: the user gave this path. Returns it.
  std::filesystem::path output(const std::filesystem::path& path, bool named, const std::string& option);

 private:
  struct Input {
    std::string path;
    uint64_t dev = 0, ino = 0;
    bool folder = false;
    std::filesystem::path canonical;
  };
  bool force_;
  std::vector<Input> inputs_;
  std::vector<std::pair<std::filesystem::path, std::string>> outputs_;
};
// InputError for an option given with an empty value (-o "" must not mean "the default").
void reject_empty_values(const CLI::App* cmd);
// --force on a command that writes files.
void add_force_option(CLI::App* cmd, bool& force);

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
  bool skip_nonfinite = false;          // calibration: drop samples with non-finite values
  ImageOptions image() const;           // throws InputError on a bad --size / --layout
  // The samples of a data set of n that --offset / --limit / --sample select, in order.
  std::vector<int64_t> select(int64_t n) const;
};
void add_data_options(CLI::App* cmd, DataOptions& opts);
// --ray ADDRESS on sweep / sensitivity / auto (tools/ray_forward.cpp). The option is listed in
// --help; the work is done by forward_to_ray, which main() calls before parsing.
void add_ray_option(CLI::App* cmd, std::string& address);
// When argv is `qtool [global flags] sweep|sensitivity|auto ... --ray ADDRESS ...`, replaces this
// process with `python3 -m qtool.distributed <same arguments>` (the Ray driver in the Python
// package; $QTOOL_PYTHON picks the interpreter) and does not return; otherwise returns. Throws
// InputError when the interpreter cannot be started.
void forward_to_ray(int argc, char** argv);
std::unique_ptr<Dataset> open_data(const std::string& path, const std::vector<InputSpec>& inputs,
                                   const DataOptions& opts);
// Labels for the samples open_data selects: `labels` is a .npy of class ids (for the whole data
// set, or already for the selection) or "folders" (class folders of an image folder, ImageFolder
// order). InputError when the counts do not fit.
std::vector<int64_t> open_labels(const std::string& labels, const std::string& data_path,
                                 const std::vector<InputSpec>& inputs, const DataOptions& opts);
std::string format_bytes(int64_t bytes);
// "  file size: ... -> ... (x% of the input, N.NNx smaller)" from the bytes on disk (model file
// plus external data) of the input and of the saved output, and the zip-compressed line for models
// small enough to compress in memory.
std::string size_lines(const Model& input, const Model& output, const SaveResult& saved);

// tools/provenance.cpp: the command line as typed (set once by main), the SHA-256 of a file, and
// the provenance block of a report.
void set_command_line(int argc, char** argv);
const std::string& command_line();
std::string sha256_file(const std::filesystem::path& path);
Provenance make_provenance(const std::filesystem::path& model, const Dataset* calib, const Dataset* eval,
                           const std::string& observer);

}  // namespace qtool::cli
