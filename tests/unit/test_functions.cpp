// SPDX-License-Identifier: Apache-2.0
// Inlining of model-local functions (io/functions.h) at load: attribute references and
// defaults, nested calls, calls inside subgraphs, fresh names, overloads, recursion, pass-through
// outputs, opset imports.
#include <gtest/gtest.h>

#include "io/functions.h"
#include "io/model.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;
using qtool::test::parse_model;

namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from<float>(std::move(s), v); }

Model load(const Model& m) { return load_model_from_bytes(m.proto.SerializeAsString(), "fn.onnx"); }

std::vector<float> run1(const Model& m, const TensorMap& feeds, const std::string& out) {
  Executor ex(m);
  return ex.run(feeds).at(out).to_floats();
}

bool has_op(const onnx::GraphProto& g, const std::string& op) {
  for (const auto& n : g.node()) {
    if (n.op_type() == op) return true;
    for (const auto& a : n.attribute())
      if (a.has_g() && has_op(a.g(), op)) return true;
  }
  return false;
}

// FunctionProto.attribute_proto (field 11, IR 9) is newer than the protobuf qtool builds with:
// written here as the unknown field a newer writer produces.
void add_default(onnx::FunctionProto& f, const std::string& name, float value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(value);
  f.mutable_unknown_fields()->AddLengthDelimited(11, a.SerializeAsString());
}

const char* kModel = R"(<ir_version: 9, opset_import: ["" : 18, "local" : 1]>
g (float[3] x, float[3] z, bool c) => (float[3] y1, float[3] y2, float[3] y3) {
  t = Neg(x)
  y1 = local.Outer<b = 0.1>(t, z)
  y2 = local.Outer(t, z)
  y3 = If (c) <then_branch = tb () => (float[3] o) { o = local.Inner<a = 0.25>(x) },
               else_branch = eb () => (float[3] p) { p = Neg(x) }>
}
<domain: "local", opset_import: ["" : 18, "local" : 1]>
Inner <a> (x) => (y) {
  t = LeakyRelu<alpha: float = @a>(x)
  y = Add(t, t)
}
<domain: "local", opset_import: ["" : 18, "local" : 1]>
Outer <b> (x, z) => (y) {
  i = local.Inner<a: float = @b>(x)
  y = Add(i, z)
}
)";

}  // namespace

TEST(Functions, InlinedWithAttributeReferencesDefaultsNestingAndSubgraphs) {
  Model m = parse_model(kModel);
  ASSERT_EQ(m.proto.functions_size(), 2);
  add_default(*m.proto.mutable_functions(0), "a", 0.5f);  // Inner's default for a
  Model in = load(m);
  EXPECT_EQ(in.proto.functions_size(), 0);
  EXPECT_FALSE(has_op(in.graph(), "Outer"));
  EXPECT_FALSE(has_op(in.graph(), "Inner"));
  // every value name is assigned once, the model's own `t` included
  std::set<std::string> outs;
  for (const auto& n : in.graph().node())
    for (const auto& o : n.output()) EXPECT_TRUE(outs.insert(o).second) << o;
  const TensorMap feeds{{"x", f32({3}, {1, -0.5f, -2})}, {"z", f32({3}, {1, 1, 1})}, {"c", Tensor(DType::kBool, {})}};
  // y1: b = 0.1 bound through Outer into Inner; t = -x = (-1, 0.5, 2)
  EXPECT_EQ(run1(in, feeds, "y1"), (std::vector<float>{-1 * 0.1f * 2 + 1, 0.5f * 2 + 1, 2 * 2 + 1}));
  // y2: Outer has no b, so Inner's a is unset and its default 0.5 applies
  EXPECT_EQ(run1(in, feeds, "y2"), (std::vector<float>{-1 * 0.5f * 2 + 1, 2, 5}));
  TensorMap feeds_then = feeds;
  feeds_then["c"].data<bool>()[0] = true;
  EXPECT_EQ(run1(in, feeds_then, "y3"), (std::vector<float>{2, -0.5f * 0.25f * 2, -2 * 0.25f * 2}));
}

TEST(Functions, AbsentAttributeWithoutDefaultIsDropped) {
  Model in = load(parse_model(kModel));  // no default for a: LeakyRelu's own alpha (0.01)
  const TensorMap feeds{{"x", f32({3}, {1, 0, 0})}, {"z", f32({3}, {0, 0, 0})}, {"c", Tensor(DType::kBool, {})}};
  const auto y2 = run1(in, feeds, "y2");
  EXPECT_FLOAT_EQ(y2[0], -1 * 0.01f * 2);
}

TEST(Functions, OverloadsSelectTheFunction) {
  Model m = parse_model(R"(<ir_version: 10, opset_import: ["" : 18, "local" : 1]>
g (float[2] x) => (float[2] y, float[2] z) {
  y = local.F(x)
  z = local.F(x)
}
<domain: "local", opset_import: ["" : 18]>
F (x) => (y) {
  y = Neg(x)
}
<domain: "local", opset_import: ["" : 18]>
F (x) => (y) {
  y = Abs(x)
}
)");
  // overload fields (IR 10) as unknown fields: FunctionProto.overload = 13, NodeProto.overload = 8
  m.proto.mutable_functions(0)->mutable_unknown_fields()->AddLengthDelimited(13, "neg");
  m.proto.mutable_functions(1)->mutable_unknown_fields()->AddLengthDelimited(13, "abs");
  m.graph().mutable_node(0)->mutable_unknown_fields()->AddLengthDelimited(8, "abs");
  m.graph().mutable_node(1)->mutable_unknown_fields()->AddLengthDelimited(8, "neg");
  Model in = load(m);
  const TensorMap feeds{{"x", f32({2}, {-1, 2})}};
  EXPECT_EQ(run1(in, feeds, "y"), (std::vector<float>{1, 2}));
  EXPECT_EQ(run1(in, feeds, "z"), (std::vector<float>{1, -2}));
}

TEST(Functions, PassThroughOutputsOptionalInputsAndOpsetImports) {
  Model m = parse_model(R"(<ir_version: 8, opset_import: ["" : 18, "local" : 1]>
g (float[2] x) => (float[2] y, float[2] w) {
  y, w = local.F(x)
  u = local.G(x)
}
<domain: "local", opset_import: ["" : 18, "extra" : 3]>
F (a) => (b, a) {
  b = Neg(a)
}
<domain: "local", opset_import: ["" : 18]>
G (a, maybe) => (b, unused) {
  b = Neg(a)
  unused = Abs(a)
}
)");
  Model in = load(m);
  const TensorMap feeds{{"x", f32({2}, {-1, 2})}};
  EXPECT_EQ(run1(in, feeds, "y"), (std::vector<float>{1, -2}));
  EXPECT_EQ(run1(in, feeds, "w"), (std::vector<float>{-1, 2}));  // the function returns its input
  bool extra = false;
  for (const auto& o : in.proto.opset_import()) extra = extra || (o.domain() == "extra" && o.version() == 3);
  EXPECT_TRUE(extra);
}

TEST(Functions, RecursionAndBadCallsAreInputErrors) {
  Model rec = parse_model(R"(<ir_version: 8, opset_import: ["" : 18, "local" : 1]>
g (float[2] x) => (float[2] y) {
  y = local.A(x)
}
<domain: "local", opset_import: ["" : 18, "local" : 1]>
A (x) => (y) {
  y = local.B(x)
}
<domain: "local", opset_import: ["" : 18, "local" : 1]>
B (x) => (y) {
  y = local.A(x)
}
)");
  try {
    load(rec);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("calls itself"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("fn.onnx", 0), 0u) << e.what();
  }
  Model many = parse_model(R"(<ir_version: 8, opset_import: ["" : 18, "local" : 1]>
g (float[2] x) => (float[2] y) {
  y = local.A(x, x)
}
<domain: "local", opset_import: ["" : 18]>
A (x) => (y) {
  y = Neg(x)
}
)");
  EXPECT_THROW(load(many), InputError);
}

TEST(Functions, ModelsWithoutFunctionsAreUntouched) {
  Model m = parse_model(R"(<ir_version: 8, opset_import: ["" : 18]>
g (float[2] x) => (float[2] y) {
  y = Neg(x)
}
)");
  const std::string before = m.proto.SerializeAsString();
  EXPECT_EQ(inline_model_functions(m.proto, "m"), 0);
  EXPECT_EQ(m.proto.SerializeAsString(), before);
}
