// SPDX-License-Identifier: Apache-2.0
#include "calib/calibrate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "calib/batch_runner.h"
#include "calib/observer_pool.h"
#include "calib/range_select.h"
#include "core/float_scan.h"
#include "core/parallel.h"
#include "runtime/dnnl_util.h"

namespace qtool {

namespace {
// Index of the first non-finite value, or -1 (a vectorised pass first; the index only when needed).
int64_t first_nonfinite(const float* x, int64_t n) {
  if (all_abs_within(x, n, std::numeric_limits<float>::max())) return -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

struct NonFiniteActivation : InputError {
  using InputError::InputError;
};
}  // namespace

CalibrationTable calibrate(const Model& model, Dataset& raw_data, const std::vector<std::string>& tensors,
                           const CalibrateOptions& opts) {
  if (raw_data.size() == 0) throw InputError(raw_data.describe() + ": no calibration samples");
  int64_t skipped = 0;
  auto checked = finite_samples(raw_data, opts.skip_nonfinite, &skipped);
  if (skipped) spdlog::warn("{}: skipped {} samples holding non-finite values", raw_data.describe(), skipped);
  Dataset& data = *checked;
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
  std::vector<char> seen(names.size(), 0);      // written by the executor thread only
  std::vector<char> infinite(names.size(), 0);  // written by the observer's worker; read after drain()
  int64_t batch_begin = 0;                      // first sample of the batch being run
  // An observer refused a tensor for a NaN or infinity although the data is finite (checked
  // above). -inf only is by design (attention masks filled with -inf before Softmax): the tensor
  // stays float. NaN or +inf: an overflow or invalid operation, reported with its sample.
  auto on_nonfinite = [&](size_t i, const Tensor& produced, int64_t begin) {
    const Tensor t = produced.layout() ? to_plain(produced) : produced;  // sample order
    const float* x = t.data<float>();
    const int64_t n = t.numel(), k = first_nonfinite(x, n);
    if (k < 0) return false;
    if (std::all_of(x + k, x + n, [](float v) { return std::isfinite(v) || v == -INFINITY; })) {
      infinite[i] = 1;
      return true;
    }
    const int64_t per_sample = t.rank() ? n / std::max<int64_t>(1, t.dim(0)) : n;
    throw NonFiniteActivation(data.describe() + ": tensor '" + names[i] + "' computed from sample " +
                              std::to_string(begin + k / std::max<int64_t>(1, per_sample)) +
                              " is not finite (an overflow or invalid operation in the model); calibration needs "
                              "finite activations (-inf alone, as in attention masks, keeps the tensor float)");
  };
  // histograms observe on this thread over its OpenMP team; cheap observers (min/max) on workers
  // beside the executor
  ObserverPool pool(raw, !raw.empty() && raw.front()->splits_observe() ? -1 : 0, size_t{64} << 20, on_nonfinite);
  // Observers need the values, not their order: tensors in a dense runtime layout come as they
  // are (any_layout), and the pool's observers check them for NaN / inf in the same pass.
  auto submit = [&](const std::string& name, const Tensor& t) {
    auto it = index.find(name);
    if (it == index.end() || t.dtype() != DType::kFloat) return;
    seen[it->second] = 1;
    pool.submit(it->second, t, batch_begin);
  };
  exec.set_hook(submit, /*any_layout=*/true);
  spdlog::debug("calibrating on {} with '{}' (batch {})", data.describe(), opts.method, batch);
  try {
    run_batches(exec, data, batch, "calibrate", [&](int64_t begin, int64_t count, const TensorMap& feeds, const TensorMap&) {
      // Graph inputs are not node outputs, so the hook does not see them: observe them here.
      for (const auto& name : input_names) {
        auto it = feeds.find(name);
        if (it != feeds.end()) submit(name, it->second);
      }
      batch_begin = begin + count;
    });
    exec.set_hook(nullptr);
    pool.drain();
  } catch (const NonFiniteActivation&) {
    throw;  // names its tensor and sample
  } catch (const Error& e) {
    if (!pool.failed()) throw;
    throw InputError("calibration: tensor '" + names[pool.failed_index()] + "': " + e.what());
  }
  CalibrationTable table;
  table.method = opts.method;
  table.samples = data.size();
  std::vector<size_t> done;
  for (size_t i = 0; i < names.size(); ++i) {
    if (infinite[i]) spdlog::warn("tensor '{}' holds -inf (an attention mask); it stays float", names[i]);
    else if (seen[i]) done.push_back(i);
    else spdlog::warn("tensor '{}' was never produced during calibration; it stays float", names[i]);
  }
  // Threshold searches (entropy, mse) are independent per tensor.
  std::vector<std::vector<Range>> cands(done.size());
  parallel_for(static_cast<int64_t>(done.size()), [&](int64_t i) { cands[i] = observers[done[i]]->candidates(); });
  const bool choose = std::any_of(cands.begin(), cands.end(), [](const auto& c) { return c.size() > 1; });
  if (!choose) {
    for (size_t i = 0; i < done.size(); ++i) table.ranges[names[done[i]]] = cands[i].front();
    return table;
  }
  std::map<std::string, std::vector<Range>> by_name;
  for (size_t i = 0; i < done.size(); ++i) by_name[names[done[i]]] = std::move(cands[i]);
  RangeSelectOptions so;
  so.act_type = opts.act_type;
  // Batches of 4: the clean and quantized reader runs hold every value they read (UltraFace, 1,000
  // samples, entropy: 880 MB peak RSS and 13.0 s at 16, 393 MB and 11.1 s at 4, 268 MB without selection).
  so.max_batch = std::min<int64_t>(opts.max_batch, 4);
  spdlog::debug("choosing among candidate ranges by the readers' outputs on {} samples",
                std::min(data.size(), so.max_samples));
  table.ranges = select_ranges_by_reader_output(model, data, by_name, so);
  return table;
}

}  // namespace qtool
