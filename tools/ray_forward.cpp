// SPDX-License-Identifier: Apache-2.0
// `qtool sweep|sensitivity|auto --ray ADDRESS ...`: the same command run on a Ray cluster by the
// Python package (python/qtool/distributed.py). This binary never links Ray or Python: it replaces
// itself with `$QTOOL_PYTHON -m qtool.distributed <arguments>` (default python3), so without --ray
// nothing changes and without Python only --ray is unavailable.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "tools/commands.h"

namespace qtool::cli {

void add_ray_option(CLI::App* cmd, std::string& address) {
  cmd->add_option("--ray", address,
                  "run on a Ray cluster (ADDRESS as for ray.init, e.g. 127.0.0.1:6379 or auto): one Ray task per "
                  "unit of work, done by the Python package (python3 -m qtool.distributed; $QTOOL_PYTHON)");
}

void forward_to_ray(int argc, char** argv) {
  static const std::set<std::string> commands = {"sweep", "sensitivity", "auto"};
  int sub = 0;
  for (int i = 1; i < argc; ++i)
    if (argv[i][0] != '-') {
      sub = i;
      break;
    }
  if (!sub || !commands.count(argv[sub])) return;
  bool ray = false;
  for (int i = sub + 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--ray") || !std::strncmp(argv[i], "--ray=", 6)) ray = true;
  if (!ray) return;
  const char* env = std::getenv("QTOOL_PYTHON");
  const std::string python = env && *env ? env : "python3";
  std::vector<std::string> args = {python, "-m", "qtool.distributed"};
  for (int i = sub; i < argc; ++i) args.emplace_back(argv[i]);
  for (int i = 1; i < sub; ++i)
    if (!std::strcmp(argv[i], "-q") || !std::strcmp(argv[i], "--quiet")) args.emplace_back("--quiet");
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  execvp(cargs[0], cargs.data());
  throw InputError("--ray needs Python with the qtool package and ray (pip install . or the wheel; see "
                   "python-ray-requirements.txt): cannot start '" + python + "': " + std::strerror(errno));
}

}  // namespace qtool::cli
