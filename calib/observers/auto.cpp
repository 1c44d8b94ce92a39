// SPDX-License-Identifier: Apache-2.0
// "auto": one histogram per tensor and four candidate ranges computed from it (mse, minmax,
// percentile, entropy). calibrate() keeps, per tensor, the candidate whose quantization changes the
// outputs of the nodes that read the tensor least (calib/range_select.h): a range is judged by what
// the next layer computes from it, not by the tensor's own error. Without that selection (no
// readers to run) the tensor gets the mse range. Candidates are in that order; ties keep the first.
#include <memory>

#include "calib/observer.h"
#include "core/error.h"

namespace qtool {
namespace {

class AutoObserver : public HistogramObserver {
 public:
  explicit AutoObserver(const ObserverOptions& o) : HistogramObserver(o) {
    for (const char* name : {"mse", "percentile", "entropy"}) {
      std::unique_ptr<Observer> obs = make_observer(name, o);
      auto* hist = dynamic_cast<HistogramObserver*>(obs.get());
      if (!hist) throw Error(std::string("auto observer: '") + name + "' is not histogram-based");
      obs.release();
      rules_.emplace_back(hist);
    }
  }
  Range range_of(const Histogram& h) const override { return rules_.front()->range_of(h); }
  std::vector<Range> candidates() const override {
    if (hist_.total() == 0) return {Range{0, 0}};
    std::vector<Range> out;
    out.push_back(rules_[0]->range_of(hist_));  // mse
    out.push_back(Range{hist_.min(), hist_.max()});  // minmax (the histogram keeps the exact extremes)
    for (size_t i = 1; i < rules_.size(); ++i) out.push_back(rules_[i]->range_of(hist_));
    return out;
  }

 private:
  std::vector<std::unique_ptr<HistogramObserver>> rules_;  // mse, percentile, entropy
};

}  // namespace

std::unique_ptr<Observer> make_auto_observer(const ObserverOptions& o) { return std::make_unique<AutoObserver>(o); }

}  // namespace qtool
