// SPDX-License-Identifier: Apache-2.0
#include "quant/gptq.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/parallel.h"

namespace qtool {

namespace {

}  // namespace

// With J the exchange matrix (reversal), J Hd J = L L^T (Cholesky), so Hd = M M^T with M = J L J
// upper triangular, and Hd^-1 = (M^-1)^T M^-1: U = M^-1 = J L^-1 J is the upper Cholesky factor of
// Hd^-1 (unique with a positive diagonal). One Cholesky and one triangular inverse instead of a
// Cholesky, a full inverse and a second Cholesky.
Eigen::MatrixXd gptq_inverse_hessian_factor(const Eigen::MatrixXd& h, double damp) {
  return gptq_inverse_hessian_factor(Eigen::MatrixXd(h), damp);
}

Eigen::MatrixXd gptq_inverse_hessian_factor(Eigen::MatrixXd&& h, double damp) {
  const int64_t k = h.rows();
  const double mean_diag = h.diagonal().mean();
  Eigen::MatrixXd& hr = h;  // J H J, then its Cholesky factor in place (lower triangle)
  hr.reverseInPlace();
  const Eigen::VectorXd diag = hr.diagonal();
  for (int attempt = 0; attempt < 6; ++attempt, damp *= 10) {
    if (attempt > 0)  // the failed factorisation wrote the lower triangle only: restore it from the upper
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = j + 1; i < k; ++i) hr(i, j) = hr(j, i);
    hr.diagonal() = diag.array() + damp * (mean_diag > 0 ? mean_diag : 1.0);
    Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(hr);
    if (llt.info() != Eigen::Success) continue;
    // L^-1 is lower triangular: its columns [c0, c0 + B) are zero above row c0, so each block of
    // columns solves only with the trailing part of L (K^3 / 3 flops in all, not K^3); the blocks
    // are independent and go to the thread budget's workers (largest first)
    Eigen::MatrixXd linv = Eigen::MatrixXd::Zero(k, k);
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (k + kBlock - 1) / kBlock;
    const int64_t workers = static_cast<double>(k) * k * k < 2e7 ? 1 : thread_budget();
    parallel_for_workers(blocks, workers, 1, [&](int64_t i) {
      const int64_t c0 = i * kBlock, b = std::min(kBlock, k - c0), n = k - c0;
      auto x = linv.block(c0, c0, n, b);
      x.topRows(b).setIdentity();
      hr.bottomRightCorner(n, n).triangularView<Eigen::Lower>().solveInPlace(x);
    });
    if (!linv.allFinite()) continue;
    linv.reverseInPlace();
    return linv;
  }
  throw Error("GPTQ: the layer Hessian is not positive definite even with dampening");
}

QuantizedWeight quantize_gptq(const Tensor& w, int out_axis, std::shared_ptr<const WeightFormat> format,
                              int64_t group_size, std::vector<Eigen::MatrixXd> hs, const GptqOptions& opts,
                              const Tensor* mask, std::vector<GptqFactor>* factors) {
  QuantizedWeight q = make_quantized_weight(w, out_axis, format, group_size);
  if (mask && (mask->numel() != w.numel() || mask->dtype() != DType::kUInt8))
    throw Error("GPTQ: mask " + shape_str(mask->shape()) + " does not match weight " + shape_str(w.shape()));
  const uint8_t* keep = mask ? mask->data<uint8_t>() : nullptr;
  const auto& l = q.layout;
  const bool reuse = factors && !factors->empty();
  const int64_t K = l.cols(), groups = static_cast<int64_t>(reuse ? factors->size() : hs.size());
  if (groups < 1 || l.rows % groups != 0)
    throw Error("GPTQ: " + std::to_string(groups) + " Hessians do not divide " + std::to_string(l.rows) + " rows");
  if (reuse) {
    for (const auto& f : *factors)
      if (f.u.rows() != K || static_cast<int64_t>(f.order.size()) != K)
        throw Error("GPTQ: a reused factor of " + std::to_string(f.u.rows()) + " columns for a weight with " +
                    std::to_string(K) + " columns");
  } else {
    for (const auto& h : hs)
      if (h.rows() != K || h.cols() != K)
        throw Error("GPTQ: Hessian " + std::to_string(h.rows()) + "x" + std::to_string(h.cols()) +
                    " for a weight with " + std::to_string(K) + " columns");
  }
  const int64_t G = q.group_size;
  // Column order: blocked grids walk position-major so that every group is a contiguous run.
  std::vector<int64_t> order(K);  // order[j] = natural column (i * positions + p)
  for (int64_t j = 0; j < K; ++j) order[j] = G ? (j % l.in) * l.positions + j / l.in : j;
  const float* src = w.data<float>();
  int32_t* codes = q.codes.data<int32_t>();
  float* scale = q.scale.data<float>();
  float* zero = q.zero.data<float>();
  const int64_t rows_per = l.rows / groups;

  for (int64_t gi = 0; gi < groups; ++gi) {
    const int64_t r0 = gi * rows_per;
    GptqFactor own;
    if (!reuse) {
      Eigen::MatrixXd& h = hs[gi];
      own.order = order;
      if (!G && opts.act_order)
        std::stable_sort(own.order.begin(), own.order.end(), [&](int64_t a, int64_t b) { return h(a, a) > h(b, b); });
      Eigen::MatrixXd hp(K, K);
      for (int64_t b = 0; b < K; ++b)
        for (int64_t a = 0; a < K; ++a) hp(a, b) = h(own.order[a], own.order[b]);
      h = Eigen::MatrixXd();  // the permuted copy is all that is used from here
      for (int64_t j = 0; j < K; ++j)  // inputs that were always zero: weight irrelevant
        if (hp(j, j) == 0) {
          hp(j, j) = 1;
          own.dead.push_back(j);
        }
      own.u = gptq_inverse_hessian_factor(std::move(hp), opts.damp);
      hp = Eigen::MatrixXd();  // (its storage held the Cholesky factor)
    }
    const GptqFactor& f = reuse ? (*factors)[gi] : own;
    const std::vector<int64_t>& ord = f.order;
    const Eigen::MatrixXd& u = f.u;
    Eigen::MatrixXd wm(rows_per, K);
    for (int64_t r = 0; r < rows_per; ++r)
      for (int64_t j = 0; j < K; ++j) {
        const int64_t nat = ord[j];
        wm(r, j) = src[l.flat(r0 + r, nat / l.positions, nat % l.positions)];
      }
    for (int64_t j : f.dead) wm.col(j).setZero();
    std::vector<GroupParams> params(rows_per);
    if (!G)  // per channel: parameters from the original row
      for (int64_t r = 0; r < rows_per; ++r) {
        std::vector<float> row(K);
        for (int64_t j = 0; j < K; ++j) row[j] = static_cast<float>(wm(r, j));
        params[r] = format->fit(row.data(), K);
        scale[q.param_index(r0 + r, 0, 0)] = params[r].scale;
        zero[q.param_index(r0 + r, 0, 0)] = params[r].zero;
      }
    Eigen::VectorXd err(rows_per);
    std::vector<float> vals;
    for (int64_t j = 0; j < K; ++j) {
      const int64_t nat = ord[j], i = nat / l.positions, p = nat % l.positions;
      if (G && i % G == 0) {  // first column of a group: fit its parameters from the updated weights
        const int64_t len = std::min(G, l.in - i);
        for (int64_t r = 0; r < rows_per; ++r) {
          vals.assign(len, 0.f);
          for (int64_t t = 0; t < len; ++t) vals[t] = static_cast<float>(wm(r, j + t));
          params[r] = format->fit(vals.data(), len);
          const int64_t k = q.param_index(r0 + r, i, p);
          scale[k] = params[r].scale;
          zero[k] = params[r].zero;
        }
      }
      const double d = u(j, j);
      for (int64_t r = 0; r < rows_per; ++r) {
        const float wv = static_cast<float>(wm(r, j));
        const int64_t flat = l.flat(r0 + r, i, p);
        int32_t c = format->encode(wv, params[r]);
        if (keep && !keep[flat]) {  // pruned: exactly zero
          c = format->encode(0.f, params[r]);
          if (format->decode(c, params[r]) != 0.f)
            throw Error("GPTQ: " + format->name() + " weights cannot represent the zeros of a pruned weight");
        }
        codes[flat] = c;
        err(r) = (wv - format->decode(c, params[r])) / d;
      }
      if (j + 1 < K) wm.rightCols(K - j - 1).noalias() -= err * u.row(j).tail(K - j - 1);
    }
    if (factors && !reuse) factors->push_back(std::move(own));
  }
  return q;
}

double layer_error(const Tensor& w, const Tensor& q, int out_axis, const std::vector<Eigen::MatrixXd>& hs) {
  const auto l = WeightLayout::of(w.shape(), out_axis);
  const int64_t K = l.cols(), groups = static_cast<int64_t>(hs.size()), rows_per = l.rows / groups;
  const float* a = w.data<float>();
  const float* b = q.data<float>();
  double total = 0;
  for (int64_t gi = 0; gi < groups; ++gi) {
    Eigen::MatrixXd d(rows_per, K);
    for (int64_t r = 0; r < rows_per; ++r)
      for (int64_t j = 0; j < K; ++j) {
        const int64_t k = l.flat(gi * rows_per + r, j / l.positions, j % l.positions);
        d(r, j) = a[k] - b[k];
      }
    total += (d * hs[gi] * d.transpose()).trace();
  }
  return total;
}

}  // namespace qtool
