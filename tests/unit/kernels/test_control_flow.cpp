// SPDX-License-Identifier: Apache-2.0
// If / Loop / Scan and the executor's subgraph machinery: outer-scope reads (one and two scopes
// up, initializers, graph inputs), bodies returning outer values and constants, loop-carried
// sequences, scan outputs (empty on zero iterations), Scan 8 vs 9 attributes, malformed bodies,
// errors naming the node inside the body, and fusion around values that bodies read.
#include <gtest/gtest.h>

#include <functional>

#include "io/model.h"
#include "runtime/executor.h"
#include "tests/unit/kernel_test_util.h"
#include "tests/unit/test_util.h"

using namespace qtool;
using qtool::test::parse_model;

namespace {

using Inits = std::map<std::string, Tensor>;

ValueMap run_text(const std::string& text, const ValueMap& feeds, const Inits& inits = {}, ExecutorOptions opt = {},
                  const std::function<void(Model&)>& edit = nullptr) {
  Model m = parse_model(text.c_str());
  if (edit) edit(m);
  // libonnx 1.12's text parser has no empty leading input: write it as `none`
  std::function<void(onnx::GraphProto&)> blank = [&](onnx::GraphProto& g) {
    for (auto& n : *g.mutable_node()) {
      for (auto& i : *n.mutable_input())
        if (i == "none") i.clear();
      for (auto& a : *n.mutable_attribute())
        if (a.has_g()) blank(*a.mutable_g());
    }
  };
  blank(m.graph());
  for (const auto& [name, t] : inits) m.set_initializer(name, t);
  m = load_model_from_bytes(m.proto.SerializeAsString(), "test");
  Executor ex(m, opt);
  return ex.run_values(feeds);
}

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from<int64_t>(std::move(s), v); }
Tensor boolean(bool b) {
  Tensor t(DType::kBool, {});
  t.data<bool>()[0] = b;
  return t;
}

std::vector<float> floats(const Value& v) { return v.tensor().to_floats(); }

std::string error_of(const std::string& text, const ValueMap& feeds, const Inits& inits = {}) {
  try {
    run_text(text, feeds, inits);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// If

const char* kIfModel = R"(<ir_version: 8, opset_import: ["" : 16]>
g (bool c, float[2] x) => (float[2] y, float[2] z, float[2] k) {
  y, z, k = If (c) <
    then_branch = t () => (float[2] ty, float[2] tz, float[2] tk) {
      ty = Add(x, w)
      tz = Identity(x)
      tk = Identity(cst)
    },
    else_branch = e () => (float[2] ey, float[2] x, float[2] w) {
      ey = Neg(x)
    }>
})";
const Inits kIfInits = {{"w", Tensor::from<float>({2}, {10, 20})}, {"cst", Tensor::from<float>({2}, {7, 8})}};

TEST(ControlFlowIf, BranchesReadOuterInputsAndInitializers) {
  // then: reads the graph input and an outer initializer; else: returns outer values directly
  auto out = run_text(kIfModel, {{"c", boolean(true)}, {"x", f32({2}, {1, 2})}}, kIfInits);
  EXPECT_EQ(floats(out.at("y")), (std::vector<float>{11, 22}));
  EXPECT_EQ(floats(out.at("z")), (std::vector<float>{1, 2}));
  EXPECT_EQ(floats(out.at("k")), (std::vector<float>{7, 8}));  // an initializer in a branch
  out = run_text(kIfModel, {{"c", boolean(false)}, {"x", f32({2}, {1, 2})}}, kIfInits);
  EXPECT_EQ(floats(out.at("y")), (std::vector<float>{-1, -2}));
  EXPECT_EQ(floats(out.at("z")), (std::vector<float>{1, 2}));     // outer graph input as output
  EXPECT_EQ(floats(out.at("k")), (std::vector<float>{10, 20}));   // outer initializer as output
}

TEST(ControlFlowIf, CondMustBeOneBool) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (bool[2] c, float[1] x) => (float[1] y) {
  y = If (c) <then_branch = t () => (float[1] a) { a = Neg(x) }, else_branch = e () => (float[1] b) { b = Abs(x) }>
})";
  Tensor c(DType::kBool, {2});
  const std::string err = error_of(text, {{"c", c}, {"x", f32({1}, {1})}});
  EXPECT_NE(err.find("(If)"), std::string::npos) << err;
  EXPECT_NE(err.find("one element"), std::string::npos) << err;
}

TEST(ControlFlowIf, BranchProducesSequenceAndOptional) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (bool c, float[2] x) => (float[2] s, float[2] o) {
  s, o = If (c) <
    then_branch = t () => (float[2] ts, float[2] to) {
      ts = SequenceConstruct(x, x)
      to = Optional(ts)
    },
    else_branch = e () => (float[2] es, float[2] eo) {
      es = SequenceEmpty<dtype = 1>()
      eo = Optional()
    }>
})";
  // The parser has no TYPE_PROTO attributes: set eo's type = seq(float[2]) here.
  auto edit = [](Model& m) {
    auto& eo = *m.graph().mutable_node(0)->mutable_attribute(1)->mutable_g()->mutable_node(1);
    ASSERT_EQ(eo.output(0), "eo");
    auto* a = eo.add_attribute();
    a->set_name("type");
    a->set_type(onnx::AttributeProto::TYPE_PROTO);
    a->mutable_tp()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
  };
  auto out = run_text(text, {{"c", boolean(true)}, {"x", f32({2}, {1, 2})}}, {}, {}, edit);
  ASSERT_TRUE(out.at("s").is_sequence());
  EXPECT_EQ(out.at("s").items().size(), 2u);
  EXPECT_TRUE(out.at("o").is_optional() && out.at("o").is_sequence());
  out = run_text(text, {{"c", boolean(false)}, {"x", f32({2}, {1, 2})}}, {}, {}, edit);
  EXPECT_EQ(out.at("s").items().size(), 0u);
  EXPECT_TRUE(out.at("o").is_none());
  EXPECT_TRUE(out.at("o").none_of_sequence());
}

// ---------------------------------------------------------------------------------------------
// Loop

// Loop over M with cond; a nested If reads the loop's body input (one scope up) and the graph
// input `x` and the initializer `w` (two scopes up); scan output stacks per-iteration values.
const char* kLoopModel = R"(<ir_version: 8, opset_import: ["" : 16]>
g (int64 m, bool c, float[2] x) => (float[2] acc, float[N,2] trace) {
  acc, trace = Loop (m, c, x) <body = b (int64 i, bool ci, float[2] a) => (bool co, float[2] ao, float[2] so) {
    co = Identity(ci)
    two = Constant<value = int64 {2}>()
    r = Mod(i, two)
    odd = Cast<to = 9>(r)
    ao = If (odd) <
      then_branch = t () => (float[2] u) { u = Add(a, w) },
      else_branch = e () => (float[2] v) { v = Add(a, x) }>
    so = Identity(a)
  }>
})";
const Inits kLoopInits = {{"w", Tensor::from<float>({2}, {100, 200})}};

TEST(ControlFlowLoop, NestedBodiesReadOuterScopes) {
  auto out = run_text(kLoopModel, {{"m", i64({}, {3})}, {"c", boolean(true)}, {"x", f32({2}, {1, 2})}}, kLoopInits);
  // a: (1,2) -> +x (2,4) -> +w (102,204) -> +x (103,206)
  EXPECT_EQ(floats(out.at("acc")), (std::vector<float>{103, 206}));
  EXPECT_EQ(out.at("trace").tensor().shape(), (Shape{3, 2}));
  EXPECT_EQ(floats(out.at("trace")), (std::vector<float>{1, 2, 2, 4, 102, 204}));
  // the reference kernels give the same
  ExecutorOptions ref;
  ref.reference_only = true;
  auto out_ref = run_text(kLoopModel, {{"m", i64({}, {3})}, {"c", boolean(true)}, {"x", f32({2}, {1, 2})}}, kLoopInits, ref);
  EXPECT_EQ(floats(out_ref.at("acc")), floats(out.at("acc")));
}

TEST(ControlFlowLoop, ZeroIterationsGiveInitialValuesAndEmptyScanOutputs) {
  auto out = run_text(kLoopModel, {{"m", i64({}, {0})}, {"c", boolean(true)}, {"x", f32({2}, {1, 2})}}, kLoopInits);
  EXPECT_EQ(floats(out.at("acc")), (std::vector<float>{1, 2}));
  EXPECT_EQ(out.at("trace").tensor().dtype(), DType::kFloat);
  EXPECT_EQ(out.at("trace").tensor().shape(), (Shape{0, 2}));  // declared per-iteration shape [2]
  out = run_text(kLoopModel, {{"m", i64({}, {5})}, {"c", boolean(false)}, {"x", f32({2}, {1, 2})}}, kLoopInits);
  EXPECT_EQ(out.at("trace").tensor().shape(), (Shape{0, 2}));
  out = run_text(kLoopModel, {{"m", i64({}, {-4})}, {"c", boolean(true)}, {"x", f32({2}, {1, 2})}}, kLoopInits);
  EXPECT_EQ(out.at("trace").tensor().shape(), (Shape{0, 2}));
}

TEST(ControlFlowLoop, WhileLoopWithoutTripCountStopsOnCondition) {
  // M omitted: runs while the body's condition holds (4 - i != 0): 5 iterations, then stops.
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (bool c) => (int64 n, int64[K] its) {
  n, its = Loop (none, c, zero) <body = b (int64 i, bool ci, int64 k) => (bool co, int64 ko, int64 io) {
    one = Constant<value = int64 {1}>()
    ko = Add(k, one)
    four = Constant<value = int64 {4}>()
    left = Sub(four, i)
    co = Cast<to = 9>(left)
    io = Identity(i)
  }>
})";
  const Inits inits = {{"zero", Tensor::from<int64_t>({}, {0})}};
  auto out = run_text(text, {{"c", boolean(true)}}, inits);
  EXPECT_EQ(out.at("n").tensor().to_int64s(), (std::vector<int64_t>{5}));
  EXPECT_EQ(out.at("its").tensor().to_int64s(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  // neither M nor cond: the body's condition still ends it
  std::string t2 = text;
  t2.replace(t2.find("Loop (none, c, zero)"), std::string("Loop (none, c, zero)").size(), "Loop (none, , zero)");
  out = run_text(t2, {{"c", boolean(true)}}, inits);
  EXPECT_EQ(out.at("n").tensor().to_int64s(), (std::vector<int64_t>{5}));
}

TEST(ControlFlowLoop, CarriesSequences) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (int64 m, float[1] x) => (float[1] s) {
  e = SequenceEmpty<dtype = 1>()
  s = Loop (m, , e) <body = b (int64 i, bool ci, float[1] si) => (bool co, float[1] so) {
    co = Identity(ci)
    f = Cast<to = 1>(i)
    v = Add(x, f)
    so = SequenceInsert(si, v)
  }>
})";
  auto out = run_text(text, {{"m", i64({}, {3})}, {"x", f32({1}, {10})}});
  ASSERT_TRUE(out.at("s").is_sequence());
  ASSERT_EQ(out.at("s").items().size(), 3u);
  EXPECT_EQ(out.at("s").items()[2].to_floats(), (std::vector<float>{12}));
}

TEST(ControlFlowLoop, MalformedBodiesFail) {
  // condition output is a float
  const char* bad_cond = R"(<ir_version: 8, opset_import: ["" : 16]>
g (float[1] x) => (float[1] y) {
  y = Loop (none, , x) <body = b (int64 i, bool ci, float[1] a) => (float[1] co, float[1] ao) {
    co = Identity(a)
    ao = Identity(a)
  }>
})";
  std::string err = error_of(bad_cond, {{"x", f32({1}, {1})}});
  EXPECT_NE(err.find("loop condition"), std::string::npos) << err;
  // body takes the wrong number of inputs
  const char* bad_arity = R"(<ir_version: 8, opset_import: ["" : 16]>
g (float[1] x) => (float[1] y) {
  y = Loop (none, , x) <body = b (int64 i, float[1] a) => (bool co, float[1] ao) {
    co = Constant<value = bool {0}>()
    ao = Identity(a)
  }>
})";
  err = error_of(bad_arity, {{"x", f32({1}, {1})}});
  EXPECT_NE(err.find("attribute 'body'"), std::string::npos) << err;
  // a scan output that changes shape between iterations
  const char* bad_scan = R"(<ir_version: 8, opset_import: ["" : 16]>
g (int64 m, float[1] x) => (float[1] y, float[N] s) {
  y, s = Loop (m, , x) <body = b (int64 i, bool ci, float[1] a) => (bool co, float[1] ao, float[K] so) {
    co = Identity(ci)
    ao = Concat<axis = 0>(a)
    one = Constant<value = int64[1] {1}>()
    n = Add(i, one)
    n1 = Identity(n)
    so = Expand(a, n1)
  }>
})";
  err = error_of(bad_scan, {{"m", i64({}, {3})}, {"x", f32({1}, {1})}}, {{"zero", Tensor::from<int64_t>({1}, {0})}});
  EXPECT_NE(err.find("between iterations"), std::string::npos) << err;
}

TEST(ControlFlowLoop, ErrorsInsideTheBodyNameTheInnerNode) {
  const char* named = R"(<ir_version: 8, opset_import: ["" : 16]>
g (int64 m, float[2] x) => (float[2] y) {
  y = Loop (m, , x) <body = b (int64 i, bool ci, float[2] a) => (bool co, float[2] ao) {
    co = Identity(ci)
    idx = Constant<value = int64[1] {5}>()
    ao = Gather(a, idx)
  }>
})";
  const std::string err = error_of(named, {{"m", i64({}, {2})}, {"x", f32({2}, {1, 2})}});
  EXPECT_NE(err.find("node 'ao' (Gather)"), std::string::npos) << err;
  EXPECT_NE(err.find("in 'body' of node 'y' (Loop), iteration 0"), std::string::npos) << err;
}

// ---------------------------------------------------------------------------------------------
// Scan

TEST(ControlFlowScan, Scan9AxesAndDirections) {
  // x: [2, 3] scanned along axis 1 in reverse; the running sum is emitted along output axis 1,
  // prepended (scan_output_directions = 1).
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (float[2] s0, float[2,3] x) => (float[2] s, float[2,3] ys, float[3,2] yf) {
  s, ys, yf = Scan (s0, x) <num_scan_inputs = 1, scan_input_axes = [1], scan_input_directions = [1],
      scan_output_axes = [1, 0], scan_output_directions = [1, 0],
      body = b (float[2] acc, float[2] col) => (float[2] acc2, float[2] o1, float[2] o2) {
    acc2 = Add(acc, col)
    o1 = Identity(acc2)
    o2 = Identity(acc2)
  }>
})";
  auto out = run_text(text, {{"s0", f32({2}, {0, 0})}, {"x", f32({2, 3}, {1, 2, 3, 10, 20, 30})}});
  EXPECT_EQ(floats(out.at("s")), (std::vector<float>{6, 60}));
  // iterations see columns 2,1,0: sums (3,30), (5,50), (6,60)
  EXPECT_EQ(floats(out.at("yf")), (std::vector<float>{3, 30, 5, 50, 6, 60}));
  // prepended along axis 1: [[6,5,3],[60,50,30]]
  EXPECT_EQ(floats(out.at("ys")), (std::vector<float>{6, 5, 3, 60, 50, 30}));
}

TEST(ControlFlowScan, Scan9ZeroLengthAndBadAttributes) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (float[2] s0, float[N,2] x) => (float[2] s, float[M,2] y) {
  s, y = Scan (s0, x) <num_scan_inputs = 1, body = b (float[2] acc, float[2] r) => (float[2] acc2, float[2] o) {
    acc2 = Add(acc, r)
    o = Identity(r)
  }>
})";
  auto out = run_text(text, {{"s0", f32({2}, {1, 2})}, {"x", Tensor(DType::kFloat, {0, 2})}});
  EXPECT_EQ(floats(out.at("s")), (std::vector<float>{1, 2}));
  EXPECT_EQ(out.at("y").tensor().shape(), (Shape{0, 2}));
  std::string bad = text;
  bad.replace(bad.find("num_scan_inputs = 1"), 19, "num_scan_inputs = 1, scan_input_axes = [0, 1]");
  const std::string err = error_of(bad, {{"s0", f32({2}, {1, 2})}, {"x", f32({1, 2}, {1, 2})}});
  EXPECT_NE(err.find("attribute 'scan_input_axes'"), std::string::npos) << err;
}

TEST(ControlFlowScan, Scan8BatchAndSequenceLens) {
  const char* text = R"(<ir_version: 3, opset_import: ["" : 8]>
g (int64[2] lens, float[2,1] s0, float[2,3,1] x) => (float[2,1] s, float[2,3,1] y) {
  s, y = Scan (lens, s0, x) <num_scan_inputs = 1, directions = [1],
      body = b (float[1] acc, float[1] v) => (float[1] acc2, float[1] o) {
    acc2 = Add(acc, v)
    o = Identity(acc2)
  }>
})";
  auto out = run_text(text, {{"lens", i64({2}, {3, 2})},
                             {"s0", f32({2, 1}, {0, 100})},
                             {"x", f32({2, 3, 1}, {1, 2, 3, 10, 20, 30})}});
  // batch 0 reverse over 3: 3, 5, 6; batch 1 reverse over its 2: 120, 130, then zero padding
  EXPECT_EQ(floats(out.at("s")), (std::vector<float>{6, 130}));
  EXPECT_EQ(floats(out.at("y")), (std::vector<float>{3, 5, 6, 120, 130, 0}));
  const std::string err = error_of(text, {{"lens", i64({2}, {4, 2})},
                                          {"s0", f32({2, 1}, {0, 100})},
                                          {"x", f32({2, 3, 1}, {1, 2, 3, 10, 20, 30})}});
  EXPECT_NE(err.find("sequence_lens"), std::string::npos) << err;
}

// ---------------------------------------------------------------------------------------------
// Executor: a value a body reads must not be fused away.

TEST(ControlFlowExecutor, ValueReadByBodySurvivesConvReluFusion) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (float[1,1,2,2] x, bool c) => (float[1,1,2,2] r, float[1,1,2,2] y) {
  cv = Conv(x, w)
  r = Relu(cv)
  y = If (c) <then_branch = t () => (float[1,1,2,2] a) { a = Identity(cv) },
              else_branch = e () => (float[1,1,2,2] b) { b = Neg(cv) }>
})";
  auto out = run_text(text, {{"x", f32({1, 1, 2, 2}, {1, -2, 3, -4})}, {"c", boolean(true)}},
                      {{"w", Tensor::from<float>({1, 1, 1, 1}, {-1})}});
  EXPECT_EQ(floats(out.at("y")), (std::vector<float>{-1, 2, -3, 4}));
  EXPECT_EQ(floats(out.at("r")), (std::vector<float>{0, 2, 0, 4}));
}

TEST(ControlFlowExecutor, BodyInputsShadowOuterConstants) {
  // Outer initializers are constants of the body too (its Shape/Cast chain on `k` is folded),
  // but the body's own input `w` hides the outer initializer `w`, also for the If inside it.
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (int64 m, float[3] x) => (float[3] y) {
  y = Loop (m, , x) <body = b (int64 i, bool ci, float[3] w) => (bool co, float[3] ao) {
    co = Identity(ci)
    sh = Shape(k)
    f = Cast<to = 1>(sh)
    ao = If (ci) <then_branch = t () => (float[3] u) { u = Add(w, f) },
                  else_branch = e () => (float[3] v) { v = Identity(w) }>
  }>
})";
  const Inits inits = {{"k", Tensor(DType::kFloat, {3})}, {"w", Tensor::from<float>({3}, {100, 100, 100})}};
  auto out = run_text(text, {{"m", i64({}, {2})}, {"x", f32({3}, {1, 2, 3})}, {"c", boolean(true)}}, inits);
  EXPECT_EQ(floats(out.at("y")), (std::vector<float>{7, 8, 9}));
}

TEST(ControlFlowExecutor, ConstantNodeFailingInABranchFailsOnlyWhenItRuns) {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
g (bool c) => (float[1] y) {
  y = If (c) <
    then_branch = t () => (float[1] a) { idx = Constant<value = int64[1] {7}>()
                                         a = Gather(k, idx) },
    else_branch = e () => (float[1] b) { b = Identity(k) }>
})";
  const Inits inits = {{"k", Tensor::from<float>({1}, {5})}};
  auto out = run_text(text, {{"c", boolean(false)}}, inits);
  EXPECT_EQ(floats(out.at("y")), (std::vector<float>{5}));
  const std::string err = error_of(text, {{"c", boolean(true)}}, inits);
  EXPECT_NE(err.find("node 'a' (Gather)"), std::string::npos) << err;
}
