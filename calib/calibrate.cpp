// SPDX-License-Identifier: Apache-2.0
#include "calib/calibrate.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "calib/batch_runner.h"
#include "core/parallel.h"

namespace qtool {

CalibrationTable calibrate(const Model& model, Dataset& data, const std::vector<std::string>& tensors,
                           const CalibrateOptions& opts) {
  if (data.size() == 0) throw InputError(data.describe() + ": no calibration samples");
  Executor exec(model);
  std::map<std::string, std::unique_ptr<Observer>> observers;
  std::vector<std::string> observed;  // never fused away (runtime/fusion.cpp), so the hook sees them
  for (const auto& t : tensors) {
    observers[t] = make_observer(opts.method, opts.observer);
    if (exec.has_value(t)) observed.push_back(t);
  }
  exec.keep_values(observed);
  std::set<std::string> input_names, seen;
  for (const auto& in : exec.inputs()) input_names.insert(in.name);
  exec.set_hook([&](const std::string& name, const Tensor& t) {
    auto it = observers.find(name);
    if (it != observers.end() && t.dtype() == DType::kFloat) {
      it->second->observe(t.data<float>(), t.numel());
      seen.insert(name);
    }
  });
  const int64_t batch = probe_batch_size(exec, data, opts.max_batch);
  // The probe ran batch 0..1 through the hook already: start fresh observers.
  for (auto& [name, obs] : observers) obs = make_observer(opts.method, opts.observer);
  spdlog::info("calibrating on {} with '{}' (batch {})", data.describe(), opts.method, batch);
  run_batches(exec, data, batch, "calibrate", [&](int64_t, int64_t, const TensorMap& feeds, const TensorMap&) {
    // Graph inputs are not node outputs, so the hook does not see them: observe them here.
    for (const auto& name : input_names) {
      auto it = observers.find(name);
      if (it == observers.end()) continue;
      const Tensor& t = feeds.at(name);
      if (t.dtype() == DType::kFloat) {
        it->second->observe(t.data<float>(), t.numel());
        seen.insert(name);
      }
    }
  });
  CalibrationTable table;
  table.method = opts.method;
  table.samples = data.size();
  std::vector<std::pair<std::string, Observer*>> done;
  for (const auto& [name, obs] : observers) {
    if (seen.count(name)) done.emplace_back(name, obs.get());
    else spdlog::warn("tensor '{}' was never produced during calibration; it stays float", name);
  }
  // Threshold searches (entropy, mse) are independent per tensor.
  std::vector<Range> ranges(done.size());
  parallel_for(static_cast<int64_t>(done.size()), [&](int64_t i) { ranges[i] = done[i].second->range(); });
  for (size_t i = 0; i < done.size(); ++i) table.ranges[done[i].first] = ranges[i];
  return table;
}

}  // namespace qtool
