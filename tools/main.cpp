// SPDX-License-Identifier: Apache-2.0
// qtool: quantize, calibrate, evaluate and inspect ONNX models.
// Exit codes: 0 success, 2 bad input (file, model, data, option), 1 any other failure.
#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/version.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  // Activation buffers of a few MB are freed and re-allocated on every batch. glibc serves them
  // with mmap by default, so every run page-faults its memory in again (a third of the executor's
  // time on UltraFace). Keep them on the heap and let freed memory be reused instead.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"qtool: make trained ONNX models small and fast (calibrate, quantize, evaluate, inspect)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("qtool ") + QTOOL_VERSION);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "debug logging");
  app.add_flag("-q,--quiet", quiet, "warnings and errors only");
  app.parse_complete_callback([&] {
    spdlog::set_default_logger(spdlog::stderr_color_mt("qtool"));
    spdlog::set_pattern("%^[%l]%$ %v");
    spdlog::set_level(quiet ? spdlog::level::warn : verbose ? spdlog::level::debug : spdlog::level::info);
  });
  qtool::cli::add_quantize_command(app);
  qtool::cli::add_calibrate_command(app);
  qtool::cli::add_eval_command(app);
  qtool::cli::add_inspect_command(app);
  qtool::cli::add_run_command(app);
  qtool::cli::add_prune_command(app);
  qtool::cli::add_sensitivity_command(app);
  qtool::cli::add_sweep_command(app);
  qtool::cli::add_auto_command(app);
  qtool::cli::add_gate_command(app);
  qtool::cli::add_ops_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const qtool::cli::GateFailed&) {
    return 1;  // the gate printed the violated rules
  } catch (const qtool::InputError& e) {
    std::fprintf(stderr, "qtool: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtool: failure: %s\n", e.what());
    return 1;
  }
  return 0;
}
