// SPDX-License-Identifier: Apache-2.0
// fold_batchnorm: Conv -> BatchNormalization (inference) becomes one Conv with
//   W'[o] = W[o] * a[o],  b'[o] = (b[o] - mean[o]) * a[o] + beta[o],  a = gamma / sqrt(var + eps).
// Applies when the Conv output feeds only the BN, and weights/BN parameters are initializers.
#include <cmath>
#include <map>
#include <set>

#include "quant/pass.h"
#include "runtime/kernel.h"

namespace qtool {

void fold_batchnorm(Model& model, PassContext& ctx) {
  auto& g = model.graph();
  std::map<std::string, int> uses;
  for (const auto& n : g.node())
    for (const auto& i : n.input()) uses[i]++;
  for (const auto& o : g.output()) uses[o.name()]++;
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& o : g.node(i).output()) producer[o] = i;

  std::vector<int> remove;
  for (int bi = 0; bi < g.node_size(); ++bi) {
    const auto& bn = g.node(bi);
    if (bn.op_type() != "BatchNormalization" || bn.input_size() < 5) continue;
    auto pit = producer.find(bn.input(0));
    if (pit == producer.end()) continue;
    auto& conv = *g.mutable_node(pit->second);
    if (conv.op_type() != "Conv" || uses[conv.output(0)] != 1 || conv.input_size() < 2) continue;
    if (bn.output_size() > 1 && !bn.output(1).empty()) continue;  // training outputs requested
    bool params_const = model.find_initializer(conv.input(1)) != nullptr;
    for (int k = 1; k < 5; ++k) params_const = params_const && model.find_initializer(bn.input(k));
    if (conv.input_size() > 2 && !conv.input(2).empty()) params_const = params_const && model.find_initializer(conv.input(2));
    if (!params_const) continue;

    Tensor w = model.initializer(conv.input(1)).cast(DType::kFloat);
    auto gamma = model.initializer(bn.input(1)).to_floats(), beta = model.initializer(bn.input(2)).to_floats();
    auto mean = model.initializer(bn.input(3)).to_floats(), var = model.initializer(bn.input(4)).to_floats();
    const int64_t cout = w.dim(0);
    if (static_cast<int64_t>(gamma.size()) != cout) continue;
    std::vector<float> bias(cout, 0.f);
    if (conv.input_size() > 2 && !conv.input(2).empty()) bias = model.initializer(conv.input(2)).to_floats();
    const float eps = attr_float(bn, "epsilon", 1e-5f);
    const int64_t per = w.numel() / cout;
    float* wp = w.data<float>();
    std::vector<float> nb(cout);
    for (int64_t o = 0; o < cout; ++o) {
      const double a = gamma[o] / std::sqrt(static_cast<double>(var[o]) + eps);
      for (int64_t i = 0; i < per; ++i) wp[o * per + i] = static_cast<float>(wp[o * per + i] * a);
      nb[o] = static_cast<float>((bias[o] - mean[o]) * a + beta[o]);
    }
    // New initializer names: the originals may be shared with other nodes.
    const std::string base = conv.name().empty() ? conv.output(0) : conv.name();
    const std::string wname = base + ".weight_bnfold", bname = base + ".bias_bnfold";
    model.set_initializer(wname, w);
    model.set_initializer(bname, Tensor::from<float>({cout}, nb));
    conv.set_input(1, wname);
    if (conv.input_size() > 2) conv.set_input(2, bname);
    else conv.add_input(bname);
    conv.set_output(0, bn.output(0));
    remove.push_back(bi);
    ctx.stats.batchnorms_folded++;
  }
  for (auto it = remove.rbegin(); it != remove.rend(); ++it) g.mutable_node()->DeleteSubrange(*it, 1);
  // Drop initializers nothing reads any more.
  std::map<std::string, int> used;
  for (const auto& n : g.node())
    for (const auto& i : n.input()) used[i]++;
  for (const auto& o : g.output()) used[o.name()]++;
  std::set<std::string> dropped;
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i)
    if (!used.count(inits->Get(i).name())) {
      dropped.insert(inits->Get(i).name());
      inits->DeleteSubrange(i, 1);
    }
  auto* inputs = g.mutable_input();  // IR 3 models list initializers as inputs too
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (dropped.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
}

}  // namespace qtool
