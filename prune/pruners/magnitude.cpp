// SPDX-License-Identifier: Apache-2.0
// Unstructured magnitude pruning (Han et al. 2015): per layer, or one global threshold.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "prune/prune.h"

namespace qtool {

namespace {

// Zeroes the k smallest |w| (ties: lower index first) and returns the mask.
Tensor zero_smallest(Tensor& w, int64_t k) {
  const int64_t n = w.numel();
  float* p = w.data<float>();
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto less = [&](int64_t a, int64_t b) {
    const float fa = std::fabs(p[a]), fb = std::fabs(p[b]);
    return fa < fb || (fa == fb && a < b);
  };
  k = std::clamp<int64_t>(k, 0, n);
  if (k > 0 && k < n) std::nth_element(idx.begin(), idx.begin() + k, idx.end(), less);
  Tensor mask(DType::kUInt8, w.shape());
  uint8_t* m = mask.data<uint8_t>();
  std::fill(m, m + n, 1);
  for (int64_t i = 0; i < k; ++i) {
    p[idx[i]] = 0.f;
    m[idx[i]] = 0;
  }
  return mask;
}

void record(Model& model, const PrunableWeight& pw, const Tensor& w, Tensor mask, PruneReport& report) {
  model.set_initializer(pw.weight, w);
  LayerPruneStats s{pw.label, pw.weight, w.numel(), w.numel(), 0};
  const float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) s.zeros += p[i] == 0.f;
  report.layers.push_back(s);
  report.masks[pw.weight] = std::move(mask);
}

}  // namespace

void prune_unstructured(Model& model, const PruneOptions& opts, PruneReport& report) {
  auto weights = prunable_weights(model, opts);
  std::set<std::string> done;
  if (opts.scope == "global") {
    if (!opts.sparsity_map.empty()) throw InputError("a sparsity map sets per-layer sparsities: use --scope layer");
    std::vector<std::pair<float, std::pair<size_t, int64_t>>> all;  // (|w|, (layer, index))
    std::vector<Tensor> ts;
    std::vector<PrunableWeight> uniq;
    for (const auto& pw : weights) {
      if (!done.insert(pw.weight).second) continue;
      uniq.push_back(pw);
      ts.push_back(model.initializer(pw.weight));
      const float* p = ts.back().data<float>();
      for (int64_t i = 0; i < ts.back().numel(); ++i) all.push_back({std::fabs(p[i]), {uniq.size() - 1, i}});
    }
    const int64_t k = static_cast<int64_t>(std::llround(opts.sparsity * static_cast<double>(all.size())));
    if (k > 0 && k < static_cast<int64_t>(all.size()))
      std::nth_element(all.begin(), all.begin() + k, all.end());
    std::vector<Tensor> masks;
    for (auto& t : ts) {
      Tensor m(DType::kUInt8, t.shape());
      std::fill(m.data<uint8_t>(), m.data<uint8_t>() + m.numel(), 1);
      masks.push_back(m);
    }
    for (int64_t i = 0; i < std::min<int64_t>(k, static_cast<int64_t>(all.size())); ++i) {
      const auto [layer, idx] = all[i].second;
      ts[layer].data<float>()[idx] = 0.f;
      masks[layer].data<uint8_t>()[idx] = 0;
    }
    for (size_t l = 0; l < uniq.size(); ++l) record(model, uniq[l], ts[l], masks[l], report);
    return;
  }
  for (const auto& pw : weights) {
    if (!done.insert(pw.weight).second) continue;
    Tensor w = model.initializer(pw.weight);
    const double s = layer_sparsity(opts, pw.label);
    Tensor mask = zero_smallest(w, static_cast<int64_t>(std::llround(s * static_cast<double>(w.numel()))));
    record(model, pw, w, std::move(mask), report);
  }
}

}  // namespace qtool
