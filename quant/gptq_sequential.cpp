// SPDX-License-Identifier: Apache-2.0
#include "quant/gptq_sequential.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include "calib/batch_runner.h"
#include "calib/hessian.h"
#include "core/parallel.h"
#include "quant/model_cut.h"
#include "quant/model_prefix.h"
#include "quant/weight_plan.h"
#include "runtime/kernel.h"

namespace qtool {

// Layers of a GPTQ wave whose workspace is at most this many bytes are quantized side by side.
constexpr double kSideBySideBytes = 16.0 * (1 << 20);

namespace {

// Where the waves start: the whole model on the calibration data, or (once activations are cached)
// the part after a cut, fed by the values the settled part computed, batch by batch.
struct Stage {
  Model model;
  std::vector<TensorMap> batches;  // empty: the calibration data feeds `model`
  bool cached = false;
};

size_t bytes_of(const TensorMap& m) {
  size_t n = 0;
  for (const auto& [name, t] : m) n += t.nbytes();
  return n;
}

struct TooLarge {};  // the cut's values would exceed the cache budget

// Moves `stage` past every node that no longer depends on an unquantized layer (`settled`), when
// the values crossing that cut, for the whole calibration set, fit in `budget` bytes: they are
// computed once here, with the quantized weights of the layers done so far, and later waves run only
// the rest. `batch` is the batch the whole model runs with (the rest must run the cached batches:
// an export that fixes the batch at 1 in a Reshape after the cut is cached sample by sample).
// Returns false (stage unchanged) when nothing is settled or the cut does not fit.
bool advance(Stage& stage, Dataset& data, const std::set<std::string>& settled_values, size_t budget, int64_t batch) {
  const auto& g = stage.model.graph();
  std::vector<bool> keep(g.node_size(), true);
  bool any_settled = false;
  for (int k = 0; k < g.node_size(); ++k) {
    bool settled = true;
    for (const auto& o : g.node(k).output()) settled = settled && (o.empty() || settled_values.count(o));
    keep[k] = !settled;
    any_settled = any_settled || settled;
  }
  if (!any_settled) return false;
  // the cut: values the remaining nodes read that a settled node or a graph input provides
  std::set<std::string> before_cut, initializers;
  for (int k = 0; k < g.node_size(); ++k)
    if (!keep[k])
      for (const auto& o : g.node(k).output()) before_cut.insert(o);
  for (const auto& in : g.input()) before_cut.insert(in.name());
  for (const auto& t : g.initializer()) initializers.insert(t.name());
  std::set<std::string> cut;
  for (int k = 0; k < g.node_size(); ++k) {
    if (!keep[k]) continue;
    std::set<std::string> reads;
    collect_node_reads(g.node(k), reads);
    for (const auto& r : reads)
      if (before_cut.count(r) && !initializers.count(r)) cut.insert(r);
  }
  std::vector<std::string> computed;  // cut values a settled node computes (the others are feeds)
  std::set<std::string> inputs;
  for (const auto& in : g.input()) inputs.insert(in.name());
  for (const auto& c : cut)
    if (!inputs.count(c)) computed.push_back(c);
  if (computed.empty()) return false;  // the settled nodes feed nothing still to run
  const Model prefix = model_prefix(stage.model, computed);
  Executor exec(prefix);
  exec.keep_values(computed);
  std::vector<TensorMap> batches;
  std::vector<InputSpec> specs;
  size_t total = 0;
  // batch_share: the part of the calibration set one batch holds (the first batch's bytes / share
  // estimate the whole cut before the rest runs)
  auto take = [&](const TensorMap& feeds, const TensorMap& outs, double batch_share) {
    TensorMap values;
    for (const auto& c : cut) {
      auto it = outs.find(c);
      if (it == outs.end()) it = feeds.find(c);
      if (it == feeds.end()) throw TooLarge{};
      values.emplace(c, it->second);
    }
    const size_t bytes = bytes_of(values);
    if (batches.empty() && static_cast<double>(bytes) / batch_share > static_cast<double>(budget)) throw TooLarge{};
    total += bytes;
    if (total > budget) throw TooLarge{};
    batches.push_back(std::move(values));
  };
  try {
    if (stage.cached) {
      for (const auto& feeds : stage.batches) take(feeds, exec.run(feeds), 1.0 / static_cast<double>(stage.batches.size()));
    } else {
      run_batches(exec, data, batch, "activations", [&](int64_t, int64_t count, const TensorMap& feeds, const TensorMap& outs) {
        take(feeds, outs, static_cast<double>(count) / static_cast<double>(data.size()));
      });
    }
    for (const auto& c : cut) {
      const Tensor& first = batches.front().at(c);
      InputSpec spec{c, first.dtype(), first.shape()};
      for (const auto& b : batches) {  // extents that differ between batches (the last one) are symbolic
        const Tensor& t = b.at(c);
        if (t.dtype() != spec.dtype || t.rank() != static_cast<int64_t>(spec.shape.size())) throw TooLarge{};
        for (size_t d = 0; d < spec.shape.size(); ++d)
          if (t.dim(static_cast<int>(d)) != spec.shape[d]) spec.shape[d] = -1;
      }
      specs.push_back(spec);
    }
  } catch (const TooLarge&) {
    spdlog::debug("GPTQ: the {} values at the cut do not fit the activation cache ({} MiB); the settled part re-runs",
                  cut.size(), budget >> 20);
    return false;
  } catch (const Error& e) {  // a value the cache cannot hold (a sequence); a real input error recurs in the next wave
    spdlog::debug("GPTQ: the values at the cut are not cached ({})", e.what());
    return false;
  }
  const auto settled_nodes = std::count(keep.begin(), keep.end(), false);
  spdlog::debug("GPTQ: cached {} values ({} MiB) after {} settled nodes", cut.size(), total >> 20, settled_nodes);
  Model after = model_after_cut(stage.model, keep, specs);
  stage.model = std::move(after);
  stage.batches = std::move(batches);
  stage.cached = true;
  return true;
}

}  // namespace

int weight_out_axis(const onnx::NodeProto& n) {
  if (n.op_type() == "Gemm") return attr_int(n, "transB", 0) ? 0 : 1;
  if (n.op_type() == "MatMul") return 1;
  return 0;
}

std::map<std::string, QuantizedWeight> gptq_sequential(const Model& prepared, Dataset& data, const QuantOptions& opts,
                                                       const GptqOptions& gptq,
                                                       const std::map<std::string, Tensor>* masks,
                                                       GptqRunInfo* info) {
  GptqRunInfo run_info;
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  double t_hessians = 0, t_gptq = 0, t_cache = 0;
  const auto targets = low_bit_nodes(prepared, opts);
  std::set<std::string> remaining(targets.begin(), targets.end());
  // Upstream low-bit layers of every value (graph order is topological).
  std::map<std::string, std::set<std::string>> upstream;
  std::map<std::string, const onnx::NodeProto*> node_of;
  for (const auto& n : prepared.graph().node()) {
    const std::string label = n.name().empty() ? n.output(0) : n.name();
    std::set<std::string> up, reads;
    collect_node_reads(n, reads);  // outer-scope reads of If/Loop/Scan bodies too
    for (const auto& i : reads) {
      auto it = upstream.find(i);
      if (it != upstream.end()) up.insert(it->second.begin(), it->second.end());
    }
    if (remaining.count(label)) {
      node_of[label] = &n;
      upstream[label + "#inputs"] = up;
      up.insert(label);
    }
    for (const auto& o : n.output()) upstream[o] = up;
  }
  // budget of the activation cache: as much again as the calibration data itself (first batch x
  // batches), at least 64 MiB, at most 1 GiB; gptq.cache_bytes overrides it (0: never cache)
  size_t budget = gptq.cache_bytes >= 0 ? static_cast<size_t>(gptq.cache_bytes) : 0;
  if (gptq.cache_bytes < 0 && data.size() > 0) {
    const TensorMap one = data.batch(0, 1);
    const double data_bytes = static_cast<double>(bytes_of(one)) * static_cast<double>(data.size());
    budget = static_cast<size_t>(std::clamp(data_bytes, 64.0 * (1 << 20), 1024.0 * (1 << 20)));
  }
  Stage stage{prepared, {}, false};
  int64_t cache_batch = 0;  // the batch the whole model accepts (probed once, when a cut is first cached)
  std::map<std::string, QuantizedWeight> out;
  int wave = 0;
  while (!remaining.empty()) {
    std::vector<std::string> ready;
    for (const auto& label : targets) {
      if (!remaining.count(label)) continue;
      bool free = true;
      for (const auto& u : upstream[label + "#inputs"]) free &= !remaining.count(u);
      if (free) ready.push_back(label);
    }
    spdlog::debug("GPTQ wave {}: {} layers", ++wave, ready.size());
    ++run_info.waves;
    run_info.waves_from_cache += stage.cached ? 1 : 0;
    auto t0 = Clock::now();
    auto hessians = stage.cached ? collect_hessians(stage.model, stage.batches, ready)
                                 : collect_hessians(stage.model, data, ready);
    t_hessians += seconds_since(t0);
    t0 = Clock::now();
    // the wave's layers are independent: those whose GPTQ workspace is small (two K x K doubles per
    // group) are quantized side by side, each worker with its share of the thread budget; larger ones
    // one at a time with the whole budget (their triangular solves split over it), so peak memory
    // stays that of one large layer. The model is updated after, in wave order.
    struct Job {
      const std::string* label;
      Tensor w;
      std::shared_ptr<const WeightFormat> fmt;
      int64_t group_size;
      const Tensor* mask = nullptr;
      std::optional<QuantizedWeight> q;  // the result
    };
    std::vector<Job> jobs;
    for (const auto& label : ready) {
      const auto& n = *node_of.at(label);
      const WeightSpec& spec = opts.layer_weights.count(label) ? opts.layer_weights.at(label) : opts.weights;
      Job job{&label, stage.model.initializer(n.input(1)), make_weight_format(spec.format, spec.symmetric),
              spec.group_size};
      if (masks && masks->count(n.input(1))) job.mask = &masks->at(n.input(1));
      jobs.push_back(std::move(job));
    }
    auto run = [&](Job& job, std::vector<GptqFactor>* factors) {
      const auto& n = *node_of.at(*job.label);
      job.q.emplace(quantize_gptq(job.w, weight_out_axis(n), job.fmt, job.group_size,
                                    std::move(hessians.at(*job.label).h), gptq, job.mask, factors));
    };
    // a large layer whose Hessian is another's (same input and patches) reuses that layer's factors
    std::map<std::pair<std::string, int64_t>, std::vector<GptqFactor>> factors;  // (label, group size)
    std::set<std::string> shared;  // labels other layers of the wave take their Hessian from
    for (const auto& [label, lh] : hessians)
      if (!lh.same_as.empty()) shared.insert(lh.same_as);
    std::vector<Job*> side_by_side;
    for (Job& job : jobs) {
      double k = 0;
      for (const auto& h : hessians.at(*job.label).h) k = std::max(k, static_cast<double>(h.rows()));
      if (2 * k * k * sizeof(double) <= kSideBySideBytes) {
        side_by_side.push_back(&job);
        continue;
      }
      const LayerHessian& lh = hessians.at(*job.label);
      auto from = factors.find({lh.same_as, job.group_size});
      if (!lh.same_as.empty() && from != factors.end()) {
        hessians.at(*job.label).h.clear();  // not needed: the factors come from the layer it equals
        run(job, &from->second);
      } else if (shared.count(*job.label)) {
        run(job, &factors[{*job.label, job.group_size}]);
      } else {
        run(job, nullptr);
      }
    }
    factors.clear();
    const int64_t workers = std::min<int64_t>(thread_budget(), static_cast<int64_t>(side_by_side.size()));
    parallel_for_workers(static_cast<int64_t>(side_by_side.size()), workers,
                         std::max<int>(1, thread_budget() / std::max<int64_t>(1, workers)),
                         [&](int64_t k) { run(*side_by_side[k], nullptr); });
    for (Job& job : jobs) {
      const std::string& label = *job.label;
      hessians.erase(label);  // K x K doubles each
      stage.model.set_initializer(node_of.at(label)->input(1), job.q->dequantized());
      out.emplace(label, std::move(*job.q));
      remaining.erase(label);
    }
    t_gptq += seconds_since(t0);
    if (remaining.empty() || budget == 0) continue;
    t0 = Clock::now();
    std::set<std::string> settled;  // values no unquantized layer influences any more
    for (const auto& [value, up] : upstream) {
      bool free = true;
      for (const auto& u : up) free = free && !remaining.count(u);
      if (free) settled.insert(value);
    }
    if (cache_batch == 0) {
      Executor whole(prepared);
      cache_batch = probe_batch_size(whole, data, 16);
    }
    if (advance(stage, data, settled, budget, cache_batch)) {
      size_t held = 0;
      for (const auto& b : stage.batches) held += bytes_of(b);
      run_info.cache_bytes = std::max(run_info.cache_bytes, held);
    }
    t_cache += seconds_since(t0);
  }
  spdlog::debug("GPTQ: {} waves, {} on cached activations (at most {} MiB); {:.2f} s Hessians, {:.2f} s GPTQ, {:.2f} s caching",
                run_info.waves, run_info.waves_from_cache, run_info.cache_bytes >> 20, t_hessians, t_gptq, t_cache);
  if (info) *info = run_info;
  return out;
}

}  // namespace qtool
