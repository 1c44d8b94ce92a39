// Entropy (KL-divergence) calibration, TensorRT 8 / Migacz 2017: for each candidate threshold
// T = i * bin_width, P is the |x| histogram clipped at T (outliers folded into the last bin) and Q
// is P quantized to `levels` buckets and expanded back; choose the T minimising KL(P || Q).
#include <algorithm>
#include <cmath>

#include "calib/observer.h"

namespace qtool {
namespace {

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double ps = 0, qs = 0;
  for (size_t i = 0; i < p.size(); ++i) { ps += p[i]; qs += q[i]; }
  if (ps == 0 || qs == 0) return INFINITY;
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) continue;
    const double pi = p[i] / ps, qi = q[i] / qs;
    kl += qi > 0 ? pi * std::log(pi / qi) : pi * std::log(pi / 1e-12);
  }
  return kl;
}

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
    double best_kl = INFINITY;
    int best_i = nbins;
    for (int i = levels; i <= nbins; ++i) {
      std::vector<double> p(absh.begin(), absh.begin() + i);
      for (int k = i; k < nbins; ++k) p[i - 1] += absh[k];
      std::vector<double> q(i, 0.0);
      const double merge = static_cast<double>(i) / levels;
      for (int j = 0; j < levels; ++j) {
        const int b0 = static_cast<int>(std::floor(j * merge));
        const int b1 = j == levels - 1 ? i : static_cast<int>(std::floor((j + 1) * merge));
        double sum = 0;
        int nonzero = 0;
        for (int k = b0; k < b1; ++k) { sum += absh[k]; nonzero += absh[k] != 0; }
        if (nonzero == 0) continue;
        for (int k = b0; k < b1; ++k)
          if (absh[k] != 0) q[k] = sum / nonzero;
      }
      const double kl = kl_divergence(p, q);
      if (kl < best_kl) { best_kl = kl; best_i = i; }
    }
    const float t = static_cast<float>(std::min(best_i * width, amax));
    return nonneg ? Range{0, t} : Range{-t, t};
  }
};
}  // namespace

std::unique_ptr<Observer> make_entropy_observer(const ObserverOptions& o) { return std::make_unique<EntropyObserver>(o); }
}  // namespace qtool
