// SPDX-License-Identifier: Apache-2.0
// Writing output files safely: every file qtool writes (models, external data, tables, plans,
// masks, reports, run outputs) goes through OutputFile.
//
// The rule (README, "Using it"):
//   - an empty path is an error;
//   - a symbolic link is followed: the file it points to is written (the link stays a link);
//   - an existing path that is not a regular file is an error (folder, FIFO, socket, block
//     device), except a character device such as /dev/null, which is opened and written through
//     (no temporary file, no rename);
//   - the folder must exist and be writable; a folder without any write permission bit is
//     treated as read-only even for root (root could write there, but the folder says it should
//     not be written);
//   - a regular file is written to a temporary file created in the same folder with
//     O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable name (".<name>.<random>.qtool-tmp"), flushed,
//     and renamed over the target in one step; any failure removes the temporary file, and
//     leftovers of killed runs are never reused (new random name every time).
// Whether an existing output may be replaced at all (--force) is the CLI's decision
// (tools/commands.h, OutputGuard); the C API replaces the paths its callers name.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace qtool {

// Where writing `out` goes after the rule above; throws InputError naming `out`.
struct OutputTarget {
  std::filesystem::path path;  // the file written (a symlink's target)
  bool device = false;         // character device: written through
  bool exists = false;         // `path` exists now
};
OutputTarget resolve_output(const std::filesystem::path& out);

class OutputFile {
 public:
  explicit OutputFile(const std::filesystem::path& out);  // creates the temporary file (or opens the device)
  ~OutputFile();                                          // removes the temporary file unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int fd() const { return fd_; }
  const OutputTarget& target() const { return target_; }
  void write(const void* data, size_t n);  // Error naming the file (disk full, I/O error)
  uint64_t written() const { return written_; }
  // Flushes and renames the temporary file over the target (devices: just closes).
  void commit();

 private:
  OutputTarget target_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// One-shot write of `bytes` through OutputFile.
void write_file_atomic(const std::filesystem::path& out, const std::string& bytes);

// True when `a` and `b` name the same existing file (same device and inode; symlinks followed).
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace qtool
