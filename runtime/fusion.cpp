// SPDX-License-Identifier: Apache-2.0
// Executor graph fusion (inference only, fp32 semantics preserved up to rounding):
//   Conv -> BatchNormalization  : BN folded into the Conv's weights and bias (constant BN params)
//   Conv -> Mul | Add(constant) : a per-output-channel or scalar constant scale folded into the
//                                 weights and bias, a shift into the bias (BN as older exporters
//                                 wrote it: the Model Zoo's Inception and DenseNet)
//   Conv -> Add(other) -> act   : `other` becomes the Conv step's input 3, added to its output
//                                 (a two-input Sum, as opset <= 7 models write it, likewise)
//                                 (oneDNN sum post-op; residual connections), when `other` is
//                                 computed before the Conv and the sum's one reader is an
//                                 activation below
//   Conv -> Relu | LeakyRelu | Clip | Tanh | Sigmoid | HardSigmoid | HardSwish | Swish
//                               : applied inside the Conv kernel (oneDNN eltwise post-op)
//   Conv -> Sigmoid -> Mul(conv, sigmoid) : SiLU as PyTorch exports it (EfficientNet), one
//                                 swish post-op; the Conv's output then has exactly these two
//                                 readers and the Sigmoid's output only the Mul
// in this order (Conv -> BN -> Add -> Relu is one step).
// A fusion happens only when the Conv's output has exactly one reader, is not a graph output and
// is not a kept value, so no value anybody asked for disappears. Same rewrites as ONNX Runtime's
// ConvBNFusion / ConvActivationFusion graph transformers.
#include <cmath>
#include <utility>

#include "runtime/compiled_graph.h"

namespace qtool {

namespace {

bool is_op(const onnx::NodeProto& n, const char* op) { return n.domain().empty() && n.op_type() == op; }

// A float32 constant that broadcasts against a convolution output [N, M, spatial...] (rank `rank`)
// along M only (a scalar, [M,1,1], [1,M,1,1], ...): its M values; empty otherwise (a rank above the
// output's would change the output's shape).
std::vector<float> per_channel(const Tensor& c, int64_t m, int rank) {
  if (c.dtype() != DType::kFloat || c.rank() > rank || rank < 2) return {};
  const int lead = rank - c.rank();
  for (int d = 0; d < c.rank(); ++d)
    if (c.dim(d) != 1 && !(d + lead == 1 && c.dim(d) == m)) return {};
  auto v = c.to_floats();
  if (v.size() == 1) v.assign(static_cast<size_t>(m), v[0]);
  return v;
}

}  // namespace

void CompiledGraph::fuse() {
  const auto present = [&](int id) { return id >= 0; };
  const auto is_const = [&](int id) { return id >= 0 && constants_[id].is_tensor(); };
  const auto cval = [&](int id) -> const Tensor& { return constants_[id].tensor(); };
  // readers[slot] = indices of steps reading it
  // (subgraph bodies' implicit reads count: a value a body reads is never fused away)
  auto readers = [&]() {
    std::vector<std::vector<size_t>> r(slot_names_.size());
    for (size_t k = 0; k < steps_.size(); ++k) {
      for (int id : steps_[k].in)
        if (present(id)) r[id].push_back(k);
      for (int id : steps_[k].implicit)
        if (present(id)) r[id].push_back(k);
    }
    return r;
  };
  // producer[slot] = index of the step computing it (-1: input, constant or outer value)
  std::vector<int> producer(slot_names_.size(), -1);
  for (size_t k = 0; k < steps_.size(); ++k)
    for (int id : steps_[k].out)
      if (present(id)) producer[id] = static_cast<int>(k);
  auto add_constant = [&](const std::string& name, Tensor t) {
    int id = made_slot(name);
    constants_[id] = std::move(t);
    return id;
  };
  std::vector<bool> removed(steps_.size(), false);
  const auto r = readers();
  for (size_t k = 0; k < steps_.size(); ++k) {
    Step& conv = steps_[k];
    if (removed[k] || !is_op(*conv.node, "Conv") || conv.out.size() != 1 || conv.in.size() < 2) continue;
    const bool const_weight = is_const(conv.in[1]) && cval(conv.in[1]).dtype() == DType::kFloat;
    bool summed = false;  // an Add was fused: BatchNormalization no longer folds into the weights
    bool changed = true;
    while (changed) {
      changed = false;
      const int out = conv.out[0];
      if (out < 0 || keep_[out]) break;
      if (r[out].size() == 2 && !summed) {  // x * sigmoid(x)
        size_t sig = r[out][0], mul = r[out][1];
        if (is_op(*steps_[mul].node, "Sigmoid")) std::swap(sig, mul);
        const Step& ss = steps_[sig];
        const Step& ms = steps_[mul];
        const bool ok = sig != mul && !removed[sig] && !removed[mul] && is_op(*ss.node, "Sigmoid") &&
                        is_op(*ms.node, "Mul") && ss.in.size() == 1 && ss.out.size() == 1 && ss.out[0] >= 0 &&
                        !keep_[ss.out[0]] && r[ss.out[0]].size() == 1 && r[ss.out[0]][0] == mul && ms.in.size() == 2 &&
                        ms.out.size() == 1 &&
                        ((ms.in[0] == out && ms.in[1] == ss.out[0]) || (ms.in[1] == out && ms.in[0] == ss.out[0]));
        if (!ok) break;
        conv.activation = {FusedActivation::kSwish, 1.f, 0.f};
        conv.out[0] = ms.out[0];
        removed[sig] = removed[mul] = true;
        break;  // nothing fuses after an activation
      }
      if (r[out].size() != 1) break;
      const size_t j = r[out][0];
      Step& next = steps_[j];
      const auto& n = *next.node;
      const bool first = !next.in.empty() && next.in[0] == out;
      const bool is_add = is_op(n, "Add") || (is_op(n, "Sum") && next.in.size() == 2);  // Sum: opset <= 7 models
      const bool second_summand = is_add && next.in.size() == 2 && next.in[1] == out;
      if (removed[j] || (!first && !second_summand)) break;
      if (is_op(n, "BatchNormalization") && const_weight && !summed && conv.activation.kind == FusedActivation::kNone && next.in.size() >= 5 &&
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
      } else if ((is_op(n, "Mul") || is_op(n, "Add")) && const_weight && !summed &&
                 conv.activation.kind == FusedActivation::kNone && next.in.size() == 2 && next.out.size() == 1 &&
                 is_const(next.in[next.in[0] == out ? 1 : 0]) &&
                 (conv.in.size() < 3 || conv.in[2] < 0 || is_const(conv.in[2]))) {
        // a per-output-channel (or scalar) constant scale or shift: into the weights and bias
        const Tensor& w = cval(conv.in[1]);
        const int64_t cout = w.dim(0), per = w.numel() / std::max<int64_t>(cout, 1);
        const auto k = per_channel(cval(next.in[next.in[0] == out ? 1 : 0]), cout, w.rank());
        if (k.empty()) break;
        std::vector<float> bias(cout, 0.f);
        if (conv.in.size() > 2 && conv.in[2] >= 0) bias = cval(conv.in[2]).to_floats();
        if (static_cast<int64_t>(bias.size()) != cout) break;
        const std::string base = slot_names_[out] + (is_op(n, "Mul") ? "/qtool_mul_folded" : "/qtool_add_folded");
        if (is_op(n, "Mul")) {
          Tensor wf = w.clone();
          float* pw = wf.data<float>();
          for (int64_t o = 0; o < cout; ++o) {
            for (int64_t i = 0; i < per; ++i) pw[o * per + i] *= k[o];
            bias[o] *= k[o];
          }
          conv.in.resize(3);
          conv.in[1] = add_constant(base + "_W", std::move(wf));
        } else {
          for (int64_t o = 0; o < cout; ++o) bias[o] += k[o];
          conv.in.resize(3);
        }
        conv.in[2] = add_constant(base + "_B", Tensor::from<float>({cout}, bias));
      } else if (is_add && !summed && next.in.size() == 2 && next.out.size() == 1 && conv.in.size() <= 3) {
        // the other summand becomes input 3 of the Conv (oneDNN sum post-op); it must already exist
        // when the Conv runs
        const int other = next.in[0] == out ? next.in[1] : next.in[0];
        if (other < 0 || other == out || producer[other] >= static_cast<int>(k)) break;
        // only the residual pattern Add -> activation (the sum's one reader): that chain then stays
        // in one step with a blocked output
        const int sum = next.out[0];
        if (sum < 0 || keep_[sum] || r[sum].size() != 1) break;
        const Step& act = steps_[r[sum][0]];
        if (act.in.empty() || act.in[0] != sum ||
            !(is_op(*act.node, "Relu") || is_op(*act.node, "LeakyRelu") || is_op(*act.node, "Clip")))
          break;
        conv.in.resize(4, -1);
        conv.in[3] = other;
        summed = true;
      } else if (is_op(n, "Relu") && next.out.size() == 1) {
        conv.activation = {FusedActivation::kRelu, 0.f, 0.f};
      } else if (is_op(n, "LeakyRelu") && next.out.size() == 1) {
        conv.activation = {FusedActivation::kLeakyRelu, attr_float(n, "alpha", 0.01f), 0.f};
      } else if ((is_op(n, "Tanh") || is_op(n, "Sigmoid") || is_op(n, "HardSwish")) && next.out.size() == 1) {
        conv.activation = {is_op(n, "Tanh")      ? FusedActivation::kTanh
                           : is_op(n, "Sigmoid") ? FusedActivation::kSigmoid
                                                 : FusedActivation::kHardSwish,
                           0.f, 0.f};
      } else if (is_op(n, "HardSigmoid") && next.out.size() == 1) {
        conv.activation = {FusedActivation::kHardSigmoid, attr_float(n, "alpha", 0.2f), attr_float(n, "beta", 0.5f)};
      } else if (is_op(n, "Swish") && next.out.size() == 1) {
        conv.activation = {FusedActivation::kSwish, attr_float(n, "alpha", 1.f), 0.f};
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
