// SPDX-License-Identifier: Apache-2.0
#include "eval/evaluate.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "calib/batch_runner.h"
#include "eval/metrics.h"

namespace qtool {

std::string EvalResult::to_json() const {
  nlohmann::ordered_json j;
  j["samples"] = samples;
  if (top1) j["top1"] = *top1;
  if (ref_top1) j["ref_top1"] = *ref_top1;
  if (agreement) j["agreement"] = *agreement;
  j["outputs"] = nlohmann::ordered_json::array();
  for (const auto& o : outputs)
    j["outputs"].push_back({{"name", o.name}, {"sqnr_db", std::isinf(o.sqnr_db) ? 999.0 : o.sqnr_db}, {"cosine", o.cosine}});
  j["seconds"] = seconds;
  return j.dump(2);
}

EvalResult evaluate(const Model& model, Dataset& data, const EvalOptions& opts, const Model* ref) {
  if (!opts.labels.empty() && static_cast<int64_t>(opts.labels.size()) != data.size())
    throw InputError("labels have " + std::to_string(opts.labels.size()) + " entries but the data has " +
                     std::to_string(data.size()) + " samples");
  const auto t0 = std::chrono::steady_clock::now();
  Executor exec(model);
  std::optional<Executor> ref_exec;
  if (ref) ref_exec.emplace(*ref);
  int64_t batch = probe_batch_size(exec, data, opts.max_batch);
  if (ref_exec && batch > 1) batch = probe_batch_size(*ref_exec, data, batch);
  const auto& names = exec.output_names();
  std::vector<ErrorAccumulator> acc(names.size());
  int64_t correct = 0, ref_correct = 0, agree = 0;
  run_batches(exec, data, batch, "evaluate", [&](int64_t b, int64_t n, const TensorMap& in, const TensorMap& out) {
    const Tensor& first = out.at(names[0]);
    auto pred = argmax_per_sample(first);
    if (!opts.labels.empty())
      for (int64_t i = 0; i < n; ++i) correct += pred[i] == opts.labels[b + i];
    if (!ref_exec) return;
    TensorMap r = ref_exec->run(in);
    for (size_t k = 0; k < names.size(); ++k) {
      auto it = r.find(names[k]);
      if (it == r.end()) throw InputError("the reference model has no output named '" + names[k] + "'");
      const Tensor& o = out.at(names[k]);
      if (it->second.shape() != o.shape() || o.dtype() != DType::kFloat)
        throw InputError("output '" + names[k] + "' is " + shape_str(o.shape()) + " but the reference gives " +
                         shape_str(it->second.shape()));
      acc[k].add(it->second.data<float>(), o.data<float>(), o.numel());
    }
    auto rpred = argmax_per_sample(r.at(names[0]));
    for (int64_t i = 0; i < n; ++i) {
      agree += pred[i] == rpred[i];
      if (!opts.labels.empty()) ref_correct += rpred[i] == opts.labels[b + i];
    }
  });
  EvalResult res;
  res.samples = data.size();
  const double n = static_cast<double>(std::max<int64_t>(1, data.size()));
  if (!opts.labels.empty()) res.top1 = correct / n;
  if (ref_exec) {
    res.agreement = agree / n;
    if (!opts.labels.empty()) res.ref_top1 = ref_correct / n;
    for (size_t k = 0; k < names.size(); ++k) res.outputs.push_back({names[k], acc[k].sqnr_db(), acc[k].cosine()});
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace qtool
