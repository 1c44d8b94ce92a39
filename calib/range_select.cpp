// SPDX-License-Identifier: Apache-2.0
#include "calib/range_select.h"

#include <spdlog/spdlog.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include "calib/batch_runner.h"
#include "quant/model_cut.h"
#include "runtime/executor.h"

namespace qtool {

Tensor fake_quantize(const Tensor& x, Range r, ActType type) {
  if (x.dtype() != DType::kFloat) throw Error("fake_quantize: float32 tensors only");
  const QParams q = activation_qparams(r, type);
  const float lo = q.is_unsigned ? 0.f : -128.f, hi = q.is_unsigned ? 255.f : 127.f;
  const float zp = static_cast<float>(q.zero_point), scale = q.scale;
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  const Eigen::Map<const Eigen::ArrayXf> src(x.data<float>(), x.numel());
  Eigen::Map<Eigen::ArrayXf> dst(out.data<float>(), x.numel());
  // rint: round to nearest, ties to even (the default rounding mode), vectorised
  dst = (((src / scale).rint() + zp).max(lo).min(hi) - zp) * scale;
  return out;
}

namespace {

bool has_subgraph(const onnx::NodeProto& n) {
  for (const auto& a : n.attribute())
    if (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS) return true;
  return false;
}

bool is_random(const std::string& op) {
  return op.rfind("Random", 0) == 0 || op == "Multinomial" || op == "Bernoulli" || op == "Dropout";
}

// One node that reads a tensor under selection, run alone on the values the whole model computed.
struct Reader {
  int node = -1;
  std::vector<std::string> inputs;  // distinct non-initializer inputs
  std::vector<std::string> tested;  // those under selection
  std::unique_ptr<Model> model;     // built on first use, when the input shapes are known
  std::unique_ptr<Executor> exec;
};

}  // namespace

std::map<std::string, Range> select_ranges_by_reader_output(const Model& model, Dataset& data,
                                                            const std::map<std::string, std::vector<Range>>& candidates,
                                                            const RangeSelectOptions& opts) {
  std::map<std::string, Range> chosen;
  std::map<std::string, std::vector<Range>> todo;  // tensors with distinct grids to choose from
  for (const auto& [name, cands] : candidates) {
    if (cands.empty()) throw Error("select_ranges_by_reader_output: no candidate for '" + name + "'");
    chosen[name] = cands.front();
    std::vector<Range> distinct;
    for (const Range& r : cands) {
      const QParams q = activation_qparams(r, opts.act_type);
      const bool seen = std::any_of(distinct.begin(), distinct.end(), [&](const Range& d) {
        const QParams p = activation_qparams(d, opts.act_type);
        return p.scale == q.scale && p.zero_point == q.zero_point && p.is_unsigned == q.is_unsigned;
      });
      if (!seen) distinct.push_back(r);
    }
    if (distinct.size() > 1) todo[name] = std::move(distinct);
  }
  if (todo.empty() || data.size() == 0) return chosen;

  const auto& g = model.graph();
  std::set<std::string> initializers;
  for (const auto& t : g.initializer()) initializers.insert(t.name());
  std::vector<Reader> readers;
  std::map<std::string, std::vector<size_t>> readers_of;  // value -> readers needing it
  for (int k = 0; k < g.node_size(); ++k) {
    const auto& n = g.node(k);
    if (has_subgraph(n) || is_random(n.op_type())) continue;
    Reader r;
    r.node = k;
    std::set<std::string> seen;
    for (const auto& in : n.input()) {
      if (in.empty() || initializers.count(in) || !seen.insert(in).second) continue;
      r.inputs.push_back(in);
      if (todo.count(in)) r.tested.push_back(in);
    }
    if (r.tested.empty()) continue;
    for (const auto& in : r.inputs) readers_of[in].push_back(readers.size());
    readers.push_back(std::move(r));
  }
  if (readers.empty()) return chosen;

  Executor whole(model);
  std::map<std::string, Tensor> constants;  // reader inputs folded at compile time
  std::vector<std::string> observed;
  std::set<std::string> graph_inputs;
  for (const auto& in : whole.inputs()) graph_inputs.insert(in.name);
  for (const auto& [name, rs] : readers_of) {
    if (const Tensor* c = whole.constant(name)) constants[name] = *c;
    else if (!graph_inputs.count(name) && whole.has_value(name)) observed.push_back(name);
  }
  whole.observe_values(observed);

  // err[t][reader][candidate], sig[t][reader]
  std::map<std::string, std::map<size_t, std::vector<double>>> err;
  std::map<std::string, std::map<size_t, double>> sig;
  // sum of squared differences of the float outputs (s_ref: of the reference's squares)
  auto float_sums = [](const TensorMap& ref, const TensorMap* got, double& e, double& s_ref) {
    for (const auto& [name, y] : ref) {
      if (y.dtype() != DType::kFloat) continue;
      const Eigen::Map<const Eigen::ArrayXf> a(y.data<float>(), y.numel());
      if (!got) {
        s_ref += a.cast<double>().square().sum();
        continue;
      }
      const Tensor& z = got->at(name);
      const Eigen::Map<const Eigen::ArrayXf> b(z.data<float>(), z.numel());
      e += (a - b).cast<double>().square().sum();
    }
  };
  auto evaluate = [&](Reader& r, const std::map<std::string, Tensor>& live) {
    TensorMap in;
    for (const auto& name : r.inputs) in.emplace(name, live.at(name));
    if (!r.exec) {
      std::vector<InputSpec> specs;
      for (const auto& name : r.inputs) {
        const Tensor& t = in.at(name);
        specs.push_back(InputSpec{name, t.dtype(), Shape(static_cast<size_t>(t.rank()), -1)});
      }
      std::vector<bool> keep(g.node_size(), false);
      keep[r.node] = true;
      r.model = std::make_unique<Model>(model_after_cut(model, keep, specs));
      r.exec = std::make_unique<Executor>(*r.model);
      std::vector<std::string> outs;
      for (const auto& o : g.node(r.node).output())
        if (!o.empty()) outs.push_back(o);
      r.exec->keep_values(outs);
    }
    const TensorMap ref = r.exec->run(in);
    const size_t idx = static_cast<size_t>(&r - readers.data());
    for (const auto& t : r.tested) {
      const Tensor& x = in.at(t);
      if (x.dtype() != DType::kFloat) continue;
      const auto& cands = todo.at(t);
      auto& e = err[t][idx];
      e.resize(cands.size(), 0.0);
      double s_ref = 0, unused = 0;
      float_sums(ref, nullptr, unused, s_ref);
      for (size_t c = 0; c < cands.size(); ++c) {
        TensorMap q = in;
        q.insert_or_assign(t, fake_quantize(x, cands[c], opts.act_type));
        const TensorMap got = r.exec->run(q);
        float_sums(ref, &got, e[c], unused);
      }
      sig[t][idx] += s_ref;
    }
  };

  const int64_t n = std::min(data.size(), std::max<int64_t>(1, opts.max_samples));
  const int64_t batch = probe_batch_size(whole, data, opts.max_batch);
  for (int64_t b = 0; b < n; b += batch) {
    const TensorMap feeds = data.batch(b, std::min(batch, n - b));
    std::map<std::string, Tensor> live;
    std::vector<size_t> have(readers.size(), 0);
    std::map<std::string, size_t> pending;  // readers still to run per live value
    auto deliver = [&](const std::string& name, const Tensor& t) {
      auto it = readers_of.find(name);
      if (it == readers_of.end() || live.count(name)) return;
      live[name] = t.clone();  // the executor may reuse the buffer once the value is released
      pending[name] = it->second.size();
      for (size_t ri : it->second) {
        Reader& r = readers[ri];
        if (++have[ri] != r.inputs.size()) continue;
        evaluate(r, live);
        for (const auto& in : r.inputs)
          if (--pending[in] == 0) live.erase(in);
      }
    };
    for (const auto& [name, t] : constants) deliver(name, t);
    for (const auto& [name, t] : feeds) deliver(name, t);
    whole.set_hook(deliver);
    try {
      whole.run(feeds);
    } catch (...) {
      whole.set_hook(nullptr);
      throw;
    }
    whole.set_hook(nullptr);
  }

  for (const auto& [t, cands] : todo) {
    auto it = err.find(t);
    if (it == err.end()) continue;  // no reader ran
    std::vector<double> score(cands.size(), 0.0);
    for (const auto& [ri, e] : it->second) {
      const double s = sig[t][ri];
      if (!(s > 0)) continue;  // a reader whose outputs are all zero says nothing
      for (size_t c = 0; c < cands.size(); ++c) score[c] += e[c] / s;
    }
    size_t best = 0;
    for (size_t c = 1; c < cands.size(); ++c)
      if (score[c] < score[best]) best = c;
    chosen[t] = cands[best];
    if (!spdlog::should_log(spdlog::level::debug)) continue;
    std::string scores;
    for (size_t c = 0; c < cands.size(); ++c)
      scores += fmt::format("{}[{:g}, {:g}] {:.3g}", c ? ", " : "", cands[c].min, cands[c].max, score[c]);
    spdlog::debug("range of '{}': candidate {} of {} by the readers' relative output error ({})", t, best + 1, cands.size(),
                  scores);
  }
  return chosen;
}

}  // namespace qtool
