// SPDX-License-Identifier: Apache-2.0
// External tensor data (ONNX external_data: location / offset / length), opened once at load and
// read on demand, never copied into protobuf strings.
//
// Rules (a model folder is untrusted input): `location` is a relative path inside the model's
// folder without ".." components; every component is opened with O_NOFOLLOW from the folder's
// descriptor (so no symbolic link is followed, not even a folder link), and the file must be a
// regular file (no FIFO, device or socket: a FIFO would block forever, /dev/zero never ends).
// offset and length are plain decimal numbers; offset + length must lie inside the file's size
// as fstat reports it, checked before any buffer is allocated.
//
// A loaded external tensor keeps data_location EXTERNAL and gets the entry kFileKey = id of an
// ExternalFile in a process-wide registry; tensor_from_proto (io/onnx_tensor.h) reads it through
// the registry with pread. Model (io/model.h) holds the files alive. Reading with pread rather than
// mmap: a file truncated by another process while mapped kills the reader with SIGBUS; pread
// returns a short read, which is an error naming the file.
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace qtool {

class ExternalFile {
 public:
  // Opens `location` relative to the folder `dir`; throws InputError "<where>: ..." naming the file.
  static std::shared_ptr<const ExternalFile> open(const std::filesystem::path& dir, const std::string& location,
                                                  const std::string& where);
  ~ExternalFile();
  ExternalFile(const ExternalFile&) = delete;
  ExternalFile& operator=(const ExternalFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::string& location() const { return location_; }
  uint64_t size() const { return size_; }
  uint64_t device() const { return dev_; }
  uint64_t inode() const { return ino_; }
  const std::string& id() const { return id_; }
  // Reads exactly `length` bytes at `offset`; throws Error naming the file on a short read (the
  // file shrank after it was opened) or an I/O error.
  void read(uint64_t offset, uint64_t length, void* dst) const;

 private:
  ExternalFile() = default;
  int fd_ = -1;
  std::filesystem::path path_;
  std::string location_, id_;
  uint64_t size_ = 0, dev_ = 0, ino_ = 0;
};

// The key qtool adds to a loaded external tensor's external_data (value: ExternalFile::id()).
inline constexpr const char* kExternalFileKey = "qtool.file";

// Where an external tensor's bytes are: the file (nullptr when the tensor was not loaded through
// load_model, e.g. a model from memory) and the byte range as the model states it.
struct ExternalRef {
  std::shared_ptr<const ExternalFile> file;
  std::string location;
  uint64_t offset = 0;
  int64_t length = -1;  // -1: not given (the tensor's size)
};
// Parses the entries (strict decimal numbers; InputError "<where>: ..." otherwise).
ExternalRef external_ref(const onnx::TensorProto& t, const std::string& where);

// Strict non-negative decimal (digits only, at most INT64_MAX); InputError naming `what` otherwise.
uint64_t parse_decimal(const std::string& s, const std::string& what);

}  // namespace qtool
