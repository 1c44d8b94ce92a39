// SPDX-License-Identifier: Apache-2.0
#include "core/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace qtool {

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total),
      enabled_(isatty(fileno(stderr)) && spdlog::get_level() <= spdlog::level::info),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (done_ >= total_ || now - last_draw_ > std::chrono::milliseconds(100)) {
    last_draw_ = now;
    draw();
  }
}

void Progress::draw() {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  double eta = frac > 0 ? elapsed / frac - elapsed : 0.0;
  int width = 30, filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld  %.1f/s  ETA %.0fs  ", label_.c_str(), bar.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_),
               elapsed > 0 ? done_ / elapsed : 0.0, eta);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  draw();
  std::fprintf(stderr, "\n");
}

}  // namespace qtool
