// SPDX-License-Identifier: Apache-2.0
// qtool: quantize, calibrate, evaluate and inspect ONNX models.
// Exit codes: 0 success, 2 bad input (file, model, data, option: one line "qtool: error: ..."
// naming the file, node or tensor), 1 any other failure (qtool's own, or out of memory).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "core/suggest.h"
#include "core/version.h"
#include "runtime/allocator_policy.h"
#include "tools/commands.h"
#include "tools/omp_wait_policy.h"

namespace {
// Messages are one line (library texts may hold newlines).
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

namespace {

// Every option spelling of `app` ("--bits", "-o", ...), for "did you mean".
std::vector<std::string> option_names(const CLI::App* app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app->get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& s : o->get_snames()) out.push_back("-" + s);
  }
  return out;
}

// One line for a command-line error: "qtool: error: ...", with the closest option or subcommand
// for unknown ones and "give A or B, not both" for conflicting flags.
std::string parse_error_line(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  std::string msg = e.what();
  std::vector<std::string> subcommands;
  for (const CLI::App* s : app.get_subcommands(std::function<bool(CLI::App*)>())) subcommands.push_back(s->get_name());
  if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-')
    return "qtool: error: unknown command '" + std::string(argv[1]) + "'" + qtool::did_you_mean(argv[1], subcommands) +
           " (commands: " + qtool::name_list(subcommands, 20) + ")";
  const CLI::App* cmd = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
  const std::string where = cmd == &app ? "qtool --help" : "qtool " + cmd->get_name() + " --help";
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const auto colon = msg.find(": ");
    std::istringstream args(colon == std::string::npos ? "" : msg.substr(colon + 2));
    std::string arg, out;
    std::vector<std::string> all;
    while (args >> arg) all.push_back(arg);
    const bool any_flag = std::any_of(all.begin(), all.end(), [](const std::string& a) { return a.size() > 1 && a[0] == '-'; });
    for (const auto& arg : all) {
      const bool flag = arg.size() > 1 && arg[0] == '-';
      if (any_flag && !flag) continue;  // the value of an unknown option
      std::string name = flag ? arg.substr(0, arg.find('=')) : arg;
      std::vector<std::string> options = option_names(cmd);
      if (cmd != &app)
        for (const auto& o : option_names(&app)) options.push_back(o);  // -v / -q fall through to the root
      std::string hint = qtool::did_you_mean(name, flag ? options : cmd == &app ? subcommands : std::vector<std::string>{});
      out += (out.empty() ? "" : "; ") + std::string(flag ? "unknown option " : cmd == &app ? "unknown command " : "unexpected argument ") +
             name + hint;
    }
    return "qtool: error: " + out + " (see '" + where + "')";
  }
  std::smatch m;
  if (dynamic_cast<const CLI::ExcludesError*>(&e) && std::regex_search(msg, m, std::regex("(\\S+) excludes (\\S+)")))
    return "qtool: error: give " + std::string(m[1]) + " or " + std::string(m[2]) + ", not both (see '" + where + "')";
  return "qtool: error: " + msg + " (see '" + where + "')";
}

}  // namespace

int main(int argc, char** argv) {
  qtool::cli::default_omp_wait(argv);
  qtool::configure_process_allocator();  // runtime/allocator_policy.h
  qtool::cli::set_command_line(argc, argv);
  CLI::App app{"qtool: make trained ONNX models small and fast (calibrate, quantize, evaluate, inspect)"};
  app.require_subcommand(1);
  app.fallthrough();  // -v / -q also after the command name (qtool sweep ... -v)
  app.set_version_flag("--version", std::string("qtool ") + QTOOL_VERSION);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "debug logging");
  app.add_flag("-q,--quiet", quiet, "warnings and errors only");
  app.parse_complete_callback([&] {
    // log lines print above the progress bar (core/progress.h); bars only on a terminal
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("qtool", qtool::progress_log_sink()));
    spdlog::set_pattern("%^[%l]%$ %v");
    spdlog::set_level(quiet ? spdlog::level::warn : verbose ? spdlog::level::debug : spdlog::level::info);
    qtool::enable_progress_bars(true);
    spdlog::debug("allocator: {}", qtool::process_allocator_name());
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
  // An option given with an empty value (-o "") is an error, not "use the default".
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    sub->parse_complete_callback([sub] { qtool::cli::reject_empty_values(sub); });
  try {
    qtool::cli::forward_to_ray(argc, argv);  // --ray: the Python package's Ray driver does the work
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s\n", one_line(parse_error_line(app, e, argc, argv)).c_str());
    return 2;
  } catch (const qtool::cli::GateFailed&) {
    return 1;  // the gate printed the violated rules
  } catch (const qtool::InputError& e) {
    std::fprintf(stderr, "qtool: error: %s\n", one_line(e.what()).c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "qtool: failure: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtool: failure: %s\n", one_line(e.what()).c_str());
    return 1;
  }
  return 0;
}
