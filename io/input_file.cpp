// SPDX-License-Identifier: Apache-2.0
#include "io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace qtool {

std::string read_input_file(const std::filesystem::path& path, const std::string& what, uint64_t max_bytes,
                            const std::string& too_large) {
  const std::string label = path.string();
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    throw InputError(label + ": " + (errno == ENOENT ? std::string("no such file")
                                                     : "cannot open " + what + ": " + std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw InputError(label + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw InputError(label + ": " + (S_ISDIR(st.st_mode) ? "is a folder" : "is not a regular file (FIFO or device)") +
                     ", expected " + what);
  if (static_cast<uint64_t>(st.st_size) >= max_bytes)
    throw InputError(label + ": is " + std::to_string(st.st_size) + " bytes; " + too_large);
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError(label + ": read failed: " + std::strerror(errno));
    if (n == 0) break;  // the file shrank while being read: what is there is parsed (and checked) as is
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace qtool
