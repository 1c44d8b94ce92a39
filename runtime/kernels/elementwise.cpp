// SPDX-License-Identifier: Apache-2.0
// Binary and variadic arithmetic of ai.onnx with numpy broadcasting: Add, Sub, Mul, Div, Mod,
// Pow, Sum, Mean, Max, Min (the ONNX operator specs; results match onnx's reference, which is
// numpy). Integers wrap on overflow like numpy; integer Div truncates toward zero and gives 0 for
// a zero divisor (numpy's result); Mod follows Python (fmod = 0, sign of the divisor) or C
// (fmod = 1, sign of the dividend), for floats too (Mod-28 spells the float rules out); integer
// Pow is exact (repeated squaring, wrapping); Max / Min propagate NaN.
//
// Fast kernels: float32 Add/Sub/Mul/Div/Max/Min/Sum/Mean over the broadcast plan (same shape,
// scalar, per-channel [1,C,1,1], trailing axis all become vectorizable rows), split across the
// OpenMP threads for large outputs. Add/Sub/Mul/Div are layout-aware: a convolution's blocked
// output combined with a broadcast per-channel operand goes through oneDNN's binary primitive.
#include <cmath>
#include <type_traits>

#include "runtime/dnnl_util.h"
#include "runtime/kernels/elementwise_common.h"

namespace qtool {

namespace {

using namespace ew;

// ---- Add, Sub, Mul, Div ----------------------------------------------------------------------

void add(KernelContext& c) { binary_kernel<Numbers, false>(c, [](auto x, auto y) { return wrap_add(x, y); }); }
void sub(KernelContext& c) { binary_kernel<Numbers, false>(c, [](auto x, auto y) { return wrap_sub(x, y); }); }
void mul(KernelContext& c) { binary_kernel<Numbers, false>(c, [](auto x, auto y) { return wrap_mul(x, y); }); }

template <typename C>
C divide(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    return x / y;
  } else {
    if (y == 0) return 0;  // numpy's result; C++ would trap
    if constexpr (std::is_signed_v<C>)
      if (y == -1) return wrap_neg(x);  // INT_MIN / -1 wraps to INT_MIN
    return x / y;                       // truncates toward zero
  }
}
void div_(KernelContext& c) { binary_kernel<Numbers, false>(c, [](auto x, auto y) { return divide(x, y); }); }

// ---- Mod -------------------------------------------------------------------------------------

// Python-style (numpy.mod): the result has the sign of the divisor.
template <typename C>
C mod_floor(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = std::fmod(x, y);
    if (std::isnan(r)) return r;  // x infinite, y zero, or a NaN
    if (r != 0) {
      if ((y < 0) != (r < 0)) r += y;
    } else {
      r = std::copysign(C(0), y);
    }
    return r;
  } else {
    if (y == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (y == -1) return 0;
      C r = static_cast<C>(x % y);
      if (r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      return r;
    } else {
      return static_cast<C>(x % y);
    }
  }
}
// C-style (fmod): the result has the sign of the dividend.
template <typename C>
C mod_trunc(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::fmod(x, y);
  } else {
    if (y == 0) return 0;
    if constexpr (std::is_signed_v<C>)
      if (y == -1) return 0;
    return static_cast<C>(x % y);
  }
}
void validate_mod(KernelContext& c) {
  const int64_t f = attr_int(c.node, "fmod", 0);
  if (f != 0 && f != 1) c.fail("attribute 'fmod': must be 0 or 1, got " + std::to_string(f));
  validate_broadcast_same_type(c);
}
void mod_(KernelContext& c) {
  if (attr_int(c.node, "fmod", 0) == 1)
    binary_kernel<Numbers, false>(c, [](auto x, auto y) { return mod_trunc(x, y); });
  else
    binary_kernel<Numbers, false>(c, [](auto x, auto y) { return mod_floor(x, y); });
}

// ---- Pow -------------------------------------------------------------------------------------

// x^e for integers, exact modulo 2^bits (numpy's integer power); negative exponents give the
// truncated 1 / x^|e| (0 unless |x| = 1; 0 for x = 0 instead of numpy's error).
template <typename T>
T int_pow(T x, int64_t e) {
  if (e < 0) {
    if (x == 1) return 1;
    if constexpr (std::is_signed_v<T>)
      if (x == -1) return (e % 2 == 0) ? T(1) : T(-1);
    return 0;
  }
  using W = WrapType<T>;
  W base = static_cast<W>(x), r = 1;
  for (uint64_t k = static_cast<uint64_t>(e); k; k >>= 1) {
    if (k & 1) r = static_cast<W>(r * base);
    base = static_cast<W>(base * base);
  }
  return static_cast<T>(r);
}

template <typename T, typename E>
T pow_value(T x, E e) {
  if constexpr (is_int_v<T> && is_int_v<E>) {
    int64_t k;
    if constexpr (std::is_unsigned_v<E> && sizeof(E) == 8) k = e > static_cast<E>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(e);
    else k = static_cast<int64_t>(e);
    return int_pow<T>(x, k);
  }
  const double r = std::pow(static_cast<double>(to_compute(x)), static_cast<double>(to_compute(e)));
  if constexpr (is_int_v<T>) return float_to_int<T>(r);
  return from_compute<T>(static_cast<Compute<T>>(r));
}

void validate_pow(KernelContext& c) {
  if (c.version < 12) require_same_dtype(c, 0, 1);
  if (c.has(0) && c.has(1)) broadcast_inputs(c, {0, 1});
}

void pow_(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const Shape so = broadcast_inputs(c, {0, 1});
  c.dispatch_or_fail<Numbers>(0, a.dtype(), [&](auto tx) {
    using T = typename decltype(tx)::type;
    c.dispatch_or_fail<Numbers>(1, b.dtype(), [&](auto te) {
      using E = typename decltype(te)::type;
      Tensor out = Tensor::uninitialized(dtype_of<T>(), so);
      broadcast_binary(a.data<T>(), a.shape(), b.data<E>(), b.shape(), out.data<T>(), so,
                       [](T x, E e) { return pow_value<T, E>(x, e); });
      c.outputs[0] = std::move(out);
    });
  });
}

// ---- Sum, Mean, Max, Min (variadic) ----------------------------------------------------------

void validate_variadic(KernelContext& c) {
  if (c.num_inputs() < 1) c.fail("needs at least one input");
  validate_broadcast_same_type(c);
}

// Folds the inputs left to right into an output of the broadcast shape, rounding to T after
// every step as numpy does; `finish` maps the folded value (Mean divides).
template <typename List, typename F, typename G>
void variadic_kernel(KernelContext& c, F f, G finish) {
  std::vector<int> all;
  for (int i = 0; i < c.num_inputs(); ++i) {
    if (!c.has(i)) c.fail("input #" + std::to_string(i) + " is missing");
    all.push_back(i);
  }
  if (all.empty()) c.fail("needs at least one input");
  for (size_t k = 1; k < all.size(); ++k) require_same_dtype(c, 0, all[k]);
  const Shape so = broadcast_inputs(c, all);
  c.dispatch_or_fail<List>(0, c.in(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out = Tensor::uninitialized(dtype_of<T>(), so);
    T* o = out.data<T>();
    const Tensor& a = c.in(0);
    broadcast_binary(a.data<T>(), a.shape(), o, Shape{}, o, so, [](T x, T) { return x; });
    for (size_t k = 1; k < all.size(); ++k) {
      const Tensor& b = c.in(all[k]);
      broadcast_binary(o, so, b.data<T>(), b.shape(), o, so,
                       [&](T x, T y) { return from_compute<T>(f(to_compute(x), to_compute(y))); });
    }
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) o[i] = from_compute<T>(finish(to_compute(o[i]), static_cast<int64_t>(all.size())));
    c.outputs[0] = std::move(out);
  });
}

auto keep = [](auto v, int64_t) { return v; };

void sum(KernelContext& c) { variadic_kernel<Numbers>(c, [](auto x, auto y) { return wrap_add(x, y); }, keep); }
void mean(KernelContext& c) {
  variadic_kernel<Floats>(c, [](auto x, auto y) { return x + y; },
                          [](auto v, int64_t n) { return v / static_cast<decltype(v)>(n); });
}
void max_(KernelContext& c) { variadic_kernel<Numbers>(c, [](auto x, auto y) { return max_nan(x, y); }, keep); }
void min_(KernelContext& c) { variadic_kernel<Numbers>(c, [](auto x, auto y) { return min_nan(x, y); }, keep); }

// ---- float32 fast kernels ----------------------------------------------------------------------

enum class BinOp { kAdd, kSub, kMul, kDiv, kMax, kMin };

template <BinOp Op>
inline QTOOL_EW_INLINE float apply(float x, float y) {
  if constexpr (Op == BinOp::kAdd) return x + y;
  else if constexpr (Op == BinOp::kSub) return x - y;
  else if constexpr (Op == BinOp::kMul) return x * y;
  else if constexpr (Op == BinOp::kDiv) return x / y;
  else if constexpr (Op == BinOp::kMax) return max_nan(x, y);
  else return min_nan(x, y);
}

// out = a (op) b for float32 a, b of broadcastable shapes `sa`, `sb` into `out` of shape so.
template <BinOp Op>
void binary_f32(const float* a, const Shape& sa, const float* b, const Shape& sb, float* out, const Shape& so) {
  broadcast_f32(a, sa, b, sb, out, so, [](float x, float y) QTOOL_EW_INLINE { return apply<Op>(x, y); });
}

// One operand in a runtime layout (a convolution's blocked or channels-last output), the other
// plain and broadcast into it (squeeze-and-excitation's per-channel scale [N,C,1,1], a per-channel
// bias [C,1,1]): oneDNN's binary primitive reads both as they are and writes the layout operand's
// layout, so no reorder is needed before or after. Sub and Div only with the layout operand first.
// Dense layouts only (channels-last, what brgconv writes on AVX-512; channel-blocked ones through
// channel_blocked_binary).
// false: not that case, or oneDNN refused it (the caller computes on plain copies).
struct LayoutBinaryCache {
  dnnl::memory::desc big, small;
  bool big_first = true;
  dnnl::binary prim;
  bool unsupported = false;
};

// The channel-blocked layouts oneDNN's convolutions write (nChw8c / nChw16c: [N][C/B][spatial][B])
// with a per-channel (or per-sample-and-channel, or scalar) operand: oneDNN 2.6 has no jit binary
// kernel for that pair and ran its reference one (DenseNet-121's 120 batch-norm Mul / Add: 7 ms
// each at batch 1). Computed here on the dense storage, B channels at a time.
// Returns false when `big` is not channel-blocked or `sdims` (the small operand's shape aligned to
// big's rank) broadcasts along another axis.
template <BinOp Op>
bool channel_blocked_binary(const Tensor& big, const Tensor& small, const Shape& sdims, bool big_first, Tensor& y) {
  const int r = big.rank();
  const int64_t block = channel_block(big);
  if (block == 0) return false;
  for (int d = 2; d < r; ++d)
    if (sdims[d] != 1) return false;
  const dnnl::memory::desc md = desc_of(big);
  const int64_t n = big.dim(0), ch = big.dim(1), blocks = ch / block;
  int64_t sp = 1;
  for (int d = 2; d < r; ++d) sp *= big.dim(d);
  y = make_dnnl_tensor(big.shape(), md);
  const auto* x = static_cast<const float*>(big.raw());  // dense storage: [n][block][spatial][block lanes]
  const float* v = small.data<float>();
  auto* out = static_cast<float*>(y.raw());
  // the small operand's element for (sample i, channel c): [N or 1, C or 1, 1...]
  const int64_t v_n = sdims[0] > 1 ? sdims[1] : 0, v_c = sdims[1] > 1 ? 1 : 0;
#pragma omp parallel for schedule(static) if (n * blocks > 1 && big.numel() >= kParallelGrain)
  for (int64_t nb = 0; nb < n * blocks; ++nb) {
    const int64_t i = nb / blocks, b = nb % blocks;
    float lane[16];
    for (int64_t j = 0; j < block; ++j) lane[j] = v[i * v_n + (b * block + j) * v_c];
    const float* px = x + nb * sp * block;
    float* po = out + nb * sp * block;
    for (int64_t s = 0; s < sp; ++s)
      for (int64_t j = 0; j < block; ++j) {
        const float p = px[s * block + j];
        po[s * block + j] = big_first ? apply<Op>(p, lane[j]) : apply<Op>(lane[j], p);
      }
  }
  return true;
}

template <BinOp Op>
bool layout_binary(KernelContext& c, const Tensor& a, const Tensor& b) {
  constexpr bool commutes = Op == BinOp::kAdd || Op == BinOp::kMul;
  // `big`: the operand in a layout that is not broadcast. An operand in a layout that is broadcast
  // (the [N,C,1,1] Sigmoid of a squeeze-and-excitation block, written by a convolution) is small and
  // made plain; two layout operands of one size go to the caller.
  const bool big_first = a.layout() && (!b.layout() || a.numel() > b.numel());
  const Tensor& big = big_first ? a : b;
  const Tensor& small_in = big_first ? b : a;
  if (small_in.layout() && small_in.numel() >= big.numel()) return false;
  // [N,C,1...] in nChw8c / nChw16c without padding: the storage is the plain order already
  auto spatial_ones = [](const Tensor& t) {
    for (int d = 2; d < t.rank(); ++d)
      if (t.dim(d) != 1) return false;
    return true;
  };
  const Tensor small_plain = !small_in.layout() ? Tensor()
                             : channel_block(small_in) && spatial_ones(small_in) ? small_in.dense_storage()
                                                                                 : to_plain(small_in);
  const Tensor& small = small_in.layout() ? small_plain : small_in;
  // dense layouts only: a padded one (nChw16c with 24 channels) would need its padding kept zero
  if (!big.has_dense_layout() || (!big_first && !commutes) || small.rank() > big.rank() ||
      big.numel() == 0 || big.dtype() != DType::kFloat || small.dtype() != DType::kFloat)
    return false;
  Shape sdims(big.rank() - small.rank(), 1);  // numpy: leading extents of 1
  sdims.insert(sdims.end(), small.shape().begin(), small.shape().end());
  for (int d = 0; d < big.rank(); ++d)
    if (sdims[d] != 1 && sdims[d] != big.dim(d)) return false;  // would expand the layout operand
  if (Tensor y; channel_blocked_binary<Op>(big, small, sdims, big_first, y)) {
    c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
    return true;
  }
  constexpr auto alg = Op == BinOp::kAdd   ? dnnl::algorithm::binary_add
                       : Op == BinOp::kSub ? dnnl::algorithm::binary_sub
                       : Op == BinOp::kMul ? dnnl::algorithm::binary_mul
                                           : dnnl::algorithm::binary_div;
  auto& ctx = DnnlContext::get();
  const dnnl::memory::desc big_md = desc_of(big), small_md = plain_desc(sdims);
  std::shared_ptr<void> local;
  auto& slot = c.state ? *c.state : local;
  auto* cache = static_cast<LayoutBinaryCache*>(slot.get());
  if (!cache || cache->big != big_md || cache->small != small_md || cache->big_first != big_first) {
    auto fresh = std::make_shared<LayoutBinaryCache>();
    fresh->big = big_md;
    fresh->small = small_md;
    fresh->big_first = big_first;
    fresh->unsupported = true;
    slot = fresh;
    cache = fresh.get();
    try {
      const dnnl::binary::desc d(alg, big_md, small_md, big_md);
      const dnnl::binary::primitive_desc pd(d, ctx.engine);
      // oneDNN's reference kernel is slower than plain copies and the vectorised loop
      if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0) {
        fresh->prim = dnnl::binary(pd);
        fresh->unsupported = false;
      }
    } catch (const dnnl::error&) {
    }
  }
  if (cache->unsupported) return false;
  Tensor y = make_dnnl_tensor(big.shape(), big_md);
  cache->prim.execute(ctx.stream, {{DNNL_ARG_SRC_0, wrap(big_md, big)},
                                   {DNNL_ARG_SRC_1, wrap(small_md, small)},
                                   {DNNL_ARG_DST, wrap(big_md, y)}});
  ctx.stream.wait();
  c.outputs[0] = c.allow_layout_output ? std::move(y) : to_plain(y);
  return true;
}

// Layout-aware (OpRegistry): operands may arrive in runtime layouts; the executor has already
// run same-shaped operands of one dense layout as plain views (OpDef::pointwise).
template <BinOp Op>
bool binary_fast(KernelContext& c) {
  if (!c.has(0) || !c.has(1)) return false;
  const bool layouts = c.in(0).layout() || c.in(1).layout();
  if (layouts && layout_binary<Op>(c, c.in(0), c.in(1))) return true;
  // plain operands as they are, runtime layouts as plain copies; 8-bit codes in a layout (an
  // integer convolution's output) go to the reference, which the executor hands plain copies
  const Tensor a = to_plain(c.in(0)), b = to_plain(c.in(1));
  if (a.dtype() != DType::kFloat || b.dtype() != DType::kFloat) return false;
  const Shape so = broadcast_inputs(c, {0, 1});
  Tensor out = Tensor::uninitialized(DType::kFloat, so);
  binary_f32<Op>(a.data<float>(), a.shape(), b.data<float>(), b.shape(), out.data<float>(), so);
  c.outputs[0] = std::move(out);
  return true;
}

// Add, Sub, Mul and Div: pointwise, and their fast kernel takes runtime layouts.
OpDef layout_binary_def(OpDef def) {
  def.layout_aware = true;
  return pointwise(def);
}

// Sum / Max / Min / Mean of float32 inputs: pairwise into the output.
template <BinOp Op, bool kMean = false>
bool variadic_fast(KernelContext& c) {
  const int n = c.num_inputs();
  if (n < 1) return false;
  std::vector<int> all;
  for (int i = 0; i < n; ++i) {
    if (!c.has(i) || !c.value(i).is_tensor() || c.in(i).dtype() != DType::kFloat) return false;
    all.push_back(i);
  }
  const Shape so = broadcast_inputs(c, all);
  if (n == 1 && !kMean) {
    c.outputs[0] = c.in(0);
    return true;
  }
  Tensor out = Tensor::uninitialized(DType::kFloat, so);
  float* o = out.data<float>();
  if (n == 1) {
    const float* p = c.in(0).data<float>();
    std::copy(p, p + out.numel(), o);
  } else {
    binary_f32<Op>(c.in(0).data<float>(), c.in(0).shape(), c.in(1).data<float>(), c.in(1).shape(), o, so);
    for (int i = 2; i < n; ++i) binary_f32<Op>(o, so, c.in(i).data<float>(), c.in(i).shape(), o, so);
  }
  if (kMean) {
    const float inv_n = static_cast<float>(n);
    parallel_chunks(out.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) {
      map_f32(o + lo, o + lo, hi - lo, [inv_n](float v) QTOOL_EW_INLINE { return v / inv_n; });
    });
  }
  c.outputs[0] = std::move(out);
  return true;
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  r.add("", "Add", {7, 13, 14}, layout_binary_def(OpDef{add, binary_fast<BinOp::kAdd>, validate_broadcast_same_type}));
  r.add("", "Sub", {7, 13, 14}, layout_binary_def(OpDef{sub, binary_fast<BinOp::kSub>, validate_broadcast_same_type}));
  r.add("", "Mul", {7, 13, 14}, layout_binary_def(OpDef{mul, binary_fast<BinOp::kMul>, validate_broadcast_same_type}));
  r.add("", "Div", {7, 13, 14}, layout_binary_def(OpDef{div_, binary_fast<BinOp::kDiv>, validate_broadcast_same_type}));
  r.add("", "Mod", {10, 13, 28}, OpDef{mod_, nullptr, validate_mod});
  r.add("", "Pow", {7, 12, 13, 15}, OpDef{pow_, nullptr, validate_pow});
  r.add("", "Sum", {6, 8, 13}, pointwise(OpDef{sum, variadic_fast<BinOp::kAdd>, validate_variadic}));
  r.add("", "Mean", {6, 8, 13}, pointwise(OpDef{mean, variadic_fast<BinOp::kAdd, true>, validate_variadic}));
  r.add("", "Max", {6, 8, 12, 13}, pointwise(OpDef{max_, variadic_fast<BinOp::kMax>, validate_variadic}));
  r.add("", "Min", {6, 8, 12, 13}, pointwise(OpDef{min_, variadic_fast<BinOp::kMin>, validate_variadic}));
}

}  // namespace qtool
