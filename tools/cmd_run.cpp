// qtool run MODEL --data DATA -o outputs.npz: runs the executor and saves every graph output,
// concatenated over the samples, keyed by output name (for comparisons with other runtimes).
#include <cstring>
#include <iostream>

#include "calib/batch_runner.h"
#include "io/npy.h"
#include "tools/commands.h"

namespace qtool::cli {

void add_run_command(CLI::App& app) {
  struct Args {
    std::string model, data_path, out;
    int64_t batch = 32;
    DataOptions data;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("run", "run a model in qtool's executor and save its outputs (.npz)");
  cmd->add_option("model", a->model, ".onnx model")->required();
  cmd->add_option("--data", a->data_path, "input data: .npy, .npz, folder of .npy or images")->required();
  cmd->add_option("-o,--output", a->out, "outputs to write (.npz keyed by output name)")->required();
  cmd->add_option("--batch", a->batch, "largest batch to run (default 32)");
  add_data_options(cmd, a->data);
  cmd->callback([a] {
    Model m = load_model(a->model);
    require_supported(m);
    auto data = open_data(a->data_path, model_input_specs(m), a->data);
    Executor exec(m);
    const int64_t batch = probe_batch_size(exec, *data, a->batch);
    std::map<std::string, std::vector<Tensor>> parts;
    run_batches(exec, *data, batch, "run", [&](int64_t, int64_t, const TensorMap&, const TensorMap& out) {
      for (const auto& [k, t] : out) parts[k].push_back(t);
    });
    std::map<std::string, Tensor> merged;
    for (const auto& [k, list] : parts) {
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
  });
}

}  // namespace qtool::cli
