// SPDX-License-Identifier: Apache-2.0
// Progress: a one-line progress bar with rate and ETA on stderr when stderr is a terminal;
// silent otherwise (CI, pipes) and when spdlog's level is above info (--quiet).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace qtool {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  void advance(int64_t n = 1);
  void finish();

 private:
  void draw();
  std::string label_;
  int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace qtool
