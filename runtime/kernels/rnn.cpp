// SPDX-License-Identifier: Apache-2.0
// Recurrent layers of the ONNX spec (onnx/defs/rnn): RNN, GRU, LSTM at since-versions 7, 14
// (layout attribute: batch-major X / Y / states) and 22 (bfloat16).
//
// Semantics (the spec's equations; where it is silent, onnxruntime's CPU kernels decide):
//  - gates in W/R/B order: RNN [i], GRU [z r h], LSTM [i o f c]; B = [Wb, Rb]; P = [Pi Po Pf];
//  - direction forward / reverse / bidirectional (outputs: forward first);
//  - activations: 1 (RNN), 2 (GRU: f g), 3 (LSTM: f g h) per direction, case-insensitive, from
//    Relu Tanh Sigmoid Affine LeakyRelu ThresholdedRelu ScaledTanh HardSigmoid Elu Softsign
//    Softplus; activation_alpha / activation_beta are consumed in order by the functions that
//    take them (Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu), defaults
//    those of the ONNX operators (LeakyRelu 0.01, HardSigmoid 0.2 / 0.5, Elu 1, ThresholdedRelu 1,
//    Affine 1 / 0, ScaledTanh 1 / 1);
//  - clip bounds every activation's input to [-clip, clip] (gate pre-activations, bias and
//    peephole terms included; not the cell state before h);
//  - GRU linear_before_reset; LSTM input_forget couples the gates as f = 1 - i; peepholes P;
//  - sequence_lens: batch entry b runs sequence_lens[b] steps (the reverse direction from its
//    own end); Y is zero past them; Y_h / Y_c hold the state after its last step, zeros for a
//    length of 0.
// The reference kernel is plain loops in Compute<T> (float16 / bfloat16 in float, states kept in
// float between steps); the float32 fast kernel computes X*W^T for the whole sequence in one
// GEMM and H*R^T per time step (oneDNN sgemm), with the same elementwise code. oneDNN's RNN
// primitives are not used: they cover neither sequence_lens, clip, the optional activations nor
// peepholes, and the GEMMs are where the time goes.
#include <Eigen/Core>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

enum class RnnKind { kRnn, kGru, kLstm };

int gate_count(RnnKind k) { return k == RnnKind::kRnn ? 1 : k == RnnKind::kGru ? 3 : 4; }
int activation_count(RnnKind k) { return k == RnnKind::kRnn ? 1 : k == RnnKind::kGru ? 2 : 3; }

struct Activation {
  enum Fn { kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu,
            kSoftsign, kSoftplus };
  Fn fn = kTanh;
  float alpha = 0.f, beta = 0.f;

  template <typename C>
  C operator()(C x) const {
    const C a = static_cast<C>(alpha), b = static_cast<C>(beta);
    switch (fn) {
      case kRelu: return x > C(0) ? x : C(0);
      case kTanh: return std::tanh(x);
      case kSigmoid: return C(1) / (C(1) + std::exp(-x));
      case kAffine: return a * x + b;
      case kLeakyRelu: return x >= C(0) ? x : a * x;
      case kThresholdedRelu: return x >= a ? x : C(0);
      case kScaledTanh: return a * std::tanh(b * x);
      case kHardSigmoid: return std::max(C(0), std::min(C(1), a * x + b));
      case kElu: return x >= C(0) ? x : a * (std::exp(x) - C(1));
      case kSoftsign: return x / (C(1) + std::fabs(x));
      case kSoftplus: return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    }
    return x;
  }
};

// name (lower case) -> function, whether it takes alpha / beta, their defaults
struct ActivationInfo {
  const char* name;
  Activation::Fn fn;
  bool has_alpha, has_beta;
  float alpha, beta;
};
constexpr ActivationInfo kActivations[] = {
    {"relu", Activation::kRelu, false, false, 0.f, 0.f},
    {"tanh", Activation::kTanh, false, false, 0.f, 0.f},
    {"sigmoid", Activation::kSigmoid, false, false, 0.f, 0.f},
    {"affine", Activation::kAffine, true, true, 1.f, 0.f},
    {"leakyrelu", Activation::kLeakyRelu, true, false, 0.01f, 0.f},
    {"thresholdedrelu", Activation::kThresholdedRelu, true, false, 1.f, 0.f},
    {"scaledtanh", Activation::kScaledTanh, true, true, 1.f, 1.f},
    {"hardsigmoid", Activation::kHardSigmoid, true, true, 0.2f, 0.5f},
    {"elu", Activation::kElu, true, false, 1.f, 0.f},
    {"softsign", Activation::kSoftsign, false, false, 0.f, 0.f},
    {"softplus", Activation::kSoftplus, false, false, 0.f, 0.f},
};

struct RnnConfig {
  RnnKind kind = RnnKind::kRnn;
  int gates = 1;
  int64_t seq = 0, batch = 0, input = 0, hidden = 0;
  int dirs = 1;
  bool reverse = false;   // direction == "reverse" (a bidirectional layer runs direction 1 reversed)
  bool layout1 = false;   // batch-major X, Y, states
  bool has_clip = false;
  float clip = 0.f;
  bool linear_before_reset = false, input_forget = false;
  std::vector<Activation> acts;  // activation_count(kind) per direction
  std::vector<int64_t> lens;     // per batch entry

  int64_t x_row(int64_t t, int64_t b) const { return layout1 ? b * seq + t : t * batch + b; }
  int64_t x_index(int64_t t, int64_t b) const { return x_row(t, b) * input; }
  int64_t y_index(int64_t t, int d, int64_t b) const {
    return (layout1 ? (b * seq + t) * dirs + d : (t * dirs + d) * batch + b) * hidden;
  }
  int64_t state_index(int d, int64_t b) const { return (layout1 ? b * dirs + d : d * batch + b) * hidden; }
  Shape y_shape() const { return layout1 ? Shape{batch, seq, dirs, hidden} : Shape{seq, dirs, batch, hidden}; }
  Shape state_shape() const { return layout1 ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden}; }
  bool dir_reverse(int d) const { return d == 1 || reverse; }
};

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Attributes (always) and the inputs that are given (shapes, dtypes, sequence_lens values).
RnnConfig rnn_config(const KernelContext& c, RnnKind kind) {
  RnnConfig cfg;
  cfg.kind = kind;
  cfg.gates = gate_count(kind);
  const std::string direction = attr_string(c.node, "direction", "forward");
  if (direction == "bidirectional") cfg.dirs = 2;
  else if (direction == "reverse") cfg.reverse = true;
  else if (direction != "forward")
    c.fail("attribute 'direction': must be forward, reverse or bidirectional, got '" + direction + "'");
  if (c.version >= 14) {
    const int64_t layout = attr_int(c.node, "layout", 0);
    if (layout != 0 && layout != 1) c.fail("attribute 'layout': must be 0 or 1, got " + std::to_string(layout));
    cfg.layout1 = layout == 1;
  }
  if (find_attr(c.node, "clip")) {
    cfg.has_clip = true;
    cfg.clip = attr_float(c.node, "clip", 0.f);
    if (!(cfg.clip > 0.f)) c.fail("attribute 'clip': must be positive, got " + std::to_string(cfg.clip));
  }
  if (kind == RnnKind::kGru) {
    const int64_t lbr = attr_int(c.node, "linear_before_reset", 0);
    if (lbr != 0 && lbr != 1) c.fail("attribute 'linear_before_reset': must be 0 or 1, got " + std::to_string(lbr));
    cfg.linear_before_reset = lbr == 1;
  }
  if (kind == RnnKind::kLstm) {
    const int64_t f = attr_int(c.node, "input_forget", 0);
    if (f != 0 && f != 1) c.fail("attribute 'input_forget': must be 0 or 1, got " + std::to_string(f));
    cfg.input_forget = f == 1;
  }
  // Activations.
  const int per_dir = activation_count(kind);
  std::vector<std::string> names = attr_strings(c.node, "activations");
  if (names.empty()) {
    static const char* const kDefaults[][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    const int k = kind == RnnKind::kRnn ? 0 : kind == RnnKind::kGru ? 1 : 2;
    for (int d = 0; d < cfg.dirs; ++d)
      for (int j = 0; j < per_dir; ++j) names.push_back(kDefaults[k][j]);
  } else if (cfg.dirs == 2 && static_cast<int>(names.size()) == per_dir) {
    for (int j = 0; j < per_dir; ++j) names.push_back(names[j]);  // one list for both directions
  }
  if (static_cast<int>(names.size()) != per_dir * cfg.dirs)
    c.fail("attribute 'activations': has " + std::to_string(names.size()) + " functions, expected " +
           std::to_string(per_dir * cfg.dirs) + " (" + std::to_string(per_dir) + " per direction)");
  const auto alphas = attr_floats(c.node, "activation_alpha"), betas = attr_floats(c.node, "activation_beta");
  size_t ia = 0, ib = 0;
  for (const auto& n : names) {
    const std::string ln = lower(n);
    const ActivationInfo* info = nullptr;
    for (const auto& a : kActivations)
      if (ln == a.name) info = &a;
    if (!info)
      c.fail("attribute 'activations': unknown function '" + n +
             "' (expected Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, "
             "Softsign or Softplus)");
    Activation act;
    act.fn = info->fn;
    act.alpha = info->alpha;
    act.beta = info->beta;
    if (info->has_alpha && ia < alphas.size()) act.alpha = alphas[ia++];
    if (info->has_beta && ib < betas.size()) act.beta = betas[ib++];
    cfg.acts.push_back(act);
  }

  // Inputs.
  const int64_t g = cfg.gates;
  const bool bf16_ok = c.version >= 22;
  auto check_float = [&](int i, const char* name, DType want) {
    const DType t = c.in(i).dtype();
    if (want != DType::kUndefined && t != want)
      c.fail(std::string("input '") + name + "' is " + dtype_name(t) + ", X is " + dtype_name(want));
    if (t != DType::kFloat && t != DType::kDouble && t != DType::kFloat16 && !(bf16_ok && t == DType::kBFloat16))
      c.fail(std::string("input '") + name + "' has type " + dtype_name(t) + ", which " + c.node.op_type() +
             "-" + std::to_string(c.version) + " does not accept (float16, float, double" +
             (bf16_ok ? ", bfloat16)" : ")"));
  };
  auto expect_shape = [&](int i, const char* name, const Shape& want) {
    const Shape& s = c.in(i).shape();
    bool ok = s.size() == want.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = want[d] < 0 || s[d] == want[d];
    if (!ok) {
      std::string w = "[";
      for (size_t d = 0; d < want.size(); ++d) w += (d ? "," : "") + (want[d] < 0 ? std::string("?") : std::to_string(want[d]));
      c.fail(std::string("input '") + name + "' has shape " + shape_str(s) + ", expected " + w + "]");
    }
  };
  DType dt = DType::kUndefined;
  if (c.has(0)) {
    check_float(0, "X", DType::kUndefined);
    dt = c.in(0).dtype();
    expect_shape(0, "X", {-1, -1, -1});
    const Tensor& x = c.in(0);
    cfg.seq = cfg.layout1 ? x.dim(1) : x.dim(0);
    cfg.batch = cfg.layout1 ? x.dim(0) : x.dim(1);
    cfg.input = x.dim(2);
  }
  if (c.has(2)) {
    check_float(2, "R", dt);
    expect_shape(2, "R", {cfg.dirs, -1, -1});
    const Tensor& r = c.in(2);
    cfg.hidden = r.dim(2);
    if (r.dim(1) != g * cfg.hidden)
      c.fail("input 'R' has shape " + shape_str(r.shape()) + ": its second extent must be " + std::to_string(g) +
             " x hidden size " + std::to_string(cfg.hidden));
  }
  if (const auto* hs = find_attr(c.node, "hidden_size")) {
    (void)hs;
    const int64_t h = attr_int(c.node, "hidden_size", 0);
    if (h <= 0) c.fail("attribute 'hidden_size': must be positive, got " + std::to_string(h));
    if (c.has(2) && h != cfg.hidden)
      c.fail("attribute 'hidden_size' is " + std::to_string(h) + ", input 'R' says " + std::to_string(cfg.hidden));
    cfg.hidden = h;
  }
  if (c.has(1)) {
    check_float(1, "W", dt);
    expect_shape(1, "W", {cfg.dirs, c.has(2) ? g * cfg.hidden : -1, c.has(0) ? cfg.input : -1});
  }
  if (c.has(3)) {
    check_float(3, "B", dt);
    expect_shape(3, "B", {cfg.dirs, c.has(2) ? 2 * g * cfg.hidden : -1});
  }
  const int64_t batch = c.has(0) ? cfg.batch : -1, hidden = c.has(2) ? cfg.hidden : -1;
  const Shape state = cfg.layout1 ? Shape{batch, cfg.dirs, hidden} : Shape{cfg.dirs, batch, hidden};
  if (c.has(5)) {
    check_float(5, "initial_h", dt);
    expect_shape(5, "initial_h", state);
  }
  if (kind == RnnKind::kLstm) {
    if (c.has(6)) {
      check_float(6, "initial_c", dt);
      expect_shape(6, "initial_c", state);
    }
    if (c.has(7)) {
      check_float(7, "P", dt);
      expect_shape(7, "P", {cfg.dirs, hidden < 0 ? -1 : 3 * hidden});
    }
  }
  if (c.has(4)) {
    const Tensor& sl = c.in(4);
    if (sl.dtype() != DType::kInt32 && sl.dtype() != DType::kInt64)
      c.fail("input 'sequence_lens' has type " + dtype_name(sl.dtype()) + ", expected int32");
    expect_shape(4, "sequence_lens", {batch});
    if (c.has(0)) {
      cfg.lens = sl.to_int64s();
      for (int64_t l : cfg.lens)
        if (l < 0 || l > cfg.seq)
          c.fail("input 'sequence_lens': " + std::to_string(l) + " is outside 0.." + std::to_string(cfg.seq) +
                 " (the sequence length of X)");
    }
  } else if (c.has(0)) {
    cfg.lens.assign(cfg.batch, cfg.seq);
  }
  return cfg;
}

template <typename C>
inline C clip_value(const RnnConfig& cfg, C x) {
  if (!cfg.has_clip) return x;
  const C b = static_cast<C>(cfg.clip);
  return std::max(-b, std::min(b, x));
}

// The elementwise part of one time step for one batch entry. `pre` holds the gate
// pre-activations X*W^T + H*R^T (+ biases, see below) for the `gates` blocks of `hidden` values;
// for GRU the h block of `pre` holds X*Wh^T + Wbh only and `hr` holds the recurrent term of the h
// gate: (r (.) H)*Rh^T + Rbh (linear_before_reset = 0) or H*Rh^T + Rbh (= 1, multiplied by r here).
// Updates h (and c for LSTM) in place.
template <typename C>
void cell_step(const RnnConfig& cfg, int d, C* pre, const C* hr, const C* peep, C* h, C* cstate) {
  const int64_t H = cfg.hidden;
  const int na = activation_count(cfg.kind);
  const Activation* act = &cfg.acts[d * na];
  switch (cfg.kind) {
    case RnnKind::kRnn:
      for (int64_t j = 0; j < H; ++j) h[j] = act[0](clip_value(cfg, pre[j]));
      break;
    case RnnKind::kGru: {
      C* z = pre;
      C* r = pre + H;
      C* hh = pre + 2 * H;
      for (int64_t j = 0; j < H; ++j) {
        const C zj = act[0](clip_value(cfg, z[j]));
        const C rj = r[j];  // already activated by the caller (needed for the recurrent term)
        const C pre_h = cfg.linear_before_reset ? hh[j] + rj * hr[j] : hh[j] + hr[j];
        const C ht = act[1](clip_value(cfg, pre_h));
        h[j] = (C(1) - zj) * ht + zj * h[j];
      }
      break;
    }
    case RnnKind::kLstm: {
      const C* pi = pre;
      const C* po = pre + H;
      const C* pf = pre + 2 * H;
      const C* pc = pre + 3 * H;
      for (int64_t j = 0; j < H; ++j) {
        const C cprev = cstate[j];
        const C i = act[0](clip_value(cfg, pi[j] + (peep ? peep[j] * cprev : C(0))));
        const C f = cfg.input_forget ? C(1) - i : act[0](clip_value(cfg, pf[j] + (peep ? peep[2 * H + j] * cprev : C(0))));
        const C g = act[1](clip_value(cfg, pc[j]));
        const C cn = f * cprev + i * g;
        const C o = act[0](clip_value(cfg, po[j] + (peep ? peep[H + j] * cn : C(0))));
        cstate[j] = cn;
        h[j] = o * act[2](cn);
      }
      break;
    }
  }
}

struct RnnOutputs {
  Tensor y, yh, yc;
};

// Outputs allocated (zeros) for the outputs the node asks for; Y_h / Y_c always computed.
RnnOutputs make_outputs(const RnnConfig& cfg, DType dt) {
  RnnOutputs o;
  o.y = Tensor(dt, cfg.y_shape());
  o.yh = Tensor(dt, cfg.state_shape());
  if (cfg.kind == RnnKind::kLstm) o.yc = Tensor(dt, cfg.state_shape());
  return o;
}

void set_outputs(KernelContext& c, RnnOutputs& o) {
  if (c.outputs.size() > 0) c.outputs[0] = std::move(o.y);
  if (c.outputs.size() > 1) c.outputs[1] = std::move(o.yh);
  if (c.outputs.size() > 2) c.outputs[2] = std::move(o.yc);
}

// ---------------------------------------------------------------------------------------------
// Reference: plain loops in Compute<T>.

template <typename T>
void rnn_reference_typed(KernelContext& c, const RnnConfig& cfg) {
  using C = Compute<T>;
  const int64_t H = cfg.hidden, I = cfg.input, G = cfg.gates;
  auto vals = [&](int i) { return c.has(i) ? c.in(i).data<T>() : nullptr; };
  const T* X = vals(0);
  const T* W = vals(1);
  const T* R = vals(2);
  const T* B = vals(3);
  const T* H0 = vals(5);
  const T* C0 = cfg.kind == RnnKind::kLstm ? vals(6) : nullptr;
  const T* P = cfg.kind == RnnKind::kLstm ? vals(7) : nullptr;
  RnnOutputs out = make_outputs(cfg, dtype_of<T>());
  T* Y = out.y.data<T>();
  T* YH = out.yh.data<T>();
  T* YC = cfg.kind == RnnKind::kLstm ? out.yc.data<T>() : nullptr;
  std::vector<C> pre(G * H), hr(H), h(H), cs(H), rh(H), peep(P ? 3 * H : 0);
  for (int d = 0; d < cfg.dirs; ++d) {
    const T* Wd = W + d * G * H * I;
    const T* Rd = R + d * G * H * H;
    const T* Wb = B ? B + d * 2 * G * H : nullptr;
    const T* Rb = B ? Wb + G * H : nullptr;
    for (int64_t j = 0; P && j < 3 * H; ++j) peep[j] = to_compute(P[d * 3 * H + j]);
    for (int64_t b = 0; b < cfg.batch; ++b) {
      const int64_t len = cfg.lens[b];
      for (int64_t j = 0; j < H; ++j) {
        h[j] = H0 ? to_compute(H0[cfg.state_index(d, b) + j]) : C(0);
        cs[j] = C0 ? to_compute(C0[cfg.state_index(d, b) + j]) : C(0);
      }
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = cfg.dir_reverse(d) ? len - 1 - s : s;
        const T* x = X + cfg.x_index(t, b);
        for (int64_t k = 0; k < G * H; ++k) {
          C acc = Wb ? to_compute(Wb[k]) : C(0);
          for (int64_t i = 0; i < I; ++i) acc += to_compute(x[i]) * to_compute(Wd[k * I + i]);
          const bool gru_h = cfg.kind == RnnKind::kGru && k >= 2 * H;
          if (!gru_h) {  // the GRU h gate's recurrent term needs r first
            if (Rb) acc += to_compute(Rb[k]);
            for (int64_t i = 0; i < H; ++i) acc += h[i] * to_compute(Rd[k * H + i]);
          }
          pre[k] = acc;
        }
        if (cfg.kind == RnnKind::kGru) {
          const Activation& f = cfg.acts[d * 2];
          for (int64_t j = 0; j < H; ++j) pre[H + j] = f(clip_value(cfg, pre[H + j]));  // r
          for (int64_t j = 0; j < H; ++j) rh[j] = cfg.linear_before_reset ? h[j] : pre[H + j] * h[j];
          for (int64_t j = 0; j < H; ++j) {
            const int64_t k = 2 * H + j;
            C acc = Rb ? to_compute(Rb[k]) : C(0);
            for (int64_t i = 0; i < H; ++i) acc += rh[i] * to_compute(Rd[k * H + i]);
            hr[j] = acc;
          }
        }
        cell_step<C>(cfg, d, pre.data(), hr.data(), P ? peep.data() : nullptr, h.data(), cs.data());
        T* y = Y + cfg.y_index(t, d, b);
        for (int64_t j = 0; j < H; ++j) y[j] = from_compute<T>(h[j]);
      }
      T* yh = YH + cfg.state_index(d, b);
      T* yc = YC ? YC + cfg.state_index(d, b) : nullptr;
      for (int64_t j = 0; j < H; ++j) {
        yh[j] = len > 0 ? from_compute<T>(h[j]) : T{};
        if (yc) yc[j] = len > 0 ? from_compute<T>(cs[j]) : T{};
      }
    }
  }
  set_outputs(c, out);
}

template <RnnKind K>
void validate_rnn(KernelContext& c) {
  rnn_config(c, K);
}

template <RnnKind K>
void rnn_reference(KernelContext& c) {
  const RnnConfig cfg = rnn_config(c, K);
  for (int i = 0; i < 3; ++i) (void)c.in(i);  // X, W, R are required
  c.dispatch_or_fail<FloatTypes>(0, c.in(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    rnn_reference_typed<T>(c, cfg);
  });
}

// ---------------------------------------------------------------------------------------------
// Fast float32: X*W^T for every time step in one GEMM, H*R^T per step (oneDNN's sgemm, which
// picks AVX2 / AVX-512 code at run time), the elementwise part shared with the reference.

// C[M,N] = A[M,K] * B[N,K]^T (+ C when accumulate), all row-major with the given leading dims.
void gemm_abt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.f);
    return;
  }
  if (m < 4) {  // a few rows (batch 1 recurrences): Eigen's matrix-vector product has less overhead
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Stride = Eigen::OuterStride<>;
    Eigen::Map<const RowMat, 0, Stride> am(a, m, k, Stride(lda)), bm(b, n, k, Stride(ldb));
    Eigen::Map<RowMat, 0, Stride> cm(c, m, n, Stride(ldc));
    cm.noalias() = am * bm.transpose();
    return;
  }
  if (dnnl::sgemm('N', 'T', m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc) != dnnl::status::success)
    throw Error("oneDNN sgemm failed");
}

template <RnnKind K>
bool rnn_fast(KernelContext& c) {
  if (!c.has(0) || c.in(0).dtype() != DType::kFloat) return false;
  const RnnConfig cfg = rnn_config(c, K);
  (void)c.in(1), (void)c.in(2);  // required
  const int64_t H = cfg.hidden, I = cfg.input, G = cfg.gates, batch = cfg.batch;
  const bool gru = K == RnnKind::kGru;
  const float* X = c.in(0).data<float>();
  const float* W = c.in(1).data<float>();
  const float* R = c.in(2).data<float>();
  const float* B = c.has(3) ? c.in(3).data<float>() : nullptr;
  const float* H0 = c.has(5) ? c.in(5).data<float>() : nullptr;
  const float* C0 = K == RnnKind::kLstm && c.has(6) ? c.in(6).data<float>() : nullptr;
  const float* P = K == RnnKind::kLstm && c.has(7) ? c.in(7).data<float>() : nullptr;
  RnnOutputs out = make_outputs(cfg, DType::kFloat);
  float* Y = out.y.data<float>();
  float* YH = out.yh.data<float>();
  float* YC = K == RnnKind::kLstm ? out.yc.data<float>() : nullptr;
  const int64_t rows = cfg.seq * batch;  // rows of X in memory order (x_row)
  const int64_t GH = G * H;
  const int64_t RH = gru ? 2 * H : GH;  // recurrent columns before the cell: all, or GRU's z and r
  int64_t max_len = 0;
  for (int64_t l : cfg.lens) max_len = std::max(max_len, l);
  std::vector<float> xw(static_cast<size_t>(rows * GH)), hprev(batch * H), cprev(batch * H), hrec(batch * RH);
  std::vector<float> rh(gru ? batch * H : 0), hh(gru ? batch * H : 0), bias(GH), rbh(H), pre(GH), hr(H);
  for (int d = 0; d < cfg.dirs; ++d) {
    const float* Wd = W + d * GH * I;
    const float* Rd = R + d * GH * H;
    gemm_abt(rows, GH, I, X, I, Wd, I, xw.data(), GH);
    // Wb + Rb folded into the input projection, except the GRU h gate's Rb (inside r's product)
    std::fill(bias.begin(), bias.end(), 0.f);
    std::fill(rbh.begin(), rbh.end(), 0.f);
    if (B) {
      const float* Wb = B + d * 2 * GH;
      const float* Rb = Wb + GH;
      for (int64_t k = 0; k < GH; ++k) bias[k] = Wb[k] + (gru && k >= 2 * H ? 0.f : Rb[k]);
      if (gru) std::copy(Rb + 2 * H, Rb + 3 * H, rbh.begin());
      for (int64_t r = 0; r < rows; ++r) {
        float* row = xw.data() + r * GH;
        for (int64_t k = 0; k < GH; ++k) row[k] += bias[k];
      }
    }
    const float* peep = P ? P + d * 3 * H : nullptr;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < H; ++j) {
        hprev[b * H + j] = H0 ? H0[cfg.state_index(d, b) + j] : 0.f;
        cprev[b * H + j] = C0 ? C0[cfg.state_index(d, b) + j] : 0.f;
      }
    const Activation& f = cfg.acts[d * activation_count(K)];
    for (int64_t s = 0; s < max_len; ++s) {
      gemm_abt(batch, RH, H, hprev.data(), H, Rd, H, hrec.data(), RH);
      if (gru) {  // r first, then the h gate's recurrent term
        for (int64_t b = 0; b < batch; ++b) {
          if (s >= cfg.lens[b]) continue;
          const int64_t t = cfg.dir_reverse(d) ? cfg.lens[b] - 1 - s : s;
          const float* xr = xw.data() + cfg.x_row(t, b) * GH + H;
          for (int64_t j = 0; j < H; ++j) {
            const float r = f(clip_value(cfg, xr[j] + hrec[b * RH + H + j]));
            hrec[b * RH + H + j] = r;
            rh[b * H + j] = cfg.linear_before_reset ? hprev[b * H + j] : r * hprev[b * H + j];
          }
        }
        gemm_abt(batch, H, H, rh.data(), H, Rd + 2 * H * H, H, hh.data(), H);
      }
      for (int64_t b = 0; b < batch; ++b) {
        if (s >= cfg.lens[b]) continue;
        const int64_t t = cfg.dir_reverse(d) ? cfg.lens[b] - 1 - s : s;
        const float* xrow = xw.data() + cfg.x_row(t, b) * GH;
        const float* rec = hrec.data() + b * RH;
        if (gru) {
          for (int64_t j = 0; j < H; ++j) {
            pre[j] = xrow[j] + rec[j];
            pre[H + j] = rec[H + j];  // the activated r
            pre[2 * H + j] = xrow[2 * H + j];
            hr[j] = hh[b * H + j] + rbh[j];
          }
        } else {
          for (int64_t k = 0; k < GH; ++k) pre[k] = xrow[k] + rec[k];
        }
        float* h = hprev.data() + b * H;
        cell_step<float>(cfg, d, pre.data(), hr.data(), peep, h, cprev.data() + b * H);
        std::copy(h, h + H, Y + cfg.y_index(t, d, b));
      }
    }
    for (int64_t b = 0; b < batch; ++b) {
      const bool any = cfg.lens[b] > 0;
      for (int64_t j = 0; j < H; ++j) {
        YH[cfg.state_index(d, b) + j] = any ? hprev[b * H + j] : 0.f;
        if (YC) YC[cfg.state_index(d, b) + j] = any ? cprev[b * H + j] : 0.f;
      }
    }
  }
  set_outputs(c, out);
  return true;
}

template <RnnKind K>
OpDef rnn_def() {
  return OpDef{rnn_reference<K>, rnn_fast<K>, validate_rnn<K>};
}

}  // namespace

void register_rnn_ops(OpRegistry& r) {
  // 14 adds the layout attribute, 22 bfloat16; one kernel reads both by version.
  r.add("", "RNN", {7, 14, 22}, rnn_def<RnnKind::kRnn>());
  r.add("", "GRU", {7, 14, 22}, rnn_def<RnnKind::kGru>());
  r.add("", "LSTM", {7, 14, 22}, rnn_def<RnnKind::kLstm>());
}

}  // namespace qtool
