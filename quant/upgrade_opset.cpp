// upgrade_opset: onnx's version converter (libonnx) to ctx.options.target_opset.
// Some adapters (Softmax 12->13) need tensor ranks; the executor supplies them by running the
// model once on zeros and recording every value's shape, added as value_info for the conversion
// and removed again afterwards (dynamic extents stay dynamic in the written file).
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>
#include <spdlog/spdlog.h>

#include <set>

#include "quant/pass.h"
#include "runtime/executor.h"

namespace qtool {

void upgrade_opset(Model& model, PassContext& ctx) {
  const int target = ctx.options.target_opset;
  ctx.stats.opset_before = model.opset();
  ctx.stats.opset_after = model.opset();
  if (model.opset() >= target) return;

  // Shapes from one executor run on zeros (symbolic extents taken as 1, shown as symbolic).
  Executor exec(model);
  exec.record_shapes(true);
  TensorMap feeds;
  for (const auto& in : exec.inputs()) {
    Shape s = in.shape;
    for (auto& d : s) d = d < 0 ? 1 : d;
    feeds[in.name] = Tensor(in.dtype, s);
  }
  exec.run(feeds);
  onnx::ModelProto work = model.proto;
  std::set<std::string> known;
  for (const auto& v : work.graph().value_info()) known.insert(v.name());
  for (const auto& v : work.graph().input()) known.insert(v.name());
  for (const auto& v : work.graph().output()) known.insert(v.name());
  const int base_vi = work.graph().value_info_size();
  for (const auto& [name, ds] : exec.last_value_shapes()) {
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
  ctx.stats.opset_after = model.opset();
  spdlog::info("upgraded opset {} -> {}", ctx.stats.opset_before, ctx.stats.opset_after);
}

}  // namespace qtool
