// SPDX-License-Identifier: Apache-2.0
#include "capi/stream_dataset.h"

#include <algorithm>
#include <cstring>

#include "capi/capi_internal.h"
#include "core/suggest.h"

namespace qtool::capi {

StreamDataset::StreamDataset(qt_source_reset_fn reset, qt_source_next_fn next, qt_source_free_fn free_user,
                             void* user, int64_t samples)
    : reset_(reset), next_(next), free_user_(free_user), user_(user), samples_(samples) {
  if (samples_ >= 0) return;
  restart();  // count with one pass
  while (pull()) chunks_.clear();
  samples_ = pulled_;
  in_pass_ = false;
  chunks_.clear();
  if (samples_ == 0) throw InputError("data source: the first pass yielded no samples");
}

StreamDataset::~StreamDataset() {
  if (free_user_) free_user_(user_);
}

void StreamDataset::bind(const std::vector<InputSpec>& inputs) { inputs_ = inputs; }

std::string StreamDataset::describe() const {
  return "data source (" + std::to_string(samples_) + " samples per pass)";
}

void StreamDataset::restart() {
  chunks_.clear();
  pulled_ = 0;
  ended_ = false;
  in_pass_ = true;
  ++passes_;
  const int rc = reset_(user_);
  if (rc < 0) throw CallbackFailed("data source: reset callback failed (returned " + std::to_string(rc) + ")");
}

bool StreamDataset::pull() {
  if (ended_) return false;
  in_pass_ = false;  // until this batch is taken in full: a failure restarts the pass on the next request
  const qt_array* arrays = nullptr;
  size_t count = 0;
  const int rc = next_(user_, &arrays, &count);
  if (rc < 0) throw CallbackFailed("data source: next callback failed (returned " + std::to_string(rc) + ")");
  if (rc == 0) {
    ended_ = true;
    in_pass_ = true;
    return false;
  }
  const std::string where = "data source batch " + std::to_string(chunks_.size() + 1) + " of pass " +
                            std::to_string(passes_);
  if (!arrays || count == 0) throw InputError(where + ": next returned 1 but delivered no arrays");
  Chunk c;
  c.first = pulled_;
  c.rows = -1;
  std::vector<std::string> names;
  for (const auto& s : inputs_) names.push_back(s.name);
  for (size_t i = 0; i < count; ++i) {
    const qt_array& a = arrays[i];
    if (!a.name) throw InputError(where + ": array " + std::to_string(i) + " has no name");
    Tensor t = tensor_from_array(a, "data source array");
    if (t.rank() < 1) throw InputError(where + ": array '" + std::string(a.name) + "' needs the sample axis first");
    if (c.rows >= 0 && t.dim(0) != c.rows)
      throw InputError(where + ": arrays disagree on the number of samples (" + std::to_string(c.rows) + " and " +
                       std::to_string(t.dim(0)) + " for '" + a.name + "')");
    c.rows = t.dim(0);
    if (!inputs_.empty()) {
      auto spec = std::find_if(inputs_.begin(), inputs_.end(), [&](const InputSpec& s) { return s.name == a.name; });
      if (spec == inputs_.end())
        throw InputError(where + ": array '" + std::string(a.name) + "' names no model input" +
                         did_you_mean(a.name, names) + " (inputs: " + name_list(names) + ")");
      check_sample_shape(Shape(t.shape().begin() + 1, t.shape().end()), t.dtype(), *spec, where);
    }
    c.arrays[a.name] = std::move(t);
  }
  for (const auto& s : inputs_)
    if (!c.arrays.count(s.name)) throw InputError(where + ": no array for model input '" + s.name + "'");
  in_pass_ = true;
  if (c.rows == 0) return pull();  // an empty batch: skip it
  pulled_ += c.rows;
  chunks_.push_back(std::move(c));
  return true;
}

TensorMap StreamDataset::batch(int64_t begin, int64_t count) {
  if (begin < 0 || count < 1 || begin + count > samples_)
    throw Error("data source: batch [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                ") outside the " + std::to_string(samples_) + " samples");
  const int64_t kept_first = chunks_.empty() ? pulled_ : chunks_.front().first;
  if (!in_pass_ || begin < kept_first) restart();
  while (!chunks_.empty() && chunks_.front().first + chunks_.front().rows <= begin) chunks_.pop_front();
  while (pulled_ < begin + count) {
    if (!pull())
      throw InputError("data source: pass " + std::to_string(passes_) + " ended after " + std::to_string(pulled_) +
                       " samples, but the data set has " + std::to_string(samples_) +
                       " (every pass must yield the same samples)");
    // chunks entirely before `begin` (skipped rows) are not kept
    while (chunks_.size() > 1 && chunks_.front().first + chunks_.front().rows <= begin) chunks_.pop_front();
  }
  TensorMap out;
  for (const auto& [name, first] : chunks_.front().arrays) {
    Shape s = first.shape();
    s[0] = count;
    Tensor t(first.dtype(), s);
    const size_t row = first.nbytes() / static_cast<size_t>(first.dim(0));
    auto* dst = static_cast<uint8_t*>(t.raw());
    for (const auto& c : chunks_) {
      const int64_t lo = std::max(begin, c.first), hi = std::min(begin + count, c.first + c.rows);
      if (lo >= hi) continue;
      const Tensor& src = c.arrays.at(name);
      if (src.dtype() != first.dtype() || src.nbytes() / static_cast<size_t>(src.dim(0)) != row)
        throw InputError("data source: input '" + name + "' changes sample shape or dtype between batches (" +
                         shape_str(first.shape()) + " then " + shape_str(src.shape()) + ")");
      std::memcpy(dst + (lo - begin) * row, static_cast<const uint8_t*>(src.raw()) + (lo - c.first) * row,
                  static_cast<size_t>(hi - lo) * row);
    }
    out[name] = std::move(t);
  }
  return out;
}

}  // namespace qtool::capi

extern "C" qt_status qt_data_from_source(qt_source_reset_fn reset, qt_source_next_fn next, qt_source_free_fn free_user,
                                         void* user, int64_t samples, qt_data** out) {
  const qt_status st = qtool::capi::guarded([&] {
    qtool::capi::need(out, "out");
    *out = nullptr;
    qtool::capi::need(reinterpret_cast<const void*>(reset), "reset");
    qtool::capi::need(reinterpret_cast<const void*>(next), "next");
    if (samples == 0) throw qtool::capi::ArgumentError("samples must be > 0, or -1 to count them");
    auto d = std::make_unique<qt_data>();
    d->stream = std::make_unique<qtool::capi::StreamDataset>(reset, next, free_user, user, samples);
    *out = d.release();
  });
  if (st != QT_STATUS_OK && free_user && !(out && *out)) free_user(user);
  return st;
}
