// SPDX-License-Identifier: Apache-2.0
#include "io/external_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace fs = std::filesystem;

namespace qtool {

namespace {

std::mutex g_registry_mutex;
std::map<std::string, std::weak_ptr<const ExternalFile>>& registry() {
  static auto* r = new std::map<std::string, std::weak_ptr<const ExternalFile>>();  // never destroyed
  return *r;
}
std::atomic<uint64_t> g_next_id{1};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

std::string kind_of(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISDIR(m)) return "a folder";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

std::shared_ptr<const ExternalFile> lookup(const std::string& id) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = registry().find(id);
  return it == registry().end() ? nullptr : it->second.lock();
}

}  // namespace

uint64_t parse_decimal(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
    throw InputError(what + " '" + s + "' is not a non-negative decimal number");
  const unsigned long long v = std::stoull(s);  // at most 19 digits: fits in 64 bits
  if (v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
    throw InputError(what + " '" + s + "' is too large");
  return v;
}

std::shared_ptr<const ExternalFile> ExternalFile::open(const fs::path& dir, const std::string& location,
                                                       const std::string& where) {
  const std::string what = where + ": external data '" + location + "'";
  const std::string rule = "; external data must be a regular file inside the model's folder";
  if (location.empty()) throw InputError(where + ": external data without a location");
  if (location.find('\0') != std::string::npos) throw InputError(what + ": the location holds a NUL byte");
  const fs::path rel(location);
  if (rel.is_absolute()) throw InputError(what + " is an absolute path (outside the model's folder)" + rule);
  std::vector<std::string> parts;
  for (const auto& c : rel) {
    const std::string s = c.string();
    if (s == "..") throw InputError(what + " leads outside the model's folder ('..')" + rule);
    if (!s.empty() && s != ".") parts.push_back(s);
  }
  if (parts.empty()) throw InputError(what + " names no file" + rule);
  const fs::path base = dir.empty() ? fs::path(".") : dir;
  Fd d(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) throw InputError(what + ": cannot open the model's folder " + base.string() + ": " + std::strerror(errno));
  // Every component from the model's folder down, without following symbolic links.
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    struct stat st {};
    if (::fstatat(d.fd, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      throw InputError(what + ": " + (errno == ENOENT ? std::string("no such file") : std::strerror(errno)));
    if (S_ISLNK(st.st_mode))
      throw InputError(what + ": '" + parts[i] + "' is a symbolic link, which qtool does not follow (it could lead "
                       "outside the model's folder)" + rule);
    if (!last) {
      if (!S_ISDIR(st.st_mode)) throw InputError(what + ": '" + parts[i] + "' is not a folder");
      Fd next(::openat(d.fd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (next.fd < 0) throw InputError(what + ": cannot open folder '" + parts[i] + "': " + std::strerror(errno));
      std::swap(d.fd, next.fd);
      continue;
    }
    if (!S_ISREG(st.st_mode)) throw InputError(what + " is " + kind_of(st.st_mode) + ", not a regular file" + rule);
    Fd f(::openat(d.fd, parts[i].c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (f.fd < 0) throw InputError(what + ": cannot open: " + std::strerror(errno));
    struct stat fst {};
    if (::fstat(f.fd, &fst) != 0) throw InputError(what + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
      throw InputError(what + " changed while it was opened, or is not a regular file" + rule);
    std::shared_ptr<ExternalFile> file(new ExternalFile());
    file->fd_ = f.release();
    file->path_ = base / rel;
    file->location_ = location;
    file->size_ = static_cast<uint64_t>(fst.st_size);
    file->dev_ = static_cast<uint64_t>(fst.st_dev);
    file->ino_ = static_cast<uint64_t>(fst.st_ino);
    file->id_ = std::to_string(::getpid()) + "-" + std::to_string(g_next_id++);
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto& r = registry();
    for (auto it = r.begin(); it != r.end();) it = it->second.expired() ? r.erase(it) : std::next(it);
    r[file->id_] = file;
    return file;
  }
  throw InputError(what + ": not found");  // not reached
}

ExternalFile::~ExternalFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ExternalFile::read(uint64_t offset, uint64_t length, void* dst) const {
  auto* out = static_cast<char*>(dst);
  while (length > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(length, uint64_t{1} << 30));
    const ssize_t n = ::pread(fd_, out, chunk, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(path_.string() + ": read failed: " + std::strerror(errno));
    if (n == 0) throw Error(path_.string() + ": the file is shorter than when it was opened (changed during the run)");
    out += n;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
}

ExternalRef external_ref(const onnx::TensorProto& t, const std::string& where) {
  ExternalRef r;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") r.location = kv.value();
    else if (kv.key() == "offset") r.offset = parse_decimal(kv.value(), where + ": external data offset");
    else if (kv.key() == "length") r.length = static_cast<int64_t>(parse_decimal(kv.value(), where + ": external data length"));
    else if (kv.key() == kExternalFileKey) r.file = lookup(kv.value());
  }
  return r;
}

}  // namespace qtool
