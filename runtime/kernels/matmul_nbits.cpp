// SPDX-License-Identifier: Apache-2.0
// com.microsoft MatMulNBits (onnxruntime contrib op, docs/ContribOperators.md):
//   Y = A x dequant(B)^T (+ bias), dequant(B)[n, k] = (code(n, k) - zero_point(n, k / block)) * scale(n, k / block).
//   A [..., K] float32 / float16 / bfloat16; B uint8 [N, ceil(K / block_size), block_size * bits / 8], the
//   `bits`-wide codes (2..8; 2, 4 and 8 in practice) packed little-endian along K within each block
//   (element 0 in the lowest bits); scales [N * blocks] of A's type; zero_points either packed uint8
//   [N, ceil(blocks * bits / 8)] in the same bit order or unpacked [N * blocks] of A's type (default
//   2^(bits - 1)); bias [N] (input 5). Attributes K, N, bits (default 4), block_size (power of two >= 16).
// The dequantized weight [K, N] is cached per node while B is a graph constant; the product runs
// through oneDNN in float32 (float16 / bfloat16 widened, the result rounded back).
#include "runtime/kernels/matmul.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

struct NBitsCache {
  const void* b = nullptr;
  const void* scales = nullptr;
  const void* zero_points = nullptr;
  Tensor w;  // [K, N] float32
};

struct NBitsAttrs {
  int64_t K, N, bits, block, blocks, blob;
};

NBitsAttrs nbits_attrs(const KernelContext& c) {
  NBitsAttrs a{attr_int(c.node, "K", 0), attr_int(c.node, "N", 0), attr_int(c.node, "bits", 4),
               attr_int(c.node, "block_size", 0), 0, 0};
  if (a.K <= 0 || a.N <= 0) c.fail("attributes 'K' and 'N' must be positive");
  if (a.bits < 2 || a.bits > 8) c.fail("attribute 'bits': " + std::to_string(a.bits) + " is not in 2..8");
  if (a.block < 16 || (a.block & (a.block - 1))) c.fail("attribute 'block_size': must be a power of two >= 16");
  a.blocks = (a.K + a.block - 1) / a.block;
  a.blob = a.block * a.bits / 8;
  shape_numel({a.K, a.N});
  return a;
}

// The `bits`-wide code at position i of a little-endian bit stream.
inline int code_at(const uint8_t* p, int64_t i, int64_t bits) {
  const int64_t bit = i * bits;
  uint32_t v = p[bit / 8];
  if ((bit % 8) + bits > 8) v |= static_cast<uint32_t>(p[bit / 8 + 1]) << 8;
  return static_cast<int>((v >> (bit % 8)) & ((1u << bits) - 1));
}

bool float_type(DType t) { return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16; }

void validate_matmul_nbits(KernelContext& c) {
  const NBitsAttrs a = nbits_attrs(c);
  if (c.has(0)) {
    const Tensor& x = c.in(0);
    if (!float_type(x.dtype())) c.fail_dtype(0, x.dtype());
    if (x.rank() < 1 || x.dim(-1) != a.K) c.fail("A's last dimension must be K = " + std::to_string(a.K));
  }
  if (c.has(1)) {
    const Tensor& b = c.in(1);
    if (b.dtype() != DType::kUInt8 || b.numel() != a.N * a.blocks * a.blob)
      c.fail("B must be uint8 with N * blocks * block_size * bits / 8 = " + std::to_string(a.N * a.blocks * a.blob) +
             " bytes, got " + dtype_name(b.dtype()) + " " + shape_str(b.shape()));
  }
  if (c.has(2)) {
    if (!float_type(c.in(2).dtype())) c.fail_dtype(2, c.in(2).dtype());
    if (c.in(2).numel() != a.N * a.blocks) c.fail("scales must have N * blocks = " + std::to_string(a.N * a.blocks) + " values");
  }
  if (c.has(3)) {
    const Tensor& z = c.in(3);
    const int64_t packed = a.N * ((a.blocks * a.bits + 7) / 8);
    if (z.dtype() == DType::kUInt8 ? z.numel() != packed : (!float_type(z.dtype()) || z.numel() != a.N * a.blocks))
      c.fail("zero_points must be packed uint8 [N, ceil(blocks * bits / 8)] or [N * blocks] of A's type");
  }
  if (c.has(4)) c.fail("g_idx is not supported");
  if (c.has(5) && c.in(5).numel() != a.N) c.fail("bias must have N = " + std::to_string(a.N) + " values");
}

Tensor dequantize_nbits(KernelContext& c, const NBitsAttrs& a) {
  const auto s = c.in(2).to_floats();
  std::vector<float> zp(static_cast<size_t>(a.N * a.blocks), static_cast<float>(1 << (a.bits - 1)));
  if (c.has(3)) {
    const Tensor& z = c.in(3);
    if (z.dtype() == DType::kUInt8) {
      const int64_t zrow = (a.blocks * a.bits + 7) / 8;
      const uint8_t* zv = z.data<uint8_t>();
      for (int64_t n = 0; n < a.N; ++n)
        for (int64_t k = 0; k < a.blocks; ++k) zp[n * a.blocks + k] = static_cast<float>(code_at(zv + n * zrow, k, a.bits));
    } else {
      zp = z.to_floats();
    }
  }
  Tensor w = Tensor::uninitialized(DType::kFloat, {a.K, a.N});
  const uint8_t* q = c.in(1).data<uint8_t>();
  float* out = w.data<float>();
  for (int64_t n = 0; n < a.N; ++n)
    for (int64_t k = 0; k < a.K; ++k) {
      const int64_t blk = k / a.block, j = k % a.block, p = n * a.blocks + blk;
      const int code = code_at(q + (n * a.blocks + blk) * a.blob, j, a.bits);
      out[k * a.N + n] = (static_cast<float>(code) - zp[p]) * s[p];
    }
  return w;
}

void matmul_nbits(KernelContext& c) {
  const NBitsAttrs a = nbits_attrs(c);
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<NBitsCache*>(slot.get());
  const bool constant = c.is_constant(1) && c.is_constant(2) && (!c.has(3) || c.is_constant(3));
  const void* zp_raw = c.has(3) ? c.in(3).raw() : nullptr;
  if (!cache || !constant || cache->b != c.in(1).raw() || cache->scales != c.in(2).raw() || cache->zero_points != zp_raw) {
    auto fresh = std::make_shared<NBitsCache>();
    fresh->w = dequantize_nbits(c, a);
    if (constant) {
      fresh->b = c.in(1).raw();
      fresh->scales = c.in(2).raw();
      fresh->zero_points = zp_raw;
    }
    slot = fresh;
    cache = fresh.get();
  }
  const Tensor& x = c.in(0);
  const DType t = x.dtype();
  Tensor y = matmul_f32(c, t == DType::kFloat ? x : x.cast(DType::kFloat), cache->w);
  if (c.has(5)) {
    const auto bias = c.in(5).to_floats();
    float* p = y.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) p[i] += bias[i % a.N];
  }
  c.outputs[0] = t == DType::kFloat ? std::move(y) : y.cast(t);
}

}  // namespace

void register_matmul_nbits_ops(OpRegistry& r) {
  r.add("com.microsoft", "MatMulNBits", {1}, OpDef{matmul_nbits, nullptr, validate_matmul_nbits});
}

}  // namespace qtool
