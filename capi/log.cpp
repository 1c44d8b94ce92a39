// SPDX-License-Identifier: Apache-2.0
// C API: qtool's log messages (spdlog) to a caller's callback instead of stderr
// (qt_set_log_callback), so hosts route them into their own logging (Python: `logging` and
// `warnings`, python/qtool/_log.py).
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "capi/qtool.h"

namespace {

class CallbackSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  CallbackSink(qt_log_fn fn, void* user) : fn_(fn), user_(user) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // base_sink holds its mutex here: one callback at a time
    const std::string text(msg.payload.data(), msg.payload.size());
    const int level = msg.level <= spdlog::level::trace ? 0
                      : msg.level == spdlog::level::debug ? 1
                      : msg.level == spdlog::level::info  ? 2
                      : msg.level == spdlog::level::warn  ? 3
                                                          : 4;
    fn_(user_, level, text.c_str());
  }
  void flush_() override {}

 private:
  qt_log_fn fn_;
  void* user_;
};

}  // namespace

extern "C" void qt_set_log_callback(qt_log_fn callback, void* user, int level) {
  try {
    std::shared_ptr<spdlog::logger> logger;
    if (callback) {
      logger = std::make_shared<spdlog::logger>("qtool", std::make_shared<CallbackSink>(callback, user));
      const spdlog::level::level_enum lv = level <= 0 ? spdlog::level::trace
                                           : level == 1 ? spdlog::level::debug
                                           : level == 2 ? spdlog::level::info
                                           : level == 3 ? spdlog::level::warn
                                                        : spdlog::level::err;
      logger->set_level(lv);
      spdlog::set_default_logger(logger);
      spdlog::set_level(lv);
    } else {
      logger = std::make_shared<spdlog::logger>("qtool", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
      spdlog::set_default_logger(logger);
      spdlog::set_level(spdlog::level::warn);
    }
  } catch (...) {
    // logging set-up must not fail the host; the previous logger stays
  }
}
