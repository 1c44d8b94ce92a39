// SPDX-License-Identifier: Apache-2.0
#include "io/npy.h"

#include <zip.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "io/model.h"

namespace qtool {

namespace {

// numpy dtype descriptors ('<' little-endian, '|' single byte); '=' is read as native (x86: little).
const std::pair<const char*, DType> kDescrs[] = {
    {"f4", DType::kFloat},  {"f8", DType::kDouble}, {"f2", DType::kFloat16}, {"u1", DType::kUInt8},
    {"i1", DType::kInt8},   {"u2", DType::kUInt16}, {"i2", DType::kInt16},   {"u4", DType::kUInt32},
    {"i4", DType::kInt32},  {"u8", DType::kUInt64}, {"i8", DType::kInt64},   {"b1", DType::kBool},
};

DType dtype_from_descr(const std::string& d, const std::string& label) {
  if (d.size() >= 2 && (d[0] == '<' || d[0] == '|' || d[0] == '='))
    for (const auto& [code, t] : kDescrs)
      if (d.compare(1, std::string::npos, code) == 0) return t;
  throw InputError(label + ": unsupported .npy dtype '" + d +
                   "' (expected little-endian float16/32/64, int8..64, uint8..64 or bool)");
}

std::string descr_of(DType t) {
  for (const auto& [code, d] : kDescrs)
    if (d == t) return std::string(dtype_size(t) == 1 ? "|" : "<") + code;
  throw InputError("cannot write a " + dtype_name(t) + " tensor to .npy (numpy has no such dtype)");
}

}  // namespace

NpyHeader parse_npy_header(const std::string& bytes, const std::string& label) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw InputError(label + ": not a .npy file (missing \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else {
    if (bytes.size() < 12) throw InputError(label + ": truncated .npy header");
    uint32_t l;
    std::memcpy(&l, bytes.data() + 8, 4);
    header_len = l;
    header_start = 12;
  }
  if (header_start + header_len > bytes.size()) throw InputError(label + ": truncated .npy header");
  std::string header = bytes.substr(header_start, header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']+)'")))
    throw InputError(label + ": .npy header has no descr");
  DType dtype = dtype_from_descr(m[1], label);
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True")))
    throw InputError(label + ": Fortran-ordered .npy arrays are not supported; save with np.ascontiguousarray");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw InputError(label + ": .npy header has no shape");
  Shape shape;
  std::string dims = m[1];
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    shape.push_back(std::stoll(item.substr(b)));
  }
  return {dtype, shape, header_start + header_len};
}

Tensor parse_npy(const std::string& bytes, const std::string& label) {
  NpyHeader h = parse_npy_header(bytes, label);
  const Shape& shape = h.shape;
  const DType dtype = h.dtype;
  const size_t header_start = 0, header_len = h.data_offset;
  Tensor t(dtype, shape);
  size_t data_start = header_start + header_len;
  if (bytes.size() - data_start < t.nbytes())
    throw InputError(label + ": .npy data is truncated (" + std::to_string(bytes.size() - data_start) + " of " +
                     std::to_string(t.nbytes()) + " bytes)");
  if (t.nbytes()) std::memcpy(t.raw(), bytes.data() + data_start, t.nbytes());
  return t;
}

std::string serialize_npy(const Tensor& t) {
  std::string shape;
  for (auto d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.erase(shape.size() - 1);  // "(2, 3)" vs "(2,)"
  if (t.rank() > 1) shape.erase(shape.size() - 1);
  std::string header = "{'descr': '" + descr_of(t.dtype()) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

Tensor read_npy(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path.string() + ": cannot open .npy file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_npy(ss.str(), path.string());
}

void write_npy(const std::filesystem::path& path, const Tensor& t) { write_file_atomic(path, serialize_npy(t)); }

std::map<std::string, Tensor> read_npz(const std::filesystem::path& path) {
  int err = 0;
  std::unique_ptr<zip_t, decltype(&zip_close)> za(zip_open(path.c_str(), ZIP_RDONLY, &err), &zip_close);
  if (!za) throw InputError(path.string() + ": cannot open as .npz (zip) archive, libzip error " + std::to_string(err));
  std::map<std::string, Tensor> out;
  zip_int64_t n = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    if (zip_stat_index(za.get(), i, 0, &st) != 0) continue;
    std::string name = st.name;
    std::unique_ptr<zip_file_t, decltype(&zip_fclose)> zf(zip_fopen_index(za.get(), i, 0), &zip_fclose);
    if (!zf) throw InputError(path.string() + ": cannot read member " + name);
    std::string bytes(st.size, '\0');
    if (zip_fread(zf.get(), bytes.data(), st.size) != static_cast<zip_int64_t>(st.size))
      throw InputError(path.string() + ": member " + name + " is truncated");
    std::string key = name.size() > 4 && name.substr(name.size() - 4) == ".npy" ? name.substr(0, name.size() - 4) : name;
    out.emplace(key, parse_npy(bytes, path.string() + ":" + name));
  }
  return out;
}

void write_npz(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::filesystem::remove(tmp);
  int err = 0;
  zip_t* za = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!za) throw InputError(path.string() + ": cannot create .npz archive");
  std::vector<std::string> keep;  // libzip reads the buffers at zip_close
  keep.reserve(tensors.size());
  for (const auto& [k, t] : tensors) {
    keep.push_back(serialize_npy(t));
    zip_source_t* src = zip_source_buffer(za, keep.back().data(), keep.back().size(), 0);
    if (!src || zip_file_add(za, (k + ".npy").c_str(), src, ZIP_FL_OVERWRITE) < 0) {
      if (src) zip_source_free(src);
      zip_discard(za);
      throw Error(path.string() + ": cannot add " + k + " to archive");
    }
  }
  if (zip_close(za) != 0) throw Error(path.string() + ": writing the archive failed");
  std::filesystem::rename(tmp, path);
}

}  // namespace qtool
