// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the data-movement op family (runtime/kernels/shape.cpp, layout.cpp, pad.cpp,
// indexing.cpp, scatter_gather.cpp, generate.cpp).
//
// Most of these ops move elements without looking at them, so they work on bytes: an element is
// dtype_size(dtype) bytes (1 for every sub-byte and small-float type, 16 for complex128), and a
// "view" of a tensor is a base element offset plus a shape and per-dimension element strides
// (negative for reversed slices, 0 for broadcast extents). copy_view_reference() copies a view
// element by element (the reference kernels); copy_view_fast() drops unit extents, merges
// dimensions that are contiguous in both tensors, memcpy()s contiguous runs, fills broadcast runs
// and copies transposed 2-D blocks in cache-sized tiles (the fast kernels).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace qtool::data_movement {

// Product of the extents [begin, end) of `s`, saturating at INT64_MAX: only an empty tensor (one
// zero extent elsewhere, e.g. [0, 2^40, 2^40]) can overflow it, and no loop of such a tensor runs.
inline int64_t extent_product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end && d < s.size(); ++d)
    if (__builtin_mul_overflow(p, s[d], &p)) p = INT64_MAX;
  return p;
}

// Row-major element strides of `s` (wrapping, never undefined, for the empty shapes above).
std::vector<int64_t> contiguous_strides(const Shape& s);

// dst (contiguous over `shape`)[i] = src[sum_d idx_d * strides[d]] for every index, `es` bytes per
// element; `src` points at the view's element (0, ..., 0).
void copy_view_reference(const uint8_t* src, uint8_t* dst, const Shape& shape, const std::vector<int64_t>& strides,
                         size_t es);
void copy_view_fast(const uint8_t* src, uint8_t* dst, Shape shape, std::vector<int64_t> strides, size_t es);
inline void copy_view(bool fast, const uint8_t* src, uint8_t* dst, const Shape& shape,
                      const std::vector<int64_t>& strides, size_t es) {
  if (fast) copy_view_fast(src, dst, shape, strides, es);
  else copy_view_reference(src, dst, shape, strides, es);
}

// Copies `rows` runs of `run` bytes, run r from src + r * src_step to dst + r * dst_step (steps in
// bytes). Short runs of the common sizes (a detection head's last axis of 2 or 4 floats, sliced or
// concatenated 4420 times) are fixed-size moves; one memcpy call per run cost ~5 ns each.
template <size_t N>
inline void copy_runs_fixed(const uint8_t* src, int64_t src_step, uint8_t* dst, int64_t dst_step, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * dst_step, src + r * src_step, N);
}
inline void copy_runs(const uint8_t* src, int64_t src_step, uint8_t* dst, int64_t dst_step, int64_t rows, size_t run) {
  switch (run) {
    case 1: return copy_runs_fixed<1>(src, src_step, dst, dst_step, rows);
    case 2: return copy_runs_fixed<2>(src, src_step, dst, dst_step, rows);
    case 4: return copy_runs_fixed<4>(src, src_step, dst, dst_step, rows);
    case 8: return copy_runs_fixed<8>(src, src_step, dst, dst_step, rows);
    case 12: return copy_runs_fixed<12>(src, src_step, dst, dst_step, rows);
    case 16: return copy_runs_fixed<16>(src, src_step, dst, dst_step, rows);
    case 24: return copy_runs_fixed<24>(src, src_step, dst, dst_step, rows);
    case 32: return copy_runs_fixed<32>(src, src_step, dst, dst_step, rows);
    default:
      for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * dst_step, src + r * src_step, run);
  }
}

// The values of an index-like input (int32 or int64; the spec's Tind / tensor(int64)) as int64.
// `what` names the input in the message when its type is wrong.
std::vector<int64_t> read_int_input(const KernelContext& c, int input, const std::string& what);
// Same for an input that must hold one value (a scalar or a 1-element tensor).
int64_t read_int_scalar(const KernelContext& c, int input, const std::string& what);

// Input i is named by the node but its value is not known (a pass validating with partial
// inputs): validators skip the checks that need it.
inline bool unknown_input(const KernelContext& c, int i) {
  return i < c.node.input_size() && !c.node.input(i).empty() && !c.has(i);
}

// Normalises an index into [0, extent) (negative counts from the end); fails naming `what`.
inline int64_t checked_index(const KernelContext& c, int64_t index, int64_t extent, const char* what) {
  const int64_t k = index < 0 ? index + extent : index;
  if (k < 0 || k >= extent)
    c.fail(std::string(what) + " " + std::to_string(index) + " is out of range for extent " + std::to_string(extent));
  return k;
}

// Axes given as a list (attribute or input values): normalised against `rank`, duplicates and
// out-of-range values rejected; `what` names them in the message.
std::vector<int> normalize_axes(const KernelContext& c, const std::vector<int64_t>& axes, int rank, const char* what);

// Elements of `shape`, failing through the node (not a bare InputError) on overflow or a negative extent.
int64_t checked_numel(const KernelContext& c, const Shape& shape);

}  // namespace qtool::data_movement
