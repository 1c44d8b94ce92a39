// SPDX-License-Identifier: Apache-2.0
#include "quant/gptq_sequential.h"

#include <spdlog/spdlog.h>

#include <set>

#include "calib/hessian.h"
#include "quant/weight_plan.h"
#include "runtime/kernel.h"

namespace qtool {

int weight_out_axis(const onnx::NodeProto& n) {
  if (n.op_type() == "Gemm") return attr_int(n, "transB", 0) ? 0 : 1;
  if (n.op_type() == "MatMul") return 1;
  return 0;
}

std::map<std::string, QuantizedWeight> gptq_sequential(const Model& prepared, Dataset& data, const QuantOptions& opts,
                                                       const GptqOptions& gptq,
                                                       const std::map<std::string, Tensor>* masks) {
  const auto targets = low_bit_nodes(prepared, opts);
  std::set<std::string> remaining(targets.begin(), targets.end());
  // Upstream low-bit layers of every value (graph order is topological).
  std::map<std::string, std::set<std::string>> upstream;
  std::map<std::string, const onnx::NodeProto*> node_of;
  for (const auto& n : prepared.graph().node()) {
    const std::string label = n.name().empty() ? n.output(0) : n.name();
    std::set<std::string> up;
    for (const auto& i : n.input()) {
      auto it = upstream.find(i);
      if (it != upstream.end()) up.insert(it->second.begin(), it->second.end());
    }
    if (remaining.count(label)) {
      node_of[label] = &n;
      upstream[label + "#inputs"] = up;
      up.insert(label);
    }
    for (const auto& o : n.output()) upstream[o] = up;
  }
  Model work = prepared;
  std::map<std::string, QuantizedWeight> out;
  int wave = 0;
  while (!remaining.empty()) {
    std::vector<std::string> ready;
    for (const auto& label : targets) {
      if (!remaining.count(label)) continue;
      bool free = true;
      for (const auto& u : upstream[label + "#inputs"]) free &= !remaining.count(u);
      if (free) ready.push_back(label);
    }
    spdlog::debug("GPTQ wave {}: {} layers", ++wave, ready.size());
    auto hessians = collect_hessians(work, data, ready);
    for (const auto& label : ready) {
      const auto& n = *node_of.at(label);
      const WeightSpec& spec = opts.layer_weights.count(label) ? opts.layer_weights.at(label) : opts.weights;
      const Tensor w = work.initializer(n.input(1));
      std::shared_ptr<const WeightFormat> fmt = make_weight_format(spec.format, spec.symmetric);
      const Tensor* mask = nullptr;
      if (masks && masks->count(n.input(1))) mask = &masks->at(n.input(1));
      QuantizedWeight q = quantize_gptq(w, weight_out_axis(n), fmt, spec.group_size, hessians.at(label).h, gptq, mask);
      work.set_initializer(n.input(1), q.dequantized());
      out.emplace(label, std::move(q));
      remaining.erase(label);
    }
  }
  return out;
}

}  // namespace qtool
