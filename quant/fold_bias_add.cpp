// SPDX-License-Identifier: Apache-2.0
// fold_bias_add: a bias (and scale) applied by separate elementwise nodes after a layer becomes
// part of the layer, so that QDQ runtimes see one Conv / Gemm with an int32 bias and fuse it into
// an integer kernel (onnxruntime's QLinearConv / QGemm selectors need the whole layer in one node;
// exporters such as CNTK's write Conv -> Add(B[C,1,1]) and MatMul -> Add(B[1,N])).
//   Conv / ConvTranspose (initializer weight) -> Add(const broadcasting over the output channels:
//     shape [C,1..1], [1,C,1..1] or a scalar)       => the constant joins the layer's bias.
//   MatMul(A, W[K,N]) -> Mul(const [N] / [1,N] / scalar)  => W[:,n] * c[n]
//   MatMul(A, W[K,N]) [-> Mul] -> Add(const [N] / [1,N] / scalar), A of rank 2 (onnx shape
//     inference)                                          => Gemm(A, W, b)
// A fold applies only when the layer's output feeds that one node and is not a graph output.
// Float32 initializers only; the constant may sit on either side of the Add / Mul.
#include <onnx/shape_inference/implementation.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "quant/pass.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

bool is_float_const(const Model& m, const std::string& name) {
  auto* t = m.find_initializer(name);
  return t && t->data_type() == onnx::TensorProto::FLOAT;
}

// Values of `c` per channel of an output with `channels` channels on axis `axis` of a rank-`rank`
// output; empty when the constant does not broadcast that way (it must not grow the output).
std::vector<float> per_channel(const Tensor& c, int64_t channels, int axis, int rank) {
  const auto v = c.to_floats();
  if (c.numel() == 1) return std::vector<float>(channels, v[0]);
  if (c.numel() != channels || c.rank() > rank) return {};
  // align trailing dimensions: the channel must sit at `axis` of the output
  const int lead = rank - c.rank();
  for (int d = 0; d < c.rank(); ++d) {
    const int out_axis = lead + d;
    const int64_t want = out_axis == axis ? channels : 1;
    if (c.dim(d) != want) return {};
  }
  return v;
}

// value -> the nodes reading it (once per input slot); graph outputs count as a reader (-1).
std::map<std::string, std::vector<int>> readers_of(const onnx::GraphProto& g) {
  std::map<std::string, std::vector<int>> r;
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& in : g.node(i).input()) r[in].push_back(i);
  for (const auto& o : g.output()) r[o.name()].push_back(-1);
  return r;
}

// Index of the single consumer of `value`, or -1 (none, several, or a graph output).
int single_consumer(const std::string& value, const std::map<std::string, std::vector<int>>& readers) {
  auto it = readers.find(value);
  return it != readers.end() && it->second.size() == 1 ? it->second[0] : -1;
}

// The constant operand of a binary Add/Mul whose other operand is `value`, or "".
std::string other_const(const Model& m, const onnx::NodeProto& n, const std::string& value) {
  if (n.input_size() != 2) return "";
  const std::string other = n.input(0) == value ? n.input(1) : n.input(1) == value ? n.input(0) : "";
  return !other.empty() && other != value && is_float_const(m, other) ? other : "";
}

std::map<std::string, int> ranks_of(const Model& model) {
  onnx::ModelProto work = model.proto;
  try {
    onnx::shape_inference::InferShapes(work);
  } catch (const std::exception& e) {
    spdlog::debug("fold_bias_add: shape inference stopped: {}", e.what());
  }
  std::map<std::string, int> ranks;
  auto note = [&](const onnx::ValueInfoProto& v) {
    if (v.type().tensor_type().has_shape()) ranks[v.name()] = v.type().tensor_type().shape().dim_size();
  };
  for (const auto& v : work.graph().value_info()) note(v);
  for (const auto& v : work.graph().input()) note(v);
  for (const auto& v : work.graph().output()) note(v);
  return ranks;
}

}  // namespace

void fold_bias_add(Model& model, PassContext& ctx) {
  auto& g = model.graph();
  const auto ranks = ranks_of(model);
  std::set<int> removed;
  bool changed = true;
  while (changed) {  // again after each sweep: a MatMul may take a Mul, then an Add
    changed = false;
    const auto readers = readers_of(g);
    for (int li = 0; li < g.node_size(); ++li) {
      if (removed.count(li)) continue;
      auto& layer = *g.mutable_node(li);
      const std::string& op = layer.op_type();
      const bool conv = op == "Conv" || op == "ConvTranspose";
      if (!layer.domain().empty() || (!conv && op != "MatMul") || layer.input_size() < 2 || layer.output_size() != 1)
        continue;
      if (!is_float_const(model, layer.input(1))) continue;
      const int ci = single_consumer(layer.output(0), readers);
      if (ci < 0 || removed.count(ci)) continue;
      const auto& next = g.node(ci);
      if (!next.domain().empty() || (next.op_type() != "Add" && next.op_type() != "Mul")) continue;
      const std::string c_name = other_const(model, next, layer.output(0));
      if (c_name.empty()) continue;
      Tensor w = model.initializer(layer.input(1));
      const Tensor c = model.initializer(c_name);
      const std::string base = layer.name().empty() ? layer.output(0) : layer.name();
      if (conv) {
        if (next.op_type() != "Add" || w.rank() < 3) continue;
        const int group = static_cast<int>(attr_int(layer, "group", 1));
        const int64_t cout = op == "Conv" ? w.dim(0) : w.dim(1) * group;
        const auto add = per_channel(c, cout, 1, static_cast<int>(w.rank()));
        if (add.empty()) continue;
        std::vector<float> bias(cout, 0.f);
        const bool has_bias = layer.input_size() > 2 && !layer.input(2).empty();
        if (has_bias) {
          if (!is_float_const(model, layer.input(2))) continue;
          bias = model.initializer(layer.input(2)).to_floats();
          if (static_cast<int64_t>(bias.size()) != cout) continue;
        }
        for (int64_t o = 0; o < cout; ++o) bias[o] += add[o];
        const std::string bname = base + ".bias_addfold";
        model.set_initializer(bname, Tensor::from<float>({cout}, bias));
        if (has_bias) layer.set_input(2, bname);
        else layer.add_input(bname);
      } else {  // MatMul
        if (w.rank() != 2) continue;
        const int64_t n = w.dim(1);
        const auto v = per_channel(c, n, 1, 2);
        if (v.empty()) continue;
        if (next.op_type() == "Mul") {
          Tensor scaled = w.cast(DType::kFloat);
          float* p = scaled.data<float>();
          for (int64_t k = 0; k < w.dim(0); ++k)
            for (int64_t j = 0; j < n; ++j) p[k * n + j] *= v[j];
          const std::string wname = base + ".weight_mulfold";
          model.set_initializer(wname, scaled);
          layer.set_input(1, wname);
        } else {
          auto r = ranks.find(layer.input(0));
          if (r == ranks.end() || r->second != 2) continue;  // Gemm takes 2-D inputs only
          const std::string bname = base + ".bias_addfold";
          model.set_initializer(bname, Tensor::from<float>({n}, v));
          layer.set_op_type("Gemm");
          layer.add_input(bname);
        }
      }
      layer.set_output(0, next.output(0));
      removed.insert(ci);
      ctx.stats.bias_adds_folded++;
      changed = true;
    }
  }
  if (removed.empty()) return;
  std::vector<onnx::NodeProto> keep;
  for (int i = 0; i < g.node_size(); ++i)
    if (!removed.count(i)) keep.push_back(g.node(i));
  g.clear_node();
  for (auto& n : keep) *g.add_node() = std::move(n);
  drop_unread_initializers(model);
}

}  // namespace qtool
