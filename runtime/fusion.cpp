// Executor graph fusion (inference only, fp32 semantics preserved up to rounding):
//   Conv -> BatchNormalization  : BN folded into the Conv's weights and bias (constant BN params)
//   Conv -> Relu | LeakyRelu | Clip : applied inside the Conv kernel (oneDNN eltwise post-op)
// A fusion happens only when the Conv's output has exactly one reader, is not a graph output and
// is not a kept value, so no value anybody asked for disappears. Same rewrites as ONNX Runtime's
// ConvBNFusion / ConvActivationFusion graph transformers.
#include <cmath>

#include "runtime/compiled_graph.h"

namespace qtool {

namespace {

bool is_op(const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; }

}  // namespace

void CompiledGraph::fuse() {
  const auto present = [&](int id) { return id >= 0; };
  const auto is_const = [&](int id) { return id >= 0 && constants_[id].is_tensor(); };
  const auto cval = [&](int id) -> const Tensor& { return constants_[id].tensor(); };
  // readers[slot] = indices of steps reading it
  auto readers = [&]() {
    std::vector<std::vector<size_t>> r(slot_names_.size());
    for (size_t k = 0; k < steps_.size(); ++k)
      for (int id : steps_[k].in)
        if (present(id)) r[id].push_back(k);
    return r;
  };
  auto add_constant = [&](const std::string& name, Tensor t) {
    int id = slot(name);
    constants_[id] = std::move(t);
    if (keep_.size() < slot_names_.size()) keep_.resize(slot_names_.size(), false);
    return id;
  };
  std::vector<bool> removed(steps_.size(), false);
  const auto r = readers();
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& conv = steps_[k];
    if (removed[k] || !is_op(*conv.node, "Conv") || conv.out.size() != 1 || conv.in.size() < 2) continue;
    const bool const_weight = is_const(conv.in[1]) && cval(conv.in[1]).dtype() == DType::kFloat;
    bool changed = true;
    while (changed) {
      changed = false;
      const int out = conv.out[0];
      if (out < 0 || keep_[out] || r[out].size() != 1) break;
      const size_t j = r[out][0];
      Step& next = steps_[j];
      if (removed[j] || next.in.empty() || next.in[0] != out) break;
      const auto& n = *next.node;
      if (is_op(n, "BatchNormalization") && const_weight && conv.activation.kind == FusedActivation::kNone && next.in.size() >= 5 &&
          next.out.size() >= 1 && (next.out.size() == 1 || next.out[1] < 0) && is_const(next.in[1]) &&
          is_const(next.in[2]) && is_const(next.in[3]) && is_const(next.in[4])) {
        const Tensor& w = cval(conv.in[1]);
        const int64_t cout = w.dim(0), per = w.numel() / std::max<int64_t>(cout, 1);
        auto scale = cval(next.in[1]).to_floats(), shift = cval(next.in[2]).to_floats();
        auto mean = cval(next.in[3]).to_floats(), var = cval(next.in[4]).to_floats();
        if (static_cast<int64_t>(scale.size()) != cout || shift.size() != scale.size() || mean.size() != scale.size() ||
            var.size() != scale.size())
          break;
        std::vector<float> bias(cout, 0.f);
        if (conv.in.size() > 2 && is_const(conv.in[2])) bias = cval(conv.in[2]).to_floats();
        else if (conv.in.size() > 2 && present(conv.in[2])) break;  // computed bias: leave alone
        if (static_cast<int64_t>(bias.size()) != cout) break;
        const float eps = attr_float(n, "epsilon", 1e-5f);
        Tensor wf = w.clone(), bf(DType::kFloat, {cout});
        float* pw = wf.data<float>();
        float* pb = bf.data<float>();
        for (int64_t o = 0; o < cout; ++o) {
          const float a = scale[o] / std::sqrt(var[o] + eps);
          for (int64_t i = 0; i < per; ++i) pw[o * per + i] *= a;
          pb[o] = a * (bias[o] - mean[o]) + shift[o];
        }
        const std::string base = slot_names_[out] + "/qtool_bn_folded";
        conv.in.resize(3);
        conv.in[1] = add_constant(base + "_W", std::move(wf));
        conv.in[2] = add_constant(base + "_B", std::move(bf));
      } else if (is_op(n, "Relu") && next.out.size() == 1) {
        conv.activation = {FusedActivation::kRelu, 0.f, 0.f};
      } else if (is_op(n, "LeakyRelu") && next.out.size() == 1) {
        conv.activation = {FusedActivation::kLeakyRelu, attr_float(n, "alpha", 0.01f), 0.f};
      } else if (is_op(n, "Clip") && next.out.size() == 1) {
        float lo = -INFINITY, hi = INFINITY;
        if (next.version < 11) {
          lo = attr_float(n, "min", lo);
          hi = attr_float(n, "max", hi);
        } else {
          if (next.in.size() > 1 && present(next.in[1])) {
            if (!is_const(next.in[1]) || cval(next.in[1]).dtype() != DType::kFloat) break;
            lo = cval(next.in[1]).to_floats().at(0);
          }
          if (next.in.size() > 2 && present(next.in[2])) {
            if (!is_const(next.in[2]) || cval(next.in[2]).dtype() != DType::kFloat) break;
            hi = cval(next.in[2]).to_floats().at(0);
          }
        }
        conv.activation = {FusedActivation::kClip, lo, hi};
      } else {
        break;
      }
      if (conv.activation.kind != FusedActivation::kNone && !is_op(n, "BatchNormalization")) {
        conv.out[0] = next.out[0];
        removed[j] = true;
        break;  // nothing fuses after an activation
      }
      conv.out[0] = next.out[0];
      removed[j] = true;  // readers of the BN output are already in r
      changed = true;
    }
  }
  std::vector<Step> kept;
  for (size_t k = 0; k < steps_.size(); ++k)
    if (!removed[k]) kept.push_back(std::move(steps_[k]));
  steps_ = std::move(kept);
}

}  // namespace qtool
