# SPDX-License-Identifier: Apache-2.0
"""qtool's executor against onnxruntime on the matmul / quantization / attention op family:
bit-identical quantized values on QDQ graphs whose values sit exactly on rounding ties
(x / scale = k + 0.5), and the onnxruntime contrib ops (com.microsoft) that quantized and optimized
models contain."""
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import harness as h

MS = "com.microsoft"


def run_qtool(model, feeds, tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    np.savez(tmp_path / "in.npz", **feeds)
    out = tmp_path / "out.npz"
    r = subprocess.run([str(h.QTOOL), "run", "--whole", str(path), "--data", str(tmp_path / "in.npz"), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = np.load(out)
    return [got[o.name] for o in model.graph.output]


def run_ort(model, feeds, optimize=True):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def make_model(nodes, inputs, outputs, inits=(), opset=13, ms=False):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    ops = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(MS, 1)] if ms else [])
    return helper.make_model(g, opset_imports=ops, ir_version=9)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def tie_inputs(scale, n, rng):
    """float32 values whose float32 quotient by `scale` is exactly k + 0.5 (k in -130..129), plus noise."""
    k = np.arange(-130, 130)
    x = ((k + 0.5) * np.float64(scale)).astype(np.float32)
    x = x[(x / np.float32(scale)) == (k + 0.5)]
    extra = rng.standard_normal(n - len(x)).astype(np.float32) * 4 * scale * 128
    return np.concatenate([x, extra]).astype(np.float32)


@pytest.mark.parametrize("zdtype", [TensorProto.UINT8, TensorProto.INT8])
@pytest.mark.parametrize("scale", [0.1, 0.0173, 0.25, 0.003921568859368563])
def test_quantize_ties_bit_identical(zdtype, scale, tmp_path):
    rng = np.random.default_rng(7)
    x = tie_inputs(scale, 1024, rng)
    zp = 3 if zdtype == TensorProto.UINT8 else -2
    m = make_model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"])],
                   [vi("x", TensorProto.FLOAT, [len(x)])], [vi("q", zdtype, [len(x)])],
                   [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]), helper.make_tensor("z", zdtype, [], [zp])])
    ours = run_qtool(m, {"x": x}, tmp_path)[0]
    ref = run_ort(m, {"x": x})[0]
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)
    # the ties really are there and resolve to even
    q = x / np.float32(scale)
    ties = q == np.floor(q) + 0.5
    info = np.iinfo(ours.dtype)
    inside = ties & (ours > info.min) & (ours < info.max)
    assert inside.sum() > 50
    assert np.all((ours[inside].astype(np.int64) - zp) % 2 == 0)


def qdq_graph(op, zdtype, rng):
    """x -> Q -> DQ -> op(., DQ(w)) -> Q -> DQ -> y with power-of-two scales: every product and sum is exact
    whatever the summation order, and the output scale puts half of the results on x.5 ties."""
    s_x, s_w, s_y = 0.25, 0.5, 0.25  # y / s_y = sum(qx * qw) * 0.5: odd sums are ties
    zx = 128 if zdtype == TensorProto.UINT8 else 0
    if op == "MatMul":
        w = rng.integers(-3, 4, size=(16, 9)).astype(np.int8)
        x = (rng.integers(-6, 7, size=(5, 16)) * s_x).astype(np.float32)
        xshape, yshape = [5, 16], [5, 9]
    else:
        w = rng.integers(-2, 3, size=(4, 3, 3, 3)).astype(np.int8)
        x = (rng.integers(-6, 7, size=(1, 3, 7, 7)) * s_x).astype(np.float32)
        xshape, yshape = [1, 3, 7, 7], [1, 4, 5, 5]
    inits = [
        helper.make_tensor("sx", TensorProto.FLOAT, [], [s_x]), helper.make_tensor("zx", zdtype, [], [zx]),
        helper.make_tensor("sw", TensorProto.FLOAT, [], [s_w]), helper.make_tensor("zw", TensorProto.INT8, [], [0]),
        helper.make_tensor("sy", TensorProto.FLOAT, [], [s_y]), helper.make_tensor("zy", zdtype, [], [zx]),
        numpy_helper.from_array(w, "w"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "sw", "zw"], ["wd"]),
        helper.make_node(op, ["xd", "wd"], ["y0"]),
        helper.make_node("QuantizeLinear", ["y0", "sy", "zy"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"]),
    ]
    m = make_model(nodes, [vi("x", TensorProto.FLOAT, xshape)],
                   [vi("yq", zdtype, yshape), vi("y", TensorProto.FLOAT, yshape)], inits)
    return m, x


@pytest.mark.parametrize("op", ["MatMul", "Conv"])
@pytest.mark.parametrize("zdtype", [TensorProto.UINT8, TensorProto.INT8])
def test_qdq_graph_ties_bit_identical(op, zdtype, tmp_path):
    rng = np.random.default_rng(11)
    m, x = qdq_graph(op, zdtype, rng)
    ours = run_qtool(m, {"x": x}, tmp_path)
    for optimize in (False, True):  # as written, and with QDQ fused into integer kernels
        ref = run_ort(m, {"x": x}, optimize=optimize)
        np.testing.assert_array_equal(ours[0], ref[0], err_msg=f"optimize={optimize}")
        np.testing.assert_array_equal(ours[1], ref[1], err_msg=f"optimize={optimize}")
    # ties occur: y0 / s_y = k + 0.5 for a good share of outputs
    m.graph.output.append(vi("y0", TensorProto.FLOAT, list(ours[0].shape)))
    y0 = run_ort(m, {"x": x}, optimize=False)[2] / 0.25
    assert np.sum(y0 - np.floor(y0) == 0.5) >= 5


# ---------------------------------------------------------------- contrib ops


def q8(rng, shape, dtype=np.uint8):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


def scalar(name, dtype, v):
    return helper.make_tensor(name, dtype, [], [v])


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dt", [np.uint8, np.int8])
def test_qlinear_binary(op, dt, tmp_path):
    rng = np.random.default_rng(3)
    tp = TensorProto.UINT8 if dt == np.uint8 else TensorProto.INT8
    a, b = q8(rng, (2, 3, 5), dt), q8(rng, (3, 1), dt)
    zs = (7, 130, 90) if dt == np.uint8 else (7, -3, 11)
    inits = [scalar("sa", TensorProto.FLOAT, 0.05), scalar("za", tp, zs[0]), scalar("sb", TensorProto.FLOAT, 0.02),
             scalar("zb", tp, zs[1]), scalar("sc", TensorProto.FLOAT, 0.07 if op == "QLinearAdd" else 0.3),
             scalar("zc", tp, zs[2])]
    m = make_model([helper.make_node(op, ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["c"], domain=MS)],
                   [vi("a", tp, [2, 3, 5]), vi("b", tp, [3, 1])], [vi("c", tp, [2, 3, 5])], inits, ms=True)
    ours = run_qtool(m, {"a": a, "b": b}, tmp_path)[0]
    ref = run_ort(m, {"a": a, "b": b})[0]
    assert np.max(np.abs(ours.astype(int) - ref.astype(int))) <= 1
    assert np.mean(ours == ref) > 0.95


@pytest.mark.parametrize("op", ["QLinearSigmoid", "QLinearLeakyRelu"])
def test_qlinear_unary(op, tmp_path):
    rng = np.random.default_rng(4)
    x = q8(rng, (4, 64))
    inits = [scalar("sx", TensorProto.FLOAT, 0.05), scalar("zx", TensorProto.UINT8, 128),
             scalar("sy", TensorProto.FLOAT, 1 / 256 if op == "QLinearSigmoid" else 0.04),
             scalar("zy", TensorProto.UINT8, 0 if op == "QLinearSigmoid" else 100)]
    attrs = {"alpha": 0.1} if op == "QLinearLeakyRelu" else {}
    m = make_model([helper.make_node(op, ["x", "sx", "zx", "sy", "zy"], ["y"], domain=MS, **attrs)],
                   [vi("x", TensorProto.UINT8, [4, 64])], [vi("y", TensorProto.UINT8, [4, 64])], inits, ms=True)
    ours = run_qtool(m, {"x": x}, tmp_path)[0]
    ref = run_ort(m, {"x": x})[0]
    assert np.max(np.abs(ours.astype(int) - ref.astype(int))) <= 1


def test_qlinear_concat_and_pool(tmp_path):
    rng = np.random.default_rng(5)
    a, b = q8(rng, (1, 3, 4, 4)), q8(rng, (1, 2, 4, 4))
    inits = [scalar("sy", TensorProto.FLOAT, 0.1), scalar("zy", TensorProto.UINT8, 120),
             scalar("sa", TensorProto.FLOAT, 0.1), scalar("za", TensorProto.UINT8, 120),
             scalar("sb", TensorProto.FLOAT, 0.03), scalar("zb", TensorProto.UINT8, 60),
             scalar("sp", TensorProto.FLOAT, 0.02), scalar("zp", TensorProto.UINT8, 10)]
    nodes = [helper.make_node("QLinearConcat", ["sy", "zy", "a", "sa", "za", "b", "sb", "zb"], ["c"], domain=MS, axis=1),
             helper.make_node("QLinearGlobalAveragePool", ["c", "sy", "zy", "sp", "zp"], ["p"], domain=MS, channels_last=0)]
    m = make_model(nodes, [vi("a", TensorProto.UINT8, [1, 3, 4, 4]), vi("b", TensorProto.UINT8, [1, 2, 4, 4])],
                   [vi("c", TensorProto.UINT8, [1, 5, 4, 4]), vi("p", TensorProto.UINT8, [1, 5, 1, 1])], inits, ms=True)
    ours = run_qtool(m, {"a": a, "b": b}, tmp_path)
    ref = run_ort(m, {"a": a, "b": b})
    np.testing.assert_array_equal(ours[0], ref[0])
    assert np.max(np.abs(ours[1].astype(int) - ref[1].astype(int))) <= 1


def test_qlinear_softmax(tmp_path):
    rng = np.random.default_rng(6)
    x = q8(rng, (3, 10))
    inits = [scalar("sx", TensorProto.FLOAT, 0.05), scalar("zx", TensorProto.UINT8, 128),
             scalar("sy", TensorProto.FLOAT, 1 / 256), scalar("zy", TensorProto.UINT8, 0)]
    m = make_model([helper.make_node("QLinearSoftmax", ["x", "sx", "zx", "sy", "zy"], ["y"], domain=MS, axis=-1, opset=13)],
                   [vi("x", TensorProto.UINT8, [3, 10])], [vi("y", TensorProto.UINT8, [3, 10])], inits, ms=True)
    ours = run_qtool(m, {"x": x}, tmp_path)[0]
    ref = run_ort(m, {"x": x})[0]
    assert np.max(np.abs(ours.astype(int) - ref.astype(int))) <= 1


def test_matmul_integer_to_float_and_dynamic_quantize_matmul(tmp_path):
    rng = np.random.default_rng(8)
    a, bq = q8(rng, (2, 7, 13)), q8(rng, (13, 5), np.int8)
    # onnxruntime's uint8 x int8 kernels saturate int16 pair sums without VNNI: equal only within the bound
    bq = (bq.astype(np.int32) * h.uint8_weight_bound() // 127).astype(np.int8)
    x = rng.standard_normal((2, 7, 13)).astype(np.float32)
    bs = (rng.uniform(0.01, 0.05, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    inits = [numpy_helper.from_array(bq, "b"), scalar("sa", TensorProto.FLOAT, 0.02), numpy_helper.from_array(bs, "sb"),
             scalar("za", TensorProto.UINT8, 100), numpy_helper.from_array(np.zeros(5, np.int8), "zb"),
             numpy_helper.from_array(bias, "bias")]
    nodes = [helper.make_node("MatMulIntegerToFloat", ["a", "b", "sa", "sb", "za", "zb", "bias"], ["y1"], domain=MS),
             helper.make_node("DynamicQuantizeMatMul", ["x", "b", "sb", "zb", "bias"], ["y2"], domain=MS)]
    m = make_model(nodes, [vi("a", TensorProto.UINT8, [2, 7, 13]), vi("x", TensorProto.FLOAT, [2, 7, 13])],
                   [vi("y1", TensorProto.FLOAT, [2, 7, 5]), vi("y2", TensorProto.FLOAT, [2, 7, 5])], inits, ms=True)
    ours = run_qtool(m, {"a": a, "x": x}, tmp_path)
    ref = run_ort(m, {"a": a, "x": x})
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("attrs,ashape,bshape", [
    ({}, (3, 4, 5), (3, 5, 4)), ({"transA": 1}, (3, 5, 4), (3, 5, 2)), ({"transB": 1, "alpha": 0.5}, (3, 4, 5), (3, 2, 5)),
    ({"transBatchA": 1}, (2, 3, 5), (3, 5, 4)), ({"transBatchB": 1, "transB": 1}, (3, 2, 5), (4, 3, 5)),
    ({"transBatchA": 1, "transA": 1}, (2, 3, 4, 5), (3, 4, 2, 6))])
def test_fused_matmul(attrs, ashape, bshape, tmp_path):
    rng = np.random.default_rng(9)
    a = rng.standard_normal(ashape).astype(np.float32)
    b = rng.standard_normal(bshape).astype(np.float32)
    m = make_model([helper.make_node("FusedMatMul", ["a", "b"], ["y"], domain=MS, **attrs)],
                   [vi("a", TensorProto.FLOAT, list(a.shape)), vi("b", TensorProto.FLOAT, list(b.shape))],
                   [vi("y", TensorProto.FLOAT, None)], ms=True)
    ref = run_ort(m, {"a": a, "b": b})[0]
    ours = run_qtool(m, {"a": a, "b": b}, tmp_path)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mask", ["none", "lengths", "2d"])
def test_contrib_attention(mask, tmp_path):
    rng = np.random.default_rng(10)
    B, S, D, N = 2, 5, 12, 3
    x = rng.standard_normal((B, S, D)).astype(np.float32)
    w = (rng.standard_normal((D, 3 * D)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(3 * D).astype(np.float32)
    inputs = [vi("x", TensorProto.FLOAT, [B, S, D])]
    feeds = {"x": x}
    names = ["x", "w", "bias"]
    if mask == "lengths":
        feeds["m"] = np.array([5, 3], np.int32)
        inputs.append(vi("m", TensorProto.INT32, [B]))
        names.append("m")
    elif mask == "2d":
        feeds["m"] = (rng.uniform(size=(B, S)) > 0.3).astype(np.int32)
        inputs.append(vi("m", TensorProto.INT32, [B, S]))
        names.append("m")
    m = make_model([helper.make_node("Attention", names, ["y"], domain=MS, num_heads=N, unidirectional=int(mask == "none"))],
                   inputs, [vi("y", TensorProto.FLOAT, [B, S, D])],
                   [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "bias")], ms=True)
    ours = run_qtool(m, feeds, tmp_path)[0]
    ref = run_ort(m, feeds)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_multi_head_attention(tmp_path):
    rng = np.random.default_rng(12)
    B, S, L, D, N = 2, 3, 4, 8, 2
    q = rng.standard_normal((B, S, D)).astype(np.float32)
    k = rng.standard_normal((B, L, D)).astype(np.float32)
    v = rng.standard_normal((B, L, D)).astype(np.float32)
    bias = rng.standard_normal(3 * D).astype(np.float32)
    kpm = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.int32)
    m = make_model([helper.make_node("MultiHeadAttention", ["q", "k", "v", "bias", "kpm"], ["y"], domain=MS, num_heads=N)],
                   [vi("q", TensorProto.FLOAT, [B, S, D]), vi("k", TensorProto.FLOAT, [B, L, D]),
                    vi("v", TensorProto.FLOAT, [B, L, D]), vi("kpm", TensorProto.INT32, [B, L])],
                   [vi("y", TensorProto.FLOAT, [B, S, D])], [numpy_helper.from_array(bias, "bias")], ms=True)
    feeds = {"q": q, "k": k, "v": v, "kpm": kpm}
    ours = run_qtool(m, feeds, tmp_path)[0]
    ref = run_ort(m, feeds)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_contrib_rotary_embedding(interleaved, tmp_path):
    rng = np.random.default_rng(13)
    B, S, N, H = 2, 3, 2, 8
    x = rng.standard_normal((B, S, N * H)).astype(np.float32)
    pos = np.array([[0, 1, 2], [4, 5, 6]], np.int64)
    ang = np.arange(16)[:, None] * (1.0 / 10000 ** (np.arange(H // 2) / (H // 2)))
    cos, sin = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
    m = make_model([helper.make_node("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS,
                                     interleaved=interleaved, num_heads=N)],
                   [vi("x", TensorProto.FLOAT, [B, S, N * H]), vi("pos", TensorProto.INT64, [B, S])],
                   [vi("y", TensorProto.FLOAT, [B, S, N * H])],
                   [numpy_helper.from_array(cos, "cos"), numpy_helper.from_array(sin, "sin")], ms=True)
    feeds = {"x": x, "pos": pos}
    ours = run_qtool(m, feeds, tmp_path)[0]
    ref = run_ort(m, feeds)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_contrib_quantize_dequantize(tmp_path):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    s = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06], np.float32)
    z = np.array([0, 1, -1, 2, -2, 3], np.int8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], domain=MS, axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], domain=MS, axis=1)]
    m = make_model(nodes, [vi("x", TensorProto.FLOAT, [4, 6])], [vi("q", TensorProto.INT8, [4, 6]), vi("y", TensorProto.FLOAT, [4, 6])],
                   [numpy_helper.from_array(s, "s"), numpy_helper.from_array(z, "z")], ms=True)
    ours = run_qtool(m, {"x": x}, tmp_path)
    ref = run_ort(m, {"x": x})
    np.testing.assert_array_equal(ours[0], ref[0])
    np.testing.assert_array_equal(ours[1], ref[1])


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("zp", ["none", "packed", "float"])
def test_matmul_nbits(bits, zp, tmp_path):
    rng = np.random.default_rng(15)
    K, N, block = 40, 6, 16
    blocks = (K + block - 1) // block
    codes = rng.integers(0, 2 ** bits, size=(N, blocks * block))

    def pack(vals, width):  # little-endian bit stream per row
        per = 8 // bits
        out = np.zeros((vals.shape[0], width), np.uint8)
        for i in range(vals.shape[1]):
            out[:, i // per] |= (vals[:, i] << (bits * (i % per))).astype(np.uint8)
        return out

    b = pack(codes, blocks * block * bits // 8).reshape(N, blocks, block * bits // 8)
    scales = rng.uniform(0.01, 0.1, size=N * blocks).astype(np.float32)
    a = rng.standard_normal((3, K)).astype(np.float32)
    inits = [numpy_helper.from_array(b, "b"), numpy_helper.from_array(scales, "s")]
    names = ["a", "b", "s"]
    if zp == "packed":
        z = rng.integers(0, 2 ** bits, size=(N, blocks))
        inits.append(numpy_helper.from_array(pack(z, (blocks * bits + 7) // 8), "z"))
        names.append("z")
    elif zp == "float":
        inits.append(numpy_helper.from_array(rng.uniform(0, 2 ** bits - 1, size=N * blocks).astype(np.float32), "z"))
        names.append("z")
    m = make_model([helper.make_node("MatMulNBits", names, ["y"], domain=MS, K=K, N=N, bits=bits, block_size=block)],
                   [vi("a", TensorProto.FLOAT, [3, K])], [vi("y", TensorProto.FLOAT, [3, N])], inits, ms=True)
    try:
        ref = run_ort(m, {"a": a})[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime builds without some bit widths
        pytest.skip(f"onnxruntime refuses: {str(e)[:100]}")
    ours = run_qtool(m, {"a": a}, tmp_path)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
