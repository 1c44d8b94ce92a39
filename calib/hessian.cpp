// SPDX-License-Identifier: Apache-2.0
#include "calib/hessian.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "calib/batch_runner.h"
#include "core/parallel.h"
#include "quant/model_prefix.h"
#include "runtime/kernel.h"

namespace qtool {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Layer {
  std::string label;
  enum Kind { kConv, kGemmA, kGemmAT, kMatMul } kind = kMatMul;
  int64_t group = 1, kh = 1, kw = 1, k = 0;  // k = columns of H
  int64_t sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  std::string auto_pad = "NOTSET";
  std::vector<Eigen::MatrixXf> batch;  // per-batch float accumulation (lower triangle)
  int64_t folded_rows = 0;  // out.rows when the float sums were last added to out.h
  std::vector<std::vector<Eigen::MatrixXf>> chunk;  // [thread - 1][group]: other threads' sums (empty until used)
  LayerHessian out;
};

// Room for the sums of threads 1..threads-1 (thread 0 sums into L.batch).
void reserve_chunks(Layer& L, int64_t threads) {
  if (static_cast<int64_t>(L.chunk.size()) < threads - 1) L.chunk.resize(threads - 1);
  for (auto& c : L.chunk)
    if (c.size() != L.batch.size()) c.assign(L.batch.size(), Eigen::MatrixXf());
}
// Thread t's float sum of group g (allocated on first use).
Eigen::MatrixXf& thread_sum(Layer& L, int64_t t, int64_t g) {
  Eigen::MatrixXf& sum = t == 0 ? L.batch[g] : L.chunk[t - 1][g];
  if (sum.rows() != L.k) sum = Eigen::MatrixXf::Zero(L.k, L.k);
  return sum;
}

// Adds rows^T rows (lower triangle) to group g's batch sum. Large updates split the rows into
// fixed chunks, one per thread of the thread budget, each summed into its own matrix (deterministic
// for a given budget; the chunks are added when the batch is folded into the double totals).
template <typename Rows>
void accumulate(Layer& L, const Rows& rows, int64_t g) {
  const int64_t n = rows.rows(), k = L.k;
  L.out.rows += g == 0 ? n : 0;
  const int64_t threads = std::min<int64_t>(thread_budget(), n / 64);
  if (threads <= 1 || static_cast<double>(n) * k * k < 3e7) {
    L.batch[g].selfadjointView<Eigen::Lower>().rankUpdate(rows.transpose());
    return;
  }
  reserve_chunks(L, threads);
  parallel_for_workers(threads, threads, 1, [&](int64_t t) {
    const int64_t a = n * t / threads, b = n * (t + 1) / threads;
    thread_sum(L, t, g).selfadjointView<Eigen::Lower>().rankUpdate(rows.middleRows(a, b - a).transpose());
  });
}

using Patches = Eigen::MatrixXf;  // column-major: one column per tap, one row per output position

// One input plane's geometry as the convolution sees it: h x w pixels, oh x ow outputs, top / left
// padding.
struct Window {
  int64_t h, w, oh, ow, pt, pl;
};

// Column of tap (u, v) for output positions [first, first + count) (row-major over oh x ow): the
// input pixel each position reads through that tap, 0 in the padding. Row by row, the valid span
// of each output row is found once, so the inner loop is a copy (a strided one for stride > 1).
void tap_column(const Layer& L, const Window& win, const float* plane, int64_t u, int64_t v, int64_t first,
                int64_t count, float* out) {
  const int64_t off = v * L.dw - win.pl;  // input column of output column x: x * sw + off
  // output columns whose input column lies in [0, w): x >= ceil(-off / sw), x <= floor((w - 1 - off) / sw)
  const int64_t lo = off >= 0 ? 0 : (-off + L.sw - 1) / L.sw;
  const int64_t hi = win.w - 1 - off < 0 ? 0 : (win.w - 1 - off) / L.sw + 1;  // one past the last
  for (int64_t pos = first, end = first + count; pos < end;) {
    const int64_t y = pos / win.ow, x0 = pos % win.ow, x1 = std::min(win.ow, x0 + (end - pos));
    const int64_t iy = y * L.sh - win.pt + u * L.dh;
    if (iy < 0 || iy >= win.h) {
      std::fill(out, out + (x1 - x0), 0.f);
    } else {
      const int64_t a = std::clamp(lo, x0, x1), z = std::clamp(hi, a, x1);
      const float* row = plane + iy * win.w;  // output column x reads row[x * sw + off], inside [a, z)
      std::fill(out, out + (a - x0), 0.f);
      if (L.sw == 1) {
        std::copy(row + (a + off), row + (z + off), out + (a - x0));
      } else {
        for (int64_t x = a; x < z; ++x) out[x - x0] = row[x * L.sw + off];
      }
      std::fill(out + (z - x0), out + (x1 - x0), 0.f);
    }
    out += x1 - x0;
    pos += x1 - x0;
  }
}

void observe(Layer& L, const Tensor& x) {
  if (x.dtype() != DType::kFloat) return;
  const float* p = x.data<float>();
  if (L.kind == Layer::kMatMul || L.kind == Layer::kGemmA) {
    if (x.numel() % L.k) return;
    Eigen::Map<const RowMajor> m(p, x.numel() / L.k, L.k);
    accumulate(L, m, 0);
    return;
  }
  if (L.kind == Layer::kGemmAT) {  // A is [K, M]
    Eigen::Map<const RowMajor> m(p, L.k, x.numel() / L.k);
    accumulate(L, m.transpose(), 0);
    return;
  }
  if (x.rank() != 4) return;
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), cg = c / L.group;
  int64_t pt = L.pt, pl = L.pl, pb = L.pb, pr = L.pr;
  const int64_t ekh = (L.kh - 1) * L.dh + 1, ekw = (L.kw - 1) * L.dw + 1;
  if (L.auto_pad == "VALID") pt = pl = pb = pr = 0;
  if (L.auto_pad == "SAME_UPPER" || L.auto_pad == "SAME_LOWER") {
    const int64_t th = std::max<int64_t>(0, ((h + L.sh - 1) / L.sh - 1) * L.sh + ekh - h);
    const int64_t tw = std::max<int64_t>(0, ((w + L.sw - 1) / L.sw - 1) * L.sw + ekw - w);
    pt = L.auto_pad == "SAME_UPPER" ? th / 2 : th - th / 2;
    pl = L.auto_pad == "SAME_UPPER" ? tw / 2 : tw - tw / 2;
    pb = th - pt;
    pr = tw - pl;
  }
  const int64_t oh = (h + pt + pb - ekh) / L.sh + 1, ow = (w + pl + pr - ekw) / L.sw + 1;
  if (oh <= 0 || ow <= 0 || cg * L.kh * L.kw != L.k) return;
  if (L.kh == 1 && L.kw == 1 && L.sh == 1 && L.sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w) {
    // 1x1 convolution: the patches are the input planes themselves, (h*w) x cg column-major
    using ColMajor = Eigen::Map<const Eigen::MatrixXf>;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t g = 0; g < L.group; ++g) accumulate(L, ColMajor(p + (b * c + g * cg) * h * w, h * w, cg), g);
    return;
  }
  // im2col into column-major patches (column = one tap (ic, u, v), its rows the output positions), one
  // input row segment at a time; the rank update reads them as they are
  const int64_t positions = oh * ow;
  const Window win{h, w, oh, ow, pt, pl};
  auto fill = [&](int64_t b, int64_t g, int64_t first, int64_t count, Patches& patches) {
    for (int64_t ic = 0; ic < cg; ++ic) {
      const float* plane = p + ((b * c + g * cg + ic) * h) * w;
      for (int64_t u = 0; u < L.kh; ++u)
        for (int64_t v = 0; v < L.kw; ++v)
          tap_column(L, win, plane, u, v, first, count, patches.col((ic * L.kh + u) * L.kw + v).data());
    }
  };
  const int64_t threads = std::min<int64_t>(thread_budget(), positions / 64);
  const bool split = threads > 1 && static_cast<double>(positions) * L.k * L.k >= 3e7;
  L.out.rows += n * positions;
  if (!split) {
    // small layers: whole groups per worker (a depthwise convolution's groups are many and small),
    // each group summed by one worker in sample order
    const int64_t workers = std::min<int64_t>(thread_budget(), L.group);
    const bool worth = workers > 1 && static_cast<double>(n) * positions * L.k * L.group >= 1e6;
    parallel_for_workers(worth ? workers : 1, worth ? workers : 1, 1, [&](int64_t t) {
      const int64_t span = worth ? workers : 1;
      Patches patches(positions, L.k);
      for (int64_t g = t; g < L.group; g += span)
        for (int64_t b = 0; b < n; ++b) {
          fill(b, g, 0, positions, patches);
          L.batch[g].selfadjointView<Eigen::Lower>().rankUpdate(patches.transpose());
        }
    });
    return;
  }
  reserve_chunks(L, threads);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < L.group; ++g)
      parallel_for_workers(threads, threads, 1, [&](int64_t t) {
        const int64_t first = positions * t / threads, count = positions * (t + 1) / threads - first;
        Patches part(count, L.k);
        fill(b, g, first, count, part);
        thread_sum(L, t, g).selfadjointView<Eigen::Lower>().rankUpdate(part.transpose());
      });
}

// Whether two layers reading one input see the same rows (patches): the same kind, columns and,
// for convolutions, the same window geometry.
bool same_patches(const Layer& a, const Layer& b) {
  return a.kind == b.kind && a.k == b.k && a.group == b.group && a.kh == b.kh && a.kw == b.kw && a.sh == b.sh &&
         a.sw == b.sw && a.dh == b.dh && a.dw == b.dw && a.pt == b.pt && a.pl == b.pl && a.pb == b.pb &&
         a.pr == b.pr && a.auto_pad == b.auto_pad;
}

Layer describe(const Model& model, const onnx::NodeProto& n, const std::string& label) {
  Layer L;
  L.label = label;
  auto* w = n.input_size() > 1 ? model.find_initializer(n.input(1)) : nullptr;
  if (!w) throw InputError("node '" + label + "': GPTQ needs the weight (input 1) to be an initializer");
  if (n.op_type() == "Conv") {
    if (w->dims_size() != 4) throw InputError("node '" + label + "': GPTQ supports 2-D convolutions only");
    L.kind = Layer::kConv;
    L.group = attr_int(n, "group", 1);
    L.kh = w->dims(2);
    L.kw = w->dims(3);
    L.k = w->dims(1) * L.kh * L.kw;
    auto s = attr_ints(n, "strides", {1, 1}), d = attr_ints(n, "dilations", {1, 1}), pads = attr_ints(n, "pads", {0, 0, 0, 0});
    L.sh = s[0]; L.sw = s[1]; L.dh = d[0]; L.dw = d[1];
    L.pt = pads[0]; L.pl = pads[1]; L.pb = pads[2]; L.pr = pads[3];
    L.auto_pad = attr_string(n, "auto_pad", "NOTSET");
  } else if (n.op_type() == "Gemm") {
    if (w->dims_size() != 2) throw InputError("node '" + label + "': Gemm weight must be 2-D");
    L.kind = attr_int(n, "transA", 0) ? Layer::kGemmAT : Layer::kGemmA;
    L.k = attr_int(n, "transB", 0) ? w->dims(1) : w->dims(0);
  } else if (n.op_type() == "MatMul") {
    if (w->dims_size() != 2) throw InputError("node '" + label + "': GPTQ needs a 2-D MatMul weight");
    L.kind = Layer::kMatMul;
    L.k = w->dims(0);
  } else {
    throw InputError("node '" + label + "' (" + n.op_type() + "): GPTQ supports Conv, Gemm and MatMul");
  }
  return L;
}


// Float sums are added to the double totals every this many rows (and at the end): float
// accumulation error stays that of a few thousand rows, and a batch-1 model does not pay a K x K
// conversion per sample.
constexpr int64_t kRowsPerFold = 16384;

void fold(Layer& L) {
  for (size_t g = 0; g < L.batch.size(); ++g) {
    L.out.h[g] += L.batch[g].cast<double>();
    L.batch[g].setZero();
    for (auto& c : L.chunk)
      if (c[g].size()) {
        L.out.h[g] += c[g].cast<double>();
        c[g].setZero();
      }
  }
  L.folded_rows = L.out.rows;
}

// Accumulates the layers' Hessians on the part of `model` that computes their inputs. `run_all`
// runs the executor over the batches, sets `observing` once probing runs are over, and calls
// `visit` with each batch's feeds after running it.
using BatchVisitor = std::function<void(const TensorMap& feeds)>;
using BatchSource = std::function<void(Executor& exec, const BatchVisitor& visit, bool& observing)>;

std::map<std::string, LayerHessian> collect(const Model& model, const std::vector<std::string>& nodes,
                                            const BatchSource& run_all) {
  std::vector<Layer> layers;
  std::map<std::string, std::vector<size_t>> by_input;  // activation name -> layers reading it
  // layers that read the same input through the same patches (a detector's class and box heads,
  // attention's q / k / v projections) have the same Hessian: it is summed once (shares: i uses j's)
  std::vector<std::pair<size_t, size_t>> shares;
  for (const auto& label : nodes) {
    const onnx::NodeProto* found = nullptr;
    for (const auto& n : model.graph().node())
      if (n.name() == label || (n.name().empty() && n.output_size() && n.output(0) == label)) found = &n;
    if (!found) throw InputError("no node named '" + label + "' in " + model.path.string());
    Layer L = describe(model, *found, label);
    auto& readers = by_input[found->input(0)];
    auto same = std::find_if(readers.begin(), readers.end(), [&](size_t j) { return same_patches(layers[j], L); });
    if (same != readers.end()) shares.emplace_back(layers.size(), *same);
    layers.push_back(std::move(L));
    if (same == readers.end()) readers.push_back(layers.size() - 1);
  }
  if (layers.empty()) return {};
#ifdef __GLIBC__
  // Before large Hessians (K >= 1024 columns: 12 MiB and more each, float sums plus the double
  // total), pages glibc malloc keeps free are returned, so the accumulators do not grow a heap that
  // earlier work left fragmented (UltraFace's last GPTQ wave raised a glibc-malloc process's peak RSS
  // by the whole 63 MiB). Only then: trimming before every wave cost 20% of GPTQ's time in page
  // faults. Under tcmalloc (the qtool executable, runtime/allocator_policy.h) glibc's heap is unused
  // and this does nothing; tcmalloc's page heap reuses the freed spans itself.
  if (std::any_of(layers.begin(), layers.end(), [](const Layer& L) { return L.k >= 1024; })) malloc_trim(0);
#endif
  for (size_t i = 0, s = 0; i < layers.size(); ++i) {  // accumulators (none for a shared Hessian)
    if (s < shares.size() && shares[s].first == i) {
      ++s;
      continue;
    }
    layers[i].batch.assign(layers[i].group, Eigen::MatrixXf::Zero(layers[i].k, layers[i].k));
    layers[i].out.h.assign(layers[i].group, Eigen::MatrixXd::Zero(layers[i].k, layers[i].k));
  }
  if (!shares.empty())
    spdlog::debug("GPTQ Hessians: {} of {} layers share another's (same input and patches)", shares.size(), layers.size());
  // only the part of the graph that computes the layers' inputs runs (a GPTQ wave early in the
  // network does not pay for the rest of it; one reading only graph inputs runs no node at all)
  std::vector<std::string> layer_inputs;
  for (const auto& [name, idx] : by_input) layer_inputs.push_back(name);
  const Model prefix = model_prefix(model, layer_inputs);
  Executor exec(prefix);
  std::vector<std::string> watched;
  for (const auto& [name, idx] : by_input)
    if (exec.has_value(name)) watched.push_back(name);
  exec.observe_values(watched);  // layer inputs must not be fused away (and are not kept)
  bool observing = false;
  exec.set_hook([&](const std::string& name, const Tensor& t) {
    if (!observing) return;
    auto it = by_input.find(name);
    if (it == by_input.end()) return;
    for (size_t i : it->second) observe(layers[i], t);
  });
  std::set<std::string> graph_inputs;
  for (const auto& in : exec.inputs()) graph_inputs.insert(in.name);
  run_all(exec, [&](const TensorMap& feeds) {
    for (const auto& [name, t] : feeds)
      if (graph_inputs.count(name) && by_input.count(name))
        for (size_t i : by_input[name]) observe(layers[i], t);
    for (auto& L : layers)
      if (L.out.rows - L.folded_rows >= kRowsPerFold) fold(L);
  }, observing);
  for (auto& L : layers) fold(L);
  std::map<std::string, LayerHessian> out;
  for (auto& L : layers) {
    for (auto& h : L.out.h) {  // the full symmetric matrix from its lower triangle, in place
      for (int64_t j = 0; j < h.cols(); ++j)
        for (int64_t i = j + 1; i < h.rows(); ++i) h(j, i) = h(i, j);
      h *= 2.0 / std::max<int64_t>(1, L.out.rows);
    }
    out[L.label] = std::move(L.out);
  }
  for (const auto& [i, j] : shares) {
    out[layers[i].label] = out.at(layers[j].label);
    out[layers[i].label].same_as = layers[j].label;
  }
  return out;
}

}  // namespace

std::map<std::string, LayerHessian> collect_hessians(const Model& model, Dataset& data,
                                                     const std::vector<std::string>& nodes, int64_t max_batch) {
  return collect(model, nodes, [&](Executor& exec, const BatchVisitor& visit, bool& observing) {
    const int64_t batch = probe_batch_size(exec, data, max_batch);
    observing = true;
    spdlog::debug("collecting GPTQ Hessians of {} layers on {} (batch {})", nodes.size(), data.describe(), batch);
    run_batches(exec, data, batch, "hessians",
                [&](int64_t, int64_t, const TensorMap& feeds, const TensorMap&) { visit(feeds); });
  });
}

std::map<std::string, LayerHessian> collect_hessians(const Model& model, const std::vector<TensorMap>& batches,
                                                     const std::vector<std::string>& nodes) {
  return collect(model, nodes, [&](Executor& exec, const BatchVisitor& visit, bool& observing) {
    observing = true;
    spdlog::debug("collecting GPTQ Hessians of {} layers on {} stored batches", nodes.size(), batches.size());
    for (const TensorMap& feeds : batches) {
      (void)exec.run(feeds);
      visit(feeds);
    }
  });
}

}  // namespace qtool
