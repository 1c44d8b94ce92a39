// SPDX-License-Identifier: Apache-2.0
// Einsum (ai.onnx 12, 28): Einstein summation with numpy.einsum semantics (the ONNX spec and onnx's
// reference, which calls numpy.einsum):
//   - terms of upper / lower case letters, one "..." per term covering the axes not labelled,
//     spaces ignored; explicit output after "->" (letters and at most one "..."), or implicit:
//     the ellipsis axes first, then the letters occurring exactly once, in ASCII order;
//   - a letter repeated within a term takes that operand's diagonal; letters missing from the
//     output are summed; ellipsis axes broadcast numpy-style (right-aligned, extent 1 stretches),
//     as do letters of extent 1.
// Integers wrap around in their type, float16 / bfloat16 accumulate in float32 and round once
// (onnx's reference promotes bfloat16 to float32 explicitly).
// Fast kernel: float32 contractions of two operands without diagonals run as one batched matmul
// (batch, M, K) x (batch, K, N) through oneDNN after permuting the operands.
#include <algorithm>
#include <map>
#include <set>

#include "runtime/kernels/matmul.h"
#include "runtime/op_registry.h"

namespace qtool {

namespace {

// Labels are chars; the ellipsis axes get labels 1..E (right-aligned: label 1 is the outermost).
struct Equation {
  std::vector<std::vector<int>> terms;  // per operand: one label per axis
  std::vector<int> output;              // labels of the output axes
  std::map<int, int64_t> extent;        // label -> extent (after broadcasting)
};

bool is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

Equation parse(const KernelContext& c, const std::vector<const Tensor*>& ops) {
  const std::string raw = attr_string(c.node, "equation", "");
  std::string eq;
  for (char ch : raw)
    if (ch != ' ') eq += ch;
  if (eq.empty()) c.fail("attribute 'equation' is empty");
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  const bool explicit_out = arrow != std::string::npos;
  const std::string rhs = explicit_out ? eq.substr(arrow + 2) : "";
  if (explicit_out && rhs.find("->") != std::string::npos) c.fail("attribute 'equation': more than one '->'");
  std::vector<std::string> terms;
  size_t start = 0;
  for (;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ops.size())
    c.fail("attribute 'equation': " + std::to_string(terms.size()) + " terms for " + std::to_string(ops.size()) +
           " inputs");
  Equation e;
  int ell_rank = 0;
  std::vector<int> ell_of(ops.size(), -1);  // ellipsis rank per operand (-1: none)
  std::vector<std::vector<int>> letters(ops.size());
  std::vector<int> ell_pos(ops.size(), -1);
  for (size_t t = 0; t < terms.size(); ++t) {
    const std::string& s = terms[t];
    for (size_t i = 0; i < s.size();) {
      if (s.compare(i, 3, "...") == 0) {
        if (ell_pos[t] >= 0) c.fail("attribute 'equation': term '" + s + "' has more than one ellipsis");
        ell_pos[t] = static_cast<int>(letters[t].size());
        i += 3;
      } else if (is_letter(s[i])) {
        letters[t].push_back(static_cast<unsigned char>(s[i]));
        ++i;
      } else {
        c.fail("attribute 'equation': unexpected character '" + std::string(1, s[i]) + "' in term '" + s + "'");
      }
    }
    const int rank = ops[t]->rank(), nl = static_cast<int>(letters[t].size());
    if (ell_pos[t] < 0 ? rank != nl : rank < nl)
      c.fail("attribute 'equation': term '" + s + "' does not match input #" + std::to_string(t) + " of rank " +
             std::to_string(rank));
    if (ell_pos[t] >= 0) {
      ell_of[t] = rank - nl;
      ell_rank = std::max(ell_rank, ell_of[t]);
    }
  }
  // axis labels and extents (broadcasting extents of 1)
  auto merge = [&](int label, int64_t ext) {
    auto it = e.extent.find(label);
    if (it == e.extent.end() || it->second == 1) e.extent[label] = ext;
    else if (ext != 1 && ext != it->second)
      c.fail("attribute 'equation': label '" + (label > 32 ? std::string(1, static_cast<char>(label)) : std::string("...")) +
             "' has extents " + std::to_string(it->second) + " and " + std::to_string(ext));
  };
  e.terms.resize(ops.size());
  for (size_t t = 0; t < ops.size(); ++t) {
    std::vector<int>& axes = e.terms[t];
    for (int i = 0; i < static_cast<int>(letters[t].size()); ++i) {
      if (i == ell_pos[t])
        for (int j = 0; j < ell_of[t]; ++j) axes.push_back(ell_rank - ell_of[t] + j + 1);
      axes.push_back(letters[t][i]);
    }
    if (ell_pos[t] == static_cast<int>(letters[t].size()))
      for (int j = 0; j < ell_of[t]; ++j) axes.push_back(ell_rank - ell_of[t] + j + 1);
    for (int i = 0; i < ops[t]->rank(); ++i) {
      // repeated letters within a term must agree exactly (a diagonal)
      for (int j = 0; j < i; ++j)
        if (axes[j] == axes[i] && ops[t]->dim(i) != ops[t]->dim(j))
          c.fail("attribute 'equation': repeated label '" + std::string(1, static_cast<char>(axes[i])) +
                 "' spans extents " + std::to_string(ops[t]->dim(j)) + " and " + std::to_string(ops[t]->dim(i)));
      merge(axes[i], ops[t]->dim(i));
    }
  }
  for (int j = 1; j <= ell_rank; ++j)
    if (!e.extent.count(j)) e.extent[j] = 1;
  if (explicit_out) {
    bool ell = false;
    std::set<int> seen;
    for (size_t i = 0; i < rhs.size();) {
      if (rhs.compare(i, 3, "...") == 0) {
        if (ell) c.fail("attribute 'equation': the output has more than one ellipsis");
        ell = true;
        for (int j = 1; j <= ell_rank; ++j) e.output.push_back(j);
        i += 3;
      } else if (is_letter(rhs[i])) {
        const int l = static_cast<unsigned char>(rhs[i]);
        if (!e.extent.count(l))
          c.fail("attribute 'equation': output label '" + std::string(1, rhs[i]) + "' is not in any input term");
        if (!seen.insert(l).second)
          c.fail("attribute 'equation': output label '" + std::string(1, rhs[i]) + "' repeats");
        e.output.push_back(l);
        ++i;
      } else {
        c.fail("attribute 'equation': unexpected character '" + std::string(1, rhs[i]) + "' in the output");
      }
    }
    if (!ell && ell_rank > 0) {
      // numpy: ellipsis axes missing from an explicit output are summed only if they are all 1
      for (int j = 1; j <= ell_rank; ++j)
        if (e.extent[j] != 1) c.fail("attribute 'equation': the output must contain '...' for the broadcast axes");
    }
  } else {
    for (int j = 1; j <= ell_rank; ++j) e.output.push_back(j);
    std::map<int, int> count;
    for (size_t t = 0; t < ops.size(); ++t)
      for (int i = 0; i < static_cast<int>(letters[t].size()); ++i) ++count[letters[t][i]];
    for (const auto& [l, n] : count)  // std::map orders by ASCII: upper case first
      if (n == 1) e.output.push_back(l);
  }
  return e;
}

Shape output_shape(const Equation& e) {
  Shape s;
  for (int l : e.output) s.push_back(e.extent.at(l));
  return s;
}

template <typename T, bool = std::is_integral_v<T>>
struct AccOf {
  using type = Compute<T>;
};
template <typename T>
struct AccOf<T, true> {
  using type = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
};

template <typename T>
void einsum_typed(const Equation& e, const std::vector<const Tensor*>& ops, Tensor& y) {
  using Acc = typename AccOf<T>::type;
  // loop labels: output first, then the summed ones
  std::vector<int> labels = e.output;
  for (const auto& [l, ext] : e.extent)
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
  const size_t L = labels.size(), n_out = e.output.size();
  std::vector<int64_t> ext(L);
  for (size_t i = 0; i < L; ++i) ext[i] = e.extent.at(labels[i]);
  // stride of each operand along each loop label (sum over repeated axes = diagonal; 0 when broadcast)
  std::vector<std::vector<int64_t>> st(ops.size(), std::vector<int64_t>(L, 0));
  for (size_t t = 0; t < ops.size(); ++t) {
    const Tensor& x = *ops[t];
    int64_t s = 1;
    for (int a = x.rank() - 1; a >= 0; --a) {
      const size_t li = std::find(labels.begin(), labels.end(), e.terms[t][a]) - labels.begin();
      if (x.dim(a) != 1) st[t][li] += s;
      s *= x.dim(a);
    }
  }
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < n_out; ++i) outer *= ext[i];
  for (size_t i = n_out; i < L; ++i) inner *= ext[i];
  std::vector<const T*> ptr(ops.size());
  for (size_t t = 0; t < ops.size(); ++t) ptr[t] = ops[t]->data<T>();
  T* yp = y.data<T>();
  std::vector<int64_t> idx(L, 0), off(ops.size(), 0);
  for (int64_t o = 0; o < outer; ++o) {
    Acc acc(0);
    for (int64_t k = 0; k < inner; ++k) {
      Acc p(1);
      for (size_t t = 0; t < ops.size(); ++t) {
        const T v = ptr[t][off[t]];
        if constexpr (std::is_integral_v<T>) p *= static_cast<Acc>(v);
        else p *= to_compute(v);
      }
      acc += p;
      // advance the summed labels
      for (size_t i = L; i-- > n_out;) {
        for (size_t t = 0; t < ops.size(); ++t) off[t] += st[t][i];
        if (++idx[i] < ext[i]) break;
        for (size_t t = 0; t < ops.size(); ++t) off[t] -= st[t][i] * ext[i];
        idx[i] = 0;
      }
    }
    if constexpr (std::is_integral_v<T>) yp[o] = static_cast<T>(acc);
    else yp[o] = from_compute<T>(acc);
    for (size_t i = n_out; i-- > 0;) {
      for (size_t t = 0; t < ops.size(); ++t) off[t] += st[t][i];
      if (++idx[i] < ext[i]) break;
      for (size_t t = 0; t < ops.size(); ++t) off[t] -= st[t][i] * ext[i];
      idx[i] = 0;
    }
  }
}

using EinsumTypes = decltype(NumericTypes{});

bool einsum_type_allowed(int version, DType t) {
  switch (t) {
    case DType::kBFloat16: return version >= 28;
    case DType::kFloat: case DType::kDouble: case DType::kFloat16:
    case DType::kInt8: case DType::kInt16: case DType::kInt32: case DType::kInt64:
    case DType::kUInt8: case DType::kUInt16: case DType::kUInt32: case DType::kUInt64: return true;
    default: return false;
  }
}

std::vector<const Tensor*> operands(const KernelContext& c) {
  std::vector<const Tensor*> ops;
  for (int i = 0; i < c.num_inputs(); ++i) ops.push_back(&c.in(i));
  if (ops.empty()) c.fail("needs at least one input");
  return ops;
}

void validate_einsum(KernelContext& c) {
  for (int i = 0; i < c.num_inputs(); ++i) {
    if (!c.has(i)) return;
    if (!einsum_type_allowed(c.version, c.in(i).dtype())) c.fail_dtype(i, c.in(i).dtype());
    if (c.in(i).dtype() != c.in(0).dtype()) c.fail("inputs differ in type");
  }
  const auto e = parse(c, operands(c));
  shape_numel(output_shape(e));
}

void einsum(KernelContext& c) {
  const auto ops = operands(c);
  const Equation e = parse(c, ops);
  Tensor y = Tensor::uninitialized(ops[0]->dtype(), output_shape(e));
  c.dispatch_or_fail<EinsumTypes>(0, ops[0]->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    einsum_typed<T>(e, ops, y);
  });
  c.outputs[0] = std::move(y);
}

// float32 A x B contraction as one batched matmul: labels split into batch (A, B, out), m (A, out),
// n (B, out) and k (A, B, not out). Operands with diagonals, labels summed inside one operand or
// broadcast extents are left to the reference kernel.
bool einsum_fast(KernelContext& c) {
  if (c.num_inputs() != 2) return false;
  const auto ops = operands(c);
  if (ops[0]->dtype() != DType::kFloat || ops[1]->dtype() != DType::kFloat) return false;
  const Equation e = parse(c, ops);
  const auto& ta = e.terms[0];
  const auto& tb = e.terms[1];
  auto has = [](const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); };
  for (const auto* t : {&ta, &tb})
    for (size_t i = 0; i < t->size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if ((*t)[i] == (*t)[j]) return false;  // diagonal
  for (int ti = 0; ti < 2; ++ti)
    for (int a = 0; a < ops[ti]->rank(); ++a)
      if (ops[ti]->dim(a) != e.extent.at(e.terms[ti][a])) return false;  // broadcast
  std::vector<int> batch, m, n, k;
  for (int l : ta) {
    const bool in_b = has(tb, l), in_out = has(e.output, l);
    if (in_b && in_out) batch.push_back(l);
    else if (in_out) m.push_back(l);
    else if (in_b) k.push_back(l);
    else return false;  // summed within A alone
  }
  for (int l : tb)
    if (!has(ta, l)) {
      if (!has(e.output, l)) return false;
      n.push_back(l);
    }
  auto prod = [&](const std::vector<int>& ls) {
    int64_t p = 1;
    for (int l : ls) p *= e.extent.at(l);
    return p;
  };
  auto perm_of = [](const std::vector<int>& term, std::initializer_list<const std::vector<int>*> groups) {
    std::vector<int> perm;
    for (const auto* g : groups)
      for (int l : *g) perm.push_back(static_cast<int>(std::find(term.begin(), term.end(), l) - term.begin()));
    return perm;
  };
  const int64_t B = prod(batch), M = prod(m), N = prod(n), K = prod(k);
  Tensor a = permute_axes(*ops[0], perm_of(ta, {&batch, &m, &k})).reshaped({B, M, K});
  Tensor b = permute_axes(*ops[1], perm_of(tb, {&batch, &k, &n})).reshaped({B, K, N});
  Tensor prod_t = matmul_f32(c, a, b);  // [B, M, N]
  // [batch.., m.., n..] -> output order
  Shape grouped;
  std::vector<int> order;
  for (const auto* g : {&batch, &m, &n})
    for (int l : *g) {
      grouped.push_back(e.extent.at(l));
      order.push_back(l);
    }
  std::vector<int> perm;
  for (int l : e.output) perm.push_back(static_cast<int>(std::find(order.begin(), order.end(), l) - order.begin()));
  c.outputs[0] = permute_axes(prod_t.reshaped(grouped), perm);
  return true;
}

}  // namespace

void register_einsum_ops(OpRegistry& r) { r.add("", "Einsum", {12, 28}, OpDef{einsum, einsum_fast, validate_einsum}); }

}  // namespace qtool
