// SPDX-License-Identifier: Apache-2.0
// com.microsoft MatMulNBits (onnxruntime contrib op, 4-bit): Y = A x dequant(B)^T (+ bias).
//   A [..., K] float32; B uint8 [N, ceil(K / block_size), block_size * bits / 8], codes packed two
//   per byte along K, element k in the low nibble when k is even; scales float32 [N * blocks];
//   zero_points uint8 [N * ceil(blocks / 2)] packed the same way (default 2^(bits-1) = 8);
//   bias float32 [N] (input 5, optional). Attributes K, N, bits (4), block_size.
// The dequantized weight is cached per node while B is a graph constant.
#include "runtime/kernels/matmul.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

struct NBitsCache {
  const void* b = nullptr;
  Tensor w;  // [K, N] float32
};

Tensor dequantize_nbits(KernelContext& c, int64_t K, int64_t N, int64_t bs) {
  const Tensor& b = c.in(1);
  const Tensor& scales = c.in(2);
  const int64_t blocks = (K + bs - 1) / bs, blob = bs / 2;
  if (b.dtype() != DType::kUInt8 || b.numel() != N * blocks * blob)
    c.fail("B must be uint8 with " + std::to_string(N * blocks * blob) + " bytes, got " + dtype_name(b.dtype()) + " " +
           shape_str(b.shape()));
  if (scales.numel() != N * blocks) c.fail("scales must have N * blocks = " + std::to_string(N * blocks) + " values");
  auto s = scales.to_floats();
  std::vector<int32_t> zp(N * blocks, 8);
  if (c.has(3)) {
    const Tensor& z = c.in(3);
    const int64_t zrow = (blocks + 1) / 2;
    if (z.dtype() != DType::kUInt8 || z.numel() != N * zrow) c.fail("zero_points must be uint8 [N * ceil(blocks / 2)]");
    const uint8_t* zv = z.data<uint8_t>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < blocks; ++k) zp[n * blocks + k] = (zv[n * zrow + k / 2] >> (4 * (k % 2))) & 0x0F;
  }
  Tensor w = Tensor::uninitialized(DType::kFloat, {K, N});
  const uint8_t* q = b.data<uint8_t>();
  float* out = w.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t blk = k / bs, j = k % bs;
      const int code = (q[(n * blocks + blk) * blob + j / 2] >> (4 * (j % 2))) & 0x0F;
      out[k * N + n] = static_cast<float>(code - zp[n * blocks + blk]) * s[n * blocks + blk];
    }
  return w;
}

void matmul_nbits(KernelContext& c) {
  const int64_t K = attr_int(c.node, "K", 0), N = attr_int(c.node, "N", 0), bs = attr_int(c.node, "block_size", 0);
  if (attr_int(c.node, "bits", 4) != 4) c.fail("only bits = 4 is supported");
  if (K <= 0 || N <= 0 || bs < 16 || (bs & (bs - 1))) c.fail("needs K, N > 0 and a power-of-two block_size >= 16");
  if (c.has(4)) c.fail("g_idx is not supported");
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<NBitsCache*>(slot.get());
  if (!cache || !c.is_constant(1) || cache->b != c.in(1).raw()) {
    auto fresh = std::make_shared<NBitsCache>();
    fresh->w = dequantize_nbits(c, K, N, bs);
    fresh->b = c.is_constant(1) ? c.in(1).raw() : nullptr;
    slot = fresh;
    cache = fresh.get();
  }
  const Tensor& a = c.in(0);
  if (a.rank() < 1 || a.dim(-1) != K) c.fail("A's last dimension must be K = " + std::to_string(K));
  Tensor y = matmul_f32(c, a, cache->w);
  if (c.has(5)) {
    const auto bias = c.in(5).to_floats();
    if (static_cast<int64_t>(bias.size()) != N) c.fail("bias must have N values");
    float* p = y.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) p[i] += bias[i % N];
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_matmul_nbits_ops(OpRegistry& r) { r.add("com.microsoft", "MatMulNBits", {1}, OpDef{matmul_nbits}); }

}  // namespace qtool
