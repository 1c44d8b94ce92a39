// SPDX-License-Identifier: Apache-2.0
// Channel (filter) pruning with graph surgery; see prune/prune.h. For each Conv (group 1) or
// Gemm/MatMul whose output channels can be followed to the layers that read them, remove the
// round(sparsity * C) filters with the smallest L1 norm (at least one stays) and shrink:
//   the layer's weight rows and bias; BatchNormalization scale/B/mean/var on the way; depthwise
//   convolutions on the way (weight rows, bias, group); the consumers' input channels (Conv weight
//   axis 1; Gemm/MatMul rows of the reduction axis, H*W of them per channel after a Flatten).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "prune/prune.h"
#include "runtime/value_shapes.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

struct Edit {
  enum Kind { kBatchNorm, kDepthwise, kConsumerConv, kConsumerMatrix } kind;
  onnx::NodeProto* node;
  int64_t per_channel = 1;  // reduction rows per channel (H*W after Flatten)
};

const std::set<std::string> kPassThrough = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid",
                                            "HardSwish", "Identity", "Dropout", "MaxPool", "AveragePool",
                                            "GlobalAveragePool", "GlobalMaxPool"};

std::string label(const onnx::NodeProto& n) { return n.name().empty() ? n.output(0) : n.name(); }

// Keeps `keep` indices along `axis` of an initializer.
void take(Model& m, const std::string& name, int axis, const std::vector<int64_t>& keep, int64_t group = 1) {
  Tensor t = m.initializer(name);
  Shape s = t.shape();
  if (axis >= static_cast<int>(s.size())) throw Error("tensor '" + name + "' has no axis " + std::to_string(axis));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t extent = s[axis];
  inner *= group;  // `group` consecutive entries per kept index (H*W rows of a flattened channel)
  const int64_t units = extent / group;
  s[axis] = static_cast<int64_t>(keep.size()) * group;
  Tensor out(t.dtype(), s);
  const size_t es = dtype_size(t.dtype());
  auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < keep.size(); ++j)
      std::memcpy(dst + ((o * keep.size() + j) * inner) * es, src + ((o * units + keep[j]) * inner) * es, inner * es);
  m.set_initializer(name, out);
}

void set_int_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  for (auto& a : *n.mutable_attribute())
    if (a.name() == name) {
      a.set_i(v);
      return;
    }
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

}  // namespace

void prune_channels(Model& model, const PruneOptions& opts, PruneReport& report) {
  if (opts.scope != "layer") throw InputError("channel pruning is per layer; --scope global does not apply");
  model.drop_initializer_inputs();  // their declared shapes would go stale
  // Value shapes from one run on zeros of concrete input shapes (for H*W behind a Flatten and the
  // rank of Gemm/MatMul inputs); without them those groups are skipped with the reason.
  std::map<std::string, Shape> shapes;
  std::string no_shapes;
  try {
    for (const auto& [name, ds] : value_shapes(model, opts.input_shapes)) shapes[name] = ds.second;
  } catch (const InputError& e) {
    no_shapes = e.what();
  }
  auto& g = model.graph();
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  std::map<std::string, int> init_uses;  // initializer -> number of node inputs reading it
  for (const auto& n : g.node())
    for (const auto& i : n.input()) init_uses[i]++;

  for (const auto& pw : prunable_weights(model, opts)) {
    onnx::NodeProto* p = nullptr;
    for (auto& n : *g.mutable_node())
      if (label(n) == pw.label) p = &n;
    if (!p) continue;
    if (p->op_type() == "Conv" && attr_int(*p, "group", 1) != 1) continue;  // depthwise follows its input
    const double s = layer_sparsity(opts, pw.label);
    if (s <= 0) continue;
    if (init_uses[pw.weight] > 1) {
      report.skipped.push_back(pw.label + ": weight '" + pw.weight + "' is shared");
      continue;
    }
    // Follow the output to the layers that read its channels.
    std::vector<Edit> edits;
    std::string reason;
    std::vector<std::pair<std::string, int64_t>> frontier{{p->output(0), 1}};  // (value, rows per channel)
    while (!frontier.empty() && reason.empty()) {
      auto [v, per] = frontier.back();
      frontier.pop_back();
      if (graph_outputs.count(v)) {
        reason = "output channels reach graph output '" + v + "'";
        break;
      }
      for (auto& n : *g.mutable_node()) {
        int slot = -1;
        for (int i = 0; i < n.input_size(); ++i)
          if (n.input(i) == v) slot = i;
        if (slot < 0) continue;
        const std::string op = n.op_type();
        auto* w = n.input_size() > 1 ? model.find_initializer(n.input(1)) : nullptr;
        if (slot != 0) {
          reason = "output is input " + std::to_string(slot) + " of " + op + " '" + label(n) + "'";
        } else if (kPassThrough.count(op) && per == 1) {
          frontier.push_back({n.output(0), 1});
        } else if (op == "BatchNormalization" && per == 1) {
          bool ok = n.output_size() == 1 || n.output(1).empty();
          for (int i = 1; i < 5 && ok; ++i) ok = model.find_initializer(n.input(i)) && init_uses[n.input(i)] == 1;
          if (!ok) reason = "BatchNormalization '" + label(n) + "' has shared or computed parameters";
          edits.push_back({Edit::kBatchNorm, &n, 1});
          frontier.push_back({n.output(0), 1});
        } else if (op == "Conv" && w && per == 1) {
          const int64_t group = attr_int(n, "group", 1);
          if (group == 1) {
            edits.push_back({Edit::kConsumerConv, &n, 1});
          } else if (w->dims(1) == 1 && group == w->dims(0) && init_uses[n.input(1)] == 1) {
            edits.push_back({Edit::kDepthwise, &n, 1});
            frontier.push_back({n.output(0), 1});
          } else {
            reason = "grouped Conv '" + label(n) + "' reads the channels";
          }
        } else if ((op == "Gemm" || op == "MatMul") && w && w->dims_size() == 2 && init_uses[n.input(1)] == 1 &&
                   !(op == "Gemm" && attr_int(n, "transA", 0))) {
          auto sh = shapes.find(v);
          if (!no_shapes.empty()) reason = op + " '" + label(n) + "' needs value shapes (" + no_shapes + ")";
          else if (sh == shapes.end() || sh->second.size() != 2) reason = op + " '" + label(n) + "' reads a non-2-D input";
          else edits.push_back({Edit::kConsumerMatrix, &n, per});
        } else if (op == "Flatten" && per == 1 && attr_int(n, "axis", 1) == 1) {
          auto sh = shapes.find(v);
          if (sh == shapes.end() || sh->second.size() < 2) {
            reason = "unknown shape before Flatten '" + label(n) + "'" + (no_shapes.empty() ? "" : " (" + no_shapes + ")");
          } else {
            int64_t hw = 1;
            for (size_t d = 2; d < sh->second.size(); ++d) hw *= sh->second[d];
            frontier.push_back({n.output(0), hw});
          }
        } else {
          reason = "output channels reach " + op + " '" + label(n) + "'";
        }
        if (!reason.empty()) break;
      }
    }
    if (reason.empty() && edits.empty()) reason = "output is not read by any layer";
    if (!reason.empty()) {
      report.skipped.push_back(pw.label + ": " + reason);
      continue;
    }
    // Filters by L1 norm; remove the smallest.
    Tensor w = model.initializer(pw.weight);
    const int64_t c = w.dim(pw.out_axis), per_row = w.numel() / c;
    std::vector<double> l1(c, 0.0);
    const float* wp = w.data<float>();
    for (int64_t i = 0; i < w.numel(); ++i) l1[pw.out_axis == 0 ? i / per_row : i % c] += std::fabs(wp[i]);
    const int64_t drop = std::min<int64_t>(c - 1, static_cast<int64_t>(std::llround(s * static_cast<double>(c))));
    if (drop <= 0) continue;
    std::vector<int64_t> order(c);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return l1[a] < l1[b]; });
    std::vector<int64_t> keep(order.begin() + drop, order.end());
    std::sort(keep.begin(), keep.end());
    LayerPruneStats st{pw.label, pw.weight, w.numel(), 0, 0};
    take(model, pw.weight, pw.out_axis, keep);
    if (p->input_size() > 2 && !p->input(2).empty() && model.find_initializer(p->input(2))) {
      if (model.initializer(p->input(2)).numel() == c) take(model, p->input(2), 0, keep);
    }
    for (auto& e : edits) {
      auto& n = *e.node;
      switch (e.kind) {
        case Edit::kBatchNorm:
          for (int i = 1; i < 5; ++i) take(model, n.input(i), 0, keep);
          break;
        case Edit::kDepthwise:
          take(model, n.input(1), 0, keep);
          if (n.input_size() > 2 && !n.input(2).empty()) take(model, n.input(2), 0, keep);
          set_int_attr(n, "group", static_cast<int64_t>(keep.size()));
          break;
        case Edit::kConsumerConv: take(model, n.input(1), 1, keep); break;
        case Edit::kConsumerMatrix: {
          const bool trans_b = n.op_type() == "Gemm" && attr_int(n, "transB", 0);
          take(model, n.input(1), trans_b ? 1 : 0, keep, e.per_channel);
          break;
        }
      }
    }
    st.params_after = model.initializer(pw.weight).numel();
    report.layers.push_back(st);
  }
  g.clear_value_info();  // shapes of pruned values changed; runtimes infer them again
}

}  // namespace qtool
