# SPDX-License-Identifier: Apache-2.0
"""QDQ convolutions run as integer convolutions in qtool's executor (runtime/qdq_fusion.cpp) and give
onnxruntime's int8 results: bit for bit on a QDQ Conv that onnxruntime fuses into QLinearConv (ties
included), and >= 40 dB SQNR with the same top-1 on qtool-quantized real models."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import harness as h
import shared_data as sd


def qdq_conv_model(path, act, x_zp, y_zp, y_scale, relu, seed, ties=False):
    """DQ(x) -> Conv(DQ(w int8 per channel), DQ(bias int32)) [-> Relu] -> Q, 3x3, stride 2, pads 1.
    ties: x_scale * w_scale / y_scale = 0.5 exactly and small values, so every odd acc + bias is a tie."""
    rs = np.random.RandomState(seed)
    npt = np.uint8 if act == "uint8" else np.int8
    tp = TensorProto.UINT8 if act == "uint8" else TensorProto.INT8
    m, c = 6, 5
    wmax = h.uint8_weight_bound() if act == "uint8" else 127  # bit-exact only where onnxruntime does not saturate
    xs = np.float32(0.25 if ties else 0.02)
    ws = np.full(m, 0.5, np.float32) if ties else rs.uniform(0.002, 0.01, m).astype(np.float32)
    if ties:
        y_scale = 0.25
    inits = [
        numpy_helper.from_array(np.array(xs, np.float32), "xs"),
        numpy_helper.from_array(np.array(x_zp, npt), "xz"),
        numpy_helper.from_array(rs.randint(-3, 4, (m, c, 3, 3)).astype(np.int8) if ties else
                                rs.randint(-wmax, wmax + 1, (m, c, 3, 3)).astype(np.int8), "wq"),
        numpy_helper.from_array(ws, "ws"),
        numpy_helper.from_array(np.zeros(m, np.int8), "wz"),
        numpy_helper.from_array(rs.randint(-20, 21, m).astype(np.int32) if ties else
                                rs.randint(-3000, 3000, m).astype(np.int32), "bq"),
        numpy_helper.from_array((xs * ws).astype(np.float32), "bs"),
        numpy_helper.from_array(np.zeros(m, np.int32), "bz"),
        numpy_helper.from_array(np.array(y_scale, np.float32), "ys"),
        numpy_helper.from_array(np.array(y_zp, npt), "yz"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["x"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
        helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["b"], axis=0),
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
    ]
    last = "c"
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        last = "r"
    nodes.append(helper.make_node("QuantizeLinear", [last, "ys", "yz"], ["y"]))
    g = helper.make_graph(nodes, "qdq_conv", [helper.make_tensor_value_info("xq", tp, [1, c, 15, 17])],
                          [helper.make_tensor_value_info("y", tp, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    lo, hi = (0, 255) if act == "uint8" else (-128, 127)
    if ties:
        lo, hi = max(lo, x_zp - 3), min(hi, x_zp + 3)
    return rs.randint(lo, hi + 1, (8, 1, c, 15, 17)).astype(npt)


# Relu only where onnxruntime removes it (zero point = the type's minimum), so its graph is one
# QLinearConv too. The ties cases (odd zero points) have a requantization scale of exactly 0.5.
@pytest.mark.parametrize("act,x_zp,y_zp,y_scale,relu,ties", [
    ("uint8", 7, 3, 0.05, False, False),
    ("uint8", 128, 0, 0.03, True, False),
    ("uint8", 9, 101, None, False, True),
    ("int8", -3, -5, 0.05, False, False),
    ("int8", 0, -128, 0.02, True, False),
    ("int8", 1, 3, None, False, True),
])
def test_qdq_conv_equals_onnxruntime_qlinearconv(tmp_path, act, x_zp, y_zp, y_scale, relu, ties):
    path = tmp_path / "m.onnx"
    x = qdq_conv_model(path, act, x_zp, y_zp, y_scale, relu, seed=abs(x_zp) + 7 * abs(y_zp) + 1, ties=ties)
    data = tmp_path / "x.npy"
    np.save(data, x.reshape(-1, *x.shape[2:]))
    out = tmp_path / "out.npz"
    h.qtool("run", path, "--data", data, "-o", out)
    ours = np.load(out)["y"]
    s = h.session(path)
    ref = np.concatenate([s.run(None, {"xq": x[i]})[0] for i in range(len(x))])
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)
    if ties:  # the case exercises ties: unsaturated outputs on both sides of the zero point
        info = np.iinfo(ref.dtype)
        inside = (ref > info.min) & (ref < info.max)
        assert inside.mean() > 0.9 and (ref > y_zp).any() and (ref < y_zp).any()


def test_qtool_int8_models_match_onnxruntime_int8(shared, cache, tmp_path):
    """resnet_4b and UltraFace RFB-320 quantized by qtool: executor vs onnxruntime on the int8 file."""
    cases = [("resnet_4b", shared / "cifar10-resnet-vnncomp/resnet_4b.onnx", sd.cifar_csv(cache, sd.RESNET_STD), []),
             ("RFB-320", shared / "ultraface/version-RFB-320.onnx", None, sd.ULTRAFACE_ARGS)]
    for name, model, data, extra in cases:
        if data is None:
            data = tmp_path / "ultraface.npy"
            np.save(data, h.ultraface_array(cache))
        q = tmp_path / f"{name}.int8.onnx"
        h.qtool("quantize", model, "-o", q, "--calib", data, "--limit", "64", "--method", "minmax")
        x = np.load(data)[:64]
        np.save(tmp_path / "x.npy", x)
        out = tmp_path / "out.npz"
        h.qtool("run", q, "--data", tmp_path / "x.npy", "-o", out)
        ours = np.load(out)
        names = [o.name for o in h.session(q).get_outputs()]
        refs = h.ort_run_all(q, x)
        for n, ref in zip(names, refs):
            assert h.sqnr_db(ref, ours[n]) >= 40, (name, n, h.sqnr_db(ref, ours[n]))
        agree = (ours[names[0]].reshape(len(x), -1).argmax(1) == refs[0].reshape(len(x), -1).argmax(1)).mean()
        assert agree >= 0.99, (name, agree)


def qdq_matmul_model(path, act, x_zp, y_zp, per_column, seed):
    """DQ(x [1,3,37]) -> MatMul(DQ(w int8 [37,21], per column or per tensor)) -> Q."""
    rs = np.random.RandomState(seed)
    npt = np.uint8 if act == "uint8" else np.int8
    tp = TensorProto.UINT8 if act == "uint8" else TensorProto.INT8
    k, n = 37, 21
    wmax = h.uint8_weight_bound() if act == "uint8" else 127  # bit-exact only where onnxruntime does not saturate
    ws = rs.uniform(0.002, 0.01, n).astype(np.float32) if per_column else np.array(0.006, np.float32)
    inits = [
        numpy_helper.from_array(np.array(0.03, np.float32), "xs"),
        numpy_helper.from_array(np.array(x_zp, npt), "xz"),
        numpy_helper.from_array(rs.randint(-wmax, wmax + 1, (k, n)).astype(np.int8), "wq"),
        numpy_helper.from_array(ws, "ws"),
        numpy_helper.from_array(np.array(0.07, np.float32), "ys"),
        numpy_helper.from_array(np.array(y_zp, npt), "yz"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["x"]),
        helper.make_node("DequantizeLinear", ["wq", "ws"], ["w"], axis=1),
        helper.make_node("MatMul", ["x", "w"], ["p"]),
        helper.make_node("QuantizeLinear", ["p", "ys", "yz"], ["y"]),
    ]
    g = helper.make_graph(nodes, "qdq_matmul", [helper.make_tensor_value_info("xq", tp, [1, 3, k])],
                          [helper.make_tensor_value_info("y", tp, [1, 3, n])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    lo, hi = (0, 256) if act == "uint8" else (-128, 128)
    return rs.randint(lo, hi, (16, 1, 3, k)).astype(npt)


@pytest.mark.parametrize("act,x_zp,y_zp,per_column", [
    ("uint8", 131, 3, True),
    ("uint8", 0, 128, False),
    ("int8", -3, -5, True),
    ("int8", 0, 7, False),
])
def test_qdq_matmul_equals_onnxruntime(tmp_path, act, x_zp, y_zp, per_column):
    """qtool.QDQMatMul (oneDNN int8 matmul) against onnxruntime on the same QDQ MatMul file."""
    path = tmp_path / "m.onnx"
    x = qdq_matmul_model(path, act, x_zp, y_zp, per_column, seed=abs(x_zp) + 3 * abs(y_zp) + 1)
    data = tmp_path / "x.npy"
    np.save(data, x.reshape(-1, *x.shape[2:]))
    out = tmp_path / "out.npz"
    h.qtool("run", path, "--data", data, "-o", out)
    ours = np.load(out)["y"].astype(np.int64)
    s = h.session(path)
    ref = np.concatenate([s.run(None, {"xq": x[i]})[0] for i in range(len(x))]).astype(np.int64)
    np.testing.assert_array_equal(ours.reshape(ref.shape), ref)


def test_vit_int8_integer_matmuls_match_the_qdq_graph(shared, cache, tmp_path):
    """The ViT pgd_2_3_16 quantized by qtool runs its MatMuls / Gemm as integer matmuls in the
    executor. Against onnxruntime with basic optimizations (the QDQ graph as written, no QLinear
    fusions) the output is the same to >= 40 dB (measured 143 dB). onnxruntime's full optimizer
    also swaps in QLinearSoftmax, whose lookup table approximates the softmax of the codes: against
    it the output is 34 dB and the top-1 of 64 images agrees on all but one."""
    import onnxruntime as ort
    data = sd.cifar_csv(cache, sd.VIT_STD)
    q = tmp_path / "vit.int8.onnx"
    h.qtool("quantize", shared / "cifar10-vit-vnncomp/pgd_2_3_16.onnx", "-o", q, "--calib", data, "--limit", "64",
            "--method", "minmax")
    x = np.load(data)[:64]
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    h.qtool("run", q, "--data", tmp_path / "x.npy", "-o", out)
    ours = np.load(out)["output"]

    def ort_run(level):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        s = ort.InferenceSession(str(q), so, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        return np.concatenate([s.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])

    basic = ort_run(ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    assert h.sqnr_db(basic, ours.reshape(basic.shape)) >= 40
    full = ort_run(ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    assert (full.argmax(1) == ours.reshape(full.shape).argmax(1)).mean() >= 0.95
