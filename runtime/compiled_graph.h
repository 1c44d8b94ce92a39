// SPDX-License-Identifier: Apache-2.0
// CompiledGraph: one ONNX graph (the model's, or an If/Loop/Scan body) compiled for execution.
//
// Compilation: nodes are sorted topologically (reads of subgraphs count as reads of their node),
// every value gets a slot, initializers and Constant nodes become constants, nodes whose inputs are
// all constant are run once (constant folding, bounded by ExecutorOptions::fold_limit_bytes; a
// larger result is computed by the first run and kept), each
// node is matched to its OpRegistry definition by the model's opset of its domain, and subgraph
// attributes are compiled as child graphs. A child graph's free variables (names it reads from
// enclosing scopes) become implicit inputs of its node, so liveness and ordering see them; names
// it reads that are constants outside (initializers, folded values) are constants inside too.
// Values read by bodies are never fused away. In a body, a node whose folding fails (e.g. an
// index out of range in an If branch that is never taken) stays in the graph and fails only if
// it runs.
// Internal to runtime/; Executor is the public face.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "runtime/op_registry.h"

namespace qtool {

class CompiledGraph {
 public:
  struct Env {
    std::map<std::string, int> opsets;  // canonical domain -> model opset
    ExecutorOptions options;
    std::string label;                  // model file, for messages
  };
  // What a top-level run reports: tensors as produced (hook) and their shapes.
  struct Observer {
    const Executor::Hook* hook = nullptr;
    bool any_layout = false;  // the hook takes tensors in a dense runtime layout as they are
    std::map<std::string, std::pair<DType, Shape>>* shapes = nullptr;
    std::vector<StepProfile>* profile = nullptr;  // per step, accumulated (sized by execute())
  };

  // `outer`: names visible from enclosing scopes (nullptr for the model's graph).
  // `outer_constants`: the outer names whose values are known at compile time (initializers,
  // folded values); the graph takes them as its own constants instead of free variables, so body
  // nodes that read only constants are folded and kernels may cache work derived from them.
  CompiledGraph(const onnx::GraphProto& graph, std::shared_ptr<const Env> env, const std::set<std::string>* outer,
                const std::map<std::string, Value>* outer_constants = nullptr);

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  const std::vector<std::string>& free_vars() const { return free_vars_; }

  // Slots with inputs (by position of input_names) and free variables (by position of
  // free_vars) bound, all nodes run; returns every slot still holding a value (outputs, kept).
  std::vector<Value> execute(std::vector<Value> inputs, const std::vector<const Value*>& outer,
                             const Observer* observer = nullptr) const;
  // Outputs in the order of output_names.
  std::vector<Value> outputs_of(const std::vector<Value>& slots) const;
  // One empty StepProfile per step of execute(), named and typed.
  std::vector<StepProfile> step_profile_table() const;

  // Top level only.
  void keep_values(const std::vector<std::string>& names);
  void observe_values(const std::vector<std::string>& names);  // never fused away, not kept
  bool has_value(const std::string& name) const { return slot_of_.count(name) > 0; }
  int slot_of(const std::string& name) const;
  const std::string& slot_name(int id) const { return slot_names_[id]; }
  const Tensor* constant(const std::string& name) const;

 private:
  struct BoundBody;
  struct Body {
    std::string attr;
    std::shared_ptr<CompiledGraph> graph;
    std::vector<int> outer_slots;  // per free variable of `graph`: the slot in this graph
  };
  struct Step {
    const onnx::NodeProto* node = nullptr;
    const OpDef* def = nullptr;
    int version = 0, domain_opset = 0;
    std::vector<int> in, out;     // slots; -1 for omitted
    std::vector<int> implicit;    // outer-scope reads of the bodies (for liveness)
    std::vector<Body> bodies;
    mutable std::shared_ptr<void> state;        // kernel cache (KernelContext::state)
    mutable std::vector<Shape> validated_shapes;  // input shapes last validated
    mutable bool validated = false;
    FusedActivation activation;   // set by fusion
    bool layout_aware = false;    // kernel accepts runtime layouts (OpRegistry)
    // OpDef::pointwise with no constant input of more than one element: may run on its inputs'
    // common dense layout (finish())
    bool pointwise = false;
    bool allow_layout_output = false;  // every reader of out[0] is layout-aware (or pointwise)
    // Every input is a constant but a result exceeded the fold limit (VGG-19's 411 MB fc6 weight
    // made by ConstantOfShape): computed by the first run, then kept and handed out (kept_outputs).
    bool constant_inputs = false;
    mutable std::vector<Value> kept_outputs;
    // A Shape / Size step, or a step whose every computed input is such a step's result (the
    // Shape -> Gather -> Unsqueeze -> Concat chains of exported models, which compute Reshape
    // targets from input extents): its results are kept (kept_outputs) and handed out again while
    // the inputs are the same (finish(), run_step()).
    bool shape_memo = false;
    mutable bool memo_valid = false;
    mutable std::vector<Shape> memo_shapes;        // per input: the shape last run on
    // per input: the value last run on (not for Shape / Size), held so that its storage address
    // cannot be reused by another value while it is compared
    mutable std::vector<Value> memo_inputs;
    bool memo_source = false;  // a Shape / Size step: only its input's shape matters
    // per input: this step reads a value a step of the run computed, for the last time and once,
    // and nothing keeps it (KernelContext::last_read; finish())
    std::vector<bool> last_read;
  };

  int slot(const std::string& name);
  // A slot for a value compilation makes (a folded weight, a lookup table): `name`, or name#2, ...
  // when the model itself has a value of that name; the same slot again on a later finish().
  int made_slot(const std::string& name);
  void compile(const onnx::GraphProto& g, const std::set<std::string>* outer,
               const std::map<std::string, Value>* outer_constants);
  void finish();  // fusion + liveness; after construction and keep_values()
  void fuse();    // runtime/fusion.cpp
  void fuse_qdq();  // runtime/qdq_fusion.cpp (before fuse())
  // DequantizeLinear -> pointwise op -> QuantizeLinear as a table lookup (runtime/qdq_lookup_fusion.cpp;
  // from fuse_qdq, which then drops the DequantizeLinear steps nobody reads)
  void fuse_qdq_lookup(std::vector<bool>& removed);
  // Add / Mul of two DequantizeLinear results [-> Relu] -> QuantizeLinear as one qtool.QAdd / QMul
  // (runtime/qdq_add_fusion.cpp; from fuse_qdq, before the lookups)
  void fuse_qdq_add(std::vector<bool>& removed);
  // QDQ MatMul / Gemm with constant int8 weights -> qtool.QDQMatMul (runtime/qdq_matmul_fusion.cpp;
  // from fuse_qdq, after the convolutions)
  void fuse_qdq_matmul(std::vector<bool>& removed);
  // DequantizeLinear -> data movement -> QuantizeLinear with equal parameters -> the op on the codes
  // (runtime/qdq_data_movement_fusion.cpp; from fuse_qdq, before the lookups)
  void fuse_qdq_data_movement(std::vector<bool>& removed);
  void compose_lookups(std::vector<bool>& removed);  // QLookup2(x, QLookup(x)) -> QLookup(x)
  // Readers per slot among the steps not `removed` (bodies' implicit reads count).
  std::vector<int> count_reads(const std::vector<bool>& removed) const;
  // Per slot, the step computing it (-1: input, constant, outer value) and the steps reading it
  // (bodies' implicit reads count), among the steps not `removed` (all when nullptr).
  struct StepLinks {
    std::vector<int> producer;
    std::vector<std::vector<size_t>> readers;
  };
  StepLinks step_links(const std::vector<bool>* removed) const;
  // QDQ rewrites (runtime/qdq_fusion.cpp): the DequantizeLinear computing `id` (a step, or one
  // folded into a constant at compile time), or nullptr; whether slot `id` is absent or a constant
  // of zeros; for a bias DequantizeLinear(int32 [m], scale x_scale * w_scale, zero point 0) read as
  // `bias_id`, the slot of its int32 codes, else -1.
  const Step* dequantize_step(int id, const StepLinks& links) const;
  bool all_zero_constant(int id) const;
  // The DequantizeLinear step computing `id` from 8-bit codes with a scalar float scale (stored in
  // *scale) and a scalar uint8 / int8 zero point, or nullptr: an integer kernel's activation.
  const Step* per_tensor_codes(int id, const StepLinks& links, float* scale) const;
  // `q` is a QuantizeLinear of slot `from` to 8-bit codes with a scalar positive float scale, a
  // scalar uint8 / int8 zero point and saturation: what an integer kernel can write itself.
  bool quantizes_to_codes(const Step& q, int from) const;
  // A step running `node` (an internal qtool op the rewrite made, kept in owned_nodes_) with the
  // definition `def` on slots `in` (-1: omitted) -> `out`; the node's inputs and outputs are named
  // after the slots.
  Step internal_step(const OpRegistry::Match& def, std::unique_ptr<onnx::NodeProto> node, std::vector<int> in,
                     int out);
  int int32_bias(int bias_id, float x_scale, const std::vector<float>& w_scale, int64_t m, const StepLinks& links) const;
  // The constant tensor in slot `id`, or nullptr.
  const Tensor* constant_tensor(int id) const {
    return id >= 0 && id < static_cast<int>(constants_.size()) && constants_[id].is_tensor() ? &constants_[id].tensor()
                                                                                            : nullptr;
  }
  void run_step(const Step& s, std::vector<Value>& slots, bool cached) const;
  // For a shape_memo step: whether its inputs in `slots` are those of its kept results; record()
  // stores them with the results (kept only when they fit the fold limit).
  bool memo_hit(const Step& s, const std::vector<Value>& slots) const;
  void memo_record(const Step& s, const std::vector<Value>& slots, const std::vector<Value>& outputs) const;
  // The dense runtime layout every non-single-element operand of a pointwise step shares (same
  // shape, float), or nullptr: then the step reads plain tensors.
  std::shared_ptr<const Layout> common_dense_layout(const Step& s, const std::vector<Value>& slots) const;
  // Runs a step of constant inputs at compile time; false (and *too_big when the fold limit was
  // the reason) leaves it in the graph.
  bool try_fold(Step& s, bool* too_big = nullptr);

  std::shared_ptr<const Env> env_;
  std::map<std::string, int> slot_of_;
  std::vector<std::string> slot_names_;
  std::vector<Value> constants_;  // per slot; absent when not constant
  std::vector<std::string> input_names_, output_names_, free_vars_;
  std::vector<int> input_slots_, output_slots_, free_slots_;
  std::vector<Step> graph_steps_;  // as in the model (constant nodes folded)
  std::vector<Step> steps_;        // what execute() runs (after fusion)
  std::vector<int> last_use_;      // per slot: index of the last step reading it
  std::vector<bool> keep_;
  std::vector<bool> observed_;     // protected from fusion only (observe_values)
  std::map<int, Step> folded_dq_;  // per slot: the DequantizeLinear folded into it (weights, biases)
  std::vector<std::unique_ptr<onnx::NodeProto>> owned_nodes_;  // nodes made by compilation
  std::set<int> made_slots_;       // slots made by made_slot()
  bool subgraph_ = false;          // an If / Loop / Scan body (folding failures are deferred)
};

// Names a graph reads that it does not define (inputs, initializers, node outputs), nested
// subgraphs included: what it needs from enclosing scopes.
std::set<std::string> graph_free_names(const onnx::GraphProto& g);

}  // namespace qtool
