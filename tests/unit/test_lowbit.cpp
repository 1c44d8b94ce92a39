// SPDX-License-Identifier: Apache-2.0
// Low-bit weights: formats, packing, storage in the graph, GPTQ, int4 tensors, opset 21 upgrade.
#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "calib/hessian.h"
#include "core/parallel.h"
#include "io/onnx_tensor.h"
#include "quant/gptq.h"
#include "quant/pass.h"
#include "quant/quantize_model.h"
#include "quant/weight_format.h"
#include "quant/weight_storage.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

TEST(LowBit, PackUnpackRoundTripsEveryWidthAndOddSizes) {
  std::mt19937 rng(1);
  for (int bits : {1, 2, 4})
    for (int64_t n : {1, 3, 7, 9, 13, 127}) {
      std::vector<int32_t> codes(n);
      for (auto& c : codes) c = static_cast<int32_t>(rng() % (1u << bits));
      auto packed = pack_bits(codes, bits);
      EXPECT_EQ(static_cast<int64_t>(packed.size()), (n * bits + 7) / 8) << bits << " " << n;
      EXPECT_EQ(unpack_bits(packed, bits, n), codes) << bits << " " << n;
    }
  EXPECT_THROW(pack_bits({4}, 2), Error);
}

TEST(LowBit, PackedBytesArePinned) {
  // element e in byte e/(8/b), bits (e % (8/b)) * b upward (least significant first)
  EXPECT_EQ(pack_bits({1, 0, 1, 1, 0, 0, 0, 1, 1}, 1), (std::vector<uint8_t>{0x8D, 0x01}));
  EXPECT_EQ(pack_bits({0, 1, 2, 2, 1}, 2), (std::vector<uint8_t>{0xA4, 0x01}));
  EXPECT_EQ(pack_bits({3, 0xA, 7}, 4), (std::vector<uint8_t>{0xA3, 0x07}));
}

TEST(LowBit, Int4TensorProtoPacksTwoPerByteSignExtended) {
  Tensor t(DType::kInt4, {3});
  auto* v = static_cast<int8_t*>(t.raw());
  v[0] = -8; v[1] = 7; v[2] = -1;
  auto p = tensor_to_proto(t, "w");
  EXPECT_EQ(p.data_type(), 22);
  ASSERT_EQ(p.raw_data().size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(p.raw_data()[0]), 0x78);  // low nibble 8 (-8), high nibble 7
  EXPECT_EQ(static_cast<uint8_t>(p.raw_data()[1]), 0x0F);  // -1, padding nibble 0
  auto back = tensor_from_proto(p);
  EXPECT_EQ(back.to_floats(), (std::vector<float>{-8.f, 7.f, -1.f}));
  Tensor u(DType::kUInt4, {2});
  static_cast<uint8_t*>(u.raw())[0] = 15;
  static_cast<uint8_t*>(u.raw())[1] = 1;
  EXPECT_EQ(tensor_from_proto(tensor_to_proto(u, "u")).to_floats(), (std::vector<float>{15.f, 1.f}));
}

TEST(LowBit, FormatsDecodeToTheirDefinitions) {
  const std::vector<float> w{0.5f, -1.f, 0.1f, -0.05f, 2.f, -0.3f};
  // binary: alpha = mean |w| = 3.95 / 6
  auto bin = make_weight_format("binary", true);
  auto bp = bin->fit(w.data(), 6);
  const float alpha = 3.95f / 6;
  for (float v : w) EXPECT_NEAR(bin->decode(bin->encode(v, bp), bp), v >= 0 ? alpha : -alpha, 1e-6);
  // ternary: delta = 0.7 mean|w| = 0.46; alpha = mean of |w| above it = (0.5 + 1 + 2) / 3
  auto ter = make_weight_format("ternary", true);
  auto tp = ter->fit(w.data(), 6);
  EXPECT_NEAR(tp.threshold, 0.7f * alpha, 1e-6);
  const std::vector<float> want{3.5f / 3, -3.5f / 3, 0, 0, 3.5f / 3, 0};
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(ter->decode(ter->encode(w[i], tp), tp), want[i], 1e-6) << i;
  // int4 symmetric codes stay in [-7, 7]; asymmetric in [0, 15] with an integer zero point
  auto s4 = make_weight_format("int4", true), a4 = make_weight_format("int4", false);
  EXPECT_EQ(s4->code_min(), -7);
  EXPECT_EQ(s4->code_max(), 7);
  auto ap = a4->fit(w.data(), 6);
  EXPECT_EQ(ap.zero, std::round(ap.zero));
  for (float v : w) {
    const int32_t c = a4->encode(v, ap);
    EXPECT_GE(c, 0);
    EXPECT_LE(c, 15);
    EXPECT_LE(std::fabs(a4->decode(c, ap) - v), ap.scale * 0.5f + 1e-6f + (v > 1.f ? v - 1.f : 0.f));
  }
  EXPECT_THROW(make_weight_format("int3", true), InputError);
}

TEST(LowBit, PerGroupScalesFollowTheBlockLayout) {
  // Gemm weight [N=2, K=5] (transB=1), blocks of 2 input channels: scale shape [2, 3]
  Tensor w = Tensor::from<float>({2, 5}, {1, 1, 10, 10, 100, -2, -2, 20, 20, 200});
  auto q = quantize_rtn(w, 0, make_weight_format("int8", true), 2);
  EXPECT_EQ(q.scale.shape(), (Shape{2, 3}));
  auto s = q.scale.to_floats();
  const std::vector<float> want{1.f / 127, 10.f / 127, 100.f / 127, 2.f / 127, 20.f / 127, 200.f / 127};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(s[i], want[i], 1e-7) << i;
  auto d = q.dequantized().to_floats();
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(d[i], w.to_floats()[i], std::fabs(w.to_floats()[i]) / 254 + 1e-6);
  // MatMul weight [K=5, N=2]: blocks along axis 0, scale shape [3, 2]
  auto qm = quantize_rtn(Tensor::from<float>({5, 2}, {1, -2, 1, -2, 10, 20, 10, 20, 100, 200}), 1,
                         make_weight_format("int8", true), 2);
  EXPECT_EQ(qm.scale.shape(), (Shape{3, 2}));
  EXPECT_NEAR(qm.scale.to_floats()[5], 200.f / 127, 1e-6);
}

namespace {

// y = x W^T with x correlated across input channels: where GPTQ's error feedback pays off.
struct Layer {
  Tensor w;
  std::vector<Eigen::MatrixXd> h;
};

Layer correlated_layer(int rows, int k, int samples, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0.f, 1.f);
  Eigen::MatrixXd x(samples, k);
  for (int s = 0; s < samples; ++s) {
    double common = n01(rng);
    for (int j = 0; j < k; ++j) x(s, j) = common + 0.3 * n01(rng) + (j % 5 == 0 ? 2.0 * n01(rng) : 0.0);
  }
  Layer l{test::random_tensor({rows, k}, seed + 1), {2.0 / samples * x.transpose() * x}};
  return l;
}

}  // namespace

TEST(Gptq, BeatsRoundToNearestOnLayerReconstructionError) {
  for (const char* fmt : {"int4", "int2", "ternary"})
    for (int64_t group : {0, 16}) {
      if (group && std::string(fmt) != "int4") continue;
      Layer l = correlated_layer(24, 48, 400, 7);
      std::shared_ptr<const WeightFormat> f = make_weight_format(fmt, false);
      auto rtn = quantize_rtn(l.w, 0, f, group);
      auto gq = quantize_gptq(l.w, 0, f, group, l.h);
      const double e_rtn = layer_error(l.w, rtn.dequantized(), 0, l.h);
      const double e_gptq = layer_error(l.w, gq.dequantized(), 0, l.h);
      EXPECT_LT(e_gptq, 0.8 * e_rtn) << fmt << " group " << group;
      // codes stay on the format's grid
      const int32_t* codes = gq.codes.data<int32_t>();
      for (int64_t i = 0; i < gq.codes.numel(); ++i) {
        EXPECT_GE(codes[i], f->code_min());
        EXPECT_LE(codes[i], f->code_max());
      }
    }
}

TEST(Gptq, InverseHessianFactorIsTheUpperCholeskyFactorOfTheDampedInverse) {
  Layer l = correlated_layer(1, 150, 400, 11);  // K = 150: three column blocks of the triangular inverse
  const Eigen::MatrixXd& h = l.h[0];
  const double damp = 0.01;
  Eigen::MatrixXd hd = h;
  hd.diagonal().array() += damp * h.diagonal().mean();
  const Eigen::MatrixXd u = gptq_inverse_hessian_factor(h, damp);
  // what the GPTQ reference computes: cholesky(inverse(H + damp), upper)
  const Eigen::MatrixXd reference = Eigen::LLT<Eigen::MatrixXd>(hd.inverse()).matrixU();
  EXPECT_LT((u - reference).cwiseAbs().maxCoeff(), 1e-9 * reference.cwiseAbs().maxCoeff());
  EXPECT_TRUE(u.isUpperTriangular());
  EXPECT_LT((u.transpose() * u * hd - Eigen::MatrixXd::Identity(150, 150)).cwiseAbs().maxCoeff(), 1e-8);
  // not positive definite: dampening grows until it is; negative definite beyond any retry throws
  Eigen::MatrixXd indefinite = h;
  indefinite(0, 0) = -1e-3 * h.diagonal().mean();
  EXPECT_TRUE(gptq_inverse_hessian_factor(indefinite, damp).allFinite());
  EXPECT_THROW(gptq_inverse_hessian_factor(-1e6 * h, damp), Error);
}

TEST(Gptq, ConvGroupsUseTheirOwnHessians) {
  // grouped conv, 2 groups of 3 output channels over 4 input channels x 3x3: group g's rows must
  // come out exactly as GPTQ on that group's weights alone with that group's Hessian
  Layer a = correlated_layer(1, 36, 300, 3), b = correlated_layer(1, 36, 300, 4);
  Tensor w = test::random_tensor({6, 4, 3, 3}, 5);
  std::shared_ptr<const WeightFormat> f = make_weight_format("int4", false);
  auto q = quantize_gptq(w, 0, f, 0, {a.h[0], b.h[0]});
  for (int g = 0; g < 2; ++g) {
    Tensor part(DType::kFloat, {3, 4, 3, 3});
    std::copy(w.data<float>() + g * 108, w.data<float>() + (g + 1) * 108, part.data<float>());
    auto alone = quantize_gptq(part, 0, f, 0, {g ? b.h[0] : a.h[0]});
    for (int i = 0; i < 108; ++i) ASSERT_EQ(q.codes.data<int32_t>()[g * 108 + i], alone.codes.data<int32_t>()[i]);
  }
  EXPECT_LT(layer_error(w, q.dequantized(), 0, {a.h[0], b.h[0]}),
            layer_error(w, quantize_rtn(w, 0, f, 0).dequantized(), 0, {a.h[0], b.h[0]}));
  EXPECT_THROW(quantize_gptq(w, 0, f, 0, {a.h[0], b.h[0], a.h[0], b.h[0]}), Error);  // 6 rows, 4 groups
}

TEST(Gptq, FactorsReusedForAnEqualHessianGiveTheSameCodes) {
  // two grouped layers with the same Hessians (2 groups): the second quantized with the first's
  // factors (its own Hessians not passed) gives the codes it gets from the Hessians themselves
  Layer a = correlated_layer(1, 36, 300, 3), b = correlated_layer(1, 36, 300, 4);
  Tensor w1 = test::random_tensor({6, 4, 3, 3}, 5), w2 = test::random_tensor({10, 4, 3, 3}, 6);
  std::shared_ptr<const WeightFormat> f = make_weight_format("int4", false);
  std::vector<GptqFactor> factors;
  (void)quantize_gptq(w1, 0, f, 0, {a.h[0], b.h[0]}, {}, nullptr, &factors);
  ASSERT_EQ(factors.size(), 2u);
  auto direct = quantize_gptq(w2, 0, f, 0, {a.h[0], b.h[0]});
  auto reused = quantize_gptq(w2, 0, f, 0, {}, {}, nullptr, &factors);
  for (int64_t i = 0; i < w2.numel(); ++i) ASSERT_EQ(reused.codes.data<int32_t>()[i], direct.codes.data<int32_t>()[i]);
  std::vector<GptqFactor> wrong(1, factors[0]);
  wrong[0].u = Eigen::MatrixXd::Identity(9, 9);  // 9 columns for a 36-column weight
  wrong[0].order.resize(9);
  EXPECT_THROW(quantize_gptq(w2, 0, f, 0, {}, {}, nullptr, &wrong), Error);
}

TEST(Hessian, ConvIm2colMatchesGemmOnOneByOne) {
  // A 1x1 convolution's patches are the pixels: H equals that of the matching Gemm input.
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[2,3,4,5] x) => (float[2,2,4,5] y) { y = Conv(x, w) })");
  m.graph().mutable_node(0)->set_name("conv");
  m.set_initializer("w", test::random_tensor({2, 3, 1, 1}, 9));
  Tensor x = test::random_tensor({2, 3, 4, 5}, 10);
  auto data = memory_dataset({{"x", x}}, model_input_specs(m), "x");
  auto hs = collect_hessians(m, *data, {"conv"});
  ASSERT_EQ(hs.at("conv").h.size(), 1u);
  Eigen::MatrixXd want = Eigen::MatrixXd::Zero(3, 3);
  const float* p = x.data<float>();
  for (int n = 0; n < 2; ++n)
    for (int s = 0; s < 20; ++s) {
      Eigen::Vector3d v(p[(n * 3 + 0) * 20 + s], p[(n * 3 + 1) * 20 + s], p[(n * 3 + 2) * 20 + s]);
      want += v * v.transpose();
    }
  want *= 2.0 / 40;
  EXPECT_LT((hs.at("conv").h[0] - want).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_EQ(hs.at("conv").rows, 40);
}

TEST(Hessian, ChunkedAcrossThreadsEqualsTheDoubleReference) {
  // a 1x1 convolution over 50 x 80 pixels, K = 96: large enough that the rank update splits the
  // pixels over the thread budget
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[1,96,50,80] x) => (float[1,4,50,80] y) { y = Conv(x, w) })");
  m.graph().mutable_node(0)->set_name("conv");
  m.set_initializer("w", test::random_tensor({4, 96, 1, 1}, 3));
  Tensor x = test::random_tensor({1, 96, 50, 80}, 4);
  auto data = memory_dataset({{"x", x}}, model_input_specs(m), "x");
  Eigen::Map<const Eigen::MatrixXf> pixels(x.data<float>(), 4000, 96);  // (h*w) x channels
  const Eigen::MatrixXd want = pixels.cast<double>().transpose() * pixels.cast<double>() * (2.0 / 4000);
  const int saved = thread_budget();
  for (int threads : {1, 2, 3}) {
    set_thread_budget(threads);
    auto hs = collect_hessians(m, *data, {"conv"});
    EXPECT_EQ(hs.at("conv").rows, 4000) << threads << " threads";
    EXPECT_LT((hs.at("conv").h[0] - want).cwiseAbs().maxCoeff(), 1e-5 * want.cwiseAbs().maxCoeff()) << threads << " threads";
  }
  set_thread_budget(saved);
}

TEST(Hessian, ConvPatchesWithPaddingAndStrideEqualTheReference) {
  // 3x3 convolutions, pads 1: stride 1 over 64 x 64 pixels of 16 channels (K = 144, large enough to
  // split the positions over threads) and stride 2 with dilation 2 (one thread)
  for (int stride : {1, 2}) {
    const int dil = stride == 1 ? 1 : 2, c = 16, hw = 64, pad = dil;
    Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
      g (float[1,16,64,64] x) => (float[1,4,?,?] y) { y = Conv(x, w) })");
    auto* node = m.graph().mutable_node(0);
    node->set_name("conv");
    for (const char* name : {"strides", "pads", "dilations"}) {
      auto* a = node->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::INTS);
      const int v = std::string(name) == "strides" ? stride : std::string(name) == "pads" ? pad : dil;
      for (int k = 0; k < (std::string(name) == "pads" ? 4 : 2); ++k) a->add_ints(v);
    }
    m.set_initializer("w", test::random_tensor({4, c, 3, 3}, 5));
    Tensor x = test::random_tensor({1, c, hw, hw}, 6);
    auto data = memory_dataset({{"x", x}}, model_input_specs(m), "x");
    const int out = (hw + 2 * pad - (2 * dil + 1)) / stride + 1;
    Eigen::MatrixXd want = Eigen::MatrixXd::Zero(c * 9, c * 9);
    Eigen::VectorXd patch(c * 9);
    const float* p = x.data<float>();
    for (int oy = 0; oy < out; ++oy)
      for (int ox = 0; ox < out; ++ox) {
        for (int ic = 0; ic < c; ++ic)
          for (int u = 0; u < 3; ++u)
            for (int v = 0; v < 3; ++v) {
              const int iy = oy * stride - pad + u * dil, ix = ox * stride - pad + v * dil;
              patch[ic * 9 + u * 3 + v] = iy >= 0 && iy < hw && ix >= 0 && ix < hw ? p[(ic * hw + iy) * hw + ix] : 0.0;
            }
        want += patch * patch.transpose();
      }
    want *= 2.0 / (out * out);
    const int saved = thread_budget();
    for (int threads : {1, 2}) {
      set_thread_budget(threads);
      auto hs = collect_hessians(m, *data, {"conv"});
      EXPECT_EQ(hs.at("conv").rows, out * out);
      EXPECT_LT((hs.at("conv").h[0] - want).cwiseAbs().maxCoeff(), 1e-5 * want.cwiseAbs().maxCoeff())
          << "stride " << stride << ", " << threads << " threads";
    }
    set_thread_budget(saved);
  }
}

TEST(Hessian, GroupedAndAsymmetricConvPatchesEqualTheReference) {
  // Each group's H from its own channels' patches, for a depthwise 3x3 with asymmetric pads and
  // strides (groups split over threads) and a dense 3x3 over 50 x 37 pixels whose positions split
  // over 3 threads at chunk borders inside an output row.
  struct Case {
    int c, group, h, w, sh, sw;
    std::vector<int> pads;  // top, left, bottom, right
  };
  for (const Case& k : {Case{48, 48, 23, 37, 1, 2, {1, 1, 2, 0}}, Case{16, 1, 50, 37, 1, 1, {1, 1, 1, 1}}}) {
    Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
      g (float[2,C,H,W] x) => (float[2,M,?,?] y) { y = Conv(x, w) })");
    auto* in = m.graph().mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
    in->mutable_dim(1)->set_dim_value(k.c);
    in->mutable_dim(2)->set_dim_value(k.h);
    in->mutable_dim(3)->set_dim_value(k.w);
    auto* node = m.graph().mutable_node(0);
    node->set_name("conv");
    auto ints = [&](const char* name, std::vector<int> v) {
      auto* a = node->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::INTS);
      for (int e : v) a->add_ints(e);
    };
    ints("strides", {k.sh, k.sw});
    ints("pads", {k.pads[0], k.pads[1], k.pads[2], k.pads[3]});
    auto* grp = node->add_attribute();
    grp->set_name("group");
    grp->set_type(onnx::AttributeProto::INT);
    grp->set_i(k.group);
    const int cg = k.c / k.group;
    m.set_initializer("w", test::random_tensor({k.group * 2, cg, 3, 3}, 5));
    Tensor x = test::random_tensor({2, k.c, k.h, k.w}, 6);
    auto data = memory_dataset({{"x", x}}, model_input_specs(m), "x");
    const int oh = (k.h + k.pads[0] + k.pads[2] - 3) / k.sh + 1, ow = (k.w + k.pads[1] + k.pads[3] - 3) / k.sw + 1;
    std::vector<Eigen::MatrixXd> want(k.group, Eigen::MatrixXd::Zero(cg * 9, cg * 9));
    Eigen::VectorXd patch(cg * 9);
    const float* p = x.data<float>();
    for (int n = 0; n < 2; ++n)
      for (int g = 0; g < k.group; ++g)
        for (int oy = 0; oy < oh; ++oy)
          for (int ox = 0; ox < ow; ++ox) {
            for (int ic = 0; ic < cg; ++ic)
              for (int u = 0; u < 3; ++u)
                for (int v = 0; v < 3; ++v) {
                  const int iy = oy * k.sh - k.pads[0] + u, ix = ox * k.sw - k.pads[1] + v;
                  const bool in_plane = iy >= 0 && iy < k.h && ix >= 0 && ix < k.w;
                  patch[ic * 9 + u * 3 + v] = in_plane ? p[((n * k.c + g * cg + ic) * k.h + iy) * k.w + ix] : 0.0;
                }
            want[g] += patch * patch.transpose();
          }
    const int saved = thread_budget();
    for (int threads : {1, 2, 3}) {
      set_thread_budget(threads);
      auto hs = collect_hessians(m, *data, {"conv"});
      ASSERT_EQ(hs.at("conv").h.size(), static_cast<size_t>(k.group));
      EXPECT_EQ(hs.at("conv").rows, 2 * oh * ow);
      for (int g = 0; g < k.group; ++g) {
        const Eigen::MatrixXd expect = want[g] * (2.0 / (2 * oh * ow));
        EXPECT_LT((hs.at("conv").h[g] - expect).cwiseAbs().maxCoeff(), 1e-5 * expect.cwiseAbs().maxCoeff())
            << "group " << g << " of " << k.group << ", " << threads << " threads";
      }
    }
    set_thread_budget(saved);
  }
}

TEST(Hessian, LayersOnOneInputShareOnlyWhenTheirPatchesAgree) {
  // a and b read x through the same 3x3 window (pads 1): one Hessian serves both; c reads it without
  // padding and d through a 1x1 window: their own. Each equals that layer's Hessian collected alone.
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[2,4,9,11] x) => (float[2,3,9,11] ya, float[2,5,9,11] yb, float[2,3,7,9] yc, float[2,2,9,11] yd) {
      ya = Conv <pads = [1, 1, 1, 1]> (x, wa)
      yb = Conv <pads = [1, 1, 1, 1]> (x, wb)
      yc = Conv (x, wc)
      yd = Conv (x, wd)
    })");
  const char* names[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; ++i) m.graph().mutable_node(i)->set_name(names[i]);
  m.set_initializer("wa", test::random_tensor({3, 4, 3, 3}, 1));
  m.set_initializer("wb", test::random_tensor({5, 4, 3, 3}, 2));
  m.set_initializer("wc", test::random_tensor({3, 4, 3, 3}, 3));
  m.set_initializer("wd", test::random_tensor({2, 4, 1, 1}, 4));
  auto data = memory_dataset({{"x", test::random_tensor({2, 4, 9, 11}, 5)}}, model_input_specs(m), "x");
  auto joint = collect_hessians(m, *data, {"a", "b", "c", "d"});
  for (const char* name : names) {
    auto alone = collect_hessians(m, *data, {name});
    ASSERT_EQ(joint.at(name).h.size(), 1u) << name;
    EXPECT_EQ(joint.at(name).rows, alone.at(name).rows) << name;
    EXPECT_EQ(joint.at(name).h[0], alone.at(name).h[0]) << name;
  }
  EXPECT_EQ(joint.at("a").h[0].rows(), 36);
  EXPECT_EQ(joint.at("d").h[0].rows(), 4);
}

TEST(LowBit, StoredWeightsDecodeExactlyInTheExecutor) {
  // Every storage path: the executor's output equals x W_q^T computed from the quantizer's own decode.
  const std::vector<WeightSpec> specs = {{"int8", true, 0},  {"int4", true, 0},    {"int4", false, 0},
                                         {"int4", false, 16}, {"int8", true, 16},  {"int2", false, 0},
                                         {"binary", true, 0}, {"ternary", true, 0}, {"fp16", true, 0},
                                         {"bf16", true, 0}};
  for (const auto& spec : specs) {
    Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
      g (float[3,37] x) => (float[3,6] y) { y = Gemm<transB = 1>(x, w) })");
    m.graph().mutable_node(0)->set_name("fc");
    Tensor w = test::random_tensor({6, 37}, 11);
    m.set_initializer("w", w);
    PassContext ctx;
    ctx.options.weights = spec;
    ctx.options.target_opset = spec.format == "int4" || spec.group_size ? 21 : 13;
    Model q = quantize_prepared(prepare_for_quantization(m, ctx), ctx);
    EXPECT_EQ(ctx.stats.weights_quantized, 1) << spec.key();
    Tensor x = test::random_tensor({3, 37}, 12);
    auto y = Executor(q).run({{"x", x}}).at("y").to_floats();
    Tensor wq;
    if (spec.format == "fp16" || spec.format == "bf16")
      wq = w.cast(spec.format == "fp16" ? DType::kFloat16 : DType::kBFloat16).cast(DType::kFloat);
    else
      wq = quantize_rtn(w, 0, make_weight_format(spec.format, spec.symmetric), spec.group_size).dequantized();
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 6; ++c) {
        double acc = 0;
        for (int k = 0; k < 37; ++k) acc += x.data<float>()[r * 37 + k] * wq.data<float>()[c * 37 + k];
        EXPECT_NEAR(y[r * 6 + c], acc, 1e-4) << spec.key();
      }
  }
}

TEST(LowBit, MatMulNBitsDecodesExactlyWithPaddedBlocksAndBias) {
  for (bool sym : {true, false})
    for (bool gemm : {true, false}) {
      // K = 37 is not a multiple of the block (16): the last block is padded
      Model m = gemm ? test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
          g (float[3,37] x) => (float[3,6] y) { y = Gemm<transB = 1>(x, w, b) })")
                     : test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
          g (float[3,37] x) => (float[3,6] y) { y = MatMul(x, w) })");
      m.graph().mutable_node(0)->set_name("fc");
      Tensor w = test::random_tensor(gemm ? Shape{6, 37} : Shape{37, 6}, 21);
      Tensor b = test::random_tensor({6}, 22);
      m.set_initializer("w", w);
      if (gemm) m.set_initializer("b", b);
      PassContext ctx;
      ctx.options.weights = {"int4", sym, 16};
      ctx.options.matmulnbits = true;
      ctx.options.target_opset = 21;
      Model q = quantize_prepared(prepare_for_quantization(m, ctx), ctx);
      bool found = false;
      for (const auto& n : q.graph().node()) found |= n.op_type() == "MatMulNBits" && n.domain() == "com.microsoft";
      ASSERT_TRUE(found);
      Tensor x = test::random_tensor({3, 37}, 23);
      auto y = Executor(q).run({{"x", x}}).at("y").to_floats();
      Tensor wq = quantize_rtn(w, gemm ? 0 : 1, make_weight_format("int4", sym), 16).dequantized();
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 6; ++c) {
          double acc = gemm ? b.data<float>()[c] : 0.0;
          for (int k = 0; k < 37; ++k)
            acc += x.data<float>()[r * 37 + k] * wq.data<float>()[gemm ? c * 37 + k : k * 6 + c];
          EXPECT_NEAR(y[r * 6 + c], acc, 1e-4) << sym << gemm;
        }
    }
}

TEST(UpgradeOpset, ReduceAxesBecomeInputsAt18) {
  Model m = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,3,4] x) => (float[2,1,4] y) { y = ReduceMax<axes = [1], keepdims = 1>(x) })");
  Tensor x = test::random_tensor({2, 3, 4}, 13);
  auto before = Executor(m).run({{"x", x}}).at("y").to_floats();
  PassContext ctx;
  ctx.options.target_opset = 21;
  run_pass("upgrade_opset", m, ctx);
  EXPECT_EQ(m.opset(), 21);
  EXPECT_GE(m.proto.ir_version(), 10);
  ASSERT_EQ(m.graph().node(0).input_size(), 2);
  EXPECT_EQ(m.graph().node(0).attribute_size(), 1);  // keepdims only
  EXPECT_EQ(Executor(m).run({{"x", x}}).at("y").to_floats(), before);
}
