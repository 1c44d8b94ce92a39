// SPDX-License-Identifier: Apache-2.0
// Entropy (KL-divergence) calibration, TensorRT 8 / Migacz 2017: for each candidate threshold
// T = i * bin_width, P is the |x| histogram clipped at T (outliers folded into the last bin) and Q
// is P quantized to `levels` buckets and expanded back; choose the T minimising KL(P || Q).
// As in NVIDIA's pytorch-quantization (HistogramCalibrator, _compute_amax_entropy: bins[0] = bins[1])
// the first |x| bin is replaced by its neighbour before the search: after a ReLU it holds every exact
// zero (often half the mass or more), and that spike, which every candidate represents exactly,
// would otherwise dominate P and push the search to clip the informative tail.
// TensorRT starts the candidates at `levels` bins, so that the part kept unclipped spans at least
// as many bins as there are levels. For a distribution that starts away from zero (a Sigmoid's
// values in [0.24, 0.68]) that start is shifted to `levels` bins past the first occupied one: with
// the start at `levels`, a candidate just above the minimum folds all the mass into its last bin,
// P and Q are then the same spike, KL is 0, and the tensor was clipped to a single value.
//
// KL weighs a value by its probability, not its size: the rare large activations it clips carry
// much of the signal energy the next layer sums. TensorRT's search alone (here, and onnxruntime's
// with 2048 bins / 128 levels) clips UltraFace's ReLU outputs to about half their maximum and
// loses 11 dB of score SQNR against min/max. So the observer offers the exact min/max as a second
// candidate, and calibrate() keeps the KL threshold only where the nodes reading the tensor compute
// their outputs at least as well from it (calib/range_select.h; ties keep the threshold).
#include <algorithm>
#include <cmath>

#include "calib/observer.h"

namespace qtool {
namespace {

class EntropyObserver : public HistogramObserver {
 public:
  using HistogramObserver::HistogramObserver;
  std::vector<Range> candidates() const override {
    if (hist_.total() == 0) return {Range{0, 0}};
    return {range_of(hist_), Range{hist_.min(), hist_.max()}};
  }
  Range range_of(const Histogram& h) const override {
    if (h.total() == 0) return {0, 0};
    const bool nonneg = h.min() >= 0;
    const int levels = nonneg && opts_.unsigned_levels ? 256 : 128;
    const int half = h.bins() / 2;
    std::vector<double> absh(half);
    for (int i = 0; i < half; ++i) absh[i] = h.counts()[half + i] + h.counts()[half - 1 - i];
    int nbins = half;
    while (nbins > 1 && absh[nbins - 1] == 0) --nbins;
    if (nbins > 1) absh[0] = absh[1];  // drop the zero spike (see the file comment)
    int first = 0;  // first occupied |x| bin
    while (first < nbins && absh[first] == 0) ++first;
    const int start = first + levels;
    const double width = h.bin_width();
    const double amax = std::max(std::fabs(h.min()), std::fabs(h.max()));
    if (nbins <= start) return nonneg ? Range{0, h.max()} : Range{h.min(), h.max()};
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
    for (int i = start; i <= nbins; ++i) {
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
    // The search is over |x| (TensorRT's symmetric grid); each side is clipped at T only where the
    // calibration data reach past it, so an asymmetric grid does not spend codes on values never seen
    // (pgd_2_3_16's input: [-2.43, 2.75] instead of [-2.75, 2.75]).
    const float t = static_cast<float>(std::min(best_i * width, amax));
    return nonneg ? Range{0, std::min(h.max(), t)} : Range{std::max(h.min(), -t), std::min(h.max(), t)};
  }
};
}  // namespace

std::unique_ptr<Observer> make_entropy_observer(const ObserverOptions& o) { return std::make_unique<EntropyObserver>(o); }
}  // namespace qtool
