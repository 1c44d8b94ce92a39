// SPDX-License-Identifier: Apache-2.0
// DFT / STFT / windows / MelWeightMatrix (runtime/kernels/signal.cpp): the FFT against a direct
// O(n^2) DFT for power-of-two and other (Bluestein) lengths, round trips (inverse, IRFFT), the
// axis as attribute (17) and input (20), STFT frames, window values, the mel matrix, bad inputs.
#include <complex>

#include "../kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

using cd = std::complex<double>;

// Direct DFT of x[n] (complex) with n_fft points (zero-padded / truncated).
std::vector<cd> direct_dft(const std::vector<cd>& x, int64_t n_fft, bool inverse) {
  std::vector<cd> out(n_fft);
  const double sign = inverse ? 1 : -1;
  for (int64_t k = 0; k < n_fft; ++k) {
    cd acc = 0;
    for (int64_t j = 0; j < n_fft && j < static_cast<int64_t>(x.size()); ++j)
      acc += x[j] * std::polar(1.0, sign * 2 * M_PI * static_cast<double>((k * j) % n_fft) / n_fft);
    out[k] = inverse ? acc / static_cast<double>(n_fft) : acc;
  }
  return out;
}

onnx::NodeProto dft_node(int64_t inverse, int64_t onesided, int num_inputs) {
  auto n = make_node("DFT", num_inputs, 1);
  set_attr(n, "inverse", inverse);
  set_attr(n, "onesided", onesided);
  return n;
}

}  // namespace

TEST(DftKernel, MatchesDirectDftForAnyLength) {
  for (int64_t len : {1, 2, 7, 13, 16, 64, 100, 127}) {
    SCOPED_TRACE("length " + std::to_string(len));
    const Tensor x = random_tensor_of(DType::kDouble, {3, len, 2}, static_cast<uint32_t>(len));
    const auto xv = x.to_doubles();
    for (int64_t inverse : {0, 1}) {
      auto n = dft_node(inverse, 0, 1);
      const auto y = run_op(n, 20, {x}, true)[0].tensor().to_doubles();
      for (int64_t b = 0; b < 3; ++b) {
        std::vector<cd> sig(len);
        for (int64_t j = 0; j < len; ++j) sig[j] = cd(xv[(b * len + j) * 2], xv[(b * len + j) * 2 + 1]);
        const auto want = direct_dft(sig, len, inverse);
        for (int64_t k = 0; k < len; ++k) {
          ASSERT_NEAR(y[(b * len + k) * 2], want[k].real(), 1e-9 * len);
          ASSERT_NEAR(y[(b * len + k) * 2 + 1], want[k].imag(), 1e-9 * len);
        }
      }
    }
  }
}

TEST(DftKernel, RfftIrfftRoundTripAndPaddedLength) {
  for (int64_t len : {8, 9, 13}) {
    SCOPED_TRACE("length " + std::to_string(len));
    const Tensor x = random_tensor_of(DType::kFloat, {2, len, 1}, 7);
    auto r = dft_node(0, 1, 1);
    const Tensor spec = run_op(r, 20, {x}, true)[0].tensor();
    EXPECT_EQ(spec.shape(), (Shape{2, len / 2 + 1, 2}));
    auto ir = dft_node(1, 1, 2);
    const Tensor back = run_op(ir, 20, {spec, Tensor::from<int64_t>({}, {len})}, true)[0].tensor();
    ASSERT_EQ(back.shape(), (Shape{2, len, 1}));
    expect_tensors_near(back, x, 1e-5, 1e-5);
  }
  // dft_length pads with zeros: a length-3 signal transformed with 8 points
  const Tensor x = Tensor::from<float>({1, 3, 1}, {1, 2, 3});
  auto n = dft_node(0, 0, 2);
  const auto y = run_op(n, 20, {x, Tensor::from<int32_t>({}, {8})}, true)[0].tensor();
  ASSERT_EQ(y.shape(), (Shape{1, 8, 2}));
  const auto want = direct_dft({1, 2, 3}, 8, false);
  const auto got = y.to_doubles();
  for (int k = 0; k < 8; ++k) {
    EXPECT_NEAR(got[2 * k], want[k].real(), 1e-5);
    EXPECT_NEAR(got[2 * k + 1], want[k].imag(), 1e-5);
  }
}

TEST(DftKernel, AxisAttributeAt17AndInputAt20) {
  const Tensor x = random_tensor_of(DType::kFloat, {2, 5, 6, 1}, 3);
  auto v17 = dft_node(0, 0, 1);
  set_attr(v17, "axis", int64_t{2});
  const Tensor a = run_op(v17, 17, {x}, true)[0].tensor();
  auto v20 = dft_node(0, 0, 3);
  v20.set_input(1, "");
  const Tensor b = run_op(v20, 20, {x, Value(), Tensor::from<int64_t>({}, {-2})}, true)[0].tensor();
  EXPECT_EQ(a.shape(), (Shape{2, 5, 6, 2}));
  expect_tensors_near(a, b);
  // the default axis differs: 1 at 17, -2 at 20
  auto d17 = dft_node(0, 0, 1);
  const Tensor c = run_op(d17, 17, {x}, true)[0].tensor();
  auto d17b = dft_node(0, 0, 1);
  set_attr(d17b, "axis", int64_t{1});
  expect_tensors_near(run_op(d17b, 17, {x}, true)[0].tensor(), c);
  EXPECT_NO_THROW(run_op(d17, 20, {x}, true));
}

TEST(DftKernel, InvalidInputsAreInputErrors) {
  const Tensor x = random_tensor_of(DType::kFloat, {2, 5, 1}, 3);
  auto n = dft_node(0, 0, 1);
  set_attr(n, "axis", int64_t{-1});  // the complex axis
  EXPECT_THROW(run_op(n, 17, {x}, true), InputError);
  auto m = dft_node(0, 0, 2);
  EXPECT_THROW(run_op(m, 20, {x, Tensor::from<int64_t>({}, {0})}, true), InputError);
  EXPECT_THROW(run_op(m, 20, {x, Tensor::from<int64_t>({2}, {4, 4})}, true), InputError);
  auto k = dft_node(0, 0, 1);
  EXPECT_THROW(run_op(k, 20, {random_tensor_of(DType::kFloat, {2, 5, 3}, 1)}, true), InputError);  // last dim 3
  EXPECT_THROW(run_op(k, 20, {random_tensor_of(DType::kInt32, {2, 5, 1}, 1)}, true), InputError);
  auto bad = dft_node(2, 0, 1);
  EXPECT_THROW(run_op(bad, 20, {x}, true), InputError);
}

TEST(StftKernel, FramesAreWindowedDfts) {
  const int64_t len = 20, fl = 6, step = 4;
  const Tensor x = random_tensor_of(DType::kFloat, {2, len, 1}, 9);
  std::vector<float> w(fl);
  for (int64_t i = 0; i < fl; ++i) w[i] = 0.5f + 0.1f * static_cast<float>(i);
  auto n = make_node("STFT", 4, 1);
  const auto y = run_op(n, 17, {x, Tensor::from<int64_t>({}, {step}), Tensor::from<float>({fl}, w),
                                Tensor::from<int64_t>({}, {fl})}, true)[0].tensor();
  const int64_t frames = 1 + (len - fl) / step, bins = fl / 2 + 1;
  ASSERT_EQ(y.shape(), (Shape{2, frames, bins, 2}));
  const auto xv = x.to_doubles(), yv = y.to_doubles();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      std::vector<cd> frame(fl);
      for (int64_t i = 0; i < fl; ++i) frame[i] = xv[b * len + f * step + i] * static_cast<double>(w[i]);
      const auto want = direct_dft(frame, fl, false);
      for (int64_t k = 0; k < bins; ++k) {
        EXPECT_NEAR(yv[((b * frames + f) * bins + k) * 2], want[k].real(), 1e-5);
        EXPECT_NEAR(yv[((b * frames + f) * bins + k) * 2 + 1], want[k].imag(), 1e-5);
      }
    }
  // the frame length defaults to the window's length; two-sided output keeps every bin
  auto two = make_node("STFT", 3, 1);
  set_attr(two, "onesided", int64_t{0});
  EXPECT_EQ(run_op(two, 17, {x, Tensor::from<int64_t>({}, {step}), Tensor::from<float>({fl}, w)}, true)[0].tensor().shape(),
            (Shape{2, frames, fl, 2}));
}

TEST(StftKernel, InvalidInputsAreInputErrors) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 10, 1}, 9);
  auto n = make_node("STFT", 4, 1);
  const auto step = Tensor::from<int64_t>({}, {2});
  EXPECT_THROW(run_op(n, 17, {x, step, Tensor::from<float>({3}, {1, 1, 1}), Tensor::from<int64_t>({}, {4})}, true),
               InputError);  // window length != frame_length
  EXPECT_THROW(run_op(n, 17, {x, step, Value(), Tensor::from<int64_t>({}, {11})}, true), InputError);  // longer
  EXPECT_THROW(run_op(n, 17, {x, Tensor::from<int64_t>({}, {0}), Value(), Tensor::from<int64_t>({}, {4})}, true),
               InputError);  // zero step
  EXPECT_THROW(run_op(n, 17, {random_tensor_of(DType::kFloat, {10, 1}, 1), step, Value(), Value()}, true), InputError);
}

TEST(WindowKernels, ValuesAndTypes) {
  auto hann = make_node("HannWindow", 1, 1);
  const auto h = run_op(hann, 17, {Tensor::from<int32_t>({}, {4})}, true)[0].tensor().to_doubles();
  const std::vector<double> hw = {0, 0.5, 1, 0.5};  // periodic: sin^2(pi n / 4)
  for (size_t i = 0; i < hw.size(); ++i) EXPECT_NEAR(h[i], hw[i], 1e-7);
  auto ham = make_node("HammingWindow", 1, 1);
  set_attr(ham, "periodic", int64_t{0});
  set_attr(ham, "output_datatype", int64_t{11});
  const Tensor hm = run_op(ham, 17, {Tensor::from<int64_t>({}, {3})}, true)[0].tensor();
  EXPECT_EQ(hm.dtype(), DType::kDouble);
  const double a = 25.0 / 46.0;
  EXPECT_EQ(hm.to_doubles(), (std::vector<double>{a - (1 - a), 1.0, a - (1 - a)}));
  auto bl = make_node("BlackmanWindow", 1, 1);
  set_attr(bl, "periodic", int64_t{0});
  const auto b = run_op(bl, 17, {Tensor::from<int64_t>({}, {5})}, true)[0].tensor().to_doubles();
  EXPECT_NEAR(b[0], 0, 1e-7);
  EXPECT_NEAR(b[2], 1, 1e-6);
  EXPECT_NEAR(b[1], 0.34, 1e-6);  // 0.42 - 0.5 cos(pi/2) + 0.08 cos(pi)
  // integer output truncates: only the peak of a symmetric Hann window is 1
  auto hi = make_node("HannWindow", 1, 1);
  set_attr(hi, "periodic", int64_t{0});
  set_attr(hi, "output_datatype", int64_t{6});
  EXPECT_EQ(run_op(hi, 17, {Tensor::from<int64_t>({}, {5})}, true)[0].tensor().to_int64s(),
            (std::vector<int64_t>{0, 0, 1, 0, 0}));
  EXPECT_EQ(run_op(hann, 17, {Tensor::from<int64_t>({}, {0})}, true)[0].tensor().numel(), 0);
  EXPECT_THROW(run_op(hann, 17, {Tensor::from<int64_t>({}, {-1})}, true), InputError);
  auto bad = make_node("HannWindow", 1, 1);
  set_attr(bad, "output_datatype", int64_t{8});  // string
  EXPECT_THROW(run_op(bad, 17, {Tensor::from<int64_t>({}, {4})}, true), InputError);
}

TEST(MelWeightMatrixKernel, ValuesAndBounds) {
  auto n = make_node("MelWeightMatrix", 5, 1);
  // the node suite's case: 8 bins, DFT 16, 8192 Hz, 0..4096 Hz
  const std::vector<Value> in = {Tensor::from<int32_t>({}, {8}), Tensor::from<int32_t>({}, {16}),
                                 Tensor::from<int32_t>({}, {8192}), Tensor::from<float>({}, {0.f}),
                                 Tensor::from<float>({}, {4096.f})};
  const Tensor m = run_op(n, 17, in, true)[0].tensor();
  ASSERT_EQ(m.shape(), (Shape{9, 8}));
  std::vector<float> want(72, 0.f);
  for (auto [r, c] : std::vector<std::pair<int, int>>{{0, 0}, {0, 1}, {1, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6}, {5, 7}})
    want[r * 8 + c] = 1;
  EXPECT_EQ(m.to_floats(), want);
  // an upper edge above the Nyquist frequency would index past the spectrogram
  std::vector<Value> bad = in;
  bad[4] = Tensor::from<float>({}, {9000.f});
  EXPECT_THROW(run_op(n, 17, bad, true), InputError);
  bad = in;
  bad[0] = Tensor::from<int32_t>({}, {0});
  EXPECT_THROW(run_op(n, 17, bad, true), InputError);
}
