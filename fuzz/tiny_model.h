// SPDX-License-Identifier: Apache-2.0
// The small model fuzz_calib_table and fuzz_plan apply what they parse to, as `qtool quantize`
// applies a table or plan to the user's model:
//   x [1,3,8,8] -> Conv "conv" (W [4,3,3,3], B [4], pads 1) -> conv_out -> Relu "relu" -> relu_out
//   -> Flatten "flat" -> flat_out [1,256] -> MatMul "fc" (W [256,10]) -> fc_out -> Add "bias" -> y
// (ai.onnx 13; weights fixed pseudo-random values). Also written to a file for seeding (.ci/fuzz
// sets QTOOL_FUZZ_WRITE_MODEL) so the seed tables and plans name its tensors and nodes.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "io/model.h"

namespace qtool::fuzz {

inline Model tiny_model() {
  Model m;
  m.proto.set_ir_version(8);
  auto* op = m.proto.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  auto& g = *m.proto.mutable_graph();
  g.set_name("tiny");
  auto value = [](onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  value(g.add_input(), "x", {1, 3, 8, 8});
  value(g.add_output(), "y", {1, 10});
  auto weight = [&](const std::string& name, std::vector<int64_t> dims) {
    auto* t = g.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (auto d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) t->add_float_data(static_cast<float>(std::sin(0.7 * i + name.size())) * 0.3f);
  };
  weight("conv_w", {4, 3, 3, 3});
  weight("conv_b", {4});
  weight("fc_w", {256, 10});
  weight("fc_b", {10});
  auto node = [&](const std::string& type, const std::string& name, std::vector<std::string> in, const std::string& out) {
    auto* n = g.add_node();
    n->set_op_type(type);
    n->set_name(name);
    for (auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  auto* conv = node("Conv", "conv", {"x", "conv_w", "conv_b"}, "conv_out");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  node("Relu", "relu", {"conv_out"}, "relu_out");
  node("Flatten", "flat", {"relu_out"}, "flat_out");
  node("MatMul", "fc", {"flat_out", "fc_w"}, "fc_out");
  node("Add", "bias", {"fc_out", "fc_b"}, "y");
  return m;
}

// QTOOL_FUZZ_WRITE_MODEL=<file>: writes tiny_model() there and exits (seeding, .ci/fuzz).
inline void write_tiny_model_if_asked() {
  if (const char* p = std::getenv("QTOOL_FUZZ_WRITE_MODEL")) {
    save_model(tiny_model(), p);
    std::exit(0);
  }
}

}  // namespace qtool::fuzz
