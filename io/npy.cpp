// SPDX-License-Identifier: Apache-2.0
#include "io/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "io/external_data.h"
#include "io/input_file.h"
#include "io/output_file.h"

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
  if (major < 1 || major > 3)
    throw InputError(label + ": .npy format version " + std::to_string(major) + " is not supported (1, 2 or 3)");
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
  if (header_len > bytes.size() - header_start) throw InputError(label + ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);
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
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \tL");
    if (b == std::string::npos) continue;
    const std::string d = item.substr(b, e + 1 - b);
    if (d.empty() || d.size() > 19 || d.find_first_not_of("0123456789") != std::string::npos)
      throw InputError(label + ": .npy shape entry '" + item + "' is not a non-negative integer");
    shape.push_back(static_cast<int64_t>(parse_decimal(d, label + ": .npy shape entry")));
    if (shape.size() > 64) throw InputError(label + ": .npy shape has more than 64 axes");
  }
  try {
    const uint64_t n = static_cast<uint64_t>(shape_numel(shape));
    if (n > std::numeric_limits<uint64_t>::max() / dtype_size(dtype)) throw InputError("too large");
  } catch (const InputError&) {
    throw InputError(label + ": .npy shape " + shape_str(shape) + " is too large");
  }
  return {dtype, shape, header_start + header_len};
}

Tensor parse_npy(const std::string& bytes, const std::string& label) {
  const NpyHeader h = parse_npy_header(bytes, label);
  const uint64_t need = static_cast<uint64_t>(shape_numel(h.shape)) * dtype_size(h.dtype);
  const uint64_t have = bytes.size() - h.data_offset;
  // checked before anything is allocated: a header can claim any shape
  if (have < need)
    throw InputError(label + ": .npy data is truncated (" + std::to_string(have) + " of " + std::to_string(need) +
                     " bytes for shape " + shape_str(h.shape) + ")");
  Tensor t = Tensor::uninitialized(h.dtype, h.shape);
  if (need) std::memcpy(t.raw(), bytes.data() + h.data_offset, static_cast<size_t>(need));
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

Tensor read_npy(const std::filesystem::path& path) { return parse_npy(read_input_file(path, "a .npy file"), path.string()); }

void write_npy(const std::filesystem::path& path, const Tensor& t) { write_file_atomic(path, serialize_npy(t)); }

std::map<std::string, Tensor> read_npz(const std::filesystem::path& path) {
  const std::string label = path.string();
  std::string archive = read_input_file(path, "an .npz archive");
  zip_error_t zerr;
  zip_error_init(&zerr);
  zip_source_t* src = zip_source_buffer_create(archive.data(), archive.size(), 0, &zerr);
  if (!src) throw Error(label + ": cannot read the archive (" + std::string(zip_error_strerror(&zerr)) + ")");
  std::unique_ptr<zip_t, decltype(&zip_discard)> za(zip_open_from_source(src, ZIP_RDONLY, &zerr), &zip_discard);
  if (!za) {
    zip_source_free(src);
    const std::string why = zip_error_strerror(&zerr);
    zip_error_fini(&zerr);
    throw InputError(label + ": not a valid .npz (zip) archive (" + why + ")");
  }
  zip_error_fini(&zerr);
  std::map<std::string, Tensor> out;
  const zip_int64_t n = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) continue;
    const std::string name = st.name;
    const std::string where = label + ":" + name;
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE) || !(st.valid & ZIP_STAT_COMP_METHOD))
      throw InputError(where + ": the archive does not state the member's sizes");
    // The sizes the zip directory states are checked against what the member's compressed bytes
    // can hold (deflate expands at most ~1032:1) before anything is allocated for them.
    if (st.comp_method == ZIP_CM_STORE) {
      if (st.size != st.comp_size) throw InputError(where + ": stored member with inconsistent sizes");
    } else if (st.comp_method == ZIP_CM_DEFLATE) {
      if (st.size / 1032 > st.comp_size + 64)
        throw InputError(where + ": the archive claims " + std::to_string(st.size) + " bytes from " +
                         std::to_string(st.comp_size) + " compressed bytes, more than deflate can expand to");
    } else {
      throw InputError(where + ": compression method " + std::to_string(st.comp_method) +
                       " is not supported (.npz members are stored or deflated)");
    }
    if (st.comp_size > archive.size()) throw InputError(where + ": member larger than the archive");
    std::unique_ptr<zip_file_t, decltype(&zip_fclose)> zf(zip_fopen_index(za.get(), i, 0), &zip_fclose);
    if (!zf) throw InputError(where + ": cannot read the member (" + std::string(zip_strerror(za.get())) + ")");
    std::string bytes;
    std::vector<char> chunk(1 << 20);
    while (bytes.size() < st.size) {  // grows with the bytes that really come out
      const zip_int64_t got = zip_fread(zf.get(), chunk.data(), std::min<zip_uint64_t>(chunk.size(), st.size - bytes.size()));
      if (got < 0) throw InputError(where + ": the member is corrupt (" + std::string(zip_file_strerror(zf.get())) + ")");
      if (got == 0) break;
      bytes.append(chunk.data(), static_cast<size_t>(got));
    }
    if (bytes.size() != st.size)
      throw InputError(where + ": the member is truncated (" + std::to_string(bytes.size()) + " of " +
                       std::to_string(st.size) + " bytes)");
    const std::string key = name.size() > 4 && name.substr(name.size() - 4) == ".npy" ? name.substr(0, name.size() - 4) : name;
    out.emplace(key, parse_npy(bytes, where));
  }
  return out;
}

void write_npz(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors) {
  const std::string label = path.string();
  resolve_output(path);  // a bad output path fails before the archive is built
  zip_error_t zerr;
  zip_error_init(&zerr);
  zip_source_t* mem = zip_source_buffer_create(nullptr, 0, 0, &zerr);
  if (!mem) throw Error(label + ": cannot create an archive in memory");
  zip_source_keep(mem);  // the archive's bytes stay readable after zip_close
  struct Release {
    zip_source_t* s;
    ~Release() { zip_source_free(s); }
  } release{mem};
  zip_t* za = zip_open_from_source(mem, ZIP_TRUNCATE, &zerr);
  if (!za) {
    zip_error_fini(&zerr);
    throw Error(label + ": cannot create an archive in memory");
  }
  zip_error_fini(&zerr);
  std::vector<std::string> keep;  // libzip reads the buffers at zip_close
  keep.reserve(tensors.size());
  for (const auto& [k, t] : tensors) {
    try {
      keep.push_back(serialize_npy(t));
    } catch (...) {
      zip_discard(za);
      throw;
    }
    zip_source_t* src = zip_source_buffer(za, keep.back().data(), keep.back().size(), 0);
    if (!src || zip_file_add(za, (k + ".npy").c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
      if (src) zip_source_free(src);
      zip_discard(za);
      throw Error(label + ": cannot add " + k + " to the archive");
    }
  }
  if (zip_close(za) != 0) {
    const std::string why = zip_strerror(za);
    zip_discard(za);
    throw Error(label + ": building the archive failed (" + why + ")");
  }
  zip_stat_t st;
  if (zip_source_stat(mem, &st) != 0 || zip_source_open(mem) != 0) throw Error(label + ": cannot read the archive back");
  std::string bytes(static_cast<size_t>(st.size), '\0');
  const zip_int64_t got = zip_source_read(mem, bytes.data(), st.size);
  zip_source_close(mem);
  if (got != static_cast<zip_int64_t>(st.size)) throw Error(label + ": cannot read the archive back");
  write_file_atomic(path, bytes);
}

}  // namespace qtool
