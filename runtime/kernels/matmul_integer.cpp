// SPDX-License-Identifier: Apache-2.0
// Integer matrix products: MatMulInteger (ai.onnx 10), QLinearMatMul (10, 21) and the onnxruntime
// contrib ops MatMulIntegerToFloat and DynamicQuantizeMatMul (com.microsoft 1).
//   MatMulInteger: Y = (A - a_zero_point) x (B - b_zero_point) in int32 (wrapping, as numpy's int32
//     matmul in onnx's reference); zero points per tensor, per row of A ([M] or [..., M, 1]) and per
//     column of B ([N] or [..., 1, N]).
//   QLinearMatMul: the int32 product requantized as onnxruntime's MLAS does it:
//     y = saturate(round_half_even(float(acc) * (a_scale * b_scale / y_scale)) + y_zero_point), the
//     multiplier and the product in float32. (onnx's reference multiplies in float64; both agree
//     except when the float32 product lands on a rounding tie the float64 one misses.) Version 21
//     adds float16 / bfloat16 scales and float8 operands (dequantized, multiplied in float32,
//     quantized with saturation).
//   MatMulIntegerToFloat: Y = float(acc) * (a_scale * b_scale) (+ bias), float32 or float16.
//   DynamicQuantizeMatMul: A quantized to uint8 as onnxruntime does (range widened to include 0,
//     scale (max - min) / 255, or 1 for an all-zero range), then MatMulIntegerToFloat.
// Fast kernel: oneDNN's u8/s8 x s8 -> s32 matmul where the CPU has VNNI (vpdpbusd accumulates
// exactly; without it oneDNN's int16 pair sums can saturate), zero points applied as exact int32
// row / column sum corrections; a uint8 B is shifted to int8 (B - 128, zero point - 128).
#include <algorithm>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/matmul.h"
#include "runtime/kernels/quant_common.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

// Operand shape with 1-D operands promoted the numpy way (A [K] -> [1, K], B [K] -> [K, 1]).
Shape promoted(const Shape& s, bool is_a) {
  Shape p = s;
  if (p.size() == 1) {
    if (is_a) p.insert(p.begin(), 1);
    else p.push_back(1);
  }
  return p;
}

// A scale / zero point `vals` (shape ps) for each (batch, line) of operand shape os ([batch.., R, C]):
// line = row for A (per-row: [R] or [batch.., R, 1] with 1s allowed), column for B ([C] or
// [batch.., 1, C]). Scalars broadcast everywhere.
template <typename V>
std::vector<V> expand_lines(const KernelContext& c, const std::vector<V>& vals, const Shape& ps, const Shape& os,
                            bool rows, const std::string& name) {
  const int r = static_cast<int>(os.size());
  const int line_axis = rows ? r - 2 : r - 1, other_axis = rows ? r - 1 : r - 2;
  int64_t nb = 1;
  for (int i = 0; i < r - 2; ++i) nb *= os[i];
  const int64_t L = os[line_axis];
  std::vector<V> out(static_cast<size_t>(nb * L));
  if (vals.size() == 1) {
    std::fill(out.begin(), out.end(), vals[0]);
    return out;
  }
  if (ps.size() == 1 && ps[0] == L) {
    for (int64_t b = 0; b < nb; ++b) std::copy(vals.begin(), vals.end(), out.begin() + b * L);
    return out;
  }
  bool ok = static_cast<int>(ps.size()) == r && ps[other_axis] == 1;
  for (int i = 0; ok && i < r; ++i)
    if (i != other_axis) ok = ps[i] == os[i] || ps[i] == 1;
  if (!ok)
    c.fail(name + " " + shape_str(ps) + " must be a scalar, a 1-D tensor of the " + (rows ? "rows" : "columns") +
           " or per-" + (rows ? "row" : "column") + " of shape " + shape_str(os) + " with 1 along the " +
           (rows ? "last" : "second last") + " axis");
  std::vector<int64_t> stride(r, 0);
  int64_t s = 1;
  for (int i = r - 1; i >= 0; --i) {
    stride[i] = ps[i] == 1 ? 0 : s;
    s *= ps[i];
  }
  std::vector<int64_t> idx(std::max(r - 2, 0), 0);
  for (int64_t b = 0; b < nb; ++b) {
    int64_t base = 0;
    for (int i = 0; i < r - 2; ++i) base += idx[i] * stride[i];
    for (int64_t l = 0; l < L; ++l) out[b * L + l] = vals[base + l * stride[line_axis]];
    for (int i = r - 3; i >= 0; --i) {
      if (++idx[i] < os[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

int32_t value_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kUInt8 ? static_cast<int32_t>(static_cast<const uint8_t*>(t.raw())[i])
                                    : static_cast<int32_t>(static_cast<const int8_t*>(t.raw())[i]);
}

std::vector<int32_t> zero_points(const KernelContext& c, int index, const Shape& os, bool rows, const char* name) {
  if (!c.has(index)) return std::vector<int32_t>(1, 0);
  const Tensor& z = c.in(index);
  std::vector<int32_t> vals(static_cast<size_t>(z.numel()));
  for (int64_t i = 0; i < z.numel(); ++i) vals[i] = value_at(z, i);
  return expand_lines(c, vals, z.shape(), os, rows, name);
}

// Whether oneDNN's int8 matmul accumulates exactly on this CPU (VNNI dot products).
bool int8_matmul_exact() {
  static const bool exact = [] {
    const auto isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
           isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
  }();
  return exact;
}

// y[bi, m, n] = sum_k (A - za[ab, m]) (B - zb[bb, n]), int32 with wrap-around. za per (A batch, row),
// zb per (B batch, column) (vectors of one value broadcast).
void integer_product_ref(const Tensor& a, const Tensor& b, const MatMulDims& d, const std::vector<int32_t>& za,
                         const std::vector<int32_t>& zb, int32_t* y) {
  const auto ao = batch_offsets(d.a_batch, d.batch, d.M * d.K), bo = batch_offsets(d.b_batch, d.batch, d.K * d.N);
  const auto ab = batch_offsets(d.a_batch, d.batch, 1), bb = batch_offsets(d.b_batch, d.batch, 1);
  std::vector<uint32_t> row(static_cast<size_t>(d.N));
  for (size_t bi = 0; bi < ao.size(); ++bi)
    for (int64_t m = 0; m < d.M; ++m) {
      std::fill(row.begin(), row.end(), 0u);
      const int32_t zam = za.size() == 1 ? za[0] : za[ab[bi] * d.M + m];
      for (int64_t k = 0; k < d.K; ++k) {
        const uint32_t av = static_cast<uint32_t>(value_at(a, ao[bi] + m * d.K + k) - zam);
        for (int64_t n = 0; n < d.N; ++n) {
          const int32_t zbn = zb.size() == 1 ? zb[0] : zb[bb[bi] * d.N + n];
          row[n] += av * static_cast<uint32_t>(value_at(b, bo[bi] + k * d.N + n) - zbn);
        }
      }
      int32_t* out = y + (static_cast<int64_t>(bi) * d.M + m) * d.N;
      for (int64_t n = 0; n < d.N; ++n) out[n] = static_cast<int32_t>(row[n]);
    }
}

// oneDNN state: B as int8 (shifted when uint8) with its column sums, and the primitive.
struct Int8Cache {
  Shape a_shape, b_shape;
  DType a_type = DType::kUndefined;
  bool b_any = false;
  dnnl::matmul prim;
  dnnl::memory::desc a_md, w_plain_md, w_md, d_md;
  dnnl::memory w_mem;
  const void* w_src = nullptr;  // constant B buffer the fields below come from
  Tensor b_s8;
  int32_t b_shift = 0;
  std::vector<int32_t> b_colsum;  // per (B batch, column) of b_s8
};

bool integer_product_fast(std::shared_ptr<void>& slot, const Tensor& a, const Tensor& b, bool b_constant,
                          const MatMulDims& d, const std::vector<int32_t>& za, const std::vector<int32_t>& zb,
                          int32_t* y) {
  if (!int8_matmul_exact() || !is_8bit(a.dtype()) || !is_8bit(b.dtype())) return false;
  using dt = dnnl::memory::data_type;
  auto& ctx = DnnlContext::get();
  auto* cache = static_cast<Int8Cache*>(slot.get());
  const bool flat = b.rank() <= 2;  // one 2-D product over all rows of A
  const int64_t b_batches = shape_numel(d.b_batch);
  try {
    if (!cache || cache->a_shape != a.shape() || cache->b_shape != b.shape() || cache->a_type != a.dtype() ||
        cache->b_any != (b_constant && flat)) {
      auto fresh = std::make_shared<Int8Cache>();
      fresh->a_shape = a.shape();
      fresh->b_shape = b.shape();
      fresh->a_type = a.dtype();
      fresh->b_any = b_constant && flat;
      const dt at = a.dtype() == DType::kUInt8 ? dt::u8 : dt::s8;
      auto plain = [](const Shape& s, dt t) {
        dnnl::memory::dims st(s.size());
        int64_t v = 1;
        for (size_t i = s.size(); i-- > 0;) {
          st[i] = v;
          v *= s[i];
        }
        return dnnl::memory::desc(dnnl::memory::dims(s.begin(), s.end()), t, st);
      };
      Shape as, bs, ds;
      if (flat) {
        as = {a.numel() / std::max<int64_t>(d.K, 1), d.K};
        bs = {d.K, d.N};
        ds = {as[0], d.N};
      } else {
        as = d.a_batch; as.push_back(d.M); as.push_back(d.K);
        bs = d.b_batch; bs.push_back(d.K); bs.push_back(d.N);
        ds = d.batch; ds.push_back(d.M); ds.push_back(d.N);
      }
      fresh->a_md = plain(as, at);
      fresh->w_plain_md = plain(bs, dt::s8);
      fresh->d_md = plain(ds, dt::s32);
      const auto w_req = fresh->b_any ? dnnl::memory::desc(fresh->w_plain_md.dims(), dt::s8, dnnl::memory::format_tag::any)
                                      : fresh->w_plain_md;
      dnnl::matmul::desc md(fresh->a_md, w_req, fresh->d_md);
      dnnl::matmul::primitive_desc pd(md, ctx.engine);
      fresh->w_md = pd.weights_desc();
      fresh->prim = dnnl::matmul(pd);
      slot = fresh;
      cache = fresh.get();
    }
    if (!b_constant || cache->w_src != b.raw()) {
      cache->b_shift = b.dtype() == DType::kUInt8 ? 128 : 0;
      if (cache->b_shift) {
        cache->b_s8 = Tensor::uninitialized(DType::kInt8, b.shape());
        const uint8_t* src = b.data<uint8_t>();
        int8_t* dst = cache->b_s8.data<int8_t>();
        for (int64_t i = 0; i < b.numel(); ++i) dst[i] = static_cast<int8_t>(static_cast<int32_t>(src[i]) - 128);
      } else {
        cache->b_s8 = b;
      }
      cache->b_colsum.assign(static_cast<size_t>(b_batches * d.N), 0);
      const int8_t* bp = cache->b_s8.data<int8_t>();
      for (int64_t bb = 0; bb < b_batches; ++bb)
        for (int64_t k = 0; k < d.K; ++k)
          for (int64_t n = 0; n < d.N; ++n) cache->b_colsum[bb * d.N + n] += bp[(bb * d.K + k) * d.N + n];
      dnnl::memory plain_w(cache->w_plain_md, ctx.engine, cache->b_s8.raw());
      if (cache->w_md != cache->w_plain_md) {
        cache->w_mem = dnnl::memory(cache->w_md, ctx.engine);
        dnnl::reorder(plain_w, cache->w_mem).execute(ctx.stream, plain_w, cache->w_mem);
      } else {
        cache->w_mem = plain_w;
      }
      cache->w_src = b_constant ? b.raw() : nullptr;
    }
    cache->prim.execute(ctx.stream, {{DNNL_ARG_SRC, dnnl::memory(cache->a_md, ctx.engine, const_cast<void*>(a.raw()))},
                                     {DNNL_ARG_WEIGHTS, cache->w_mem},
                                     {DNNL_ARG_DST, dnnl::memory(cache->d_md, ctx.engine, y)}});
    ctx.stream.wait();
  } catch (const dnnl::error&) {
    slot.reset();
    return false;
  }
  // (A - za)(B' - zb') = A B' - za colsum(B') - zb' rowsum(A) + K za zb', with B' = B - shift and
  // zb' = zb - shift: exact in int32 arithmetic modulo 2^32, like the reference.
  const auto ab = batch_offsets(d.a_batch, d.batch, 1), bb = batch_offsets(d.b_batch, d.batch, 1);
  const auto ao = batch_offsets(d.a_batch, d.batch, d.M * d.K);
  const uint32_t K = static_cast<uint32_t>(d.K);
  std::vector<uint32_t> rowsum(static_cast<size_t>(d.M));
  for (size_t bi = 0; bi < ab.size(); ++bi) {
    for (int64_t m = 0; m < d.M; ++m) {
      uint32_t s = 0;
      for (int64_t k = 0; k < d.K; ++k) s += static_cast<uint32_t>(value_at(a, ao[bi] + m * d.K + k));
      rowsum[m] = s;
    }
    for (int64_t m = 0; m < d.M; ++m) {
      const uint32_t zam = static_cast<uint32_t>(za.size() == 1 ? za[0] : za[ab[bi] * d.M + m]);
      int32_t* out = y + (static_cast<int64_t>(bi) * d.M + m) * d.N;
      for (int64_t n = 0; n < d.N; ++n) {
        const uint32_t zbn = static_cast<uint32_t>((zb.size() == 1 ? zb[0] : zb[bb[bi] * d.N + n]) - cache->b_shift);
        const uint32_t colsum = static_cast<uint32_t>(cache->b_colsum[bb[bi] * d.N + n]);
        out[n] = static_cast<int32_t>(static_cast<uint32_t>(out[n]) - zam * colsum - zbn * rowsum[m] + K * zam * zbn);
      }
    }
  }
  return true;
}

// The int32 product of an integer node: oneDNN where exact, else the reference loops.
void integer_product(KernelContext& c, const Tensor& a, const Tensor& b, int b_index, const MatMulDims& d,
                     const std::vector<int32_t>& za, const std::vector<int32_t>& zb, bool allow_fast, int32_t* y) {
  if (shape_numel(d.out) == 0) return;
  if (allow_fast && d.K > 0) {
    std::shared_ptr<void> local;
    auto& slot = c.state ? *c.state : local;
    if (integer_product_fast(slot, a, b, c.is_constant(b_index), d, za, zb, y)) return;
  }
  integer_product_ref(a, b, d, za, zb, y);
}

// ------------------------------------------------------------------------ MatMulInteger

void validate_matmul_integer(KernelContext& c) {
  for (int i = 0; i < 4; ++i)
    if (c.has(i) && !is_8bit(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(2) && c.in(2).dtype() != c.in(0).dtype()) c.fail("a_zero_point's type differs from A's");
  if (c.has(1) && c.has(3) && c.in(3).dtype() != c.in(1).dtype()) c.fail("b_zero_point's type differs from B's");
  if (c.has(0) && c.has(1)) {
    matmul_dims(c, c.in(0).shape(), c.in(1).shape());
    zero_points(c, 2, promoted(c.in(0).shape(), true), true, "a_zero_point");
    zero_points(c, 3, promoted(c.in(1).shape(), false), false, "b_zero_point");
  }
}

void matmul_integer_impl(KernelContext& c, bool allow_fast) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  const auto za = zero_points(c, 2, promoted(a.shape(), true), true, "a_zero_point");
  const auto zb = zero_points(c, 3, promoted(b.shape(), false), false, "b_zero_point");
  Tensor y = Tensor::uninitialized(DType::kInt32, d.out);
  integer_product(c, a, b, 1, d, za, zb, allow_fast, y.data<int32_t>());
  c.outputs[0] = std::move(y);
}

void matmul_integer(KernelContext& c) { matmul_integer_impl(c, false); }
bool matmul_integer_fast(KernelContext& c) {
  matmul_integer_impl(c, true);
  return true;
}

// ------------------------------------------------------------------------ QLinearMatMul

bool is_fp8(DType t) {
  return t == DType::kFloat8E4M3FN || t == DType::kFloat8E4M3FNUZ || t == DType::kFloat8E5M2 ||
         t == DType::kFloat8E5M2FNUZ;
}

void validate_qlinear_matmul(KernelContext& c) {
  const bool v21 = c.version >= 21;
  auto quant_ok = [&](DType t) { return is_8bit(t) || (v21 && is_fp8(t)); };
  auto scale_ok = [&](DType t) { return t == DType::kFloat || (v21 && (t == DType::kFloat16 || t == DType::kBFloat16)); };
  for (int i : {0, 2, 3, 5, 7})
    if (c.has(i) && !quant_ok(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {1, 4, 6})
    if (c.has(i) && !scale_ok(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(2) && c.in(2).dtype() != c.in(0).dtype()) c.fail("a_zero_point's type differs from a's");
  if (c.has(3) && c.has(5) && c.in(5).dtype() != c.in(3).dtype()) c.fail("b_zero_point's type differs from b's");
  if (c.has(0) && c.has(3)) {
    if (is_fp8(c.in(0).dtype()) != is_fp8(c.in(3).dtype())) c.fail("a and b must both be 8-bit integers or both float8");
    matmul_dims(c, c.in(0).shape(), c.in(3).shape());
    const Shape as = promoted(c.in(0).shape(), true), bs = promoted(c.in(3).shape(), false);
    if (c.has(1)) expand_lines(c, c.in(1).to_floats(), c.in(1).shape(), as, true, "a_scale");
    if (c.has(4)) expand_lines(c, c.in(4).to_floats(), c.in(4).shape(), bs, false, "b_scale");
    if (c.has(2)) expand_lines(c, c.in(2).to_floats(), c.in(2).shape(), as, true, "a_zero_point");
    if (c.has(5)) expand_lines(c, c.in(5).to_floats(), c.in(5).shape(), bs, false, "b_zero_point");
  }
  if (c.has(6) && c.in(6).numel() != 1) c.fail("y_scale must be a scalar, got " + shape_str(c.in(6).shape()));
  if (c.has(7) && c.in(7).numel() != 1) c.fail("y_zero_point must be a scalar, got " + shape_str(c.in(7).shape()));
}

DType qlinear_output_type(const KernelContext& c) { return c.has(7) ? c.in(7).dtype() : c.in(0).dtype(); }

// float8 operands: dequantize, multiply in float32, requantize with saturation.
void qlinear_matmul_fp8(KernelContext& c, const MatMulDims& d, const std::vector<float>& sa, const std::vector<float>& sb,
                        float sy, Tensor& y) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(3);
  const auto av = a.to_floats(), bv = b.to_floats();
  const Shape as = promoted(a.shape(), true), bs = promoted(b.shape(), false);
  const auto za = c.has(2) ? expand_lines(c, c.in(2).to_floats(), c.in(2).shape(), as, true, "a_zero_point") : std::vector<float>{0.f};
  const auto zb = c.has(5) ? expand_lines(c, c.in(5).to_floats(), c.in(5).shape(), bs, false, "b_zero_point") : std::vector<float>{0.f};
  const auto ao = batch_offsets(d.a_batch, d.batch, d.M * d.K), bo = batch_offsets(d.b_batch, d.batch, d.K * d.N);
  const auto ab = batch_offsets(d.a_batch, d.batch, 1), bb = batch_offsets(d.b_batch, d.batch, 1);
  const DType out = y.dtype();
  auto* yp = static_cast<uint8_t*>(y.raw());
  auto pick = [](const std::vector<float>& v, int64_t i) { return v.size() == 1 ? v[0] : v[i]; };
  for (size_t bi = 0; bi < ao.size(); ++bi)
    for (int64_t m = 0; m < d.M; ++m)
      for (int64_t n = 0; n < d.N; ++n) {
        float acc = 0.f;
        const float zam = pick(za, ab[bi] * d.M + m), zbn = pick(zb, bb[bi] * d.N + n);
        for (int64_t k = 0; k < d.K; ++k)
          acc += (av[ao[bi] + m * d.K + k] - zam) * (bv[bo[bi] + k * d.N + n] - zbn);
        const float mult = pick(sa, ab[bi] * d.M + m) * pick(sb, bb[bi] * d.N + n) / sy;
        yp[(static_cast<int64_t>(bi) * d.M + m) * d.N + n] = small_float_encode(out, acc * mult, true);
      }
}

void qlinear_matmul_impl(KernelContext& c, bool allow_fast) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(3);
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  const Shape as = promoted(a.shape(), true), bs = promoted(b.shape(), false);
  const auto sa = expand_lines(c, c.in(1).to_floats(), c.in(1).shape(), as, true, "a_scale");
  const auto sb = expand_lines(c, c.in(4).to_floats(), c.in(4).shape(), bs, false, "b_scale");
  const float sy = c.in(6).to_floats().at(0);
  const DType out = qlinear_output_type(c);
  Tensor y = Tensor::uninitialized(out, d.out);
  if (is_fp8(a.dtype())) {
    if (!is_fp8(out)) c.fail("float8 inputs need a float8 y_zero_point");
    qlinear_matmul_fp8(c, d, sa, sb, sy, y);
    c.outputs[0] = std::move(y);
    return;
  }
  IntRange range;
  if (!quant_int_range(out, &range) || !is_8bit(out)) c.fail("y_zero_point must be uint8 or int8");
  const int32_t zy = c.has(7) ? value_at(c.in(7), 0) : 0;
  const auto za = zero_points(c, 2, as, true, "a_zero_point");
  const auto zb = zero_points(c, 5, bs, false, "b_zero_point");
  std::vector<int32_t> acc(static_cast<size_t>(shape_numel(d.out)));
  integer_product(c, a, b, 3, d, za, zb, allow_fast, acc.data());
  const auto ab = batch_offsets(d.a_batch, d.batch, 1), bb = batch_offsets(d.b_batch, d.batch, 1);
  const float lz = static_cast<float>(range.lo - zy), hz = static_cast<float>(range.hi - zy);
  for (size_t bi = 0; bi < ab.size(); ++bi)
    for (int64_t m = 0; m < d.M; ++m) {
      const float sam = sa[ab[bi] * d.M + m];
      const int64_t row = (static_cast<int64_t>(bi) * d.M + m) * d.N;
      for (int64_t n = 0; n < d.N; ++n) {
        const float mult = sam * sb[bb[bi] * d.N + n] / sy;
        const int32_t q = round_saturate_f(static_cast<float>(acc[row + n]) * mult, lz, hz, zy);
        if (out == DType::kUInt8) y.data<uint8_t>()[row + n] = static_cast<uint8_t>(q);
        else y.data<int8_t>()[row + n] = static_cast<int8_t>(q);
      }
    }
  c.outputs[0] = std::move(y);
}

void qlinear_matmul(KernelContext& c) { qlinear_matmul_impl(c, false); }
bool qlinear_matmul_fast(KernelContext& c) {
  if (is_fp8(c.in(0).dtype())) return false;
  qlinear_matmul_impl(c, true);
  return true;
}

// ------------------------------------------------------------------------ MatMulIntegerToFloat

void validate_matmul_integer_to_float(KernelContext& c) {
  for (int i : {0, 1, 4, 5})
    if (c.has(i) && !is_8bit(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  for (int i : {2, 3, 6})
    if (c.has(i) && c.in(i).dtype() != DType::kFloat && c.in(i).dtype() != DType::kFloat16) c.fail_dtype(i, c.in(i).dtype());
  if (c.has(0) && c.has(1)) matmul_dims(c, c.in(0).shape(), c.in(1).shape());
}

// y = float(acc) * (sa[row] * sb[col]) (+ bias[col]) into float32 / float16.
void scale_to_float(const KernelContext& c, const std::vector<int32_t>& acc, const MatMulDims& d,
                    const std::vector<float>& sa, const std::vector<float>& sb, const Tensor* bias, Tensor& y) {
  std::vector<float> bv;
  if (bias) {
    bv = bias->to_floats();
    if (static_cast<int64_t>(bv.size()) != d.N) c.fail("bias must have N = " + std::to_string(d.N) + " values");
  }
  const auto ab = batch_offsets(d.a_batch, d.batch, 1), bb = batch_offsets(d.b_batch, d.batch, 1);
  auto pick = [](const std::vector<float>& v, int64_t i) { return v.size() == 1 ? v[0] : v[i]; };
  dispatch<TypeList<float, half>>(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* yp = y.data<T>();
    for (size_t bi = 0; bi < ab.size(); ++bi)
      for (int64_t m = 0; m < d.M; ++m) {
        const float sam = pick(sa, ab[bi] * d.M + m);
        const int64_t row = (static_cast<int64_t>(bi) * d.M + m) * d.N;
        for (int64_t n = 0; n < d.N; ++n) {
          float v = static_cast<float>(acc[row + n]) * (sam * pick(sb, bb[bi] * d.N + n));
          if (bias) v += bv[n];
          yp[row + n] = from_compute<T>(v);
        }
      }
  });
}

void matmul_integer_to_float_impl(KernelContext& c, bool allow_fast) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  const Shape as = promoted(a.shape(), true), bs = promoted(b.shape(), false);
  // a_scale: per tensor (or per row); b_scale: per tensor or per column of B
  const auto sa = expand_lines(c, c.in(2).to_floats(), c.in(2).shape(), as, true, "a_scale");
  const auto sb = expand_lines(c, c.in(3).to_floats(), c.in(3).shape(), bs, false, "b_scale");
  const auto za = zero_points(c, 4, as, true, "a_zero_point");
  const auto zb = zero_points(c, 5, bs, false, "b_zero_point");
  std::vector<int32_t> acc(static_cast<size_t>(shape_numel(d.out)));
  integer_product(c, a, b, 1, d, za, zb, allow_fast, acc.data());
  Tensor y = Tensor::uninitialized(c.in(2).dtype(), d.out);
  scale_to_float(c, acc, d, sa, sb, c.has(6) ? &c.in(6) : nullptr, y);
  c.outputs[0] = std::move(y);
}

void matmul_integer_to_float(KernelContext& c) { matmul_integer_to_float_impl(c, false); }
bool matmul_integer_to_float_fast(KernelContext& c) {
  matmul_integer_to_float_impl(c, true);
  return true;
}

// ------------------------------------------------------------------------ DynamicQuantizeMatMul

void validate_dynamic_quantize_matmul(KernelContext& c) {
  if (c.has(0) && c.in(0).dtype() != DType::kFloat) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(1) && !is_8bit(c.in(1).dtype())) c.fail_dtype(1, c.in(1).dtype());
  if (c.has(2) && c.in(2).dtype() != DType::kFloat) c.fail_dtype(2, c.in(2).dtype());
  if (c.has(3) && !is_8bit(c.in(3).dtype())) c.fail_dtype(3, c.in(3).dtype());
  if (c.has(0) && c.has(1)) matmul_dims(c, c.in(0).shape(), c.in(1).shape());
}

void dynamic_quantize_matmul_impl(KernelContext& c, bool allow_fast) {
  const Tensor& x = c.in(0);
  const Tensor& b = c.in(1);
  const MatMulDims d = matmul_dims(c, x.shape(), b.shape());
  // A -> uint8 (onnxruntime's GetQuantizationParameter)
  const float* xp = x.data<float>();
  float mx = 0.f, mn = 0.f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    mx = xp[i] > mx ? xp[i] : mx;
    mn = xp[i] < mn ? xp[i] : mn;
  }
  const float scale = mx == mn ? 1.f : (mx - mn) / 255.f;
  const float zpf = std::nearbyint(std::min(255.f, std::max(0.f, 0.f - mn / scale)));
  const int32_t zp = static_cast<int32_t>(zpf);
  Tensor a = Tensor::uninitialized(DType::kUInt8, x.shape());
  uint8_t* ap = a.data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i)
    ap[i] = static_cast<uint8_t>(round_saturate_f(xp[i] / scale, 0.f - zpf, 255.f - zpf, zp));
  const Shape bs = promoted(b.shape(), false);
  const auto sb = expand_lines(c, c.in(2).to_floats(), c.in(2).shape(), bs, false, "b_scale");
  const auto zb = zero_points(c, 3, bs, false, "b_zero_point");
  std::vector<int32_t> acc(static_cast<size_t>(shape_numel(d.out)));
  integer_product(c, a, b, 1, d, {zp}, zb, allow_fast, acc.data());
  Tensor y = Tensor::uninitialized(DType::kFloat, d.out);
  scale_to_float(c, acc, d, {scale}, sb, c.has(4) ? &c.in(4) : nullptr, y);
  c.outputs[0] = std::move(y);
}

void dynamic_quantize_matmul(KernelContext& c) { dynamic_quantize_matmul_impl(c, false); }
bool dynamic_quantize_matmul_fast(KernelContext& c) {
  dynamic_quantize_matmul_impl(c, true);
  return true;
}

}  // namespace

void register_matmul_integer_ops(OpRegistry& r) {
  r.add("", "MatMulInteger", {10}, OpDef{matmul_integer, matmul_integer_fast, validate_matmul_integer});
  r.add("", "QLinearMatMul", {10, 21}, OpDef{qlinear_matmul, qlinear_matmul_fast, validate_qlinear_matmul});
  r.add("com.microsoft", "MatMulIntegerToFloat", {1},
        OpDef{matmul_integer_to_float, matmul_integer_to_float_fast, validate_matmul_integer_to_float});
  r.add("com.microsoft", "DynamicQuantizeMatMul", {1},
        OpDef{dynamic_quantize_matmul, dynamic_quantize_matmul_fast, validate_dynamic_quantize_matmul});
}

}  // namespace qtool
