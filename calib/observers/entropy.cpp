// SPDX-License-Identifier: Apache-2.0
// Entropy (KL-divergence) calibration, TensorRT 8 / Migacz 2017: for each candidate threshold
// T = i * bin_width, P is the |x| histogram clipped at T (outliers folded into the last bin) and Q
// is P quantized to `levels` buckets and expanded back; choose the T minimising KL(P || Q).
#include <algorithm>
#include <cmath>

#include "calib/observer.h"

namespace qtool {
namespace {

class EntropyObserver : public HistogramObserver {
 public:
  using HistogramObserver::HistogramObserver;
  Range range() const override {
    if (hist_.total() == 0) return {0, 0};
    const bool nonneg = hist_.min() >= 0;
    const int levels = nonneg && opts_.unsigned_levels ? 256 : 128;
    const int half = hist_.bins() / 2;
    std::vector<double> absh(half);
    for (int i = 0; i < half; ++i) absh[i] = hist_.counts()[half + i] + hist_.counts()[half - 1 - i];
    int nbins = half;
    while (nbins > 1 && absh[nbins - 1] == 0) --nbins;
    const double width = hist_.bin_width();
    const double amax = std::max(std::fabs(hist_.min()), std::fabs(hist_.max()));
    if (nbins <= levels) return nonneg ? Range{0, hist_.max()} : Range{static_cast<float>(-amax), static_cast<float>(amax)};
    // KL(P || Q) = sum_k p_k/ps * (log p_k - log ps - log q_k + log qs). log |x|-counts are
    // computed once, and Q is constant inside each of the `levels` buckets, so a candidate costs
    // O(i) multiply-adds and `levels` logs instead of i logs.
    std::vector<double> log_abs(nbins, 0.0), prefix(nbins + 1, 0.0);
    for (int k = 0; k < nbins; ++k) {
      if (absh[k] > 0) log_abs[k] = std::log(absh[k]);
      prefix[k + 1] = prefix[k] + absh[k];
    }
    const double total = prefix[nbins];
    const double log_eps = std::log(1e-12);
    double best_kl = INFINITY;
    int best_i = nbins;
    for (int i = levels; i <= nbins; ++i) {
      const double ps = total, qs = prefix[i];  // P folds the outliers into bin i-1; Q does not
      if (qs <= 0) continue;
      const double log_ps = std::log(ps), log_qs = std::log(qs);
      const double p_last = absh[i - 1] + (total - prefix[i]);
      const double merge = static_cast<double>(i) / levels;
      double kl = 0;
      for (int j = 0; j < levels; ++j) {
        const int b0 = static_cast<int>(std::floor(j * merge));
        const int b1 = j == levels - 1 ? i : static_cast<int>(std::floor((j + 1) * merge));
        int nonzero = 0;
        for (int k = b0; k < b1; ++k) nonzero += absh[k] != 0;
        const double sum = prefix[b1] - prefix[b0];
        const double log_q = nonzero ? std::log(sum / nonzero) - log_qs : 0.0;
        for (int k = b0; k < b1; ++k) {
          const double pk = k == i - 1 ? p_last : absh[k];
          if (pk == 0) continue;
          const double log_p = (k == i - 1 ? std::log(pk) : log_abs[k]) - log_ps;
          kl += pk / ps * (log_p - (absh[k] != 0 ? log_q : log_eps));
        }
      }
      if (kl < best_kl) { best_kl = kl; best_i = i; }
    }
    const float t = static_cast<float>(std::min(best_i * width, amax));
    return nonneg ? Range{0, t} : Range{-t, t};
  }
};
}  // namespace

std::unique_ptr<Observer> make_entropy_observer(const ObserverOptions& o) { return std::make_unique<EntropyObserver>(o); }
}  // namespace qtool
