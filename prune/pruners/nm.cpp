// SPDX-License-Identifier: Apache-2.0
// N:M semi-structured pruning: in every group of M consecutive weights along the input-channel
// axis (per output channel and kernel position), keep the N largest |w| (ties: lower index).
// A last group shorter than M keeps ceil(N * len / M). The pattern sparse tensor cores run
// (2:4; Mishra et al., "Accelerating Sparse Deep Neural Networks", 2021).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "prune/prune.h"
#include "quant/quantized_weight.h"

namespace qtool {

void prune_nm(Model& model, const PruneOptions& opts, PruneReport& report) {
  int keep_n = 0, m = 0;
  parse_nm(opts.pattern, keep_n, m);
  if (opts.scope != "layer") throw InputError("N:M pruning is per group; --scope global does not apply");
  std::set<std::string> done;
  for (const auto& pw : prunable_weights(model, opts)) {
    if (!done.insert(pw.weight).second) continue;
    Tensor w = model.initializer(pw.weight);
    const auto l = WeightLayout::of(w.shape(), pw.out_axis);
    Tensor mask(DType::kUInt8, w.shape());
    float* p = w.data<float>();
    uint8_t* mk = mask.data<uint8_t>();
    std::fill(mk, mk + mask.numel(), 1);
    std::vector<int64_t> group;
    for (int64_t r = 0; r < l.rows; ++r)
      for (int64_t pos = 0; pos < l.positions; ++pos)
        for (int64_t i0 = 0; i0 < l.in; i0 += m) {
          group.clear();
          for (int64_t i = i0; i < std::min(l.in, i0 + m); ++i) group.push_back(l.flat(r, i, pos));
          const int64_t len = static_cast<int64_t>(group.size());
          const int64_t keep = (keep_n * len + m - 1) / m;
          std::stable_sort(group.begin(), group.end(), [&](int64_t a, int64_t b) { return std::fabs(p[a]) > std::fabs(p[b]); });
          for (int64_t j = keep; j < len; ++j) {
            p[group[j]] = 0.f;
            mk[group[j]] = 0;
          }
        }
    model.set_initializer(pw.weight, w);
    LayerPruneStats s{pw.label, pw.weight, w.numel(), w.numel(), 0};
    for (int64_t i = 0; i < w.numel(); ++i) s.zeros += p[i] == 0.f;
    report.layers.push_back(s);
    report.masks[pw.weight] = std::move(mask);
  }
}

}  // namespace qtool
