#include "runtime/op_registry.h"

namespace qtool {

const OpRegistry& OpRegistry::instance() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_conv_ops(r);
    register_matmul_ops(r);
    register_pool_ops(r);
    register_normalization_ops(r);
    register_shape_ops(r);
    register_reduce_ops(r);
    register_quantize_ops(r);
    register_matmul_nbits_ops(r);
    return r;
  }();
  return registry;
}

void OpRegistry::add(const std::string& op_type, KernelFn fn, const std::string& domain) {
  kernels_[{domain, op_type}] = fn;
}

void OpRegistry::add_layout_aware(const std::string& op_type, KernelFn fn, const std::string& domain) {
  add(op_type, fn, domain);
  layout_aware_[{domain, op_type}] = true;
}

bool OpRegistry::layout_aware(const std::string& domain, const std::string& op_type) const {
  return layout_aware_.count({domain == "ai.onnx" ? "" : domain, op_type}) > 0;
}

KernelFn OpRegistry::find(const std::string& domain, const std::string& op_type) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = kernels_.find({d, op_type});
  return it == kernels_.end() ? nullptr : it->second;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : kernels_) out.push_back(k.first.empty() ? k.second : k.first + "." + k.second);
  return out;
}

}  // namespace qtool
