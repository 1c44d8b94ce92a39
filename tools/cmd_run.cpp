// SPDX-License-Identifier: Apache-2.0
// qtool run MODEL --data DATA -o OUT: runs the executor and saves every graph output.
//
// Samples (default): DATA is read as a data set (tools/common_options.cpp) and fed in batches
// along the sample axis; outputs are concatenated over the samples into OUT (.npz keyed by output
// name).
// --whole: every array of DATA is one complete input tensor (no sample axis, no batching): an .npz
// keyed by input name, an .npy for a one-input model, or a folder of ONNX test-data files
// (input_0.pb, input_1.pb, ... as in the ONNX backend test suite; TensorProto, SequenceProto or
// OptionalProto by the input's declared type). OUT is an .npz (tensor outputs only) or a folder that
// receives output_0.pb, output_1.pb, ... in graph-output order (any kind of value).
#include <cstring>
#include <iostream>

#include "calib/batch_runner.h"
#include "io/input_file.h"
#include "io/npy.h"
#include "io/onnx_value.h"
#include "runtime/step_profile.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace qtool::cli {

namespace {

std::string read_file_bytes(const fs::path& p) { return read_input_file(p, "a .pb file"); }

ValueMap read_whole_inputs(const fs::path& data, const std::vector<InputSpec>& specs) {
  ValueMap feeds;
  std::error_code ec;
  if (fs::is_directory(data, ec) || data.extension() == ".pb") {
    std::vector<fs::path> files = fs::is_directory(data, ec) ? list_pb_files(data, "input") : std::vector<fs::path>{data};
    if (files.size() > specs.size())
      throw InputError(data.string() + ": " + std::to_string(files.size()) + " .pb files for a model with " +
                       std::to_string(specs.size()) + " inputs");
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string bytes = read_file_bytes(files[i]);
      std::string name;
      // by name when the file names an input, else by position
      const InputSpec* spec = &specs[i];
      Value v = value_from_pb(bytes, *spec, files[i].string(), &name);
      for (const auto& s : specs)
        if (!name.empty() && s.name == name && &s != spec) {
          spec = &s;
          v = value_from_pb(bytes, *spec, files[i].string(), &name);
        }
      feeds[spec->name] = v;
    }
    return feeds;
  }
  if (data.extension() == ".npz") {
    for (auto& [k, t] : read_npz(data)) feeds[k] = t;
    for (const auto& [k, v] : feeds) {
      bool known = false;
      for (const auto& s : specs) known = known || s.name == k;
      if (!known) throw InputError(data.string() + ": array '" + k + "' names no model input");
    }
    return feeds;
  }
  if (data.extension() == ".npy") {
    if (specs.size() != 1)
      throw InputError(data.string() + ": a .npy feeds a one-input model; this one has " + std::to_string(specs.size()) +
                       " inputs (use an .npz keyed by input name)");
    feeds[specs[0].name] = read_npy(data);
    return feeds;
  }
  throw InputError(data.string() + ": --whole reads an .npz, an .npy, a .pb or a folder of input_K.pb files");
}

void write_outputs(const fs::path& out, const std::vector<std::string>& names, const ValueMap& values) {
  if (out.extension() == ".npz") {
    std::map<std::string, Tensor> tensors;
    for (const auto& [k, v] : values) {
      if (!v.is_tensor())
        throw InputError("output '" + k + "' is " + v.describe() + "; write to a folder (-o DIR) to get .pb files");
      tensors[k] = v.tensor();
    }
    write_npz(out, tensors);
    return;
  }
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw InputError(out.string() + ": exists and is not a folder (outputs go to an .npz or a folder)");
  fs::create_directories(out, ec);
  if (ec) throw InputError(out.string() + ": cannot create the output folder: " + ec.message());
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = values.find(names[i]);
    const Value v = it == values.end() ? Value::none(DType::kFloat) : it->second;
    write_file_atomic(out / ("output_" + std::to_string(i) + ".pb"), value_to_pb(v, names[i]));
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  struct Args {
    std::string model, data_path, out;
    int64_t batch = 32;
    bool reference = false, profile = false;
    DataOptions data;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("run", "run a model in qtool's executor and save its outputs");
  cmd->add_option("model", a->model, ".onnx model")->required();
  cmd->add_option("--data", a->data_path,
                  "input data: .npy, .npz, folder of .npy or images (samples); with --whole also .pb files")
      ->required();
  cmd->add_option("-o,--output", a->out,
                  "outputs: .npz keyed by output name, or (with --whole) a folder receiving output_K.pb")
      ->required();
  cmd->add_option("--batch", a->batch, "largest batch to run (default 32)");
  cmd->add_flag("--reference", a->reference, "run every node with its plain reference kernel");
  cmd->add_flag("--profile", a->profile,
                "time every node and print time per op type and the slowest nodes (ms per run) to stdout");
  add_data_options(cmd, a->data);
  cmd->callback([a] {
    if (a->batch < 1) throw InputError("--batch must be >= 1, got " + std::to_string(a->batch));
    Model m = load_model(a->model);
    OutputGuard guard(true);  // -o is always named by the user
    guard.input_model(m);
    guard.input(a->data_path);
    const bool folder_out = a->data.whole && fs::path(a->out).extension() != ".npz";
    if (!folder_out) guard.output(a->out, true, "-o");
    require_supported(m);
    ExecutorOptions opts;
    opts.reference_only = a->reference;
    if (a->data.whole) {
      Executor exec(m, opts);
      if (folder_out) {
        if (a->out.empty()) throw InputError("-o: the output path is empty");
        std::error_code ec;
        if (fs::exists(a->out, ec) && !fs::is_directory(a->out, ec))
          throw InputError(a->out + ": exists and is not a folder (outputs go to an .npz or a folder)");
        fs::create_directories(a->out, ec);
        if (ec) throw InputError(a->out + ": cannot create the output folder: " + ec.message());
        for (size_t i = 0; i < exec.output_names().size(); ++i)
          guard.output(fs::path(a->out) / ("output_" + std::to_string(i) + ".pb"), true, "-o");
      }
      ValueMap feeds = read_whole_inputs(a->data_path, exec.inputs());
      if (a->profile) exec.set_profiling(true);
      ValueMap out = exec.run_values(feeds);
      ValueMap outputs;
      for (const auto& n : exec.output_names())
        if (out.count(n)) outputs[n] = out[n];
      write_outputs(a->out, exec.output_names(), outputs);
      std::cout << "qtool run: " << feeds.size() << " whole inputs -> " << a->out << "\n";
      if (a->profile) std::cout << profile_summary(exec.profile());
      return;
    }
    auto data = open_data(a->data_path, model_input_specs(m), a->data);
    Executor exec(m, opts);
    const int64_t batch = probe_batch_size(exec, *data, a->batch);
    if (a->profile) exec.set_profiling(true);  // after the probe: the batches that are kept
    std::map<std::string, std::vector<Tensor>> parts;
    run_batches(exec, *data, batch, "run", [&](int64_t, int64_t, const TensorMap&, const TensorMap& out) {
      for (const auto& [k, t] : out) parts[k].push_back(t);
    });
    std::map<std::string, Tensor> merged;
    for (const auto& [k, list] : parts) {
      if (list.size() == 1) {
        merged[k] = list[0];
        continue;
      }
      for (const auto& t : list)
        if (t.rank() == 0 || t.dtype() != list[0].dtype() ||
            Shape(t.shape().begin() + 1, t.shape().end()) != Shape(list[0].shape().begin() + 1, list[0].shape().end()))
          throw InputError("output '" + k + "' has no common sample axis across batches (" + shape_str(t.shape()) +
                           " vs " + shape_str(list[0].shape()) + "); run it with --whole");
      Shape s = list[0].shape();
      int64_t n = 0;
      for (const auto& t : list) n += t.dim(0);
      s[0] = n;
      Tensor all(list[0].dtype(), s);
      size_t off = 0;
      for (const auto& t : list) {
        std::memcpy(static_cast<uint8_t*>(all.raw()) + off, t.raw(), t.nbytes());
        off += t.nbytes();
      }
      merged[k] = all;
    }
    write_npz(a->out, merged);
    std::cout << "qtool run: " << data->describe() << " -> " << a->out << "\n";
    if (a->profile) std::cout << profile_summary(exec.profile());
  });
}

}  // namespace qtool::cli
