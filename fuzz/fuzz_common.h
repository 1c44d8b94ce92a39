// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the libFuzzer targets (fuzz/fuzz_*.cpp, built with -DQTOOL_FUZZ=ON, run by
// .ci/fuzz). Every target feeds its bytes to the entry point the CLI uses and treats
// qtool::InputError (exit 2 in the CLI: "bad input, named") as the expected outcome for hostile
// bytes. Anything else is a finding: a crash or sanitizer report, std::bad_alloc (an allocation
// the file's size does not bound), and any other exception (exit 1 in the CLI: "qtool's own
// failure"), which is reported with its type and message and then aborts.
#pragma once
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "core/error.h"
#include "core/parallel.h"

namespace qtool::fuzz {

// Quiet logs (libFuzzer prints its own status), one thread (libFuzzer runs one input at a time).
inline void init() {
  spdlog::set_level(spdlog::level::off);
  set_thread_budget(1);
}

// A private folder for the files a target hands to path-based readers (the CLI's own entry
// points take paths): under /dev/shm when present (RAM), else the temp folder; removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("qtool-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(scratch_dir(), ec); });
    return d;
  }();
  return dir;
}

// Writes `size` bytes to `path` (truncating); aborts when it cannot (a harness failure).
inline void write_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// Runs fn(); InputError is the expected refusal of bad bytes. Any other exception is a finding.
template <class Fn>
void expect_only_input_errors(Fn&& fn) {
  try {
    fn();
  } catch (const InputError&) {
    // refused with a message naming the input: the CLI's exit 2
  } catch (const std::bad_alloc& e) {
    std::fprintf(stderr, "FINDING: std::bad_alloc (an allocation the input's size does not bound): %s\n", e.what());
    std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING: uncaught %s (not an InputError: the CLI would exit 1): %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  }
}

}  // namespace qtool::fuzz
