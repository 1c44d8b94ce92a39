// SPDX-License-Identifier: Apache-2.0
#include <map>

#include "calib/observer.h"
#include "core/error.h"

namespace qtool {

namespace {
const std::map<std::string, ObserverFactory>& registry() {
  static const std::map<std::string, ObserverFactory> r = {
      {"auto", make_auto_observer},
      {"minmax", make_minmax_observer},
      {"percentile", make_percentile_observer},
      {"entropy", make_entropy_observer},
      {"mse", make_mse_observer},
  };
  return r;
}
}  // namespace

std::vector<std::string> observer_names() {
  std::vector<std::string> out;
  for (const auto& [k, v] : registry()) out.push_back(k);
  return out;
}

std::unique_ptr<Observer> make_observer(const std::string& name, const ObserverOptions& opts) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : observer_names()) known += (known.empty() ? "" : ", ") + n;
    throw InputError("unknown calibration method '" + name + "' (known: " + known + ")");
  }
  return it->second(opts);
}

}  // namespace qtool
