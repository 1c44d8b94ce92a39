// SPDX-License-Identifier: Apache-2.0
// Signal processing: DFT (ai.onnx 17, 20), STFT (17), HannWindow / HammingWindow / BlackmanWindow
// (17) and MelWeightMatrix (17), as the ONNX spec and its reference implementation
// (onnx/reference/ops/op_dft.py, op_stft.py, op_*_window.py, op_mel_weight_matrix.py) define them.
//
// Complex values are [..., 2] (real, imaginary); real signals are [..., 1]. Transforms run in
// double: radix-2 Cooley-Tukey for power-of-two lengths, Bluestein's chirp-z algorithm (through a
// power-of-two convolution) for every other length, so any length costs O(n log n).
//  - DFT: along `axis` (an attribute at 17, default 1; an input at 20, default -2), the signal
//    zero-padded or truncated to dft_length; onesided forward keeps floor(n/2) + 1 bins (RFFT);
//    inverse divides by n; onesided inverse is the IRFFT of the one-sided spectrum (real output,
//    default length 2 * (bins - 1)).
//  - STFT: frames of frame_length every frame_step samples, times the window (default all ones),
//    a DFT of frame_length each; onesided (default) keeps floor(frame_length/2) + 1 bins.
//  - Windows: Hann sin^2(pi n / N), Hamming 25/46 - 21/46 cos(2 pi n / N), Blackman
//    0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N), with N = size (periodic) or size - 1.
//  - MelWeightMatrix: triangular filters between mel-spaced bin edges, mel(f) = 2595 log10(1 + f/700),
//    with the reference's float32/float64 arithmetic so the integer bin edges agree.
// Results are converted to the output type as the reference's astype does (integers truncate).
#include <cmath>
#include <complex>
#include <limits>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

using cd = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

// exp(-2 pi i k / n) for k in [0, n), exact at the quarter turns.
std::vector<cd> unit_roots(size_t n) {
  std::vector<cd> w(n);
  for (size_t k = 0; k < n; ++k) {
    const double a = -2.0 * kPi * static_cast<double>(k) / static_cast<double>(n);
    w[k] = cd(std::cos(a), std::sin(a));
  }
  return w;
}

// Unnormalised complex DFT of one fixed length (forward: exp(-2 pi i kn/N), inverse: exp(+...)).
class Fft {
 public:
  explicit Fft(size_t n) : n_(n) {
    if (n_ <= 1) return;
    if ((n_ & (n_ - 1)) == 0) {
      roots_ = unit_roots(n_);
      return;
    }
    // Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c_{k-j}), c_k = exp(-pi i k^2 / n).
    m_ = 1;
    while (m_ < 2 * n_ - 1) m_ <<= 1;
    roots_ = unit_roots(m_);
    chirp_.resize(n_);
    const uint64_t two_n = 2 * static_cast<uint64_t>(n_);
    for (size_t k = 0; k < n_; ++k) {
      const uint64_t kk = (static_cast<uint64_t>(k) * k) % two_n;  // exact phase
      const double a = -kPi * static_cast<double>(kk) / static_cast<double>(n_);
      chirp_[k] = cd(std::cos(a), std::sin(a));
    }
    kernel_.assign(m_, cd(0, 0));
    kernel_[0] = std::conj(chirp_[0]);
    for (size_t k = 1; k < n_; ++k) kernel_[k] = kernel_[m_ - k] = std::conj(chirp_[k]);
    pow2(kernel_);
  }

  size_t size() const { return n_; }

  void run(std::vector<cd>& a, bool inverse) const {
    if (n_ <= 1) return;
    if (inverse)
      for (auto& v : a) v = std::conj(v);
    if (m_ == 0) {
      pow2(a);
    } else {
      std::vector<cd> b(m_, cd(0, 0));
      for (size_t k = 0; k < n_; ++k) b[k] = a[k] * chirp_[k];
      pow2(b);
      for (size_t k = 0; k < m_; ++k) b[k] *= kernel_[k];
      // inverse power-of-two transform through conjugation
      for (auto& v : b) v = std::conj(v);
      pow2(b);
      const double scale = 1.0 / static_cast<double>(m_);
      for (size_t k = 0; k < n_; ++k) a[k] = std::conj(b[k]) * scale * chirp_[k];
    }
    if (inverse)
      for (auto& v : a) v = std::conj(v);
  }

 private:
  // In-place iterative radix-2 forward transform of length roots_.size().
  void pow2(std::vector<cd>& a) const {
    const size_t n = roots_.size();
    for (size_t i = 1, j = 0; i < n; ++i) {
      size_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[i], a[j]);
    }
    for (size_t len = 2; len <= n; len <<= 1) {
      const size_t step = n / len;
      for (size_t i = 0; i < n; i += len)
        for (size_t k = 0; k < len / 2; ++k) {
          const cd u = a[i + k], v = a[i + k + len / 2] * roots_[k * step];
          a[i + k] = u + v;
          a[i + k + len / 2] = u - v;
        }
    }
  }

  size_t n_ = 0, m_ = 0;
  std::vector<cd> roots_, chirp_, kernel_;
};

template <typename T>
double to_double(T v) {
  return static_cast<double>(to_compute(v));
}

// double -> T as numpy's astype: floats round to nearest, integers truncate (saturated here).
template <typename T>
T from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    v = std::trunc(v);
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (v <= lo) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return from_compute<T>(static_cast<Compute<T>>(v));
  }
}

// A scalar (or one-element) integer input.
int64_t scalar_int(const KernelContext& c, int i, const char* name) {
  const Tensor& t = c.in(i);
  if (t.numel() != 1) c.fail(std::string("input '") + name + "' must be a scalar, got shape " + shape_str(t.shape()));
  if (!dtype_is_integer(t.dtype())) c.fail(std::string("input '") + name + "' must be an integer, got " + dtype_name(t.dtype()));
  return t.to_int64s()[0];
}

// ---- DFT ----

struct DftSetup {
  int axis = 0;
  int64_t length = 0;  // dft_length
  bool inverse = false, onesided = false;
  Shape out_shape;
};

DftSetup dft_setup(const KernelContext& c) {
  DftSetup s;
  const int64_t inv = attr_int(c.node, "inverse", 0), one = attr_int(c.node, "onesided", 0);
  if (inv != 0 && inv != 1) c.fail("attribute 'inverse' must be 0 or 1, got " + std::to_string(inv));
  if (one != 0 && one != 1) c.fail("attribute 'onesided' must be 0 or 1, got " + std::to_string(one));
  s.inverse = inv == 1;
  s.onesided = one == 1;
  const Tensor& x = c.in(0);
  const int r = x.rank();
  if (r < 2 || (x.dim(-1) != 1 && x.dim(-1) != 2))
    c.fail("input must be [..., signal, 1] (real) or [..., signal, 2] (complex), got " + shape_str(x.shape()));
  int64_t axis = c.version >= 20 ? -2 : attr_int(c.node, "axis", 1);
  if (c.version >= 20 && c.has(2)) axis = scalar_int(c, 2, "axis");
  if (axis < -r || axis > r - 2 || axis == -1)
    c.fail("axis " + std::to_string(axis) + " is out of range [-" + std::to_string(r) + ", -2] U [0, " +
           std::to_string(r - 2) + "] for an input of rank " + std::to_string(r));
  s.axis = static_cast<int>(axis < 0 ? axis + r : axis);
  const int64_t n_in = x.dim(s.axis);
  if (c.has(1)) {
    s.length = scalar_int(c, 1, "dft_length");
    if (s.length <= 0) c.fail("input 'dft_length' must be > 0, got " + std::to_string(s.length));
  } else {
    s.length = s.inverse && s.onesided ? 2 * (n_in - 1) : n_in;
    if (s.length <= 0) c.fail("the signal axis has " + std::to_string(n_in) + " values: no default dft_length");
  }
  if (s.length > (int64_t{1} << 40)) c.fail("dft_length " + std::to_string(s.length) + " is too large");
  s.out_shape = x.shape();
  if (s.inverse && s.onesided) {
    s.out_shape[s.axis] = s.length;
    s.out_shape[r - 1] = 1;
  } else {
    s.out_shape[s.axis] = s.onesided ? s.length / 2 + 1 : s.length;
    s.out_shape[r - 1] = 2;
  }
  shape_numel(s.out_shape);
  return s;
}

void dft_validate(KernelContext& c) {
  if (!c.has(0)) return;
  if ((c.node.input_size() > 1 && !c.node.input(1).empty() && !c.has(1)) ||
      (c.version >= 20 && c.node.input_size() > 2 && !c.node.input(2).empty() && !c.has(2)))
    return;  // dft_length or axis not known yet
  dft_setup(c);
}

template <typename T>
void dft_impl(KernelContext& c, const DftSetup& s) {
  const Tensor& x = c.in(0);
  const int r = x.rank();
  const bool complex_in = x.dim(-1) == 2;
  const int64_t n_in = x.dim(s.axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < s.axis; ++d) outer *= x.dim(d);
  for (int d = s.axis + 1; d < r - 1; ++d) inner *= x.dim(d);
  const int64_t L = s.length, n_out = s.out_shape[s.axis], comp_out = s.out_shape[r - 1];
  Tensor y = Tensor::uninitialized(x.dtype(), s.out_shape);
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  const int comp_in = complex_in ? 2 : 1;
  Fft fft(static_cast<size_t>(L));
  std::vector<cd> buf(L);
  const bool irfft = s.inverse && s.onesided;
  const int64_t half = L / 2 + 1;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto in_at = [&](int64_t k, int comp) {
        return to_double(src[((o * n_in + k) * inner + i) * comp_in + comp]);
      };
      std::fill(buf.begin(), buf.end(), cd(0, 0));
      if (irfft) {
        // Hermitian completion of the first L/2 + 1 bins (the DC and Nyquist imaginary parts drop).
        const int64_t m = std::min(n_in, half);
        for (int64_t k = 0; k < m; ++k) buf[k] = cd(in_at(k, 0), complex_in ? in_at(k, 1) : 0.0);
        buf[0] = cd(buf[0].real(), 0);
        if (L % 2 == 0 && half - 1 < m) buf[L / 2] = cd(buf[L / 2].real(), 0);
        for (int64_t k = 1; k < half; ++k)
          if (L - k >= half) buf[L - k] = std::conj(buf[k]);
      } else {
        const int64_t m = std::min(n_in, L);
        for (int64_t k = 0; k < m; ++k) buf[k] = cd(in_at(k, 0), complex_in ? in_at(k, 1) : 0.0);
      }
      fft.run(buf, s.inverse);
      const double scale = s.inverse ? 1.0 / static_cast<double>(L) : 1.0;
      for (int64_t k = 0; k < n_out; ++k) {
        T* d = dst + ((o * n_out + k) * inner + i) * comp_out;
        d[0] = from_double<T>(buf[k].real() * scale);
        if (comp_out == 2) d[1] = from_double<T>(buf[k].imag() * scale);
      }
    }
  c.outputs[0] = std::move(y);
}

void dft(KernelContext& c) {
  const DftSetup s = dft_setup(c);
  c.dispatch_or_fail<FloatTypes>(0, c.in(0).dtype(), [&](auto tag) { dft_impl<typename decltype(tag)::type>(c, s); });
}

// ---- STFT ----

struct StftSetup {
  int64_t frame_step = 0, frame_length = 0, frames = 0, bins = 0;
  bool onesided = true;
};

StftSetup stft_setup(const KernelContext& c) {
  StftSetup s;
  const int64_t one = attr_int(c.node, "onesided", 1);
  if (one != 0 && one != 1) c.fail("attribute 'onesided' must be 0 or 1, got " + std::to_string(one));
  s.onesided = one == 1;
  const Tensor& x = c.in(0);
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2))
    c.fail("input 'signal' must be [batch, length, 1] or [batch, length, 2], got " + shape_str(x.shape()));
  s.frame_step = scalar_int(c, 1, "frame_step");
  if (s.frame_step <= 0) c.fail("input 'frame_step' must be > 0, got " + std::to_string(s.frame_step));
  const int64_t len = x.dim(1);
  if (c.has(2)) {
    const Tensor& w = c.in(2);
    if (w.rank() != 1) c.fail("input 'window' must be 1-D, got " + shape_str(w.shape()));
    if (w.dtype() != x.dtype()) c.fail("input 'window' must have the signal's type " + dtype_name(x.dtype()));
  }
  if (c.has(3)) {
    s.frame_length = scalar_int(c, 3, "frame_length");
    if (c.has(2) && c.in(2).dim(0) != s.frame_length)
      c.fail("input 'window' has " + std::to_string(c.in(2).dim(0)) + " values, frame_length is " +
             std::to_string(s.frame_length));
  } else {
    s.frame_length = c.has(2) ? c.in(2).dim(0) : len;
  }
  if (s.frame_length <= 0) c.fail("frame_length must be > 0, got " + std::to_string(s.frame_length));
  if (s.frame_length > len)
    c.fail("frame_length " + std::to_string(s.frame_length) + " is longer than the signal (" + std::to_string(len) + ")");
  s.frames = 1 + (len - s.frame_length) / s.frame_step;
  s.bins = s.onesided ? s.frame_length / 2 + 1 : s.frame_length;
  shape_numel({x.dim(0), s.frames, s.bins, 2});
  return s;
}

void stft_validate(KernelContext& c) {
  if (!c.has(0) || !c.has(1)) return;
  for (int i : {2, 3})
    if (c.node.input_size() > i && !c.node.input(i).empty() && !c.has(i)) return;
  stft_setup(c);
}

template <typename T>
void stft_impl(KernelContext& c, const StftSetup& s) {
  const Tensor& x = c.in(0);
  const int64_t B = x.dim(0), len = x.dim(1), comp = x.dim(2), FL = s.frame_length;
  std::vector<double> window(FL, 1.0);
  if (c.has(2)) {
    const T* w = c.in(2).data<T>();
    for (int64_t k = 0; k < FL; ++k) window[k] = to_double(w[k]);
  }
  Tensor y = Tensor::uninitialized(x.dtype(), {B, s.frames, s.bins, 2});
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  Fft fft(static_cast<size_t>(FL));
  std::vector<cd> buf(FL);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t f = 0; f < s.frames; ++f) {
      const int64_t start = f * s.frame_step;
      for (int64_t k = 0; k < FL; ++k) {
        const T* p = src + (b * len + start + k) * comp;
        buf[k] = cd(to_double(p[0]), comp == 2 ? to_double(p[1]) : 0.0) * window[k];
      }
      fft.run(buf, false);
      T* d = dst + (b * s.frames + f) * s.bins * 2;
      for (int64_t k = 0; k < s.bins; ++k) {
        d[2 * k] = from_double<T>(buf[k].real());
        d[2 * k + 1] = from_double<T>(buf[k].imag());
      }
    }
  c.outputs[0] = std::move(y);
}

void stft(KernelContext& c) {
  const StftSetup s = stft_setup(c);
  c.dispatch_or_fail<FloatTypes>(0, c.in(0).dtype(), [&](auto tag) { stft_impl<typename decltype(tag)::type>(c, s); });
}

// ---- Windows and MelWeightMatrix ----

using WindowTypes = NumericTypes;

DType output_datatype(const KernelContext& c) {
  const int64_t dt = attr_int(c.node, "output_datatype", 1);
  const DType t = static_cast<DType>(dt);
  if (dt < 0 || dt > kMaxDTypeValue || !dispatch<WindowTypes>(t, [](auto) {}))
    c.fail("attribute 'output_datatype': " + std::to_string(dt) + " is not a numeric type the op can produce");
  return t;
}

enum class WindowKind { kHann, kHamming, kBlackman };

void window_validate(KernelContext& c) {
  output_datatype(c);
  const int64_t p = attr_int(c.node, "periodic", 1);
  if (p != 0 && p != 1) c.fail("attribute 'periodic' must be 0 or 1, got " + std::to_string(p));
  if (!c.has(0)) return;
  const int64_t n = scalar_int(c, 0, "size");
  if (n < 0) c.fail("input 'size' must be >= 0, got " + std::to_string(n));
  if (n > (int64_t{1} << 40)) c.fail("input 'size' " + std::to_string(n) + " is too large");
}

template <WindowKind K>
void window_op(KernelContext& c) {
  window_validate(c);
  const DType t = output_datatype(c);
  const bool periodic = attr_int(c.node, "periodic", 1) == 1;
  const int64_t n = scalar_int(c, 0, "size");
  const double N = static_cast<double>(periodic ? n : n - 1);
  Tensor y = Tensor::uninitialized(t, {n});
  dispatch<WindowTypes>(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = y.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      double v;
      {  // a symmetric window of one point divides 0 by 0: NaN, as the reference and onnxruntime
        // the reference's order of operations (integer outputs truncate, so it matters)
        const double di = static_cast<double>(i);
        if (K == WindowKind::kHann) {
          const double sn = std::sin(di * kPi / N);
          v = sn * sn;
        } else if (K == WindowKind::kHamming) {
          const double alpha = 25.0 / 46.0;
          v = alpha - std::cos(di * kPi * 2 / N) * (1 - alpha);
        } else {
          v = std::cos(di * (kPi * 2) / N) * -0.5;
          v += std::cos(di * (kPi * 4) / N) * 0.08;
          v += 0.42;
        }
      }
      o[i] = from_double<T>(v);
    }
  });
  c.outputs[0] = std::move(y);
}

void mel_validate(KernelContext& c) {
  output_datatype(c);
  for (int i = 0; i < 5; ++i)
    if (!c.has(i)) return;
  const int64_t bins = scalar_int(c, 0, "num_mel_bins"), dft_len = scalar_int(c, 1, "dft_length"),
                rate = scalar_int(c, 2, "sample_rate");
  if (bins <= 0) c.fail("input 'num_mel_bins' must be > 0, got " + std::to_string(bins));
  if (dft_len <= 0) c.fail("input 'dft_length' must be > 0, got " + std::to_string(dft_len));
  if (rate <= 0) c.fail("input 'sample_rate' must be > 0, got " + std::to_string(rate));
  if (bins > (int64_t{1} << 24) || dft_len > (int64_t{1} << 30)) c.fail("num_mel_bins or dft_length is too large");
  for (int i : {3, 4}) {
    const Tensor& t = c.in(i);
    if (t.numel() != 1 || !dtype_is_float(t.dtype()))
      c.fail(std::string("input '") + (i == 3 ? "lower_edge_hertz" : "upper_edge_hertz") + "' must be a float scalar");
  }
}

void mel_weight_matrix(KernelContext& c) {
  mel_validate(c);
  const DType t = output_datatype(c);
  const int64_t num_mel = scalar_int(c, 0, "num_mel_bins"), dft_len = scalar_int(c, 1, "dft_length"),
                rate = scalar_int(c, 2, "sample_rate");
  const int64_t spec_bins = dft_len / 2 + 1;
  // The reference's arithmetic: the edge frequencies in their own type (float32 for float
  // inputs), 2595 * log1p(f / 700) in that type, the rest in float64.
  auto mel_of = [&](int i) -> double {
    const Tensor& e = c.in(i);
    if (e.dtype() == DType::kDouble) return 2595 * std::log1p(e.to_doubles()[0] / 700) / std::log(10.0);
    const float f = e.to_floats()[0];
    const float m = 2595.0f * std::log1p(f / 700.0f);
    return static_cast<double>(m) / std::log(10.0);
  };
  const double low_mel = mel_of(3), high_mel = mel_of(4);
  const double mel_step = (high_mel - low_mel) / static_cast<double>(num_mel + 2);
  std::vector<int64_t> edge(num_mel + 2);
  for (int64_t i = 0; i < num_mel + 2; ++i) {
    double f = static_cast<double>(i) * mel_step + low_mel;
    f = 700 * std::expm1(f / 2595 * std::log(10.0));
    const double b = std::floor(static_cast<double>(dft_len + 1) * f / static_cast<double>(rate));
    // the last edge is only an exclusive bound
    const double limit = static_cast<double>(i == num_mel + 1 ? spec_bins + 1 : spec_bins);
    if (!std::isfinite(b) || b < 0 || b >= limit)
      c.fail("the mel band edges fall outside the " + std::to_string(spec_bins) +
             " spectrogram bins (lower_edge_hertz and upper_edge_hertz must lie in [0, sample_rate / 2])");
    edge[i] = static_cast<int64_t>(b);
  }
  std::vector<double> w(static_cast<size_t>(spec_bins * num_mel), 0.0);
  for (int64_t i = 0; i < num_mel; ++i) {
    const int64_t lo = edge[i], mid = edge[i + 1], hi = edge[i + 2];
    const int64_t lo_to_mid = mid - lo;
    if (lo_to_mid == 0) {
      w[mid * num_mel + i] = 1;
    } else {
      for (int64_t j = lo; j <= mid; ++j)
        w[j * num_mel + i] = static_cast<double>(j - lo) / static_cast<double>(lo_to_mid);
    }
    const int64_t mid_to_hi = hi - mid;
    if (mid_to_hi > 0)
      for (int64_t j = mid; j < hi; ++j)
        w[j * num_mel + i] = static_cast<double>(hi - j) / static_cast<double>(mid_to_hi);
  }
  Tensor y = Tensor::uninitialized(t, {spec_bins, num_mel});
  dispatch<WindowTypes>(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = y.data<T>();
    for (size_t k = 0; k < w.size(); ++k) o[k] = from_double<T>(w[k]);
  });
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_signal_ops(OpRegistry& r) {
  r.add("", "DFT", {17, 20}, OpDef{dft, nullptr, dft_validate});
  r.add("", "STFT", {17}, OpDef{stft, nullptr, stft_validate});
  r.add("", "HannWindow", {17}, OpDef{window_op<WindowKind::kHann>, nullptr, window_validate});
  r.add("", "HammingWindow", {17}, OpDef{window_op<WindowKind::kHamming>, nullptr, window_validate});
  r.add("", "BlackmanWindow", {17}, OpDef{window_op<WindowKind::kBlackman>, nullptr, window_validate});
  r.add("", "MelWeightMatrix", {17}, OpDef{mel_weight_matrix, nullptr, mel_validate});
}

}  // namespace qtool
