// SPDX-License-Identifier: Apache-2.0
// Convolution and pooling family: oneDNN fast kernels against the plain reference kernels (odd
// shapes 1 / 13 / 127 channels, 1-D / 2-D / 3-D, fixed seeds; the fast kernel is asserted to have
// run), reference kernels against independent hand computations, version-specific behaviour,
// integer convolutions bit-exact, and invalid attributes -> InputError.
#include <gtest/gtest.h>

#include <cmath>

#include "../kernel_test_util.h"
#include "../test_util.h"
#include "runtime/executor.h"
#include "runtime/op_registry.h"

using namespace qtool;
using namespace qtool::test;

namespace {

// Runs only the optimized kernel (after the validator) and fails the test when it declines.
std::vector<Value> run_fast_only(const onnx::NodeProto& n, int opset, const std::vector<Value>& inputs) {
  auto m = OpRegistry::instance().find(n.domain(), n.op_type(), opset);
  EXPECT_NE(m.def, nullptr);
  EXPECT_NE(m.def->fast, nullptr);
  KernelContext ctx(n, opset, m.version);
  for (const auto& v : inputs) ctx.inputs.push_back(v.present() ? &v : nullptr);
  ctx.outputs.resize(n.output_size());
  if (m.def->validate) m.def->validate(ctx);
  const bool done = m.def->fast(ctx);
  EXPECT_TRUE(done) << n.op_type() << ": the fast kernel declined";
  return std::move(ctx.outputs);
}

// Fast (asserted to run) vs reference.
void expect_fast_ran_and_matches(const onnx::NodeProto& n, int opset, const std::vector<Value>& inputs,
                                 double rtol = 1e-4, double atol = 1e-4) {
  const auto fast = run_fast_only(n, opset, inputs);
  const auto ref = run_op(n, opset, inputs, true);
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    if (!ref[i].present()) continue;
    expect_tensors_near(fast[i].tensor(), ref[i].tensor(), rtol, atol);
  }
}

Tensor ref_run(const onnx::NodeProto& n, int opset, const std::vector<Value>& inputs, size_t out = 0) {
  return run_op(n, opset, inputs, true).at(out).tensor();
}

// Naive 2-D float convolution, written independently of the kernels (NCHW, OIHW, groups).
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group, std::vector<int64_t> s,
                    std::vector<int64_t> p, std::vector<int64_t> d) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = (h + p[0] + p[2] - d[0] * (kh - 1) - 1) / s[0] + 1;
  const int64_t ow = (wd + p[1] + p[3] - d[1] * (kw - 1) - 1) / s[1] + 1;
  Tensor y(DType::kFloat, {n, o, oh, ow});
  const auto xv = x.to_doubles(), wv = w.to_doubles();
  const int64_t cg = c / group, og = o / group;
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b ? b->to_doubles()[oc] : 0.0;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t yy = i * s[0] - p[0] + u * d[0], xx = j * s[1] - p[1] + v * d[1];
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                acc += xv[((b0 * c + (oc / og) * cg + ic) * h + yy) * wd + xx] * wv[((oc * cg + ic) * kh + u) * kw + v];
              }
          y.data<float>()[((b0 * o + oc) * oh + i) * ow + j] = static_cast<float>(acc);
        }
  return y;
}

onnx::NodeProto conv_node(const std::string& op, int inputs, int64_t group, const std::vector<int64_t>& strides,
                          const std::vector<int64_t>& pads, const std::vector<int64_t>& dil) {
  auto n = make_node(op, inputs, 1);
  set_attr(n, "group", group);
  if (!strides.empty()) set_attr(n, "strides", strides);
  if (!pads.empty()) set_attr(n, "pads", pads);
  if (!dil.empty()) set_attr(n, "dilations", dil);
  return n;
}

}  // namespace

// ---------------------------------------------------------------- Conv

struct ConvParam {
  Shape x;  // N, C, spatial...
  int64_t m, group;
  std::vector<int64_t> k, s, p, d;
  const char* auto_pad;
};
void PrintTo(const ConvParam& q, std::ostream* os) {
  *os << "x=" << dims(q.x) << " m=" << q.m << " group=" << q.group << " k=" << dims(q.k) << " s=" << dims(q.s)
      << " p=" << dims(q.p) << " d=" << dims(q.d) << " auto_pad=" << (q.auto_pad ? q.auto_pad : "-");
}

class ConvFastVsReference : public ::testing::TestWithParam<ConvParam> {};

TEST_P(ConvFastVsReference, Matches) {
  const ConvParam q = GetParam();
  auto n = conv_node("Conv", 3, q.group, q.s, q.p, q.d);
  if (q.auto_pad) set_attr(n, "auto_pad", std::string(q.auto_pad));
  Shape ws{q.m, q.x[1] / q.group};
  for (auto k : q.k) ws.push_back(k);
  const Tensor x = random_tensor_of(DType::kFloat, q.x, 1), w = random_tensor_of(DType::kFloat, ws, 13);
  const Tensor b = random_tensor_of(DType::kFloat, {q.m}, 127);
  expect_fast_ran_and_matches(n, 22, {x, w, b});
  expect_fast_ran_and_matches(n, 11, {x, w, Value()});
  // float16 / bfloat16 through float32 copies: one rounding of the result apart at most
  expect_fast_ran_and_matches(n, 11, {x.cast(DType::kFloat16), w.cast(DType::kFloat16), b.cast(DType::kFloat16)}, 2e-3,
                              2e-3);
  expect_fast_ran_and_matches(n, 22, {x.cast(DType::kBFloat16), w.cast(DType::kBFloat16), Value()}, 1e-2, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvFastVsReference,
    ::testing::Values(ConvParam{{1, 1, 13}, 1, 1, {3}, {1}, {1, 1}, {1}, nullptr},                       // 1-D
                      ConvParam{{2, 13, 17}, 7, 1, {5}, {2}, {0, 3}, {2}, nullptr},                     // 1-D asym
                      ConvParam{{1, 13, 9, 11}, 13, 13, {3, 3}, {1, 2}, {1, 0, 2, 1}, {1, 1}, nullptr},  // depthwise
                      ConvParam{{1, 127, 5, 6}, 3, 1, {3, 2}, {2, 1}, {1, 1, 1, 1}, {1, 2}, nullptr},
                      ConvParam{{2, 6, 7, 8}, 4, 2, {3, 3}, {1, 1}, {}, {2, 2}, "SAME_UPPER"},
                      ConvParam{{1, 4, 8, 7}, 6, 2, {2, 3}, {2, 3}, {}, {1, 1}, "SAME_LOWER"},
                      ConvParam{{1, 3, 9, 9}, 5, 1, {4, 4}, {2, 2}, {}, {1, 1}, "VALID"},
                      ConvParam{{1, 13, 5, 6, 7}, 4, 1, {3, 2, 3}, {1, 2, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 2}, nullptr},
                      ConvParam{{2, 1, 4, 5, 3}, 1, 1, {1, 1, 1}, {1, 1, 1}, {}, {}, nullptr}));

TEST(ConvPool, ConvReferenceMatchesNaive) {
  auto n = conv_node("Conv", 3, 2, {2, 1}, {1, 0, 2, 1}, {1, 2});
  const Tensor x = random_tensor_of(DType::kFloat, {2, 4, 9, 8}, 3), w = random_tensor_of(DType::kFloat, {6, 2, 3, 2}, 4);
  const Tensor b = random_tensor_of(DType::kFloat, {6}, 5);
  expect_tensors_near(ref_run(n, 13, {x, w, b}), naive_conv2d(x, w, &b, 2, {2, 1}, {1, 0, 2, 1}, {1, 2}), 1e-5, 1e-5);
}

TEST(ConvPool, ConvReferenceOtherFloatTypes) {
  auto n = conv_node("Conv", 3, 1, {1, 1}, {1, 1, 1, 1}, {});
  const Tensor x = random_tensor_of(DType::kFloat, {1, 3, 5, 5}, 6), w = random_tensor_of(DType::kFloat, {2, 3, 3, 3}, 7);
  const Tensor b = random_tensor_of(DType::kFloat, {2}, 8);
  const Tensor want = naive_conv2d(x, w, &b, 1, {1, 1}, {1, 1, 1, 1}, {1, 1});
  for (DType t : {DType::kDouble, DType::kFloat16, DType::kBFloat16}) {
    const Tensor y = ref_run(n, 22, {x.cast(t), w.cast(t), b.cast(t)});
    EXPECT_EQ(y.dtype(), t);
    const double tol = t == DType::kDouble ? 1e-6 : (t == DType::kFloat16 ? 1e-2 : 6e-2);
    expect_tensors_near(y.cast(DType::kFloat), want, tol, tol);
  }
}

TEST(ConvPool, ConvFourSpatialAxesFallsBackToReference) {
  auto n = make_node("Conv", 2, 1);
  const Tensor x = random_tensor_of(DType::kFloat, {1, 2, 3, 3, 3, 3}, 9), w = random_tensor_of(DType::kFloat, {1, 2, 2, 2, 2, 2}, 10);
  const Tensor y = run_op(n, 13, {x, w}, false).at(0).tensor();
  ASSERT_EQ(y.shape(), (Shape{1, 1, 2, 2, 2, 2}));
  // one output by hand: the window at the origin
  double acc = 0;
  const auto xv = x.to_doubles(), wv = w.to_doubles();
  for (int c = 0; c < 2; ++c)
    for (int a = 0; a < 2; ++a)
      for (int b2 = 0; b2 < 2; ++b2)
        for (int e = 0; e < 2; ++e)
          for (int f = 0; f < 2; ++f)
            acc += xv[c * 81 + a * 27 + b2 * 9 + e * 3 + f] * wv[c * 16 + a * 8 + b2 * 4 + e * 2 + f];
  EXPECT_NEAR(y.to_doubles()[0], acc, 1e-5);
}

// A ViT's patch embedding (kernel = stride = 16, plain in and out): oneDNN has only im2col + GEMM
// on NCHW, so the fast kernel reorders into its direct kernel's layout and back; equal to the
// reference.
TEST(ConvPool, PatchEmbeddingConvMatchesReference) {
  auto n = make_node("Conv", 3, 1);
  set_attr(n, "strides", std::vector<int64_t>{16, 16});
  expect_fast_ran_and_matches(n, 13, {random_tensor_of(DType::kFloat, {2, 3, 32, 48}, 81),
                                      random_tensor_of(DType::kFloat, {48, 3, 16, 16}, 82, -0.1, 0.1),
                                      random_tensor_of(DType::kFloat, {48}, 83)});
}

TEST(ConvPool, ConvInvalidAttributes) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 4, 5, 5}, 1), w = random_tensor_of(DType::kFloat, {6, 2, 3, 3}, 2);
  auto bad = [&](const std::function<void(onnx::NodeProto&)>& set, std::vector<Value> in, const std::string& attr) {
    auto n = make_node("Conv", static_cast<int>(in.size()), 1);
    set(n);
    try {
      run_op(n, 13, in, false);
      ADD_FAILURE() << "no error for " << attr;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(attr), std::string::npos) << e.what();
    }
  };
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "pads", std::vector<int64_t>{1, 1}); }, {x, w}, "'pads'");
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "strides", std::vector<int64_t>{1, 0}); }, {x, w}, "'strides'");
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "dilations", std::vector<int64_t>{0, 1}); }, {x, w}, "'dilations'");
  bad([](auto& n) { set_attr(n, "group", int64_t{4}); }, {x, w}, "'group'");  // 6 output channels
  bad([](auto& n) { set_attr(n, "group", int64_t{3}); }, {x, w}, "'group'");  // C = 4 != 2 * 3
  bad([](auto& n) { set_attr(n, "group", int64_t{0}); }, {x, w}, "'group'");
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "kernel_shape", std::vector<int64_t>{2, 2}); }, {x, w},
      "'kernel_shape'");
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "dilations", std::vector<int64_t>{3, 3}); }, {x, w},
      "'kernel_shape'");  // dilated kernel 7 > 5
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "auto_pad", std::string("SAME")); }, {x, w}, "'auto_pad'");
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); }, {x, w, random_tensor_of(DType::kFloat, {5}, 3)}, "input B");
  bad([](auto& n) { set_attr(n, "group", int64_t{2}); set_attr(n, "pads", std::vector<int64_t>{-1, 0, 0, 0}); }, {x, w},
      "'pads'");
}

TEST(ConvPool, ConvBlockedLayoutThroughPoolingEqualsPlain) {
  // Conv -> MaxPool -> Conv -> AveragePool -> GlobalAveragePool: pooling reads and writes blocked tensors
  Model m = parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,16,13,11] x) => (float[2,32,1,1] y) {
      a = Conv<pads = [1,1,1,1]>(x, w1, b1)
      r = Relu(a)
      p = MaxPool<kernel_shape = [3,3], strides = [2,2], pads = [1,1,1,1]>(r)
      c = Conv<pads = [1,1,1,1]>(p, w2)
      q = AveragePool<kernel_shape = [2,2], strides = [2,2], ceil_mode = 1>(c)
      y = GlobalAveragePool(q)
    })");
  m.set_initializer("w1", random_tensor({16, 16, 3, 3}, 21, -0.3f, 0.3f));
  m.set_initializer("b1", random_tensor({16}, 22));
  m.set_initializer("w2", random_tensor({32, 16, 3, 3}, 23, -0.3f, 0.3f));
  const Tensor x = random_tensor({2, 16, 13, 11}, 24);
  Executor fast(m);
  Executor plain(m, ExecutorOptions{false, false});
  const Tensor want = plain.run({{"x", x}}).at("y");
  for (int rep = 0; rep < 2; ++rep) {
    const Tensor got = fast.run({{"x", x}}).at("y");
    EXPECT_EQ(got.layout(), nullptr);
    expect_tensors_near(got, want, 1e-4, 1e-5);
  }
}

namespace {

// y = Conv(x, w, b) with constant w and b (as the executor sees a model's weights), x of `xs`.
struct ConvCase {
  Shape x, w;
  std::vector<int64_t> pads, dil, strides;
  int64_t group;
};

Model single_conv(const ConvCase& k, uint32_t seed) {
  Model m = parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[N,C,H] x) => (float[N,M,H] y) {
      y = Conv(x, w, b)
    })");
  auto* node = m.proto.mutable_graph()->mutable_node(0);
  auto ints = [&](const char* name, const std::vector<int64_t>& v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t i : v) a->add_ints(i);
  };
  ints("pads", k.pads);
  ints("dilations", k.dil);
  ints("strides", k.strides);
  auto* g = node->add_attribute();
  g->set_name("group");
  g->set_type(onnx::AttributeProto::INT);
  g->set_i(k.group);
  auto* in = m.proto.mutable_graph()->mutable_input(0);
  in->mutable_type()->mutable_tensor_type()->clear_shape();
  for (int64_t d : k.x) in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  m.proto.mutable_graph()->mutable_output(0)->clear_type();
  m.set_initializer("w", random_tensor(k.w, seed, -0.5f, 0.5f));
  m.set_initializer("b", random_tensor({k.w[0]}, seed + 1));
  return m;
}

// The executor's fast path (twice: made, then cached) against the reference kernel.
void expect_conv_matches_reference(const ConvCase& k, uint32_t seed) {
  SCOPED_TRACE(shape_str(k.x) + " * " + shape_str(k.w) + " group " + std::to_string(k.group));
  const Model m = single_conv(k, seed);
  const Tensor x = random_tensor(k.x, seed + 2);
  const Tensor want = Executor(m, ExecutorOptions{false, false, true}).run({{"x", x}}).at("y");
  Executor fast(m);
  for (int rep = 0; rep < 2; ++rep) expect_tensors_near(fast.run({{"x", x}}).at("y"), want, 1e-4, 1e-5);
}

}  // namespace

// Taps that read only padding for every output position are cut off before oneDNN sees the
// convolution (DeepLab's atrous rates 24 / 36 on a 16 x 16 map keep the centre tap alone). The
// results equal the reference kernel's: centre only, one side cut (asymmetric pads), a grouped
// 1-D case, 3-D, and cases where every tap stays (rate 12 on 16, stride 2).
TEST(ConvPool, AtrousConvolutionWithDeadTapsEqualsReference) {
  const ConvCase cases[] = {
      {{1, 8, 16, 16}, {6, 8, 3, 3}, {24, 24, 24, 24}, {24, 24}, {1, 1}, 1},
      {{2, 8, 16, 16}, {6, 8, 3, 3}, {36, 36, 36, 36}, {36, 36}, {1, 1}, 1},
      {{1, 4, 9, 10}, {4, 4, 3, 3}, {12, 0, 2, 2}, {6, 1}, {1, 1}, 1},
      {{1, 6, 7}, {6, 2, 5}, {9, 3}, {4}, {1}, 3},
      {{1, 4, 5, 5, 5}, {3, 4, 3, 3, 3}, {6, 6, 6, 6, 6, 6}, {6, 6, 6}, {1, 1, 1}, 1},
      {{1, 8, 16, 16}, {6, 8, 3, 3}, {12, 12, 12, 12}, {12, 12}, {1, 1}, 1},
      {{1, 8, 16, 16}, {6, 8, 3, 3}, {12, 12, 12, 12}, {12, 12}, {2, 2}, 1}};
  uint32_t seed = 300;
  for (const ConvCase& k : cases) expect_conv_matches_reference(k, seed += 3);
}

// Grouped convolutions whose groups oneDNN runs with its GEMM kernel (channels per group not a
// multiple of its block: ShuffleNet's 4 x 34) run as one dense block-diagonal convolution; equal
// to the reference for 2-8 groups, 1 x 1 and 3 x 3, strides and pads.
TEST(ConvPool, GroupedConvolutionAsBlockDiagonalEqualsReference) {
  const ConvCase cases[] = {
      {{1, 136, 14, 14}, {136, 34, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 4},
      {{2, 24, 9, 11}, {36, 8, 3, 3}, {1, 1, 1, 1}, {1, 1}, {2, 2}, 3},
      {{1, 10, 7, 7}, {6, 5, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 2},
      {{1, 40, 8, 8}, {16, 5, 3, 3}, {1, 0, 1, 2}, {1, 1}, {1, 1}, 8}};
  uint32_t seed = 400;
  for (const ConvCase& k : cases) expect_conv_matches_reference(k, seed += 3);
}

// ---------------------------------------------------------------- FusedConv

TEST(ConvPool, FusedConvActivationsAndSum) {
  const Tensor x = random_tensor_of(DType::kFloat, {2, 13, 7, 6}, 31, -2, 2), w = random_tensor_of(DType::kFloat, {5, 13, 3, 3}, 32);
  const Tensor b = random_tensor_of(DType::kFloat, {5}, 33);
  auto plain = conv_node("Conv", 3, 1, {1, 1}, {1, 1, 1, 1}, {});
  const Tensor conv = ref_run(plain, 13, {x, w, b});
  const Tensor z = random_tensor_of(DType::kFloat, conv.shape(), 34, -2, 2);
  struct Case {
    std::string act;
    std::vector<float> params;
    std::function<double(double)> f;
  };
  const std::vector<Case> cases{
      {"Relu", {}, [](double v) { return std::max(v, 0.0); }},
      {"LeakyRelu", {0.2f}, [](double v) { return v >= 0 ? v : 0.2 * v; }},
      {"Clip", {-0.5f, 0.75f}, [](double v) { return std::min(std::max(v, -0.5), 0.75); }},
      {"Tanh", {}, [](double v) { return std::tanh(v); }},
      {"Sigmoid", {}, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"HardSigmoid", {0.3f, 0.4f}, [](double v) { return std::min(1.0, std::max(0.0, 0.3 * v + 0.4)); }}};
  for (const auto& cs : cases) {
    SCOPED_TRACE(cs.act);
    auto n = conv_node("FusedConv", 4, 1, {1, 1}, {1, 1, 1, 1}, {});
    n.set_domain("com.microsoft");
    set_attr(n, "activation", cs.act);
    if (!cs.params.empty()) set_attr(n, "activation_params", cs.params);
    Tensor want(DType::kFloat, conv.shape());
    const auto cv = conv.to_doubles(), zv = z.to_doubles();
    for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = static_cast<float>(cs.f(cv[i] + zv[i]));
    expect_tensors_near(ref_run(n, 1, {x, w, b, z}), want, 1e-5, 1e-5);
    expect_fast_ran_and_matches(n, 1, {x, w, b, z}, 1e-4, 1e-4);
  }
}

// ---------------------------------------------------------------- ConvTranspose

struct DeconvParam {
  Shape x;
  int64_t m_per_group, group;
  std::vector<int64_t> k, s, p, d, out_pad, out_shape;
  const char* auto_pad;
};
void PrintTo(const DeconvParam& q, std::ostream* os) {
  *os << "x=" << dims(q.x) << " m/group=" << q.m_per_group << " group=" << q.group << " k=" << dims(q.k)
      << " s=" << dims(q.s) << " p=" << dims(q.p) << " d=" << dims(q.d) << " out_pad=" << dims(q.out_pad)
      << " out_shape=" << dims(q.out_shape) << " auto_pad=" << (q.auto_pad ? q.auto_pad : "-");
}

class ConvTransposeFastVsReference : public ::testing::TestWithParam<DeconvParam> {};

TEST_P(ConvTransposeFastVsReference, Matches) {
  const DeconvParam q = GetParam();
  auto n = conv_node("ConvTranspose", 3, q.group, q.s, q.p, q.d);
  if (!q.out_pad.empty()) set_attr(n, "output_padding", q.out_pad);
  if (!q.out_shape.empty()) set_attr(n, "output_shape", q.out_shape);
  if (q.auto_pad) set_attr(n, "auto_pad", std::string(q.auto_pad));
  Shape ws{q.x[1], q.m_per_group};
  for (auto k : q.k) ws.push_back(k);
  const Tensor x = random_tensor_of(DType::kFloat, q.x, 41), w = random_tensor_of(DType::kFloat, ws, 42);
  const Tensor b = random_tensor_of(DType::kFloat, {q.m_per_group * q.group}, 43);
  expect_fast_ran_and_matches(n, 22, {x, w, b});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTransposeFastVsReference,
    ::testing::Values(DeconvParam{{1, 1, 13}, 1, 1, {3}, {2}, {1, 1}, {1}, {}, {}, nullptr},
                      DeconvParam{{2, 13, 5, 4}, 3, 1, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, {1, 1}, {}, nullptr},
                      DeconvParam{{1, 6, 4, 5}, 2, 3, {3, 2}, {1, 2}, {0, 1, 2, 1}, {2, 1}, {}, {}, nullptr},
                      DeconvParam{{1, 4, 3, 3}, 2, 2, {3, 3}, {3, 2}, {}, {1, 1}, {}, {8, 6}, nullptr},
                      DeconvParam{{1, 3, 4, 5}, 2, 1, {3, 3}, {2, 2}, {}, {1, 1}, {}, {}, "SAME_UPPER"},
                      DeconvParam{{1, 3, 4, 5}, 2, 1, {3, 3}, {2, 2}, {}, {1, 1}, {}, {}, "SAME_LOWER"},
                      DeconvParam{{1, 127, 2, 3, 2}, 2, 1, {2, 3, 2}, {2, 1, 2}, {0, 1, 0, 0, 1, 1}, {1, 1, 1}, {}, {}, nullptr}));

TEST(ConvPool, ConvTransposeReferenceByHand) {
  // 1-D: x = [1, 2], w = [1, 10, 100], stride 2 -> y = [1, 10, 102, 20, 200] (+ bias 0.5)
  auto n = conv_node("ConvTranspose", 3, 1, {2}, {}, {});
  const Tensor x = Tensor::from<float>({1, 1, 2}, {1, 2}), w = Tensor::from<float>({1, 1, 3}, {1, 10, 100});
  const Tensor b = Tensor::from<float>({1}, {0.5f});
  EXPECT_EQ(ref_run(n, 11, {x, w, b}).to_floats(), (std::vector<float>{1.5f, 10.5f, 102.5f, 20.5f, 200.5f}));
  // output_padding adds one more (bias-only) element; pads trim the ends
  set_attr(n, "output_padding", std::vector<int64_t>{1});
  set_attr(n, "pads", std::vector<int64_t>{1, 0});
  EXPECT_EQ(ref_run(n, 11, {x, w, b}).to_floats(), (std::vector<float>{10.5f, 102.5f, 20.5f, 200.5f, 0.5f}));
  // the fast kernel declines this one (the extra element is outside the scatter) and the
  // executor's reference result stands
  EXPECT_EQ(run_op(n, 11, {x, w, b}, false).at(0).tensor().to_floats(),
            (std::vector<float>{10.5f, 102.5f, 20.5f, 200.5f, 0.5f}));
}

TEST(ConvPool, ConvTransposeInvalid) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 4, 3, 3}, 1), w = random_tensor_of(DType::kFloat, {4, 2, 3, 3}, 2);
  auto expect_error = [&](onnx::NodeProto n, const std::vector<Value>& in, const std::string& attr) {
    try {
      run_op(n, 13, in, false);
      ADD_FAILURE() << "no error for " << attr;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(attr), std::string::npos) << e.what();
    }
  };
  auto n = conv_node("ConvTranspose", 2, 1, {2, 2}, {}, {});
  set_attr(n, "output_padding", std::vector<int64_t>{2, 0});
  expect_error(n, {x, w}, "'output_padding'");
  n = conv_node("ConvTranspose", 2, 1, {2, 2}, {}, {});
  set_attr(n, "output_padding", std::vector<int64_t>{-1, 0});
  expect_error(n, {x, w}, "'output_padding'");
  n = conv_node("ConvTranspose", 2, 3, {}, {}, {});
  expect_error(n, {x, w}, "'group'");
  n = conv_node("ConvTranspose", 2, 1, {}, {3, 3, 3, 3}, {});
  expect_error(n, {x, w}, "'pads'");  // 5 - 6 < 0
  n = conv_node("ConvTranspose", 2, 1, {}, {}, {});
  set_attr(n, "output_shape", std::vector<int64_t>{5});
  expect_error(n, {x, w}, "'output_shape'");
  n = conv_node("ConvTranspose", 3, 1, {}, {}, {});
  expect_error(n, {x, w, random_tensor_of(DType::kFloat, {3}, 4)}, "input B");
}

// ---------------------------------------------------------------- pooling

struct PoolParam {
  const char* op;
  Shape x;
  std::vector<int64_t> k, s, p, d;
  int64_t ceil_mode, include_pad;
  const char* auto_pad;
};
void PrintTo(const PoolParam& q, std::ostream* os) {
  *os << q.op << " x=" << dims(q.x) << " k=" << dims(q.k) << " s=" << dims(q.s) << " p=" << dims(q.p)
      << " d=" << dims(q.d) << " ceil_mode=" << q.ceil_mode << " count_include_pad=" << q.include_pad
      << " auto_pad=" << (q.auto_pad ? q.auto_pad : "-");
}

class PoolFastVsReference : public ::testing::TestWithParam<PoolParam> {};

TEST_P(PoolFastVsReference, Matches) {
  const PoolParam q = GetParam();
  auto n = make_node(q.op, 1, 1);
  set_attr(n, "kernel_shape", q.k);
  if (!q.s.empty()) set_attr(n, "strides", q.s);
  if (!q.p.empty()) set_attr(n, "pads", q.p);
  if (!q.d.empty()) set_attr(n, "dilations", q.d);
  if (q.ceil_mode) set_attr(n, "ceil_mode", q.ceil_mode);
  if (q.include_pad) set_attr(n, "count_include_pad", q.include_pad);
  if (q.auto_pad) set_attr(n, "auto_pad", std::string(q.auto_pad));
  expect_fast_ran_and_matches(n, 22, {random_tensor_of(DType::kFloat, q.x, 51)});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PoolFastVsReference,
    ::testing::Values(PoolParam{"MaxPool", {1, 1, 13}, {3}, {2}, {1, 1}, {}, 0, 0, nullptr},
                      PoolParam{"MaxPool", {2, 13, 9, 11}, {3, 2}, {2, 2}, {1, 0, 1, 1}, {1, 2}, 1, 0, nullptr},
                      PoolParam{"MaxPool", {1, 127, 5, 6}, {2, 2}, {1, 1}, {}, {}, 0, 0, "SAME_UPPER"},
                      PoolParam{"MaxPool", {1, 3, 7, 6, 5}, {3, 2, 2}, {2, 2, 1}, {1, 1, 0, 1, 0, 1}, {1, 1, 2}, 1, 0, nullptr},
                      PoolParam{"AveragePool", {1, 13, 17}, {4}, {3}, {2, 1}, {}, 0, 0, nullptr},
                      PoolParam{"AveragePool", {2, 13, 9, 8}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 1, nullptr},
                      PoolParam{"AveragePool", {1, 5, 10, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {2, 1}, 1, 0, nullptr},
                      PoolParam{"AveragePool", {1, 4, 7, 7}, {3, 3}, {2, 2}, {}, {}, 0, 0, "SAME_LOWER"},
                      PoolParam{"AveragePool", {1, 127, 4, 5, 6}, {2, 2, 3}, {2, 1, 2}, {1, 0, 1, 0, 1, 1}, {}, 0, 1, nullptr}));

TEST(ConvPool, AveragePoolCeilWindowCountsOnlyExplicitPadding) {
  // in 6 (values 0..5), k 3, s 2, pads [1, 1], ceil_mode: ceil((6 + 2 - 3) / 2) + 1 = 4 windows starting
  // at -1, 1, 3, 5. The last covers 5 (input), 6 (right padding), 7 (beyond the padding: never counted).
  auto n = make_node("AveragePool", 1, 1);
  set_attr(n, "kernel_shape", std::vector<int64_t>{3});
  set_attr(n, "strides", std::vector<int64_t>{2});
  set_attr(n, "pads", std::vector<int64_t>{1, 1});
  set_attr(n, "ceil_mode", int64_t{1});
  const Tensor x = Tensor::from<float>({1, 1, 6}, {0, 1, 2, 3, 4, 5});
  auto exclude = n;
  expect_tensors_near(run_op(exclude, 19, {x}, false).at(0).tensor(),
                      Tensor::from<float>({1, 1, 4}, {0.5f, 2.f, 4.f, 5.f}), 1e-6, 1e-6);
  expect_fast_ran_and_matches(exclude, 19, {x});
  set_attr(n, "count_include_pad", int64_t{1});
  // {pad, 0, 1} / 3, {1, 2, 3} / 3, {3, 4, 5} / 3, {5, pad} / 2
  expect_tensors_near(run_op(n, 19, {x}, false).at(0).tensor(),
                      Tensor::from<float>({1, 1, 4}, {1.f / 3, 2.f, 4.f, 2.5f}), 1e-6, 1e-6);
  // a window that would start in the right padding is dropped: in 5, k 3, s 3, pads [1, 1] ->
  // ceil((5 + 2 - 3) / 3) + 1 = 3, but the third would start at 5 >= 5 + 1 - 1 ... at 2 * 3 - 1 = 5 >= in
  auto m = make_node("AveragePool", 1, 1);
  set_attr(m, "kernel_shape", std::vector<int64_t>{3});
  set_attr(m, "strides", std::vector<int64_t>{3});
  set_attr(m, "pads", std::vector<int64_t>{1, 1});
  set_attr(m, "ceil_mode", int64_t{1});
  set_attr(m, "count_include_pad", int64_t{1});
  const Tensor x5 = Tensor::from<float>({1, 1, 5}, {0, 1, 2, 3, 4});
  expect_tensors_near(run_op(m, 19, {x5}, false).at(0).tensor(), Tensor::from<float>({1, 1, 2}, {1.f / 3, 3.f}),
                      1e-6, 1e-6);
}

TEST(ConvPool, MaxPoolCeilModeDropsWindowStartingInRightPadding) {
  // in 4, k 2, s 3, no pads: ceil((4 - 2) / 3) + 1 = 2 windows [0,1], [3,4): the second starts at 3 < 4
  // in 3, k 1, s 3, pads [0, 1]: ceil((3 + 1 - 1) / 3) + 1 = 2, second starts at 3 >= 3 + 0 -> dropped
  auto n = make_node("MaxPool", 1, 1);
  set_attr(n, "kernel_shape", std::vector<int64_t>{1});
  set_attr(n, "strides", std::vector<int64_t>{3});
  set_attr(n, "pads", std::vector<int64_t>{0, 1});
  set_attr(n, "ceil_mode", int64_t{1});
  const Tensor y = run_op(n, 12, {Tensor::from<float>({1, 1, 3}, {5, 6, 7})}, false).at(0).tensor();
  EXPECT_EQ(y.to_floats(), (std::vector<float>{5}));
}

TEST(ConvPool, MaxPoolIndicesBothStorageOrders) {
  // 2 x 3 planes, k 2x2 s 1: maxima positions known
  const Tensor x = Tensor::from<float>({1, 2, 2, 3}, {1, 9, 2, 3, 4, 8, /* ch 1 */ 7, 1, 1, 1, 1, 6});
  for (int64_t order : {0, 1}) {
    auto n = make_node("MaxPool", 1, 2);
    set_attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    set_attr(n, "storage_order", order);
    const auto out = run_op(n, 12, {x}, false);
    EXPECT_EQ(out[0].tensor().to_floats(), (std::vector<float>{9, 9, 7, 6}));
    // row major: (0,1) -> 1, (0,1) -> 1, ch1 (0,0) -> 6 + 0, (1,2) -> 6 + 5; column major: h + w * 2
    const std::vector<int64_t> want = order == 0 ? std::vector<int64_t>{1, 1, 6, 11} : std::vector<int64_t>{2, 2, 6, 11};
    EXPECT_EQ(out[1].tensor().to_int64s(), want) << "storage_order " << order;
  }
}

TEST(ConvPool, MaxPoolInt8AndVersionTypes) {
  auto n = make_node("MaxPool", 1, 1);
  set_attr(n, "kernel_shape", std::vector<int64_t>{2});
  const Tensor x = Tensor::from<int8_t>({1, 1, 4}, {-5, -7, 3, -128});
  EXPECT_EQ(run_op(n, 12, {x}, false).at(0).tensor().to_int64s(), (std::vector<int64_t>{-5, 3, 3}));
  EXPECT_THROW(run_op(n, 11, {x}, false), InputError);  // int8 came with MaxPool-12
  const Tensor u = Tensor::from<uint8_t>({1, 1, 3}, {200, 7, 255});
  EXPECT_EQ(run_op(n, 22, {u}, false).at(0).tensor().to_int64s(), (std::vector<int64_t>{200, 255}));
}

TEST(ConvPool, PoolVersionAttributes) {
  // MaxPool-8 has no dilations: the attribute is not read; MaxPool-10 uses it
  auto n = make_node("MaxPool", 1, 1);
  set_attr(n, "kernel_shape", std::vector<int64_t>{2});
  set_attr(n, "dilations", std::vector<int64_t>{2});
  const Tensor x = Tensor::from<float>({1, 1, 4}, {1, 5, 2, 0});
  EXPECT_EQ(run_op(n, 8, {x}, true).at(0).tensor().to_floats(), (std::vector<float>{5, 5, 2}));
  EXPECT_EQ(run_op(n, 10, {x}, true).at(0).tensor().to_floats(), (std::vector<float>{2, 5}));
}

TEST(ConvPool, LpPoolAndGlobalPools) {
  auto n = make_node("LpPool", 1, 1);
  set_attr(n, "kernel_shape", std::vector<int64_t>{2});
  set_attr(n, "p", int64_t{3});
  const Tensor x = Tensor::from<float>({1, 1, 3}, {1, -2, 3});
  const auto y = run_op(n, 18, {x}, false).at(0).tensor().to_doubles();
  ASSERT_EQ(y.size(), 2u);
  EXPECT_NEAR(y[0], std::cbrt(9.0), 1e-6);
  EXPECT_NEAR(y[1], std::cbrt(35.0), 1e-6);
  const Tensor g = Tensor::from<float>({1, 2, 2}, {3, -4, 1, 1});
  auto lp = make_node("GlobalLpPool", 1, 1);
  expect_tensors_near(run_op(lp, 2, {g}, false).at(0).tensor(), Tensor::from<float>({1, 2, 1}, {5.f, std::sqrt(2.f)}),
                      1e-6, 1e-6);
  auto avg = make_node("GlobalAveragePool", 1, 1);
  const Tensor ga = run_op(avg, 1, {g}, false).at(0).tensor();
  EXPECT_EQ(ga.shape(), (Shape{1, 2, 1}));
  EXPECT_EQ(ga.to_floats(), (std::vector<float>{-0.5f, 1.f}));
  auto mx = make_node("GlobalMaxPool", 1, 1);
  EXPECT_EQ(run_op(mx, 22, {g.cast(DType::kFloat16)}, false).at(0).tensor().to_floats(), (std::vector<float>{3, 1}));
  const Tensor big = random_tensor_of(DType::kFloat, {2, 13, 7, 5}, 61);
  expect_fast_ran_and_matches(avg, 22, {big});
  expect_fast_ran_and_matches(mx, 22, {big});
  const Tensor planes = random_tensor_of(DType::kFloat, {2, 40, 30, 31}, 62);  // split across the threads
  expect_fast_ran_and_matches(avg, 22, {planes});
  expect_fast_ran_and_matches(mx, 22, {planes});
}

TEST(ConvPool, MaxUnpoolInvertsMaxPool) {
  const Tensor x = random_tensor_of(DType::kFloat, {2, 3, 4, 6}, 71, 0.1, 1.0);  // positive: pooling zeros keeps the maxima
  auto pool = make_node("MaxPool", 1, 2);
  set_attr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  set_attr(pool, "strides", std::vector<int64_t>{2, 2});
  const auto pooled = run_op(pool, 12, {x}, false);
  auto unpool = make_node("MaxUnpool", 3, 1);
  set_attr(unpool, "kernel_shape", std::vector<int64_t>{2, 2});
  set_attr(unpool, "strides", std::vector<int64_t>{2, 2});
  const Tensor y = run_op(unpool, 11, {pooled[0], pooled[1], Value()}, false).at(0).tensor();
  ASSERT_EQ(y.shape(), x.shape());  // inferred (2 - 1) * 2 + 2 = 4, (3 - 1) * 2 + 2 = 6
  expect_tensors_near(run_op(pool, 12, {y}, false).at(0).tensor(), pooled[0].tensor(), 0, 0);
  const auto xv = x.to_floats(), yv = y.to_floats();
  int nonzero = 0;
  for (size_t i = 0; i < yv.size(); ++i)
    if (yv[i] != 0.f) {
      EXPECT_EQ(yv[i], xv[i]);
      ++nonzero;
    }
  EXPECT_EQ(nonzero, 2 * 3 * 2 * 3);
  // output_shape [2, 3, 5, 7]: the inferred 4 x 6 block sits at the start of each 5 x 7 plane
  const Tensor shape = Tensor::from<int64_t>({4}, {2, 3, 5, 7});
  const Tensor z = run_op(unpool, 22, {pooled[0], pooled[1], shape}, false).at(0).tensor();
  ASSERT_EQ(z.shape(), (Shape{2, 3, 5, 7}));
  const auto zv = z.to_floats();
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 7; ++w)
        EXPECT_EQ(zv[(p * 5 + h) * 7 + w], h < 4 && w < 6 ? yv[(p * 4 + h) * 6 + w] : 0.f);
  const Tensor bad = Tensor::from<int64_t>({1, 1, 1, 1}, {99});
  EXPECT_THROW(run_op(unpool, 11, {Tensor::from<float>({1, 1, 1, 1}, {1}), bad, Value()}, false), InputError);
}

TEST(ConvPool, PoolInvalidAttributes) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 2, 5, 5}, 1);
  auto n = make_node("MaxPool", 1, 1);
  EXPECT_THROW(run_op(n, 12, {x}, false), InputError);  // kernel_shape missing
  set_attr(n, "kernel_shape", std::vector<int64_t>{2});
  EXPECT_THROW(run_op(n, 12, {x}, false), InputError);  // 1 value for 2 axes
  auto m = make_node("AveragePool", 1, 1);
  set_attr(m, "kernel_shape", std::vector<int64_t>{2, 2});
  set_attr(m, "strides", std::vector<int64_t>{0, 1});
  EXPECT_THROW(run_op(m, 19, {x}, false), InputError);
  auto k = make_node("AveragePool", 1, 1);
  set_attr(k, "kernel_shape", std::vector<int64_t>{6, 2});
  EXPECT_THROW(run_op(k, 19, {x}, false), InputError);  // output extent <= 0
  auto s = make_node("MaxPool", 1, 2);
  set_attr(s, "kernel_shape", std::vector<int64_t>{2, 2});
  set_attr(s, "storage_order", int64_t{2});
  EXPECT_THROW(run_op(s, 12, {x}, false), InputError);
}

// Issue 14: pads around 2^31 on an 8 x 8 input asked for a 96 GB output (std::bad_alloc, exit 1
// "out of memory"); now an InputError naming 'pads' before anything is allocated. Padding within
// the limit (a few pixels, or YOLO SPP's pads 6 on a 2 x 2 map) still runs.
TEST(ConvPool, AbsurdPaddingIsRefusedBeforeAllocating) {
  const Tensor x = random_tensor_of(DType::kFloat, {1, 1, 8, 8}, 1), w = random_tensor_of(DType::kFloat, {1, 1, 3, 3}, 2);
  for (int64_t pad : {int64_t{1} << 31, (int64_t{1} << 31) - 1, int64_t{1} << 22}) {
    for (const char* op : {"MaxPool", "AveragePool", "Conv"}) {
      const bool conv = std::string(op) == "Conv";
      auto n = make_node(op, conv ? 2 : 1, 1);
      if (!conv) set_attr(n, "kernel_shape", std::vector<int64_t>{3, 3});
      set_attr(n, "pads", std::vector<int64_t>{pad, 0, pad, 0});
      std::vector<Value> in{x};
      if (conv) in.push_back(w);
      try {
        run_op(n, 13, in, false);
        ADD_FAILURE() << op << " pads " << pad << ": no error";
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("'pads'"), std::string::npos) << e.what();
      }
    }
  }
  auto spp = make_node("MaxPool", 1, 1);
  set_attr(spp, "kernel_shape", std::vector<int64_t>{13, 13});
  set_attr(spp, "pads", std::vector<int64_t>{6, 6, 6, 6});
  const Tensor y = run_op(spp, 13, {random_tensor_of(DType::kFloat, {1, 2, 2, 2}, 3)}, false).at(0).tensor();
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
}

// ---------------------------------------------------------------- integer convolutions

TEST(ConvPool, ConvIntegerByHand) {
  // x uint8 zp 1, w uint8 zp per channel [0, 2]: y[m] = sum (x - 1) * (w - zp[m])
  auto n = make_node("ConvInteger", 4, 1);
  set_attr(n, "pads", std::vector<int64_t>{1, 0});
  const Tensor x = Tensor::from<uint8_t>({1, 1, 3}, {1, 3, 5});
  const Tensor w = Tensor::from<uint8_t>({2, 1, 2}, {1, 2, 3, 4});
  const Tensor xz = Tensor::from<uint8_t>({}, {1}), wz = Tensor::from<uint8_t>({2}, {0, 2});
  // x - 1 padded with 0: [0, 0, 2, 4]; channel 0 w [1, 2]: [0, 4, 10]; channel 1 w - 2 = [1, 2]: same
  const Tensor y = run_op(n, 10, {x, w, xz, wz}, false).at(0).tensor();
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(y.to_int64s(), (std::vector<int64_t>{0, 4, 10, 0, 4, 10}));
}

TEST(ConvPool, QLinearConvRoundsHalfToEvenAndSaturates) {
  // one tap: acc = (x - 0) * (w - 0) = x * 1; scale = 0.5 * 1 / 1 = 0.5 -> 2.5 -> 2, 3.5 -> 4, -2.5 -> -2
  auto n = make_node("QLinearConv", 8, 1);
  const Tensor x = Tensor::from<int8_t>({1, 1, 5}, {5, 7, -5, 127, -128});
  const Tensor w = Tensor::from<int8_t>({1, 1, 1}, {1});
  const Tensor s05 = Tensor::from<float>({}, {0.5f}), s1 = Tensor::from<float>({}, {1.f});
  const Tensor z0 = Tensor::from<int8_t>({}, {0}), yz = Tensor::from<int8_t>({}, {100});
  const Tensor y = run_op(n, 10, {x, s05, z0, w, s1, z0, s1, yz}, false).at(0).tensor();
  // 2 + 100, 4 + 100, -2 + 100, 64 + 100 -> 127 (saturated), -64 + 100
  EXPECT_EQ(y.to_int64s(), (std::vector<int64_t>{102, 104, 98, 127, 36}));
}

TEST(ConvPool, QLinearConvFastMatchesReferenceBitExact) {
  for (int64_t group : {1, 13}) {
    SCOPED_TRACE(group);
    auto n = make_node("QLinearConv", 9, 1);
    set_attr(n, "pads", std::vector<int64_t>{1, 2, 0, 1});
    set_attr(n, "strides", std::vector<int64_t>{1, 2});
    set_attr(n, "group", group);
    const int64_t m = 26;
    const Tensor x = random_tensor_of(DType::kUInt8, {2, 13, 9, 10}, 81, 0, 255);
    const Tensor w = random_tensor_of(DType::kInt8, {m, 13 / group, 3, 3}, 82, -127, 127);
    const Tensor xs = Tensor::from<float>({}, {0.02f}), xz = Tensor::from<uint8_t>({}, {131});
    const Tensor ws = random_tensor_of(DType::kFloat, {m}, 83, 0.001, 0.01), wz(DType::kInt8, {m});
    const Tensor ys = Tensor::from<float>({}, {0.05f}), yz = Tensor::from<uint8_t>({}, {120});
    const Tensor b = random_tensor_of(DType::kInt32, {m}, 84, -3000, 3000);
    const std::vector<Value> in{x, xs, xz, w, ws, wz, ys, yz, b};
    const auto ref = run_op(n, 10, in, true).at(0).tensor();
    const auto all = run_op(n, 10, in, false).at(0).tensor();
    EXPECT_EQ(all.to_int64s(), ref.to_int64s());
    // the values spread over the range (the test is not all-saturated)
    const auto v = ref.to_int64s();
    EXPECT_GT(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), 50);
    auto ci = make_node("ConvInteger", 4, 1);
    set_attr(ci, "pads", std::vector<int64_t>{1, 2, 0, 1});
    set_attr(ci, "group", group);
    EXPECT_EQ(run_op(ci, 10, {x, w, xz, wz}, false).at(0).tensor().to_int64s(),
              run_op(ci, 10, {x, w, xz, wz}, true).at(0).tensor().to_int64s());
  }
}

TEST(ConvPool, QLinearConvInvalidQuantParams) {
  auto n = make_node("QLinearConv", 8, 1);
  const Tensor x(DType::kUInt8, {1, 2, 3, 3}), w(DType::kInt8, {4, 2, 1, 1});
  const Tensor s = Tensor::from<float>({}, {1.f}), z = Tensor::from<uint8_t>({}, {0});
  const Tensor wz3(DType::kInt8, {3});
  EXPECT_THROW(run_op(n, 10, {x, s, z, w, s, wz3, s, z}, false), InputError);  // 3 zero points for 4 channels
  const Tensor xs2 = Tensor::from<float>({2}, {1.f, 1.f});
  EXPECT_THROW(run_op(n, 10, {x, xs2, z, w, s, Tensor(DType::kInt8, {}), s, z}, false), InputError);
}

// ---------------------------------------------------------------- DeformConv, Col2Im, CausalConvWithState

TEST(ConvPool, DeformConvWithZeroOffsetsIsConv) {
  for (int sp : {1, 2, 3}) {
    SCOPED_TRACE(sp);
    Shape xs{2, 4}, ws{6, 2}, k;
    for (int i = 0; i < sp; ++i) {
      xs.push_back(5 + i);
      ws.push_back(2 + i % 2);
    }
    const Tensor x = random_tensor_of(DType::kFloat, xs, 91), w = random_tensor_of(DType::kFloat, ws, 92);
    const Tensor b = random_tensor_of(DType::kFloat, {6}, 93);
    auto conv = make_node("Conv", 3, 1);
    set_attr(conv, "group", int64_t{2});
    set_attr(conv, "pads", std::vector<int64_t>(2 * sp, 1));
    const Tensor want = ref_run(conv, 13, {x, w, b});
    int64_t ksz = 1;
    for (int i = 0; i < sp; ++i) ksz *= ws[2 + i];
    Shape os{2, 2 * ksz * sp}, ms{2, 2 * ksz};
    for (int i = 0; i < sp; ++i) {
      os.push_back(want.dim(2 + i));
      ms.push_back(want.dim(2 + i));
    }
    auto dc = make_node("DeformConv", 5, 1);
    set_attr(dc, "group", int64_t{2});
    set_attr(dc, "offset_group", int64_t{2});
    set_attr(dc, "pads", std::vector<int64_t>(2 * sp, 1));
    Tensor mask(DType::kFloat, ms);
    for (int64_t i = 0; i < mask.numel(); ++i) mask.data<float>()[i] = 1.f;
    expect_tensors_near(ref_run(dc, 19, {x, w, Tensor(DType::kFloat, os), b, mask}), want, 1e-5, 1e-5);
    // mask 0.5 halves everything but the bias
    for (int64_t i = 0; i < mask.numel(); ++i) mask.data<float>()[i] = 0.5f;
    const auto half = ref_run(dc, 22, {x, w, Tensor(DType::kFloat, os), b, mask}).to_doubles();
    const auto full = want.to_doubles(), bv = b.to_doubles();
    const int64_t per = want.numel() / (2 * 6);
    for (size_t i = 0; i < half.size(); ++i) {
      const double bias = bv[(i / per) % 6];
      EXPECT_NEAR(half[i], bias + 0.5 * (full[i] - bias), 1e-5);
    }
  }
}

TEST(ConvPool, DeformConvFractionalOffsetInterpolates) {
  // 1x1 kernel, offset +0.25 along W: samples 0.75 * x[j] + 0.25 * x[j + 1] (0 beyond the edge)
  auto dc = make_node("DeformConv", 3, 1);
  const Tensor x = Tensor::from<float>({1, 1, 1, 3}, {4, 8, 12}), w = Tensor::from<float>({1, 1, 1, 1}, {1});
  const Tensor off = Tensor::from<float>({1, 2, 1, 3}, {0, 0, 0, 0.25f, 0.25f, 0.25f});
  EXPECT_EQ(ref_run(dc, 19, {x, w, off}).to_floats(), (std::vector<float>{5, 9, 9}));
}

TEST(ConvPool, Col2ImByHand) {
  // image 3x3, block 2x2, stride 1: 4 blocks; every column is ones -> counts of covering blocks
  auto n = make_node("Col2Im", 3, 1);
  Tensor x(DType::kFloat, {1, 4, 4});
  for (int64_t i = 0; i < 16; ++i) x.data<float>()[i] = 1.f;
  const Tensor img = Tensor::from<int64_t>({2}, {3, 3}), blk = Tensor::from<int64_t>({2}, {2, 2});
  EXPECT_EQ(ref_run(n, 18, {x, img, blk}).to_floats(), (std::vector<float>{1, 2, 1, 2, 4, 2, 1, 2, 1}));
  // int32 and 3-D: block 1x1x2 over image 1x1x4 with stride 2 -> plain reshuffle
  const Tensor xi = Tensor::from<int32_t>({1, 2, 2}, {1, 3, 2, 4});
  const Tensor img3 = Tensor::from<int64_t>({3}, {1, 1, 4}), blk3 = Tensor::from<int64_t>({3}, {1, 1, 2});
  auto m = make_node("Col2Im", 3, 1);
  set_attr(m, "strides", std::vector<int64_t>{1, 1, 2});
  EXPECT_EQ(ref_run(m, 18, {xi, img3, blk3}).to_int64s(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_THROW(run_op(n, 18, {Tensor(DType::kFloat, {1, 4, 5}), img, blk}, false), InputError);  // L != 4
}

TEST(ConvPool, CausalConvWithStateMatchesConvOnConcatenation) {
  const int64_t b = 2, c = 13, len = 5, k = 4;
  const Tensor x = random_tensor_of(DType::kFloat, {b, c, len}, 101), w = random_tensor_of(DType::kFloat, {c, 1, k}, 102);
  const Tensor bias = random_tensor_of(DType::kFloat, {c}, 103), past = random_tensor_of(DType::kFloat, {b, c, k - 1}, 104);
  Tensor cat(DType::kFloat, {b, c, len + k - 1});
  for (int64_t r = 0; r < b * c; ++r)
    for (int64_t t = 0; t < len + k - 1; ++t)
      cat.data<float>()[r * (len + k - 1) + t] = t < k - 1 ? past.data<float>()[r * (k - 1) + t] : x.data<float>()[r * len + t - (k - 1)];
  auto conv = make_node("Conv", 3, 1);
  set_attr(conv, "group", c);
  const Tensor want = ref_run(conv, 22, {cat, w, bias});
  auto n = make_node("CausalConvWithState", 4, 2);
  set_attr(n, "activation", std::string("silu"));
  const auto out = run_op(n, 27, {x, w, bias, past}, false);
  const auto got = out[0].tensor().to_doubles(), cv = want.to_doubles();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], cv[i] / (1 + std::exp(-cv[i])), 1e-5);
  // present_state: the last k - 1 inputs (len >= k - 1)
  const auto st = out[1].tensor();
  ASSERT_EQ(st.shape(), (Shape{b, c, k - 1}));
  for (int64_t r = 0; r < b * c; ++r)
    for (int64_t t = 0; t < k - 1; ++t) EXPECT_EQ(st.data<float>()[r * (k - 1) + t], x.data<float>()[r * len + len - (k - 1) + t]);
  auto bad = make_node("CausalConvWithState", 2, 2);
  set_attr(bad, "activation", std::string("gelu"));
  EXPECT_THROW(run_op(bad, 27, {x, w}, false), InputError);
}

// ---------------------------------------------------------------- RoI pooling

TEST(ConvPool, RoiAlignByHand) {
  // 4x4 ramp x[h][w] = 4h + w; ROI [0, 0, 2, 2] (x1, y1, x2, y2), output 1x1, sampling 2,
  // output_half_pixel: samples at 0.5 and 1.5 per axis -> bilinear = ramp at the mean (1, 1) = 5
  Tensor x(DType::kFloat, {1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) x.data<float>()[i] = static_cast<float>(i);
  const Tensor rois = Tensor::from<float>({1, 4}, {0, 0, 2, 2});
  const Tensor idx = Tensor::from<int64_t>({1}, {0});
  auto n = make_node("RoiAlign", 3, 1);
  set_attr(n, "sampling_ratio", int64_t{2});
  set_attr(n, "coordinate_transformation_mode", std::string("output_half_pixel"));
  EXPECT_NEAR(ref_run(n, 16, {x, rois, idx}).to_doubles()[0], 5.0, 1e-6);
  // version 10 has no shift either; half_pixel (16 default) shifts by -0.5 -> mean (0.5, 0.5) = 2.5
  auto v10 = make_node("RoiAlign", 3, 1);
  set_attr(v10, "sampling_ratio", int64_t{2});
  EXPECT_NEAR(ref_run(v10, 10, {x, rois, idx}).to_doubles()[0], 5.0, 1e-6);
  EXPECT_NEAR(ref_run(v10, 16, {x, rois, idx}).to_doubles()[0], 2.5, 1e-6);
  EXPECT_THROW(run_op(n, 16, {x, rois, Tensor::from<int64_t>({1}, {1})}, false), InputError);  // batch 1 of 1
}

TEST(ConvPool, MaxRoiPoolByHand) {
  Tensor x(DType::kFloat, {1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) x.data<float>()[i] = static_cast<float>(i);
  auto n = make_node("MaxRoiPool", 2, 1);
  set_attr(n, "pooled_shape", std::vector<int64_t>{2, 2});
  // ROI x 0..3, y 0..1 (inclusive corners): bins rows {0}, {1}; columns {0,1}, {2,3}
  const Tensor rois = Tensor::from<float>({1, 5}, {0, 0, 0, 3, 1});
  EXPECT_EQ(ref_run(n, 1, {x, rois}).to_floats(), (std::vector<float>{1, 3, 5, 7}));
  EXPECT_THROW(run_op(n, 1, {x, Tensor::from<float>({1, 5}, {2, 0, 0, 1, 1})}, false), InputError);
}

// ---------------------------------------------------------------- com.microsoft quantized pooling

TEST(ConvPool, QLinearGlobalAveragePoolByHand) {
  // acc = 10 + 20 + 30 + 41 - 4 * 10 = 61; scale = 0.1 / (0.2 * 4) = 0.125 -> 7.625 -> 8, + 5 = 13
  auto n = make_node("QLinearGlobalAveragePool", 5, 1, "com.microsoft");
  const Tensor xs = Tensor::from<float>({}, {0.1f}), ys = Tensor::from<float>({}, {0.2f});
  const Tensor xz = Tensor::from<uint8_t>({}, {10}), yz = Tensor::from<uint8_t>({}, {5});
  const Tensor x = Tensor::from<uint8_t>({1, 2, 2, 2}, {10, 20, 30, 41, 10, 10, 10, 10});
  const Tensor y = run_op(n, 1, {x, xs, xz, ys, yz}, false).at(0).tensor();
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(y.to_int64s(), (std::vector<int64_t>{13, 5}));
  // channels_last: the same values as N, H, W, C
  set_attr(n, "channels_last", int64_t{1});
  const Tensor xl = Tensor::from<uint8_t>({1, 2, 2, 2}, {10, 10, 20, 10, 30, 10, 41, 10});
  const Tensor yl = run_op(n, 1, {xl, xs, xz, ys, yz}, false).at(0).tensor();
  EXPECT_EQ(yl.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(yl.to_int64s(), (std::vector<int64_t>{13, 5}));
}

TEST(ConvPool, QLinearAveragePoolRoundsHalfToEven) {
  // windows [0, 1] and [2, 3] average 0.5 and 2.5 -> 0 and 2 (half to even)
  auto n = make_node("QLinearAveragePool", 5, 1, "com.microsoft");
  set_attr(n, "kernel_shape", std::vector<int64_t>{1, 2});
  set_attr(n, "strides", std::vector<int64_t>{1, 2});
  const Tensor one = Tensor::from<float>({}, {1.f}), z = Tensor::from<int8_t>({}, {0});
  const Tensor x = Tensor::from<int8_t>({1, 1, 1, 4}, {0, 1, 2, 3});
  EXPECT_EQ(run_op(n, 1, {x, one, z, one, z}, false).at(0).tensor().to_int64s(), (std::vector<int64_t>{0, 2}));
  set_attr(n, "pads", std::vector<int64_t>{0, 1, 0, 1});
  set_attr(n, "count_include_pad", int64_t{1});
  // windows {pad, 0}, {1, 2}, {3, pad}: 0 / 2, 3 / 2 = 1.5 -> 2, 3 / 2 -> 2
  EXPECT_EQ(run_op(n, 1, {x, one, z, one, z}, false).at(0).tensor().to_int64s(), (std::vector<int64_t>{0, 2, 2}));
}

// ---------------------------------------------------------------- robustness

TEST(ConvPool, EmptyBatchesAndEmptyWindows) {
  auto conv = make_node("Conv", 2, 1);
  const Tensor w = random_tensor_of(DType::kFloat, {3, 2, 3, 3}, 1);
  const Tensor y = run_op(conv, 13, {Tensor(DType::kFloat, {0, 2, 5, 5}), w}, false).at(0).tensor();
  EXPECT_EQ(y.shape(), (Shape{0, 3, 3, 3}));
  auto pool = make_node("MaxPool", 1, 2);
  set_attr(pool, "kernel_shape", std::vector<int64_t>{2});
  set_attr(pool, "pads", std::vector<int64_t>{2, 0});
  // the first window lies entirely in the padding: lowest value, index -1
  const auto out = run_op(pool, 12, {Tensor::from<float>({1, 1, 2}, {3, 4})}, false);
  EXPECT_EQ(out[0].tensor().to_floats().at(0), std::numeric_limits<float>::lowest());
  EXPECT_EQ(out[1].tensor().to_int64s(), (std::vector<int64_t>{-1, 0, 1}));
  const Tensor e = run_op(pool, 12, {Tensor(DType::kFloat, {0, 1, 2})}, false).at(0).tensor();
  EXPECT_EQ(e.shape(), (Shape{0, 1, 3}));
}

TEST(ConvPool, ValidatorsWithUnknownInputsAndBadAttributes) {
  // passes validate nodes with only some inputs known: nothing may crash, attributes are checked
  auto conv = make_node("Conv", 3, 1);
  set_attr(conv, "strides", std::vector<int64_t>{0});
  EXPECT_THROW(validate_node(conv, 13, {nullptr, nullptr, nullptr}), InputError);
  auto ok = make_node("Conv", 3, 1);
  const Value w = random_tensor_of(DType::kFloat, {4, 2, 3, 3}, 2);
  EXPECT_NO_THROW(validate_node(ok, 13, {nullptr, &w, nullptr}));
  for (const char* op : {"ConvTranspose", "DeformConv", "MaxPool", "AveragePool", "LpPool", "MaxUnpool", "RoiAlign",
                         "MaxRoiPool", "Col2Im", "ConvInteger", "QLinearConv", "CausalConvWithState", "GlobalLpPool"}) {
    SCOPED_TRACE(op);
    auto n = make_node(op, 3, 1);
    const int opset = std::string(op) == "CausalConvWithState" ? 27 : 22;
    try {
      validate_node(n, opset, {nullptr, nullptr, nullptr});
    } catch (const InputError&) {
      // required attributes (kernel_shape, pooled_shape) may be missing: a clean InputError is fine
    }
  }
  auto ci = make_node("ConvInteger", 2, 1);
  set_attr(ci, "dilations", std::vector<int64_t>{1, 0});
  EXPECT_THROW(run_op(ci, 10, {Tensor(DType::kUInt8, {1, 1, 3, 3}), Tensor(DType::kUInt8, {1, 1, 1, 1})}, false),
               InputError);
  auto dc = make_node("DeformConv", 3, 1);
  set_attr(dc, "offset_group", int64_t{3});  // does not divide 2 channels
  EXPECT_THROW(run_op(dc, 19, {Tensor(DType::kFloat, {1, 2, 3, 3}), Tensor(DType::kFloat, {1, 2, 1, 1}),
                               Tensor(DType::kFloat, {1, 6, 3, 3})}, false),
               InputError);
  auto ra = make_node("RoiAlign", 3, 1);
  set_attr(ra, "mode", std::string("median"));
  EXPECT_THROW(run_op(ra, 16, {Tensor(DType::kFloat, {1, 1, 3, 3}), Tensor(DType::kFloat, {1, 4}),
                               Tensor(DType::kInt64, {1})}, false),
               InputError);
  auto big = make_node("Col2Im", 3, 1);
  EXPECT_THROW(run_op(big, 18, {Tensor(DType::kFloat, {1, 1, 1}), Tensor::from<int64_t>({2}, {int64_t{1} << 50, 1}),
                                Tensor::from<int64_t>({2}, {1, 1})}, false),
               InputError);
  auto unpool = make_node("MaxUnpool", 2, 1);
  set_attr(unpool, "kernel_shape", std::vector<int64_t>{2});
  set_attr(unpool, "strides", std::vector<int64_t>{int64_t{1} << 40});
  // (2^24 - 1) * 2^40 overflows 2^62: an InputError, not a wrapped extent
  EXPECT_THROW(run_op(unpool, 11, {Tensor(DType::kFloat, {1, 1, 1 << 24}), Tensor(DType::kInt64, {1, 1, 1 << 24})}, false),
               InputError);
}
