// SPDX-License-Identifier: Apache-2.0
// Provenance of a report (eval/report.h): qtool's version, the command line as typed (shell-quoted),
// the date (UTC, ISO 8601) and the input model's SHA-256 (OpenSSL's libcrypto, EVP interface).
#include <openssl/evp.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/version.h"
#include "tools/commands.h"

namespace qtool::cli {

namespace {
std::string g_command_line;

// POSIX shell quoting: words made of safe characters stay bare, others are single-quoted.
std::string shell_quote(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                        std::string::npos)
    return w;
  std::string o = "'";
  for (char c : w) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}
}  // namespace

void set_command_line(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + shell_quote(i == 0 ? "qtool" : argv[i]);
}

const std::string& command_line() { return g_command_line; }

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path.string() + ": cannot open for reading");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("SHA-256: cannot initialise");
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(f.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

Provenance make_provenance(const std::filesystem::path& model, const Dataset* calib, const Dataset* eval,
                           const std::string& observer) {
  Provenance p;
  p.qtool_version = QTOOL_VERSION;
  p.command_line = g_command_line;
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  p.date = date;
  p.model_sha256 = sha256_file(model);
  if (calib) {
    p.calib_data = calib->describe();
    p.calib_samples = calib->size();
  }
  if (eval) {
    p.eval_data = eval->describe();
    p.eval_samples = eval->size();
  }
  p.observer = observer;
  return p;
}

}  // namespace qtool::cli
