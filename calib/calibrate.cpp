// SPDX-License-Identifier: Apache-2.0
#include "calib/calibrate.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <map>
#include <set>

#include "calib/batch_runner.h"
#include "core/parallel.h"

namespace qtool {

namespace {
// Index of the first non-finite value, or -1.
int64_t first_nonfinite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}
}  // namespace

CalibrationTable calibrate(const Model& model, Dataset& raw_data, const std::vector<std::string>& tensors,
                           const CalibrateOptions& opts) {
  if (raw_data.size() == 0) throw InputError(raw_data.describe() + ": no calibration samples");
  int64_t skipped = 0;
  auto checked = finite_samples(raw_data, opts.skip_nonfinite, &skipped);
  if (skipped) spdlog::warn("{}: skipped {} samples holding non-finite values", raw_data.describe(), skipped);
  Dataset& data = *checked;
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
  // A tensor that is not finite although the data is: recorded in the hook, reported after the
  // run with the sample it came from.
  std::string bad_tensor;
  int64_t bad_index = -1, bad_numel = 0;
  exec.set_hook([&](const std::string& name, const Tensor& t) {
    auto it = observers.find(name);
    if (it != observers.end() && t.dtype() == DType::kFloat) {
      const int64_t k = first_nonfinite(t.data<float>(), t.numel());
      if (k >= 0) {
        if (bad_tensor.empty()) {
          bad_tensor = name;
          bad_index = k;
          bad_numel = t.rank() ? t.numel() / std::max<int64_t>(1, t.dim(0)) : t.numel();
        }
        return;
      }
      it->second->observe(t.data<float>(), t.numel());
      seen.insert(name);
    }
  });
  auto report_bad = [&](int64_t begin) {
    if (bad_tensor.empty()) return;
    throw InputError(data.describe() + ": tensor '" + bad_tensor + "' computed from sample " +
                     std::to_string(begin + bad_index / std::max<int64_t>(1, bad_numel)) +
                     " is not finite (an overflow in the model); calibration needs finite activations");
  };
  const int64_t batch = probe_batch_size(exec, data, opts.max_batch);
  // The probe ran batch 0..1 through the hook already: start fresh observers.
  for (auto& [name, obs] : observers) obs = make_observer(opts.method, opts.observer);
  spdlog::info("calibrating on {} with '{}' (batch {})", data.describe(), opts.method, batch);
  bad_tensor.clear();
  run_batches(exec, data, batch, "calibrate", [&](int64_t begin, int64_t, const TensorMap& feeds, const TensorMap&) {
    report_bad(begin);
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
