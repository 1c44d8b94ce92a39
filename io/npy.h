// SPDX-License-Identifier: Apache-2.0
// NumPy .npy / .npz reading and writing (format spec: numpy.lib.format, version 1.0/2.0/3.0).
// Supported dtypes: float16/32/64, int8..int64, uint8..uint64, bool (little-endian), C order only. .npz archives are read and written
// with libzip (stored or deflated members named "<key>.npy").
// Errors: InputError naming the file (and member) and the unsupported feature.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "core/tensor.h"

namespace qtool {

struct NpyHeader {
  DType dtype;
  Shape shape;
  size_t data_offset;  // bytes from the start of the file to the first element
};
// Parses the header only; `bytes` needs to hold at least the header.
NpyHeader parse_npy_header(const std::string& bytes, const std::string& label);
Tensor parse_npy(const std::string& bytes, const std::string& label);
std::string serialize_npy(const Tensor& t);
Tensor read_npy(const std::filesystem::path& path);
void write_npy(const std::filesystem::path& path, const Tensor& t);
// Keys are the member names without ".npy", in archive order.
std::map<std::string, Tensor> read_npz(const std::filesystem::path& path);
void write_npz(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors);

}  // namespace qtool
