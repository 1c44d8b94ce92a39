// SPDX-License-Identifier: Apache-2.0
// upgrade_opset: to ctx.options.target_opset: onnx's version converter (libonnx) up to opset 13,
// then qtool's own 13 -> 21 step (below; libonnx 1.12 knows opsets up to 17 only).
// Some adapters (Softmax 12->13) need tensor ranks: onnx's shape inference (libonnx, which knows
// every opset below 13) supplies them as value_info for the conversion, removed again afterwards.
// Where it cannot (e.g. a Reshape to a computed shape), the model is run once on zeros of concrete
// input shapes (declared, or --input-shape; runtime/value_shapes.h) — never guessed ones.
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "quant/pass.h"
#include "runtime/op_registry.h"
#include "runtime/value_shapes.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

// ai.onnx 13 -> 21 for inference graphs (libonnx 1.12's converter stops at 17, and its 13+ adapters
// are not needed for the ops qtool runs). Changes with an effect on inference between 14 and 21:
//   18: Reduce{Max,Min,Mean,Prod,L1,L2,LogSum,LogSumExp,SumSquare} take axes as an input
//   16: RoiAlign's default coordinate_transformation_mode became half_pixel (old default set explicitly)
//   20: GridSample modes renamed (bilinear -> linear, bicubic -> cubic); DFT axis became an input
//   21: GroupNormalization's scale/bias became per channel (rejected: not convertible in general)
// Everything else only widened types or added attributes whose defaults keep the old behaviour.
void upgrade_13_to(Model& model, int target) {
  static const std::set<std::string> reduce_ops = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd",
                                                   "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                                   "ReduceSumSquare"};
  auto& g = model.graph();
  for (auto& n : *g.mutable_node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
    const std::string label = node_label(n);
    for (const auto& a : n.attribute())
      if (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS)
        throw InputError(model.path.string() + ": " + label + " has a subgraph; upgrading it to opset " +
                         std::to_string(target) + " is not supported");
    if (target >= 18 && reduce_ops.count(n.op_type())) {
      auto* attrs = n.mutable_attribute();
      for (int i = 0; i < attrs->size(); ++i) {
        if (attrs->Get(i).name() != "axes") continue;
        std::vector<int64_t> axes(attrs->Get(i).ints().begin(), attrs->Get(i).ints().end());
        attrs->DeleteSubrange(i, 1);
        const std::string name = (n.name().empty() ? n.output(0) : n.name()) + "_axes";
        model.set_initializer(name, Tensor::from<int64_t>({static_cast<int64_t>(axes.size())}, axes));
        if (n.input_size() < 2) n.add_input(name);
        else n.set_input(1, name);
        break;
      }
    } else if (target >= 16 && n.op_type() == "RoiAlign" && !find_attr(n, "coordinate_transformation_mode")) {
      auto* a = n.add_attribute();
      a->set_name("coordinate_transformation_mode");
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s("output_half_pixel");
    } else if (target >= 20 && n.op_type() == "GridSample") {
      for (auto& a : *n.mutable_attribute())
        if (a.name() == "mode") a.set_s(a.s() == "bilinear" ? "linear" : a.s() == "bicubic" ? "cubic" : a.s());
    } else if ((target >= 20 && n.op_type() == "DFT") || (target >= 21 && n.op_type() == "GroupNormalization")) {
      throw InputError(model.path.string() + ": " + label + " cannot be upgraded to opset " + std::to_string(target));
    }
  }
  model.set_opset(target);
  const int ir = target >= 21 ? 10 : target >= 19 ? 9 : 8;
  if (model.proto.ir_version() < ir) model.proto.set_ir_version(ir);
}

// Softmax / LogSoftmax / Hardmax below opset 13 work on the input coerced to 2-D at `axis`; from 13
// on they work along one axis. onnx's 12->13 adapter rewrites them with the input's *static* shape
// baked into a Reshape (wrong for symbolic extents) and fails when the rank is unknown. Rewritten
// here instead, rank-free and valid at every opset: Flatten(x, axis) -> op(axis = 1) on the 2-D
// view -> Reshape(Shape(x)). The Flatten output is declared 2-D so the adapter leaves the op as is.
void rewrite_coerced_softmax(onnx::ModelProto& work) {
  auto* g = work.mutable_graph();
  std::map<std::string, int> ranks;
  for (const auto& v : g->value_info())
    if (v.type().tensor_type().has_shape()) ranks[v.name()] = v.type().tensor_type().shape().dim_size();
  for (const auto& v : g->input())
    if (v.type().tensor_type().has_shape()) ranks[v.name()] = v.type().tensor_type().shape().dim_size();
  std::vector<onnx::NodeProto> out;
  int counter = 0;
  for (const auto& n : g->node()) {
    const bool coerced = (n.domain().empty() || n.domain() == "ai.onnx") &&
                         (n.op_type() == "Softmax" || n.op_type() == "LogSoftmax" || n.op_type() == "Hardmax") &&
                         n.input_size() == 1 && n.output_size() == 1;
    int64_t axis = 1;
    for (const auto& a : n.attribute())
      if (a.name() == "axis") axis = a.i();
    auto rank = ranks.find(n.input(0));
    const bool last = rank != ranks.end() && (axis == rank->second - 1 || axis == -1);
    if (!coerced || last) {
      out.push_back(n);
      continue;
    }
    const std::string base = (n.name().empty() ? n.output(0) : n.name()) + "/qtool_opset13_" + std::to_string(counter++);
    onnx::NodeProto shape, flatten, op = n, reshape;
    shape.set_op_type("Shape");
    shape.add_input(n.input(0));
    shape.add_output(base + "_shape");
    flatten.set_op_type("Flatten");
    flatten.add_input(n.input(0));
    flatten.add_output(base + "_2d");
    auto* fa = flatten.add_attribute();
    fa->set_name("axis");
    fa->set_type(onnx::AttributeProto::INT);
    fa->set_i(axis < 0 && rank != ranks.end() ? axis + rank->second : axis);
    if (axis < 0 && rank == ranks.end()) {  // a negative axis needs the rank: leave it to the adapter
      out.push_back(n);
      continue;
    }
    op.clear_attribute();
    auto* oa = op.add_attribute();
    oa->set_name("axis");
    oa->set_type(onnx::AttributeProto::INT);
    oa->set_i(1);
    op.set_input(0, base + "_2d");
    op.set_output(0, base + "_2d_out");
    reshape.set_op_type("Reshape");
    reshape.add_input(base + "_2d_out");
    reshape.add_input(base + "_shape");
    reshape.add_output(n.output(0));
    for (const std::string& name : {base + "_2d", base + "_2d_out"}) {
      auto* vi = g->add_value_info();
      vi->set_name(name);
      auto* shp = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
      shp->add_dim()->set_dim_param(base + "_rows");
      shp->add_dim()->set_dim_param(base + "_cols");
    }
    out.insert(out.end(), {shape, flatten, op, reshape});
  }
  g->clear_node();
  for (auto& n : out) *g->add_node() = std::move(n);
}

}  // namespace

void validate_node_attributes(const Model& model) {
  for (const auto& n : model.graph().node()) {
    int domain_opset = model.opset();
    if (!canonical_domain(n.domain()).empty())
      for (const auto& o : model.proto.opset_import())
        if (o.domain() == n.domain()) domain_opset = static_cast<int>(o.version());
    try {
      validate_node(n, domain_opset, std::vector<const Value*>(n.input_size(), nullptr));
    } catch (const InputError& e) {
      throw InputError(model.path.string() + ": " + e.what());
    }
  }
}

void upgrade_opset(Model& model, PassContext& ctx) {
  const int final_target = ctx.options.target_opset;
  ctx.stats.opset_before = model.opset();
  ctx.stats.opset_after = model.opset();
  if (model.opset() >= final_target) return;
  const int target = std::min(final_target, 13);
  if (model.opset() >= target) {
    upgrade_13_to(model, final_target);
    ctx.stats.opset_after = model.opset();
    spdlog::debug("upgraded opset {} -> {}", ctx.stats.opset_before, ctx.stats.opset_after);
    return;
  }

  // libonnx's shape inference and converter trust attributes (MaxPool strides = 0 is a SIGFPE in
  // convPoolShapeInference): every node's attributes pass the op registry's validators first.
  validate_node_attributes(model);
  // weights are stubs during the conversion (no copy of them, external data kept)
  std::set<std::string> stubbed;
  onnx::ModelProto work = copy_with_stub_initializers(model, 1024, &stubbed);
  const int base_vi = work.graph().value_info_size();
  try {
    onnx::shape_inference::InferShapes(work);
  } catch (const std::exception& e) {
    spdlog::debug("{}: shape inference before the opset upgrade stopped: {}", model.path.string(), e.what());
  }
  rewrite_coerced_softmax(work);
  // Values whose rank shape inference could not find: shapes from a run on concrete inputs.
  std::set<std::string> ranked;
  for (const auto& v : work.graph().value_info())
    if (v.type().tensor_type().has_shape()) ranked.insert(v.name());
  for (const auto& v : work.graph().input()) ranked.insert(v.name());
  for (const auto& t : work.graph().initializer()) ranked.insert(t.name());
  bool missing = false;
  for (const auto& n : work.graph().node())
    for (const auto& o : n.output()) missing = missing || (!o.empty() && !ranked.count(o));
  if (missing && find_unsupported_ops(model).empty()) {
    std::map<std::string, std::pair<DType, Shape>> shapes;
    try {
      shapes = value_shapes(model, ctx.options.input_shapes);
    } catch (const InputError& e) {
      spdlog::debug("{}", e.what());  // the converter says whether it needed them
    }
    for (const auto& [name, ds] : shapes) {
      if (ranked.count(name)) continue;
      auto* vi = work.mutable_graph()->add_value_info();
      vi->set_name(name);
      auto* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(static_cast<int32_t>(ds.first));
      for (auto d : ds.second) tt->mutable_shape()->add_dim()->set_dim_value(d);
    }
  }
  onnx::ModelProto converted;
  try {
    converted = onnx::version_conversion::ConvertVersion(work, target);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw InputError(model.path.string() + ": cannot convert from opset " + std::to_string(model.opset()) + " to " +
                     std::to_string(target) + " (onnx's version converter: " + msg +
                     "); if it lacks a shape, pass --input-shape NAME:d0,d1,... for inputs with symbolic extents");
  }
  // Drop the value_info we added (and whatever the converter inferred from them).
  auto* vis = converted.mutable_graph()->mutable_value_info();
  if (vis->size() > base_vi) vis->DeleteSubrange(0, vis->size());
  if (converted.ir_version() < 7) converted.set_ir_version(7);
  restore_stub_initializers(model, converted, stubbed);
  model.proto = std::move(converted);
  if (final_target > 13) upgrade_13_to(model, final_target);
  ctx.stats.opset_after = model.opset();
  spdlog::debug("upgraded opset {} -> {}", ctx.stats.opset_before, ctx.stats.opset_after);
}

}  // namespace qtool
