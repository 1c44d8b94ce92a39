// SPDX-License-Identifier: Apache-2.0
// Progress: one bar per command on stderr, drawn with the `indicators` library
// (third_party/indicators), e.g.
//   sweep [=========>         ] 3/8 [01:12<02:00] 24.1 s/it | calibrate 120/500
//
// Ownership: the outermost live Progress of the process owns the bar line; a Progress created while
// another one is live (a nested loop, on any thread: calibration inside a sweep configuration) draws
// no bar of its own but shows as "label done/total" in the owner's postfix (the most recently
// updated one, "+N more" when several run in parallel). When the owner finishes, its line is
// cleared: finished bars leave no lines behind.
// Rate: it/s, or s/it when an item takes a second or more. ETA from the owner's mean rate.
// Drawing needs enable_progress_bars(true) (the CLI calls it; the library and its C API never draw),
// stderr on a terminal, TERM not "dumb", no CI variable set, and spdlog's level at info or below
// (--quiet). Redraws are limited to 10 per second.
// Log lines: the spdlog sink of progress_log_sink() clears the bar, prints the line and redraws the
// bar, so messages appear above the bar instead of glued to it; print_above() does the same for
// text the command prints itself (tables on stdout).
#pragma once
#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace qtool {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  void set_total(int64_t total);
  // Extra text after the counts (e.g. the configuration being measured).
  void set_note(std::string note);
  // Ends this progress: the owner clears its line; a nested one leaves the owner's postfix.
  void finish();

 private:
  friend struct ProgressState;
  std::string label_, note_;
  int64_t total_, done_ = 0;
  bool owner_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, touched_;
};

// Turns bar drawing on for this process (still subject to the terminal checks above).
void enable_progress_bars(bool on);
// True when bars are drawn right now (a terminal, enabled, level <= info).
bool progress_bars_active();
// A colour stderr sink that keeps log lines above the bar.
std::shared_ptr<spdlog::sinks::sink> progress_log_sink();
// Writes `text` to `stream` (stdout or stderr) with the bar cleared first and redrawn after.
void print_above(std::FILE* stream, const std::string& text);

}  // namespace qtool
