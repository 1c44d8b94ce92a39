// upgrade_opset: to ctx.options.target_opset: onnx's version converter (libonnx) up to opset 13,
// then qtool's own 13 -> 21 step (below; libonnx 1.12 knows opsets up to 17 only).
// Some adapters (Softmax 12->13) need tensor ranks; the executor supplies them by running the
// model once on zeros and recording every value's shape, added as value_info for the conversion
// and removed again afterwards (dynamic extents stay dynamic in the written file).
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>
#include <spdlog/spdlog.h>

#include <set>

#include "quant/pass.h"
#include "runtime/executor.h"
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

}  // namespace

void upgrade_opset(Model& model, PassContext& ctx) {
  const int final_target = ctx.options.target_opset;
  ctx.stats.opset_before = model.opset();
  ctx.stats.opset_after = model.opset();
  if (model.opset() >= final_target) return;
  const int target = std::min(final_target, 13);
  if (model.opset() >= target) {
    upgrade_13_to(model, final_target);
    ctx.stats.opset_after = model.opset();
    spdlog::info("upgraded opset {} -> {}", ctx.stats.opset_before, ctx.stats.opset_after);
    return;
  }

  // Shapes from one executor run on zeros (symbolic extents taken as 1, shown as symbolic).
  const auto value_shapes = value_shapes_on_zeros(model);
  onnx::ModelProto work = model.proto;
  std::set<std::string> known;
  for (const auto& v : work.graph().value_info()) known.insert(v.name());
  for (const auto& v : work.graph().input()) known.insert(v.name());
  for (const auto& v : work.graph().output()) known.insert(v.name());
  const int base_vi = work.graph().value_info_size();
  for (const auto& [name, ds] : value_shapes) {
    if (known.count(name)) continue;
    auto* vi = work.mutable_graph()->add_value_info();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(ds.first));
    auto* shape = tt->mutable_shape();
    for (auto d : ds.second) shape->add_dim()->set_dim_value(d);
  }
  onnx::ModelProto converted;
  try {
    converted = onnx::version_conversion::ConvertVersion(work, target);
  } catch (const std::exception& e) {
    throw Error("cannot convert " + model.path.string() + " from opset " + std::to_string(model.opset()) + " to " +
                std::to_string(target) + ": " + e.what());
  }
  // Drop the value_info we added (and whatever the converter inferred from them).
  auto* vis = converted.mutable_graph()->mutable_value_info();
  if (vis->size() > base_vi) vis->DeleteSubrange(0, vis->size());
  if (converted.ir_version() < 7) converted.set_ir_version(7);
  model.proto = std::move(converted);
  if (final_target > 13) upgrade_13_to(model, final_target);
  ctx.stats.opset_after = model.opset();
  spdlog::info("upgraded opset {} -> {}", ctx.stats.opset_before, ctx.stats.opset_after);
}

}  // namespace qtool
