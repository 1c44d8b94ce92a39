// SPDX-License-Identifier: Apache-2.0
#include "quant/weight_storage.h"

#include "core/error.h"
#include "io/onnx_tensor.h"

namespace qtool {

namespace {

onnx::NodeProto node(const std::string& op, const std::string& name, std::vector<std::string> in, const std::string& out) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : in) n.add_input(i);
  n.add_output(out);
  return n;
}

void int_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

int64_t add_init(Model& m, const std::string& name, const Tensor& t) {
  *m.graph().add_initializer() = tensor_to_proto(t, name);
  return static_cast<int64_t>((t.numel() * dtype_bits(t.dtype()) + 7) / 8);
}

}  // namespace

std::vector<uint8_t> pack_bits(const std::vector<int32_t>& codes, int bits) {
  if (bits != 1 && bits != 2 && bits != 4) throw Error("pack_bits: bits must be 1, 2 or 4");
  const int per = 8 / bits;
  std::vector<uint8_t> out((codes.size() + per - 1) / per, 0);
  for (size_t e = 0; e < codes.size(); ++e) {
    if (codes[e] < 0 || codes[e] >= (1 << bits)) throw Error("pack_bits: code out of range");
    out[e / per] = static_cast<uint8_t>(out[e / per] | (codes[e] << ((e % per) * bits)));
  }
  return out;
}

std::vector<int32_t> unpack_bits(const std::vector<uint8_t>& packed, int bits, int64_t n) {
  const int per = 8 / bits;
  std::vector<int32_t> out(n);
  for (int64_t e = 0; e < n; ++e) out[e] = (packed[e / per] >> ((e % per) * bits)) & ((1 << bits) - 1);
  return out;
}

EmittedWeight emit_quantized_weight(Model& model, const QuantizedWeight& q, const std::string& base) {
  EmittedWeight out;
  const auto& f = *q.format;
  const auto& l = q.layout;
  const int64_t n = q.codes.numel();
  const int32_t* codes = q.codes.data<int32_t>();
  out.value = base + "_dequantized";
  if (f.name() == "int8" || f.name() == "int4") {
    const bool four = f.name() == "int4";
    if ((four || q.group_size) && model.opset() < 21)
      throw Error("weight '" + base + "': int4 and blocked weights need ai.onnx opset 21 (model has " +
                  std::to_string(model.opset()) + ")");
    const DType t = f.signed_codes() ? (four ? DType::kInt4 : DType::kInt8) : (four ? DType::kUInt4 : DType::kUInt8);
    Tensor c = Tensor(t, l.shape), z = Tensor(t, q.param_shape());
    auto* cv = static_cast<uint8_t*>(c.raw());
    for (int64_t e = 0; e < n; ++e) cv[e] = static_cast<uint8_t>(codes[e]);  // two's complement for signed
    auto* zv = static_cast<uint8_t*>(z.raw());
    const float* zf = q.zero.data<float>();
    for (int64_t e = 0; e < z.numel(); ++e) zv[e] = static_cast<uint8_t>(static_cast<int32_t>(zf[e]));
    out.bytes += add_init(model, base + "_quantized", c);
    out.bytes += add_init(model, base + "_scale", q.scale);
    out.bytes += add_init(model, base + "_zero_point", z);
    auto dq = node("DequantizeLinear", base + "_DequantizeLinear",
                   {base + "_quantized", base + "_scale", base + "_zero_point"}, out.value);
    if (q.group_size) {
      int_attr(dq, "axis", l.in_axis);
      int_attr(dq, "block_size", q.group_size);
    } else {
      int_attr(dq, "axis", l.out_axis);
    }
    out.nodes.push_back(dq);
    return out;
  }
  // Bit-packed codes and a decode subgraph of standard ops.
  if (q.group_size) throw Error("weight '" + base + "': " + f.name() + " weights are per output channel only");
  const int bits = f.bits();
  const int per = 8 / bits;
  std::vector<int32_t> stored(n);
  for (int64_t e = 0; e < n; ++e) stored[e] = codes[e] - f.code_min();
  const auto packed = pack_bits(stored, bits);
  const int64_t nbytes = static_cast<int64_t>(packed.size());
  Tensor pt(DType::kUInt8, {nbytes});
  std::copy(packed.begin(), packed.end(), pt.data<uint8_t>());
  out.bytes += add_init(model, base + "_packed", pt);
  std::vector<int32_t> div(per);
  for (int j = 0; j < per; ++j) div[j] = 1 << (bits * j);
  // scale / zero broadcast over the rows view: [rows, 1] for [rows, rest], [rows] for [in, rows]
  const Shape view = l.out_axis == 0 ? Shape{l.rows, -1} : Shape{l.in, l.rows};
  const Shape pshape = l.out_axis == 0 ? Shape{l.rows, 1} : Shape{l.rows};
  Tensor zero_stored = Tensor::uninitialized(DType::kFloat, pshape), scale = q.scale.reshaped(pshape);
  bool same_zero = true;
  for (int64_t r = 0; r < l.rows; ++r) {
    zero_stored.data<float>()[r] = q.zero.data<float>()[r] - f.code_min();
    same_zero &= zero_stored.data<float>()[r] == zero_stored.data<float>()[0];
  }
  if (same_zero) zero_stored = Tensor::from<float>({1}, {zero_stored.data<float>()[0]});  // binary, ternary
  out.bytes += add_init(model, base + "_scale", scale);
  out.bytes += add_init(model, base + "_zero_point", zero_stored);
  add_init(model, base + "_unpack_axes", Tensor::from<int64_t>({1}, {1}));
  add_init(model, base + "_unpack_div", Tensor::from<int32_t>({per}, div));
  add_init(model, base + "_unpack_mod", Tensor::from<int32_t>({}, {1 << bits}));
  add_init(model, base + "_unpack_flat", Tensor::from<int64_t>({1}, {-1}));
  add_init(model, base + "_unpack_start", Tensor::from<int64_t>({1}, {0}));
  add_init(model, base + "_unpack_end", Tensor::from<int64_t>({1}, {n}));
  add_init(model, base + "_unpack_view", Tensor::from<int64_t>({static_cast<int64_t>(view.size())}, view));
  add_init(model, base + "_unpack_shape", Tensor::from<int64_t>({static_cast<int64_t>(l.shape.size())}, l.shape));
  const std::string u = base + "_unpack";
  auto cast32 = node("Cast", u + "_cast_int", {base + "_packed"}, u + "_int");
  int_attr(cast32, "to", onnx::TensorProto::INT32);
  out.nodes.push_back(cast32);
  out.nodes.push_back(node("Unsqueeze", u + "_col", {u + "_int", u + "_axes"}, u + "_col"));
  out.nodes.push_back(node("Div", u + "_shift", {u + "_col", u + "_div"}, u + "_shifted"));
  out.nodes.push_back(node("Mod", u + "_mask", {u + "_shifted", u + "_mod"}, u + "_codes2d"));
  out.nodes.push_back(node("Reshape", u + "_flatten", {u + "_codes2d", u + "_flat"}, u + "_codes_padded"));
  out.nodes.push_back(node("Slice", u + "_trim", {u + "_codes_padded", u + "_start", u + "_end"}, u + "_codes"));
  auto castf = node("Cast", u + "_cast_float", {u + "_codes"}, u + "_float");
  int_attr(castf, "to", onnx::TensorProto::FLOAT);
  out.nodes.push_back(castf);
  out.nodes.push_back(node("Reshape", u + "_rows", {u + "_float", u + "_view"}, u + "_rows"));
  out.nodes.push_back(node("Sub", u + "_center", {u + "_rows", base + "_zero_point"}, u + "_centered"));
  out.nodes.push_back(node("Mul", u + "_scale", {u + "_centered", base + "_scale"}, u + "_scaled"));
  out.nodes.push_back(node("Reshape", u + "_shape", {u + "_scaled", u + "_shape"}, out.value));
  return out;
}

MatMulNBitsWeight emit_matmulnbits_weight(Model& model, const QuantizedWeight& q, const std::string& base) {
  const auto& l = q.layout;
  const int64_t bs = q.group_size;
  if (q.format->name() != "int4" || bs < 16 || (bs & (bs - 1)) || l.positions != 1)
    throw Error("weight '" + base + "': MatMulNBits needs 2-D int4 weights in power-of-two blocks >= 16");
  MatMulNBitsWeight w;
  w.k = l.in;
  w.n = l.rows;
  w.block_size = bs;
  const int64_t blocks = (w.k + bs - 1) / bs, blob = bs / 2, zrow = (blocks + 1) / 2;
  const int32_t offset = q.format->signed_codes() ? 8 : 0;  // stored codes are unsigned
  Tensor b(DType::kUInt8, {w.n, blocks, blob}), scales(DType::kFloat, {w.n * blocks}), zp(DType::kUInt8, {w.n * zrow});
  uint8_t* bv = b.data<uint8_t>();
  uint8_t* zv = zp.data<uint8_t>();
  float* sv = scales.data<float>();
  const int32_t* codes = q.codes.data<int32_t>();
  const float* qs = q.scale.data<float>();
  const float* qz = q.zero.data<float>();
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t k = 0; k < w.k; ++k) {
      const int64_t blk = k / bs, j = k % bs;
      const int32_t code = codes[l.flat(r, k, 0)] + offset;
      bv[(r * blocks + blk) * blob + j / 2] |= static_cast<uint8_t>((code & 0x0F) << (4 * (j % 2)));
      if (j == 0) {
        const int64_t g = q.param_index(r, k, 0);
        sv[r * blocks + blk] = qs[g];
        const int32_t z = static_cast<int32_t>(qz[g]) + offset;
        zv[r * zrow + blk / 2] |= static_cast<uint8_t>((z & 0x0F) << (4 * (blk % 2)));
      }
    }
  // blocks past K (padding) decode to zero: codes 0 with zero point 0 would be -zp * s; keep codes = zp
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t k = w.k; k < blocks * bs; ++k) {
      const int64_t blk = k / bs, j = k % bs;
      const int32_t z = (zv[r * zrow + blk / 2] >> (4 * (blk % 2))) & 0x0F;
      bv[(r * blocks + blk) * blob + j / 2] |= static_cast<uint8_t>(z << (4 * (j % 2)));
    }
  w.b = base + "_MatMulNBits_B";
  w.scales = base + "_MatMulNBits_scales";
  w.zero_points = base + "_MatMulNBits_zero_points";
  w.bytes = add_init(model, w.b, b) + add_init(model, w.scales, scales) + add_init(model, w.zero_points, zp);
  return w;
}

EmittedWeight emit_half_weight(Model& model, const Tensor& w, DType dtype, const std::string& base) {
  if (dtype != DType::kFloat16 && dtype != DType::kBFloat16) throw Error("emit_half_weight: dtype must be fp16 or bf16");
  EmittedWeight out;
  out.value = base + "_dequantized";
  out.bytes = add_init(model, base + "_" + dtype_name(dtype), w.cast(dtype));
  auto c = node("Cast", base + "_Cast", {base + "_" + dtype_name(dtype)}, out.value);
  int_attr(c, "to", onnx::TensorProto::FLOAT);
  out.nodes.push_back(c);
  return out;
}

}  // namespace qtool
