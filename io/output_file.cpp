// SPDX-License-Identifier: Apache-2.0
#include "io/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"

namespace fs = std::filesystem;

namespace qtool {

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string kind_of(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

std::string random_hex() {
  static thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
  }());
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(rng()));
  return b;
}

std::string mode_str(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

}  // namespace

OutputTarget resolve_output(const fs::path& out) {
  if (out.empty()) throw InputError("the output path is empty");
  const std::string label = out.string();
  OutputTarget t;
  fs::path p = out;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) throw InputError(label + ": cannot check the output path: " + errno_text());
      break;  // a new file
    }
    if (S_ISLNK(st.st_mode)) {  // write to the link's target; the link stays
      if (hops >= 40) throw InputError(label + ": too many levels of symbolic links");
      std::vector<char> buf(static_cast<size_t>(st.st_size > 0 ? st.st_size : 255) + 1);
      const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
      if (n < 0) throw InputError(label + ": cannot read the symbolic link: " + errno_text());
      const fs::path target(std::string(buf.data(), static_cast<size_t>(n)));
      p = target.is_absolute() ? target : p.parent_path() / target;
      continue;
    }
    if (S_ISDIR(st.st_mode)) throw InputError(label + ": is a folder; name the output file");
    if (S_ISCHR(st.st_mode)) {
      t.path = p;
      t.device = true;
      t.exists = true;
      return t;
    }
    if (!S_ISREG(st.st_mode))
      throw InputError(label + ": exists and is " + kind_of(st.st_mode) +
                       "; qtool writes regular files and character devices such as /dev/null only");
    if ((st.st_mode & 0222) == 0)
      throw InputError(label + ": the existing file is read-only (mode " + mode_str(st.st_mode) + "); qtool does not replace it");
    t.exists = true;
    break;
  }
  t.path = p;
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) != 0)
    throw InputError(label + ": output folder " + dir.string() + (errno == ENOENT ? " does not exist" : ": " + errno_text()));
  if (!S_ISDIR(ds.st_mode)) throw InputError(label + ": " + dir.string() + " is not a folder");
  if (::access(dir.c_str(), W_OK) != 0)
    throw InputError(label + ": cannot write in folder " + dir.string() + ": " + errno_text());
  if ((ds.st_mode & 0222) == 0)
    throw InputError(label + ": folder " + dir.string() + " is read-only (mode " + mode_str(ds.st_mode) +
                     "); qtool does not write there, even as root");
  return t;
}

OutputFile::OutputFile(const fs::path& out) : target_(resolve_output(out)) {
  const std::string label = out.string();
  if (target_.device) {
    fd_ = ::open(target_.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) throw InputError(label + ": cannot open the device for writing: " + errno_text());
    return;
  }
  const fs::path dir = target_.path.parent_path();
  const std::string name = target_.path.filename().string().substr(0, 128);
  mode_t keep_mode = 0;
  struct stat st {};
  if (target_.exists && ::stat(target_.path.c_str(), &st) == 0) keep_mode = st.st_mode & 07777;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const fs::path tmp = dir / ("." + name + "." + random_hex() + ".qtool-tmp");
    fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd_ >= 0) {
      tmp_ = tmp;
      if (keep_mode) (void)::fchmod(fd_, keep_mode);  // a replaced file keeps its permissions
      return;
    }
    if (errno == EEXIST) continue;
    const std::string why = errno_text();
    if (errno == ENOSPC || errno == EDQUOT || errno == EIO) throw Error(label + ": cannot create a file in " + dir.string() + ": " + why);
    throw InputError(label + ": cannot create a file in folder " + (dir.empty() ? std::string(".") : dir.string()) + ": " + why);
  }
  throw Error(label + ": cannot find a free temporary file name in " + dir.string());
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void OutputFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(target_.path.string() + ": write failed: " + (w < 0 ? errno_text() : std::string("no progress")));
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

void OutputFile::commit() {
  if (committed_) return;
  if (!target_.device && ::fsync(fd_) != 0) throw Error(target_.path.string() + ": cannot flush the file: " + errno_text());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw Error(target_.path.string() + ": write failed at close: " + errno_text());
  if (!target_.device && ::rename(tmp_.c_str(), target_.path.c_str()) != 0)
    throw Error(target_.path.string() + ": cannot move the finished file into place: " + errno_text());
  committed_ = true;
}

void write_file_atomic(const fs::path& out, const std::string& bytes) {
  OutputFile f(out);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

bool same_file(const fs::path& a, const fs::path& b) {
  struct stat sa {}, sb {};
  if (a.empty() || b.empty() || ::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace qtool
