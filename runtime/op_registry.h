// SPDX-License-Identifier: Apache-2.0
// OpRegistry: (domain, op type, since-version) -> OpDef {reference kernel, optional fast kernel,
// validation}. One registry for the executor, the unsupported-ops check, `qtool ops` and every
// pass that needs to know what a node means.
//
// Versions are the ONNX spec's since-versions (onnx.defs.get_all_schemas_with_history()): a
// definition registered at {6, 13, 14} runs nodes of models whose opset for the domain is 6..13
// with version 6, 13 with version 13, 14.. with 14, until the next registered since-version. A
// model opset that falls in a range the registry has no definition for is unsupported, so every
// since-version of an op must be listed (tests/python/test_op_coverage.py checks 7..28 against
// the pinned onnx package).
//
// The registration list is explicit: one register_<family>_ops(OpRegistry&) per file in
// runtime/kernels/, called from a list CMake generates from that folder (no static
// initializers, which static linking can drop).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace qtool {

struct OpDef {
  KernelFn run = nullptr;         // reference kernel (plain loops, every dtype the op allows)
  FastKernelFn fast = nullptr;    // optimized kernel (oneDNN, Eigen), tested against `run`
  // Checks attributes and the given inputs (rank, lengths of pads/strides/..., perm values, zero
  // strides, channel counts) and throws InputError through ctx.fail(). Runs before the kernel
  // whenever the input shapes change, and from passes (validate_node) with the inputs they know
  // (unknown inputs are nullptr, so a validator checks only what ctx.has()).
  KernelFn validate = nullptr;
  bool layout_aware = false;      // `fast` accepts and may return runtime layouts (Tensor::layout)
  bool foldable = true;           // may run at compile time on constant inputs (false: random ops)
  // Element i of the output depends only on element i of each input (after broadcasting), and on
  // no axis: Add, Relu, Clip, ... When every input that is not a single element has the same
  // shape and one dense runtime layout, the executor runs the kernel on that storage as if it were
  // plain (all operands permuted alike) and labels the result with the layout, so chains of
  // layout-aware kernels (Conv -> Add -> Relu -> Conv) keep their blocked tensors.
  bool pointwise = false;
  // Every output element is a copy of an element of input 0, chosen by the shapes, indices and
  // attributes alone, never by the values: Transpose, Reshape, Slice, Gather (input 0), ... Such an
  // op commutes with per-tensor quantization, so DequantizeLinear -> op -> QuantizeLinear with
  // equal parameters runs on the codes (runtime/qdq_data_movement_fusion.cpp).
  bool moves_data = false;
};

// `def` marked pointwise (see OpDef::pointwise).
inline OpDef pointwise(OpDef def) {
  def.pointwise = true;
  return def;
}

// `def` marked as moving data only (see OpDef::moves_data).
inline OpDef data_mover(OpDef def) {
  def.moves_data = true;
  return def;
}

class OpRegistry {
 public:
  static const OpRegistry& instance();
  // Registers `def` for op_type in `domain` ("" is ai.onnx) at each of the given since-versions.
  void add(const std::string& domain, const std::string& op_type, std::vector<int> since_versions, OpDef def);
  // Shorthand for ai.onnx ops with only a reference kernel.
  void add(const std::string& op_type, std::vector<int> since_versions, KernelFn run) {
    add("", op_type, std::move(since_versions), OpDef{run});
  }

  struct Match {
    const OpDef* def = nullptr;  // nullptr: not supported at this opset
    int version = 0;             // since-version that matched
  };
  // The definition in force for a model whose `domain` opset is `domain_opset`.
  Match find(const std::string& domain, const std::string& op_type, int domain_opset) const;

  struct Entry {
    std::string domain, op_type;
    std::vector<int> versions;
    std::vector<bool> has_fast;  // per version
  };
  std::vector<Entry> entries() const;

 private:
  // (domain, op) -> since-version -> definition
  std::map<std::pair<std::string, std::string>, std::map<int, OpDef>> defs_;
};

// "" for ai.onnx, the domain itself otherwise.
std::string canonical_domain(const std::string& domain);

// Runs the op's validator on `node` with the inputs a pass knows (nullptr = unknown); does
// nothing for ops without one. Throws InputError.
void validate_node(const onnx::NodeProto& node, int domain_opset, const std::vector<const Value*>& inputs);

}  // namespace qtool
