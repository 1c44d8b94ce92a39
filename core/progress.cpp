// SPDX-License-Identifier: Apache-2.0
#include "core/progress.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <indicators/indicators.hpp>
#include <mutex>
#include <sstream>
#include <vector>

namespace qtool {

// Process-wide bar state: the owner, the nested progresses, and whether a line is on screen.
struct ProgressState {
  std::mutex mu;
  bool enabled = false;
  Progress* owner = nullptr;
  std::vector<Progress*> nested;
  bool drawn = false;  // a bar line is on the terminal now
  std::chrono::steady_clock::time_point last_draw{};

  static ProgressState& get() {
    static ProgressState s;
    return s;
  }

  bool active() const {
    if (!enabled || spdlog::get_level() > spdlog::level::info) return false;
    static const bool terminal = [] {
      const char* term = std::getenv("TERM");
      return isatty(fileno(stderr)) && !(term && std::string(term) == "dumb") && !std::getenv("CI");
    }();
    return terminal;
  }

  static int width() {
    winsize w{};
    if (ioctl(fileno(stderr), TIOCGWINSZ, &w) == 0 && w.ws_col > 10) return w.ws_col;
    return 80;
  }

  static std::string rate(double elapsed, int64_t done) {
    if (done <= 0) return "";
    char b[32];
    const double per = elapsed / static_cast<double>(done);
    if (per >= 1.0) std::snprintf(b, sizeof b, "%.1f s/it", per);
    else std::snprintf(b, sizeof b, "%.1f it/s", per > 0 ? 1.0 / per : 0.0);
    return b;
  }

  // The bar line of the owner, at most the terminal's width minus one (no auto-wrap).
  std::string render() {
    const Progress& o = *owner;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - o.start_).count();
    std::string postfix = std::to_string(std::min(o.done_, o.total_)) + "/" + std::to_string(o.total_);
    const std::string r = rate(elapsed, o.done_);
    if (!r.empty()) postfix += " " + r;
    if (!o.note_.empty()) postfix += " " + o.note_;
    const Progress* latest = nullptr;
    for (const Progress* p : nested)
      if (!latest || p->touched_ > latest->touched_) latest = p;
    if (latest) {
      postfix += " | " + latest->label_ + " " + std::to_string(std::min(latest->done_, latest->total_)) + "/" +
                 std::to_string(latest->total_);
      if (!latest->note_.empty()) postfix += " " + latest->note_;
      if (nested.size() > 1) postfix += " (+" + std::to_string(nested.size() - 1) + " more)";
    }
    std::ostringstream os;
    {
      using namespace indicators;
      ProgressBar bar{option::BarWidth{24}, option::Start{"["}, option::Fill{"="}, option::Lead{">"},
                      option::Remainder{" "}, option::End{"]"}, option::PrefixText{o.label_ + " "},
                      option::PostfixText{postfix}, option::ShowElapsedTime{false}, option::ShowRemainingTime{false},
                      option::MaxProgress{static_cast<size_t>(std::max<int64_t>(1, o.total_))}, option::Stream{os}};
      bar.set_progress(static_cast<size_t>(std::min(std::max<int64_t>(0, o.done_), std::max<int64_t>(1, o.total_) - 1)));
    }
    std::string line;
    for (char c : os.str())
      if (c != '\r' && c != '\n') line += c;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    // elapsed<remaining as tqdm shows it, from the owner's mean rate
    if (o.done_ > 0 && o.total_ > o.done_) {
      const double eta = elapsed / static_cast<double>(o.done_) * static_cast<double>(o.total_ - o.done_);
      const auto bar_end = line.find(']');
      if (bar_end != std::string::npos) line.insert(bar_end + 1, " [" + clock(elapsed) + "<" + clock(eta) + "]");
    } else if (o.done_ == 0) {
      const auto bar_end = line.find(']');
      if (bar_end != std::string::npos) line.insert(bar_end + 1, " [" + clock(elapsed) + "]");
    }
    const size_t w = static_cast<size_t>(width() - 1);
    if (line.size() > w) line.resize(w);
    return line;
  }

  static std::string clock(double s) {
    const long t = static_cast<long>(std::llround(std::max(0.0, s)));
    char b[32];
    if (t >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else std::snprintf(b, sizeof b, "%02ld:%02ld", t / 60, t % 60);
    return b;
  }

  void draw_locked(bool force) {
    if (!owner || !active()) return;
    const auto now = std::chrono::steady_clock::now();
    // redraws at most every QTOOL_PROGRESS_INTERVAL_MS (default 100 ms, tqdm's mininterval idea)
    static const long interval_ms = [] {
      const char* v = std::getenv("QTOOL_PROGRESS_INTERVAL_MS");
      char* end = nullptr;
      const long ms = v ? std::strtol(v, &end, 10) : 100;
      return v && (end == v || *end || ms < 0 || ms > 60000) ? 100 : ms;
    }();
    if (!force && drawn && now - last_draw < std::chrono::milliseconds(interval_ms)) return;
    last_draw = now;
    const std::string line = render();
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    drawn = true;
  }

  void clear_locked() {
    if (!drawn) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn = false;
  }
};

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()), touched_(start_) {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.owner) {
    s.owner = this;
    owner_ = true;
    s.draw_locked(true);
  } else {
    s.nested.push_back(this);
    s.draw_locked(false);
  }
}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  done_ += n;
  touched_ = std::chrono::steady_clock::now();
  if (!finished_) s.draw_locked(false);
}

void Progress::set_total(int64_t total) {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  total_ = total;
  if (!finished_) s.draw_locked(true);
}

void Progress::set_note(std::string note) {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  note_ = std::move(note);
  touched_ = std::chrono::steady_clock::now();
  if (!finished_) s.draw_locked(false);
}

void Progress::finish() {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  if (finished_) return;
  finished_ = true;
  if (owner_) {
    s.clear_locked();
    s.owner = nullptr;
    s.nested.clear();  // nested ones that outlive their owner draw nothing
  } else {
    s.nested.erase(std::remove(s.nested.begin(), s.nested.end(), this), s.nested.end());
  }
}

void enable_progress_bars(bool on) {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  s.enabled = on;
}

bool progress_bars_active() {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.active();
}

void print_above(std::FILE* stream, const std::string& text) {
  auto& s = ProgressState::get();
  std::lock_guard<std::mutex> lock(s.mu);
  s.clear_locked();
  std::fflush(stdout);
  std::fputs(text.c_str(), stream);
  std::fflush(stream);
  s.draw_locked(true);
}

namespace {

// Clears the bar, lets the colour stderr sink print the line, redraws the bar.
class BarAwareSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  BarAwareSink() : inner_(std::make_shared<spdlog::sinks::stderr_color_sink_st>()) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto& s = ProgressState::get();
    std::lock_guard<std::mutex> lock(s.mu);
    s.clear_locked();
    std::fflush(stdout);
    inner_->log(msg);
    inner_->flush();
    s.draw_locked(true);
  }
  void flush_() override { inner_->flush(); }
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

 private:
  std::shared_ptr<spdlog::sinks::stderr_color_sink_st> inner_;
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> progress_log_sink() { return std::make_shared<BarAwareSink>(); }

}  // namespace qtool
