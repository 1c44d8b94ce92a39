// SPDX-License-Identifier: Apache-2.0
// MatMul (ai.onnx 1, 9, 13), Gemm (7, 9, 11, 13) and com.microsoft FusedMatMul.
//   MatMul: numpy.matmul semantics (1-D operands, broadcast batch axes) for every type the version
//     allows; float16 / bfloat16 accumulate in float32 and round once (as numpy's matmul loops and
//     onnx's reference do); integers wrap around in their own width (numpy).
//   Gemm: Y = alpha * A' x B' + beta * C with A' = transpose(A) if transA, B' likewise, C
//     unidirectionally broadcast to (M, N), optional from 11; rounded step by step in the input
//     type as onnx's reference (numpy) does; integer Gemm scales in float64 and truncates.
//   FusedMatMul (onnxruntime contrib): Y = alpha * op(A) x op(B), op transposing the last two axes
//     (transA / transB) after moving axis 0 behind the batch axes (transBatchA / transBatchB).
// Fast kernels: float32 (and float16 / bfloat16 through float32) through oneDNN matmul with the
// primitive cached per node; a constant 2-D right operand is reordered once into oneDNN's
// preferred weight layout.
#include "runtime/kernels/matmul.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <unordered_map>

#include "core/parallel.h"
#include "runtime/dnnl_util.h"
#include "runtime/op_registry.h"

namespace qtool {

MatMulDims matmul_dims(const KernelContext& c, const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty())
    c.fail("MatMul operands must have rank >= 1, got " + shape_str(a_in) + " x " + shape_str(b_in));
  Shape a = a_in, b = b_in;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulDims d;
  d.M = a[a.size() - 2];
  d.K = a.back();
  d.N = b.back();
  if (b[b.size() - 2] != d.K)
    c.fail("inner dimensions differ: " + shape_str(a_in) + " x " + shape_str(b_in));
  const size_t r = std::max(a.size(), b.size()) - 2;
  d.a_batch.assign(a.begin(), a.end() - 2);
  d.b_batch.assign(b.begin(), b.end() - 2);
  while (d.a_batch.size() < r) d.a_batch.insert(d.a_batch.begin(), 1);
  while (d.b_batch.size() < r) d.b_batch.insert(d.b_batch.begin(), 1);
  d.batch.resize(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t x = d.a_batch[i], y = d.b_batch[i];
    if (x != y && x != 1 && y != 1)
      c.fail("batch dimensions cannot broadcast: " + shape_str(a_in) + " x " + shape_str(b_in));
    d.batch[i] = x == 1 ? y : x;
  }
  d.out = d.batch;
  if (a_in.size() > 1) d.out.push_back(d.M);
  if (b_in.size() > 1) d.out.push_back(d.N);
  shape_numel(d.out);  // overflow check
  return d;
}

std::vector<int64_t> batch_offsets(const Shape& op_batch, const Shape& batch, int64_t matrix_elems) {
  const int64_t n = shape_numel(batch);
  std::vector<int64_t> off(static_cast<size_t>(n), 0);
  const int r = static_cast<int>(batch.size());
  std::vector<int64_t> stride(r, 0);
  int64_t s = matrix_elems;
  for (int i = r - 1; i >= 0; --i) {
    stride[i] = op_batch[i] == 1 ? 0 : s;
    s *= op_batch[i];
  }
  std::vector<int64_t> idx(r, 0);
  int64_t cur = 0;
  for (int64_t k = 0; k < n; ++k) {
    off[k] = cur;
    for (int i = r - 1; i >= 0; --i) {
      ++idx[i];
      cur += stride[i];
      if (idx[i] < batch[i]) break;
      cur -= stride[i] * batch[i];
      idx[i] = 0;
    }
  }
  return off;
}

Tensor permute_axes(const Tensor& t, const std::vector<int>& perm) {
  const int r = t.rank();
  Shape out_shape(r);
  for (int i = 0; i < r; ++i) out_shape[i] = t.dim(perm[i]);
  Tensor out = Tensor::uninitialized(t.dtype(), out_shape);
  const size_t es = dtype_size(t.dtype());
  std::vector<int64_t> in_stride(r, 1);
  for (int i = r - 2; i >= 0; --i) in_stride[i] = in_stride[i + 1] * t.dim(i + 1);
  std::vector<int64_t> st(r);
  for (int i = 0; i < r; ++i) st[i] = in_stride[perm[i]];
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  const int64_t n = out.numel();
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t k = 0; k < n; ++k) {
    std::memcpy(dst + k * es, src + off * es, es);
    for (int i = r - 1; i >= 0; --i) {
      ++idx[i];
      off += st[i];
      if (idx[i] < out_shape[i]) break;
      off -= st[i] * out_shape[i];
      idx[i] = 0;
    }
  }
  return out;
}

// ------------------------------------------------------------------------ oneDNN float32 paths

namespace {

dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

dnnl::memory::dims dense_strides(const Shape& s) {
  dnnl::memory::dims st(s.size());
  int64_t v = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = v;
    v *= s[i];
  }
  return st;
}

struct DenseCache {
  int64_t M = -1, K = -1, N = -1;
  bool ta = false, tb = false, has_bias = false, b_any = false;
  float alpha = 1.f;
  dnnl::matmul prim;
  dnnl::memory::desc a_md, w_plain_md, w_md, d_md, bias_md;
  dnnl::memory w_mem;
  const void* w_src = nullptr;  // constant buffer w_mem holds (reordered)
  dnnl::memory a_mem, d_mem, bias_mem;  // rebound to each run's buffers (set_data_handle)
  std::unordered_map<int, dnnl::memory> args;
};

}  // namespace

bool dense_f32(std::shared_ptr<void>& slot, const float* a, bool trans_a, const Tensor& b, bool b_constant,
               bool trans_b, int64_t M, int64_t K, int64_t N, float alpha, const float* bias, float* y) {
  using dt = dnnl::memory::data_type;
  auto& ctx = DnnlContext::get();
  auto* cache = static_cast<DenseCache*>(slot.get());
  const bool has_bias = bias != nullptr;
  const SerialScope serial(2.0 * static_cast<double>(M) * static_cast<double>(K) * static_cast<double>(N));
  try {
    if (!cache || cache->M != M || cache->K != K || cache->N != N || cache->ta != trans_a || cache->tb != trans_b ||
        cache->has_bias != has_bias || cache->alpha != alpha || cache->b_any != b_constant) {
      auto fresh = std::make_shared<DenseCache>();
      fresh->M = M; fresh->K = K; fresh->N = N;
      fresh->ta = trans_a; fresh->tb = trans_b; fresh->has_bias = has_bias; fresh->alpha = alpha;
      fresh->b_any = b_constant;
      fresh->a_md = dnnl::memory::desc({M, K}, dt::f32, trans_a ? dnnl::memory::dims{1, M} : dnnl::memory::dims{K, 1});
      fresh->w_plain_md = dnnl::memory::desc({K, N}, dt::f32, trans_b ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
      const auto w_req = b_constant ? dnnl::memory::desc({K, N}, dt::f32, dnnl::memory::format_tag::any) : fresh->w_plain_md;
      fresh->d_md = dnnl::memory::desc({M, N}, dt::f32, dnnl::memory::dims{N, 1});
      if (has_bias) fresh->bias_md = dnnl::memory::desc({1, N}, dt::f32, dnnl::memory::dims{N, 1});
      dnnl::primitive_attr attr;
      if (alpha != 1.f) attr.set_output_scales(0, {alpha});
      dnnl::matmul::desc d(fresh->a_md, w_req, fresh->bias_md, fresh->d_md);
      dnnl::matmul::primitive_desc pd(d, attr, ctx.engine);
      fresh->w_md = pd.weights_desc();
      fresh->prim = dnnl::matmul(pd);
      fresh->a_mem = dnnl::memory(fresh->a_md, ctx.engine, nullptr);
      fresh->d_mem = dnnl::memory(fresh->d_md, ctx.engine, nullptr);
      fresh->args = {{DNNL_ARG_SRC, fresh->a_mem}, {DNNL_ARG_DST, fresh->d_mem}};
      if (has_bias) {
        fresh->bias_mem = dnnl::memory(fresh->bias_md, ctx.engine, nullptr);
        fresh->args[DNNL_ARG_BIAS] = fresh->bias_mem;
      }
      slot = fresh;
      cache = fresh.get();
    }
    if (!b_constant || cache->w_src != b.raw()) {
      dnnl::memory plain = wrap(cache->w_plain_md, b);
      if (cache->w_md != cache->w_plain_md) {
        cache->w_mem = dnnl::memory(cache->w_md, ctx.engine);
        dnnl::reorder(plain, cache->w_mem).execute(ctx.stream, plain, cache->w_mem);
      } else {
        cache->w_mem = plain;
      }
      cache->w_src = b_constant ? b.raw() : nullptr;
      cache->args[DNNL_ARG_WEIGHTS] = cache->w_mem;
    }
    cache->a_mem.set_data_handle(const_cast<float*>(a));
    cache->d_mem.set_data_handle(y);
    if (has_bias) cache->bias_mem.set_data_handle(const_cast<float*>(bias));
    cache->prim.execute(ctx.stream, cache->args);
    ctx.stream.wait();
  } catch (const dnnl::error&) {
    slot.reset();
    return false;
  }
  return true;
}

namespace {

struct BatchedCache {
  Shape a, b;
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, d_md;
  dnnl::memory a_mem, b_mem, d_mem;  // rebound to each run's buffers (set_data_handle)
  std::unordered_map<int, dnnl::memory> args;
};

// Batched float32 matmul with broadcast batch axes (dims from matmul_dims), primitive in `slot`.
bool batched_f32(std::shared_ptr<void>& slot, const Tensor& a, const Tensor& b, const MatMulDims& d, Tensor& y) {
  using dt = dnnl::memory::data_type;
  auto& ctx = DnnlContext::get();
  auto* cache = static_cast<BatchedCache*>(slot.get());
  const SerialScope serial(2.0 * static_cast<double>(shape_numel(d.batch)) * static_cast<double>(d.M) *
                           static_cast<double>(d.K) * static_cast<double>(d.N));
  try {
    if (!cache || cache->a != a.shape() || cache->b != b.shape()) {
      auto fresh = std::make_shared<BatchedCache>();
      fresh->a = a.shape();
      fresh->b = b.shape();
      Shape as = d.a_batch, bs = d.b_batch, ds = d.batch;
      as.push_back(d.M); as.push_back(d.K);
      bs.push_back(d.K); bs.push_back(d.N);
      ds.push_back(d.M); ds.push_back(d.N);
      fresh->a_md = dnnl::memory::desc(to_dims(as), dt::f32, dense_strides(as));
      fresh->b_md = dnnl::memory::desc(to_dims(bs), dt::f32, dense_strides(bs));
      fresh->d_md = dnnl::memory::desc(to_dims(ds), dt::f32, dense_strides(ds));
      dnnl::matmul::desc md(fresh->a_md, fresh->b_md, fresh->d_md);
      fresh->prim = dnnl::matmul(dnnl::matmul::primitive_desc(md, ctx.engine));
      fresh->a_mem = dnnl::memory(fresh->a_md, ctx.engine, nullptr);
      fresh->b_mem = dnnl::memory(fresh->b_md, ctx.engine, nullptr);
      fresh->d_mem = dnnl::memory(fresh->d_md, ctx.engine, nullptr);
      fresh->args = {{DNNL_ARG_SRC, fresh->a_mem}, {DNNL_ARG_WEIGHTS, fresh->b_mem}, {DNNL_ARG_DST, fresh->d_mem}};
      slot = fresh;
      cache = fresh.get();
    }
    cache->a_mem.set_data_handle(const_cast<void*>(a.raw()));
    cache->b_mem.set_data_handle(const_cast<void*>(b.raw()));
    cache->d_mem.set_data_handle(y.raw());
    cache->prim.execute(ctx.stream, cache->args);
    ctx.stream.wait();
  } catch (const dnnl::error&) {
    slot.reset();
    return false;
  }
  return true;
}

// Per-node state of MatMul's fast kernel: the 2-D primitive (right operand of rank <= 2) or the
// batched one.
struct MatMulState {
  std::shared_ptr<void> dense, batched;
};

}  // namespace

bool strided_bmm_f32(int64_t batch, int64_t M, int64_t K, int64_t N, const float* a, const int64_t a_strides[3],
                     const float* b, const int64_t b_strides[3], float* c) {
  using dt = dnnl::memory::data_type;
  if (batch == 0 || M == 0 || N == 0) return true;
  if (K == 0) {
    std::fill(c, c + batch * M * N, 0.f);
    return true;
  }
  auto& ctx = DnnlContext::get();
  try {
    dnnl::memory::desc a_md({batch, M, K}, dt::f32, {a_strides[0], a_strides[1], a_strides[2]});
    dnnl::memory::desc b_md({batch, K, N}, dt::f32, {b_strides[0], b_strides[1], b_strides[2]});
    dnnl::memory::desc c_md({batch, M, N}, dt::f32, {M * N, N, 1});
    dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), ctx.engine));
    prim.execute(ctx.stream, {{DNNL_ARG_SRC, dnnl::memory(a_md, ctx.engine, const_cast<float*>(a))},
                              {DNNL_ARG_WEIGHTS, dnnl::memory(b_md, ctx.engine, const_cast<float*>(b))},
                              {DNNL_ARG_DST, dnnl::memory(c_md, ctx.engine, c)}});
    ctx.stream.wait();
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

namespace {

// float32 a x b with numpy semantics; false when oneDNN refuses.
bool matmul_f32_into(MatMulState& state, const Tensor& a, const Tensor& b, bool b_constant, const MatMulDims& d,
                     Tensor& y) {
  if (y.numel() == 0) return true;
  if (d.K == 0) {
    std::fill(y.data<float>(), y.data<float>() + y.numel(), 0.f);
    return true;
  }
  if (b.rank() <= 2) {  // [.., M, K] x [K, N]: one 2-D product over all rows of a
    const int64_t rows = a.numel() / d.K;
    return dense_f32(state.dense, a.data<float>(), false, b, b_constant, false, rows, d.K, d.N, 1.f, nullptr,
                     y.data<float>());
  }
  return batched_f32(state.batched, a, b, d, y);
}

}  // namespace

Tensor matmul_f32(KernelContext& c, const Tensor& a, const Tensor& b) {
  if (a.dtype() != DType::kFloat || b.dtype() != DType::kFloat) c.fail("expects float32 inputs");
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  Tensor y = Tensor::uninitialized(DType::kFloat, d.out);
  MatMulState local;
  if (!matmul_f32_into(local, a, b, false, d, y)) c.fail("oneDNN cannot multiply " + shape_str(a.shape()) + " x " + shape_str(b.shape()));
  return y;
}

// ------------------------------------------------------------------------ reference kernels

namespace {

// Accumulator: float for the 16-bit floats, the type itself for float / double, unsigned
// wrap-around arithmetic of the type's width for integers (numpy's matmul wraps).
template <typename T, bool = std::is_integral_v<T>>
struct AccOf {
  using type = Compute<T>;
};
template <typename T>
struct AccOf<T, true> {
  using type = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
};
template <typename T>
using Acc = typename AccOf<T>::type;

template <typename T>
inline Acc<T> acc_of(T v) {
  if constexpr (std::is_integral_v<T>) return static_cast<Acc<T>>(v);
  else return to_compute(v);
}

// out[m, n] = sum_k A(m, k) B(k, n); A(m, k) = a[m * as_m + k * as_k], B(k, n) = b[k * bs_k + n * bs_n].
template <typename T>
void product(const T* a, int64_t as_m, int64_t as_k, const T* b, int64_t bs_k, int64_t bs_n, int64_t M, int64_t K,
             int64_t N, Acc<T>* out) {
  for (int64_t m = 0; m < M; ++m) {
    Acc<T>* row = out + m * N;
    std::fill(row, row + N, Acc<T>(0));
    for (int64_t k = 0; k < K; ++k) {
      const Acc<T> av = acc_of(a[m * as_m + k * as_k]);
      const T* bk = b + k * bs_k;
      for (int64_t n = 0; n < N; ++n) row[n] += av * acc_of(bk[n * bs_n]);
    }
  }
}

template <typename T>
inline T from_acc(Acc<T> v) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(v);
  else return from_compute<T>(v);
}

template <typename T>
void matmul_typed(const Tensor& a, const Tensor& b, const MatMulDims& d, Tensor& y) {
  const auto ao = batch_offsets(d.a_batch, d.batch, d.M * d.K), bo = batch_offsets(d.b_batch, d.batch, d.K * d.N);
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* yp = y.data<T>();
  std::vector<Acc<T>> acc(static_cast<size_t>(d.M * d.N));
  for (size_t bi = 0; bi < ao.size(); ++bi) {
    product(ap + ao[bi], d.K, 1, bp + bo[bi], d.N, 1, d.M, d.K, d.N, acc.data());
    T* out = yp + static_cast<int64_t>(bi) * d.M * d.N;
    for (int64_t i = 0; i < d.M * d.N; ++i) out[i] = from_acc<T>(acc[i]);
  }
}

using MatMulTypes = TypeList<float, double, half, bfloat16, int32_t, int64_t, uint32_t, uint64_t>;

bool matmul_type_allowed(int version, DType t) {
  switch (t) {
    case DType::kFloat: case DType::kDouble: case DType::kFloat16: return true;
    case DType::kInt32: case DType::kInt64: case DType::kUInt32: case DType::kUInt64: return version >= 9;
    case DType::kBFloat16: return version >= 13;
    default: return false;
  }
}

void validate_matmul(KernelContext& c) {
  if (c.has(0) && !matmul_type_allowed(c.version, c.in(0).dtype())) c.fail_dtype(0, c.in(0).dtype());
  if (c.has(1) && !matmul_type_allowed(c.version, c.in(1).dtype())) c.fail_dtype(1, c.in(1).dtype());
  if (c.has(0) && c.has(1)) {
    if (c.in(0).dtype() != c.in(1).dtype())
      c.fail("inputs differ in type: " + dtype_name(c.in(0).dtype()) + " and " + dtype_name(c.in(1).dtype()));
    matmul_dims(c, c.in(0).shape(), c.in(1).shape());
  }
}

void matmul(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  Tensor y = Tensor::uninitialized(a.dtype(), d.out);
  c.dispatch_or_fail<MatMulTypes>(0, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    matmul_typed<T>(a, b, d, y);
  });
  c.outputs[0] = std::move(y);
}

std::shared_ptr<void>& state_slot(KernelContext& c, std::shared_ptr<void>& local) { return c.state ? *c.state : local; }

bool matmul_fast(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const DType t = a.dtype();
  if (t != b.dtype() || (t != DType::kFloat && t != DType::kFloat16 && t != DType::kBFloat16)) return false;
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  std::shared_ptr<void> local;
  auto& slot = state_slot(c, local);
  if (!slot) slot = std::make_shared<MatMulState>();
  auto& state = *static_cast<MatMulState*>(slot.get());
  if (t == DType::kFloat) {
    Tensor y = Tensor::uninitialized(DType::kFloat, d.out);
    if (!matmul_f32_into(state, a, b, c.is_constant(1), d, y)) return false;
    c.outputs[0] = std::move(y);
    return true;
  }
  // float16 / bfloat16: exact widening, float32 accumulation, one rounding (the reference's numerics
  // up to summation order)
  Tensor y = Tensor::uninitialized(DType::kFloat, d.out);
  if (!matmul_f32_into(state, a.cast(DType::kFloat), b.cast(DType::kFloat), false, d, y)) return false;
  c.outputs[0] = y.cast(t);
  return true;
}

// ------------------------------------------------------------------------ Gemm

bool gemm_type_allowed(int version, DType t) { return matmul_type_allowed(version, t); }

struct GemmDims {
  int64_t M, K, N;
};

GemmDims gemm_dims(const KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  if (a.rank() != 2 || b.rank() != 2)
    c.fail("A and B must be 2-D, got " + shape_str(a.shape()) + " and " + shape_str(b.shape()));
  const bool ta = attr_int(c.node, "transA", 0) != 0, tb = attr_int(c.node, "transB", 0) != 0;
  GemmDims g{ta ? a.dim(1) : a.dim(0), ta ? a.dim(0) : a.dim(1), tb ? b.dim(0) : b.dim(1)};
  const int64_t kb = tb ? b.dim(1) : b.dim(0);
  if (g.K != kb)
    c.fail("inner dimensions differ: A " + shape_str(a.shape()) + (ta ? " (transA)" : "") + " x B " +
           shape_str(b.shape()) + (tb ? " (transB)" : ""));
  return g;
}

void validate_gemm(KernelContext& c) {
  for (int i = 0; i < 3; ++i)
    if (c.has(i) && !gemm_type_allowed(c.version, c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
  for (int i = 1; i < 3; ++i)
    if (c.has(0) && c.has(i) && c.in(i).dtype() != c.in(0).dtype())
      c.fail("input #" + std::to_string(i) + " has type " + dtype_name(c.in(i).dtype()) + ", A has " +
             dtype_name(c.in(0).dtype()));
  if (!c.has(0) || !c.has(1)) return;
  const GemmDims g = gemm_dims(c);
  if (c.has(2)) {
    const Shape& cs = c.in(2).shape();
    bool ok = cs.size() <= 2;
    const Shape want{g.M, g.N};
    for (size_t i = 0; ok && i < cs.size(); ++i) ok = cs[i] == 1 || cs[i] == want[2 - cs.size() + i];
    if (!ok) c.fail("C " + shape_str(cs) + " does not broadcast to (M, N) = " + shape_str(want));
  }
}

// C broadcast to [M, N]: element (m, n) at offset m * sm + n * sn.
void c_strides(const Shape& cs, int64_t* sm, int64_t* sn) {
  *sm = 0;
  *sn = 0;
  if (cs.size() == 2) {
    *sm = cs[0] == 1 ? 0 : cs[1];
    *sn = cs[1] == 1 ? 0 : 1;
  } else if (cs.size() == 1) {
    *sn = cs[0] == 1 ? 0 : 1;
  }
}

template <typename T>
void gemm_typed(KernelContext& c, const GemmDims& g, float alpha, float beta, Tensor& y) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const bool ta = attr_int(c.node, "transA", 0) != 0, tb = attr_int(c.node, "transB", 0) != 0;
  std::vector<Acc<T>> acc(static_cast<size_t>(g.M * g.N));
  product(a.data<T>(), ta ? 1 : g.K, ta ? g.M : 1, b.data<T>(), tb ? 1 : g.N, tb ? g.K : 1, g.M, g.K, g.N, acc.data());
  const bool use_c = c.has(2) && beta != 0.f;
  const T* cp = use_c ? c.in(2).data<T>() : nullptr;
  int64_t sm = 0, sn = 0;
  if (use_c) c_strides(c.in(2).shape(), &sm, &sn);
  T* yp = y.data<T>();
  for (int64_t m = 0; m < g.M; ++m)
    for (int64_t n = 0; n < g.N; ++n) {
      const Acc<T> dot = acc[m * g.N + n];
      if constexpr (std::is_integral_v<T>) {
        // numpy: int dot * python float -> float64, + int C * beta -> float64, astype(T) truncates
        double v = static_cast<double>(static_cast<T>(dot)) * static_cast<double>(alpha);
        if (use_c) v += static_cast<double>(cp[m * sm + n * sn]) * static_cast<double>(beta);
        constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
        constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
        yp[m * g.N + n] = std::isnan(v) ? T(0) : v <= lo ? std::numeric_limits<T>::min()
                                                 : v >= hi ? std::numeric_limits<T>::max() : static_cast<T>(v);
      } else {
        // each numpy step rounds to T: dot, * alpha, C * beta, +
        using C = Compute<T>;
        const auto round = [](C v) { return to_compute(from_compute<T>(v)); };
        C v = round(round(dot) * static_cast<C>(alpha));
        if (use_c) v = round(v + round(to_compute(cp[m * sm + n * sn]) * static_cast<C>(beta)));
        yp[m * g.N + n] = from_compute<T>(v);
      }
    }
}

void gemm(KernelContext& c) {
  const GemmDims g = gemm_dims(c);
  const float alpha = attr_float(c.node, "alpha", 1.f), beta = attr_float(c.node, "beta", 1.f);
  Tensor y = Tensor::uninitialized(c.in(0).dtype(), {g.M, g.N});
  c.dispatch_or_fail<MatMulTypes>(0, c.in(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm_typed<T>(c, g, alpha, beta, y);
  });
  c.outputs[0] = std::move(y);
}

bool gemm_fast(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  if (a.dtype() != DType::kFloat || b.dtype() != DType::kFloat) return false;
  const GemmDims g = gemm_dims(c);
  const bool ta = attr_int(c.node, "transA", 0) != 0, tb = attr_int(c.node, "transB", 0) != 0;
  const float alpha = attr_float(c.node, "alpha", 1.f), beta = attr_float(c.node, "beta", 1.f);
  const bool use_c = c.has(2) && beta != 0.f;
  if (use_c && c.in(2).dtype() != DType::kFloat) return false;
  Tensor y = Tensor::uninitialized(DType::kFloat, {g.M, g.N});
  if (y.numel() == 0) {
    c.outputs[0] = std::move(y);
    return true;
  }
  // C as oneDNN's bias when it is a row of N values and Y = A'B' + C exactly
  const bool row_bias = use_c && alpha == 1.f && beta == 1.f && c.in(2).numel() == g.N && g.N > 1 &&
                        (c.in(2).rank() == 1 || c.in(2).dim(0) == 1);
  std::shared_ptr<void> local;
  auto& slot = state_slot(c, local);
  if (g.K == 0) {
    std::fill(y.data<float>(), y.data<float>() + y.numel(), 0.f);
  } else if (!dense_f32(slot, a.data<float>(), ta, b, c.is_constant(1), tb, g.M, g.K, g.N, alpha,
                        row_bias ? c.in(2).data<float>() : nullptr, y.data<float>())) {
    return false;
  }
  if (use_c && !row_bias) {
    int64_t sm = 0, sn = 0;
    c_strides(c.in(2).shape(), &sm, &sn);
    const float* cp = c.in(2).data<float>();
    float* yp = y.data<float>();
    for (int64_t m = 0; m < g.M; ++m)
      for (int64_t n = 0; n < g.N; ++n) yp[m * g.N + n] += cp[m * sm + n * sn] * beta;
  }
  c.outputs[0] = std::move(y);
  return true;
}

// ------------------------------------------------------------------------ FusedMatMul

void validate_fused_matmul(KernelContext& c) {
  for (int i = 0; i < 2; ++i)
    if (c.has(i) && !matmul_type_allowed(13, c.in(i).dtype()) ) c.fail_dtype(i, c.in(i).dtype());
  for (int i = 0; i < 2; ++i)
    if (c.has(i) && dtype_is_integer(c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
}

// op(X): with trans_batch, axis 0 moves behind the batch axes ([B0, B1.., R, C] -> [B1.., R, B0, C]);
// with trans, the last two axes swap.
Tensor fused_operand(const KernelContext& c, const Tensor& t, bool trans_batch, bool trans, const char* name) {
  const int r = t.rank();
  if ((trans_batch || trans) && r < 2)
    c.fail(std::string("attribute 'trans") + (trans_batch ? "Batch" : "") + name + "' needs a rank >= 2 input");
  if (!trans_batch && !trans) return t;
  std::vector<int> perm(r);
  for (int i = 0; i < r; ++i) perm[i] = i;
  if (trans_batch && r > 2) {
    for (int i = 0; i < r - 2; ++i) perm[i] = i + 1;
    perm[r - 2] = 0;
  }
  if (trans) std::swap(perm[r - 2], perm[r - 1]);
  return permute_axes(t, perm);
}

void fused_matmul(KernelContext& c) {
  const Tensor a = fused_operand(c, c.in(0), attr_int(c.node, "transBatchA", 0) != 0, attr_int(c.node, "transA", 0) != 0, "A");
  const Tensor b = fused_operand(c, c.in(1), attr_int(c.node, "transBatchB", 0) != 0, attr_int(c.node, "transB", 0) != 0, "B");
  if (a.dtype() != b.dtype()) c.fail("A and B differ in type");
  const float alpha = attr_float(c.node, "alpha", 1.f);
  const MatMulDims d = matmul_dims(c, a.shape(), b.shape());
  Tensor y = Tensor::uninitialized(a.dtype(), d.out);
  if (a.dtype() == DType::kFloat) {
    MatMulState local;
    if (!matmul_f32_into(local, a, b, false, d, y)) matmul_typed<float>(a, b, d, y);
  } else {
    c.dispatch_or_fail<FloatTypes>(0, a.dtype(), [&](auto tag) { matmul_typed<typename decltype(tag)::type>(a, b, d, y); });
  }
  if (alpha != 1.f) {
    dispatch<FloatTypes>(y.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) p[i] = from_compute<T>(to_compute(p[i]) * static_cast<Compute<T>>(alpha));
    });
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_matmul_ops(OpRegistry& r) {
  r.add("", "MatMul", {1, 9, 13}, OpDef{matmul, matmul_fast, validate_matmul});
  r.add("", "Gemm", {7, 9, 11, 13}, OpDef{gemm, gemm_fast, validate_gemm});
  r.add("com.microsoft", "FusedMatMul", {1}, OpDef{fused_matmul, nullptr, validate_fused_matmul});
}

}  // namespace qtool
