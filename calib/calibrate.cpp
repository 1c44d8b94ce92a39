// SPDX-License-Identifier: Apache-2.0
#include "calib/calibrate.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "calib/batch_runner.h"
#include "calib/observer_pool.h"
#include "core/parallel.h"

namespace qtool {

CalibrationTable calibrate(const Model& model, Dataset& data, const std::vector<std::string>& tensors,
                           const CalibrateOptions& opts) {
  if (data.size() == 0) throw InputError(data.describe() + ": no calibration samples");
  Executor exec(model);
  std::vector<std::string> names;                  // one observer per distinct name
  std::map<std::string, size_t> index;
  std::vector<std::string> observed;  // never fused away (runtime/fusion.cpp), so the hook sees them
  for (const auto& t : tensors) {
    if (index.count(t)) continue;
    index[t] = names.size();
    names.push_back(t);
    if (exec.has_value(t)) observed.push_back(t);
  }
  exec.observe_values(observed);  // seen by the hook, released after their last reader
  std::set<std::string> input_names;
  for (const auto& in : exec.inputs()) input_names.insert(in.name);
  // The probe runs samples 0..1 once to see whether the model takes a batch; nothing is observed.
  const int64_t batch = probe_batch_size(exec, data, opts.max_batch);

  std::vector<std::unique_ptr<Observer>> observers;
  std::vector<Observer*> raw;
  for (size_t i = 0; i < names.size(); ++i) {
    observers.push_back(make_observer(opts.method, opts.observer));
    raw.push_back(observers.back().get());
  }
  std::vector<char> seen(names.size(), 0);  // written by the executor thread only
  ObserverPool pool(raw);
  auto submit = [&](const std::string& name, const Tensor& t) {
    auto it = index.find(name);
    if (it == index.end() || t.dtype() != DType::kFloat) return;
    seen[it->second] = 1;
    pool.submit(it->second, t);
  };
  exec.set_hook(submit);
  spdlog::info("calibrating on {} with '{}' (batch {})", data.describe(), opts.method, batch);
  try {
    run_batches(exec, data, batch, "calibrate", [&](int64_t, int64_t, const TensorMap& feeds, const TensorMap&) {
      // Graph inputs are not node outputs, so the hook does not see them: observe them here.
      for (const auto& name : input_names) {
        auto it = feeds.find(name);
        if (it != feeds.end()) submit(name, it->second);
      }
    });
    exec.set_hook(nullptr);
    pool.drain();
  } catch (const Error& e) {
    if (!pool.failed()) throw;
    throw InputError("calibration: tensor '" + names[pool.failed_index()] + "': " + e.what());
  }
  CalibrationTable table;
  table.method = opts.method;
  table.samples = data.size();
  std::vector<size_t> done;
  for (size_t i = 0; i < names.size(); ++i) {
    if (seen[i]) done.push_back(i);
    else spdlog::warn("tensor '{}' was never produced during calibration; it stays float", names[i]);
  }
  // Threshold searches (entropy, mse) are independent per tensor.
  std::vector<Range> ranges(done.size());
  parallel_for(static_cast<int64_t>(done.size()), [&](int64_t i) { ranges[i] = observers[done[i]]->range(); });
  for (size_t i = 0; i < done.size(); ++i) table.ranges[names[done[i]]] = ranges[i];
  return table;
}

}  // namespace qtool
