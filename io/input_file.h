// SPDX-License-Identifier: Apache-2.0
// Reading a whole input file the user named (model, .npy/.npz, image, JSON, .pb): regular files
// only, so a FIFO or device is refused instead of waited on or read forever; the size comes from
// fstat before anything is allocated.
// Errors: InputError "<path>: no such file" / "cannot open ..." / "is a folder, expected <what>" /
// "is not a regular file (FIFO or device), expected <what>" / "is N bytes; <too_large>" when the
// file holds max_bytes or more / "read failed: ...".
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace qtool {

std::string read_input_file(const std::filesystem::path& path, const std::string& what,
                            uint64_t max_bytes = std::numeric_limits<uint64_t>::max(),
                            const std::string& too_large = "");

}  // namespace qtool
