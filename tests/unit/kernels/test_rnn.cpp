// SPDX-License-Identifier: Apache-2.0
// RNN / GRU / LSTM: values worked out by hand (gate order, sequence_lens padding, directions,
// layout), the float32 Eigen kernel against the reference (odd shapes, fixed seeds, every
// option), float16 / double / bfloat16 references, and invalid attributes and inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/kernel_test_util.h"

using namespace qtool;
using namespace qtool::test;

namespace {

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), v); }

// A node with the standard input names; "" for the ones left out (trailing ones dropped).
onnx::NodeProto rnn_node(const std::string& op, const std::vector<bool>& given, int outputs) {
  onnx::NodeProto n = make_node(op, 0, outputs);
  int last = -1;
  for (int i = 0; i < static_cast<int>(given.size()); ++i)
    if (given[i]) last = i;
  for (int i = 0; i <= last; ++i) n.add_input(given[i] ? "in" + std::to_string(i) : "");
  return n;
}

std::string error_of(const onnx::NodeProto& n, int opset, const std::vector<Value>& in) {
  try {
    run_op(n, opset, in, true);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Rnn, ReluCumulativeSumWithSequenceLensAndDirections) {
  // hidden = input = 1, W = R = 1, Relu: H_t = relu(x_t + H_{t-1}), a running sum of positives.
  // X [seq 3, batch 2, 1]; batch 1 has length 2.
  auto n = rnn_node("RNN", {true, true, true, false, true}, 2);
  set_attr(n, "hidden_size", int64_t{1});
  auto* a = n.add_attribute();
  a->set_name("activations");
  a->set_type(onnx::AttributeProto::STRINGS);
  a->add_strings("Relu");
  a->add_strings("relu");  // names are case-insensitive
  set_attr(n, "direction", std::string("bidirectional"));
  const Tensor x = f32({3, 2, 1}, {1, 10, 2, 20, 3, 30});
  const Tensor w = f32({2, 1, 1}, {1, 1}), r = f32({2, 1, 1}, {1, 1});
  const Tensor lens = Tensor::from<int32_t>({2}, {3, 2});
  for (bool ref : {true, false}) {
    auto out = run_op(n, 14, {x, w, r, Value(), lens}, ref);
    const Tensor& y = out[0].tensor();  // [3, 2 dirs, 2 batch, 1]
    ASSERT_EQ(y.shape(), (Shape{3, 2, 2, 1}));
    // forward: b0 1,3,6; b1 10,30 then zero padding. reverse: b0 from t=2: Y[2]=3, Y[1]=5, Y[0]=6;
    // b1 from its own end t=1: Y[1]=20, Y[0]=30, Y[2]=0.
    EXPECT_EQ(y.to_floats(), (std::vector<float>{1, 10, 6, 30, 3, 30, 5, 20, 6, 0, 3, 0})) << (ref ? "reference" : "fast");
    EXPECT_EQ(out[1].tensor().to_floats(), (std::vector<float>{6, 30, 6, 30})) << (ref ? "reference" : "fast");
  }
}

TEST(Rnn, LayoutOneIsBatchMajor) {
  auto n0 = rnn_node("GRU", {true, true, true, true, false, true}, 2);
  set_attr(n0, "direction", std::string("bidirectional"));
  auto n1 = n0;
  set_attr(n1, "layout", int64_t{1});
  const int64_t seq = 4, batch = 3, in = 5, h = 6;
  const Tensor x = random_tensor_of(DType::kFloat, {seq, batch, in}, 1);
  const Tensor w = random_tensor_of(DType::kFloat, {2, 3 * h, in}, 2);
  const Tensor r = random_tensor_of(DType::kFloat, {2, 3 * h, h}, 3);
  const Tensor b = random_tensor_of(DType::kFloat, {2, 6 * h}, 4);
  const Tensor h0 = random_tensor_of(DType::kFloat, {2, batch, h}, 5);
  auto transpose01 = [](const Tensor& t) {  // [a, b, c] -> [b, a, c]
    Tensor o(t.dtype(), {t.dim(1), t.dim(0), t.dim(2)});
    for (int64_t i = 0; i < t.dim(0); ++i)
      for (int64_t j = 0; j < t.dim(1); ++j)
        for (int64_t k = 0; k < t.dim(2); ++k)
          o.data<float>()[(j * t.dim(0) + i) * t.dim(2) + k] = t.data<float>()[(i * t.dim(1) + j) * t.dim(2) + k];
    return o;
  };
  for (bool ref : {true, false}) {
    auto o0 = run_op(n0, 14, {x, w, r, b, Value(), h0}, ref);
    auto o1 = run_op(n1, 14, {transpose01(x), w, r, b, Value(), transpose01(h0)}, ref);
    const Tensor& y0 = o0[0].tensor();  // [seq, dirs, batch, h]
    const Tensor& y1 = o1[0].tensor();  // [batch, seq, dirs, h]
    ASSERT_EQ(y1.shape(), (Shape{batch, seq, 2, h}));
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t d = 0; d < 2; ++d)
        for (int64_t bb = 0; bb < batch; ++bb)
          for (int64_t j = 0; j < h; ++j)
            ASSERT_EQ(y0.data<float>()[((t * 2 + d) * batch + bb) * h + j], y1.data<float>()[((bb * seq + t) * 2 + d) * h + j]);
    expect_tensors_near(transpose01(o0[1].tensor()), o1[1].tensor(), 0, 0);
  }
}

TEST(Rnn, LstmGateOrderIofc) {
  // W = R = 0: every gate sees only its bias. Wb = [i o f c] = [1, 2, 3, 0.5], Rb = 0.
  auto n = rnn_node("LSTM", {true, true, true, true}, 3);
  const Tensor x = f32({2, 1, 1}, {7, -7});
  const Tensor w(DType::kFloat, {1, 4, 1}), r(DType::kFloat, {1, 4, 1});
  const Tensor b = f32({1, 8}, {1, 2, 3, 0.5f, 0, 0, 0, 0});
  const float i = sigmoid(1), o = sigmoid(2), f = sigmoid(3), g = std::tanh(0.5f);
  const float c1 = i * g, h1 = o * std::tanh(c1), c2 = f * c1 + i * g, h2 = o * std::tanh(c2);
  for (bool ref : {true, false}) {
    auto out = run_op(n, 14, {x, w, r, b}, ref);
    expect_tensors_near(out[0].tensor(), f32({2, 1, 1, 1}, {h1, h2}), 1e-6, 1e-7);
    expect_tensors_near(out[2].tensor(), f32({1, 1, 1}, {c2}), 1e-6, 1e-7);
  }
  // input_forget: f = 1 - i
  set_attr(n, "input_forget", int64_t{1});
  const float c2f = (1 - i) * c1 + i * g;
  auto out = run_op(n, 14, {x, w, r, b}, true);
  expect_tensors_near(out[2].tensor(), f32({1, 1, 1}, {c2f}), 1e-6, 1e-7);
}

TEST(Rnn, GruGateOrderZrhAndLinearBeforeReset) {
  // W = 0, R = 1 (so H enters each gate), Wb = [z r h] = [0.3, -1, 0.2], Rb = [0, 0, 0.7].
  auto n = rnn_node("GRU", {true, true, true, true, false, true}, 2);
  const Tensor x = f32({1, 1, 1}, {5});
  const Tensor w(DType::kFloat, {1, 3, 1});
  const Tensor r = f32({1, 3, 1}, {1, 1, 1});
  const Tensor b = f32({1, 6}, {0.3f, -1, 0.2f, 0, 0, 0.7f});
  const float h0 = 0.5f;
  const Tensor init = f32({1, 1, 1}, {h0});
  const float z = sigmoid(0.3f + h0), rr = sigmoid(-1 + h0);
  const float ht0 = std::tanh(0.2f + rr * h0 + 0.7f);          // (r (.) H) Rh^T + Rbh
  const float ht1 = std::tanh(0.2f + rr * (h0 + 0.7f));        // r (.) (H Rh^T + Rbh)
  for (bool ref : {true, false}) {
    auto out = run_op(n, 14, {x, w, r, b, Value(), init}, ref);
    expect_tensors_near(out[1].tensor(), f32({1, 1, 1}, {(1 - z) * ht0 + z * h0}), 1e-6, 1e-7);
  }
  set_attr(n, "linear_before_reset", int64_t{1});
  for (bool ref : {true, false}) {
    auto out = run_op(n, 14, {x, w, r, b, Value(), init}, ref);
    expect_tensors_near(out[1].tensor(), f32({1, 1, 1}, {(1 - z) * ht1 + z * h0}), 1e-6, 1e-7);
  }
}

struct FastCase {
  std::string op;
  int64_t seq, batch, input, hidden;
  std::string direction;
  bool bias, lens, h0, c0, peep, clip, acts, layout;
  int64_t extra;  // GRU linear_before_reset / LSTM input_forget
};

void PrintTo(const FastCase& c, std::ostream* os) {
  *os << c.op << " seq " << c.seq << " batch " << c.batch << " input " << c.input << " hidden " << c.hidden << " "
      << c.direction;
}

class RnnFastVsReference : public ::testing::TestWithParam<FastCase> {};

TEST_P(RnnFastVsReference, Matches) {
  const FastCase p = GetParam();
  const int G = p.op == "RNN" ? 1 : p.op == "GRU" ? 3 : 4;
  const int dirs = p.direction == "bidirectional" ? 2 : 1;
  const bool lstm = p.op == "LSTM";
  auto n = rnn_node(p.op, {true, true, true, p.bias, p.lens, p.h0, lstm && p.c0, lstm && p.peep}, lstm ? 3 : 2);
  set_attr(n, "hidden_size", p.hidden);
  set_attr(n, "direction", p.direction);
  if (p.layout) set_attr(n, "layout", int64_t{1});
  if (p.clip) set_attr(n, "clip", 0.8f);
  if (p.op == "GRU") set_attr(n, "linear_before_reset", p.extra);
  if (lstm) set_attr(n, "input_forget", p.extra);
  if (p.acts) {
    auto* a = n.add_attribute();
    a->set_name("activations");
    a->set_type(onnx::AttributeProto::STRINGS);
    const std::vector<std::string> per = p.op == "RNN"   ? std::vector<std::string>{"LeakyRelu"}
                                         : p.op == "GRU" ? std::vector<std::string>{"HardSigmoid", "Softsign"}
                                                         : std::vector<std::string>{"HardSigmoid", "Elu", "Softplus"};
    for (int d = 0; d < dirs; ++d)
      for (const auto& s : per) a->add_strings(s);
    set_attr(n, "activation_alpha", std::vector<float>{0.3f, 0.7f, 0.2f, 0.9f});
    set_attr(n, "activation_beta", std::vector<float>{0.4f, 0.6f});
  }
  uint32_t seed = 11;
  const Shape xs = p.layout ? Shape{p.batch, p.seq, p.input} : Shape{p.seq, p.batch, p.input};
  const Shape ss = p.layout ? Shape{p.batch, dirs, p.hidden} : Shape{dirs, p.batch, p.hidden};
  std::vector<Value> in{random_tensor_of(DType::kFloat, xs, seed++),
                        random_tensor_of(DType::kFloat, {dirs, G * p.hidden, p.input}, seed++, -0.5, 0.5),
                        random_tensor_of(DType::kFloat, {dirs, G * p.hidden, p.hidden}, seed++, -0.5, 0.5)};
  in.push_back(p.bias ? Value(random_tensor_of(DType::kFloat, {dirs, 2 * G * p.hidden}, seed++)) : Value());
  if (p.lens) {
    Tensor l(DType::kInt32, {p.batch});
    for (int64_t b = 0; b < p.batch; ++b) l.data<int32_t>()[b] = static_cast<int32_t>((b * 7) % (p.seq + 1));
    in.emplace_back(l);
  } else {
    in.emplace_back();
  }
  in.push_back(p.h0 ? Value(random_tensor_of(DType::kFloat, ss, seed++)) : Value());
  if (lstm) {
    in.push_back(p.c0 ? Value(random_tensor_of(DType::kFloat, ss, seed++)) : Value());
    in.push_back(p.peep ? Value(random_tensor_of(DType::kFloat, {dirs, 3 * p.hidden}, seed++)) : Value());
  }
  in.resize(n.input_size());
  // summation order differs (one GEMM vs plain loops) and carries through the steps
  expect_fast_matches_reference(n, 14, in, 1e-4, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Odd, RnnFastVsReference,
    ::testing::Values(
        FastCase{"RNN", 13, 3, 13, 127, "forward", true, false, true, false, false, false, false, false, 0},
        FastCase{"RNN", 1, 1, 1, 1, "reverse", false, false, false, false, false, true, true, false, 0},
        FastCase{"RNN", 13, 5, 7, 13, "bidirectional", true, true, true, false, false, false, true, true, 0},
        FastCase{"GRU", 13, 3, 13, 127, "forward", true, false, false, false, false, false, false, false, 0},
        FastCase{"GRU", 13, 4, 5, 13, "bidirectional", true, true, true, false, false, true, false, false, 1},
        FastCase{"GRU", 7, 2, 3, 13, "reverse", true, true, true, false, false, false, true, true, 0},
        FastCase{"GRU", 1, 1, 1, 1, "forward", false, false, false, false, false, false, false, false, 1},
        FastCase{"LSTM", 13, 3, 13, 127, "forward", true, false, true, true, true, false, false, false, 0},
        FastCase{"LSTM", 13, 5, 4, 13, "bidirectional", true, true, true, true, true, true, false, false, 1},
        FastCase{"LSTM", 6, 3, 5, 7, "reverse", false, true, false, true, false, false, true, true, 0},
        FastCase{"LSTM", 1, 1, 1, 1, "bidirectional", true, false, false, false, true, true, true, false, 1}));

TEST(Rnn, OtherFloatTypesFollowTheFloatReference) {
  auto n = rnn_node("LSTM", {true, true, true, true}, 2);
  set_attr(n, "direction", std::string("bidirectional"));
  const Tensor x = random_tensor_of(DType::kFloat, {5, 2, 3}, 1);
  const Tensor w = random_tensor_of(DType::kFloat, {2, 16, 3}, 2);
  const Tensor r = random_tensor_of(DType::kFloat, {2, 16, 4}, 3);
  const Tensor b = random_tensor_of(DType::kFloat, {2, 32}, 4);
  const auto want = run_op(n, 22, {x, w, r, b}, true);
  for (DType dt : {DType::kDouble, DType::kFloat16, DType::kBFloat16}) {
    const double tol = dt == DType::kDouble ? 1e-6 : dt == DType::kFloat16 ? 1e-2 : 5e-2;
    // the inputs rounded to dt, compared against float on the same rounded values
    std::vector<Value> in{x.cast(dt), w.cast(dt), r.cast(dt), b.cast(dt)};
    std::vector<Value> back{x.cast(dt).cast(DType::kFloat), w.cast(dt).cast(DType::kFloat),
                            r.cast(dt).cast(DType::kFloat), b.cast(dt).cast(DType::kFloat)};
    const auto got = run_op(n, 22, in, false);
    const auto ref = run_op(n, 22, back, true);
    ASSERT_EQ(got[0].tensor().dtype(), dt);
    expect_tensors_near(got[0].tensor().cast(DType::kFloat), ref[0].tensor(), tol, tol);
    expect_tensors_near(got[1].tensor().cast(DType::kFloat), ref[1].tensor(), tol, tol);
  }
  (void)want;
  // bfloat16 arrived at version 22
  const std::string err = error_of(n, 14, {x.cast(DType::kBFloat16), w.cast(DType::kBFloat16), r.cast(DType::kBFloat16),
                                           b.cast(DType::kBFloat16)});
  EXPECT_NE(err.find("bfloat16"), std::string::npos) << err;
}

TEST(Rnn, InvalidAttributesAndInputs) {
  const Tensor x = random_tensor_of(DType::kFloat, {2, 1, 3}, 1);
  const Tensor w = random_tensor_of(DType::kFloat, {1, 4, 3}, 2);
  const Tensor r = random_tensor_of(DType::kFloat, {1, 4, 4}, 3);
  const std::vector<Value> in{x, w, r};
  auto base = rnn_node("RNN", {true, true, true}, 2);
  auto expect_error = [&](const onnx::NodeProto& n, const std::vector<Value>& v, const std::string& what) {
    const std::string err = error_of(n, 14, v);
    EXPECT_NE(err.find(what), std::string::npos) << "wanted '" << what << "', got '" << err << "'";
    EXPECT_NE(err.find("(RNN)"), std::string::npos) << err;
  };
  auto n = base;
  set_attr(n, "direction", std::string("sideways"));
  expect_error(n, in, "attribute 'direction'");
  n = base;
  set_attr(n, "layout", int64_t{2});
  expect_error(n, in, "attribute 'layout'");
  n = base;
  set_attr(n, "hidden_size", int64_t{5});
  expect_error(n, in, "attribute 'hidden_size'");
  n = base;
  set_attr(n, "clip", 0.f);
  expect_error(n, in, "attribute 'clip'");
  n = base;
  auto* a = n.add_attribute();
  a->set_name("activations");
  a->set_type(onnx::AttributeProto::STRINGS);
  a->add_strings("Swish");
  expect_error(n, in, "unknown function 'Swish'");
  a->set_strings(0, "Tanh");
  a->add_strings("Tanh");
  a->add_strings("Tanh");
  expect_error(n, in, "attribute 'activations': has 3 functions, expected 1");
  // input shapes
  expect_error(base, {x, random_tensor_of(DType::kFloat, {1, 4, 2}, 4), r}, "input 'W'");
  expect_error(base, {x, w, random_tensor_of(DType::kFloat, {1, 3, 4}, 4)}, "input 'R'");
  expect_error(base, {random_tensor_of(DType::kFloat, {2, 3}, 4), w, r}, "input 'X'");
  auto with_b = rnn_node("RNN", {true, true, true, true, true, true}, 2);
  expect_error(with_b, {x, w, r, random_tensor_of(DType::kFloat, {1, 7}, 5), Value(), Value()}, "input 'B'");
  expect_error(with_b, {x, w, r, Value(), Tensor::from<int32_t>({1}, {3}), Value()}, "input 'sequence_lens'");
  expect_error(with_b, {x, w, r, Value(), Tensor::from<int32_t>({2}, {1, 1}), Value()}, "input 'sequence_lens'");
  expect_error(with_b, {x, w, r, Value(), Value(), random_tensor_of(DType::kFloat, {1, 2, 4}, 6)}, "input 'initial_h'");
  expect_error(base, {x.cast(DType::kDouble), w, r}, "is float32, X is float64");
  expect_error(base, {x.cast(DType::kInt32), w.cast(DType::kInt32), r.cast(DType::kInt32)}, "does not accept");
}
