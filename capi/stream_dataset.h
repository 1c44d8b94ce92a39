// SPDX-License-Identifier: Apache-2.0
// StreamDataset: a qtool::Dataset whose samples come from a caller's qt_data_source callbacks
// (capi/qtool.h states the contract), so a PyTorch DataLoader or any batch iterator is read
// pass by pass instead of being copied in whole.
//
// qtool's consumers read a Dataset in passes of batch(begin, count) with begin increasing from 0
// (run_batches), after a probe batch(0, 2). The source's batches rarely have qtool's batch size,
// so the dataset keeps the source batches ("chunks") that overlap the rows still to be served and
// stitches qtool's batches from them; a request before the oldest kept row starts a new pass
// (reset). Memory: the chunks overlapping one request (one or two source batches).
// Every array of a batch needs the sample axis first (inputs fed whole are not streamed); dtype
// and sample shape are checked against the model input the first time a chunk names it.
// Errors: InputError (shape/dtype/name/sample-count mismatch, naming the input and the pass),
// CallbackFailed when reset/next return a negative value.
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "capi/qtool.h"

namespace qtool::capi {

class StreamDataset : public Dataset {
 public:
  // samples < 0: counted now with one pass (throws like a pass would).
  StreamDataset(qt_source_reset_fn reset, qt_source_next_fn next, qt_source_free_fn free_user, void* user,
                int64_t samples);
  ~StreamDataset() override;
  StreamDataset(const StreamDataset&) = delete;
  StreamDataset& operator=(const StreamDataset&) = delete;

  // The model whose inputs the batches feed (names, dtypes, sample shapes checked).
  void bind(const std::vector<InputSpec>& inputs);
  int64_t size() const override { return samples_; }
  TensorMap batch(int64_t begin, int64_t count) override;
  std::string describe() const override;

 private:
  struct Chunk {
    TensorMap arrays;
    int64_t first = 0, rows = 0;  // rows [first, first + rows) of the current pass
  };
  void restart();
  bool pull();  // appends the next source batch; false at the end of the pass

  qt_source_reset_fn reset_;
  qt_source_next_fn next_;
  qt_source_free_fn free_user_;
  void* user_;
  int64_t samples_ = 0;
  std::vector<InputSpec> inputs_;
  std::deque<Chunk> chunks_;
  int64_t pulled_ = 0;  // rows pulled from the source in this pass
  int64_t passes_ = 0;
  bool in_pass_ = false, ended_ = false;
};

}  // namespace qtool::capi
