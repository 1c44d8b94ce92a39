// OpRegistry: maps (domain, op_type) to a kernel, with the first ai.onnx opset it supports.
// The registration list is explicit (runtime/op_registry.cpp), not static initializers.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace qtool {

class OpRegistry {
 public:
  static const OpRegistry& instance();
  void add(const std::string& op_type, KernelFn fn, const std::string& domain = "");
  // A kernel that accepts inputs in a runtime layout (Tensor::layout()) and may return its
  // output in one when KernelContext::allow_layout_output is set.
  void add_layout_aware(const std::string& op_type, KernelFn fn, const std::string& domain = "");
  // nullptr when the op is not supported.
  KernelFn find(const std::string& domain, const std::string& op_type) const;
  bool layout_aware(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> op_types() const;

 private:
  std::map<std::pair<std::string, std::string>, KernelFn> kernels_;
  std::map<std::pair<std::string, std::string>, bool> layout_aware_;
};

// One per kernel file.
void register_elementwise_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_matmul_ops(OpRegistry& r);
void register_pool_ops(OpRegistry& r);
void register_normalization_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_reduce_ops(OpRegistry& r);
void register_quantize_ops(OpRegistry& r);
void register_matmul_nbits_ops(OpRegistry& r);

}  // namespace qtool
