# SPDX-License-Identifier: Apache-2.0
"""quant/integer_hardswish.cpp: with --target onnxruntime a quantized HardSwish becomes Add -> Q/DQ -> Mul, which
onnxruntime's optimizer turns into QLinearAdd + QLinearMul (no DequantizeLinear -> HardSigmoid -> Mul ->
QuantizeLinear detour in float), computing what the float model computes; --target openvino keeps the HardSwish."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import harness as h
import runtimes as rt


def hardswish_model(path):
    """x[1,8,16,16] -> Conv 3x3 -> HardSwish -> Conv 1x1 -> Relu -> y (MobileNetV3's pattern), opset 17."""
    rs = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rs.normal(0, 0.3, (16, 8, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rs.normal(0, 0.5, 16).astype(np.float32), "b1"),
             numpy_helper.from_array(rs.normal(0, 0.3, (8, 16, 1, 1)).astype(np.float32), "w2"),
             numpy_helper.from_array(rs.normal(0, 0.1, 8).astype(np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("HardSwish", ["c1"], ["hs"], name="hswish"),
             helper.make_node("Conv", ["hs", "w2", "b2"], ["c2"], name="conv2"),
             helper.make_node("Relu", ["c2"], ["y"])]
    g = helper.make_graph(nodes, "hs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def optimized_ops(path):
    import onnxruntime as ort
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = str(Path(d) / "opt.onnx")
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hswish")
    src = d / "hs.onnx"
    hardswish_model(src)
    x = np.random.RandomState(1).normal(0, 1, (16, 8, 16, 16)).astype(np.float32)
    np.save(d / "calib.npy", x)
    out = {"fp32": src, "ort": d / "hs.ort.onnx", "ov": d / "hs.ov.onnx"}
    h.qtool("quantize", src, "-o", out["ort"], "--calib", d / "calib.npy")
    h.qtool("quantize", src, "-o", out["ov"], "--calib", d / "calib.npy", "--target", "openvino")
    return out, x


def test_hardswish_runs_as_integer_add_and_mul_in_onnxruntime(files):
    out, x = files
    ops = [n.op_type for n in onnx.load(str(out["ort"])).graph.node]
    assert "HardSwish" not in ops
    opt = optimized_ops(out["ort"])
    print("onnxruntime's optimized graph:", opt)
    assert opt.count("QLinearConv") == 2 and "QLinearAdd" in opt and "QLinearMul" in opt
    # no float detour between the two convolutions: only the input's Q and the output's DQ stay
    assert not {"HardSigmoid", "HardSwish", "Mul", "Add"} & set(opt)
    assert opt.count("QuantizeLinear") == 1 and opt.count("DequantizeLinear") == 1
    ref = h.ort_run_all(out["fp32"], x)[0]
    s = h.sqnr_db(ref, h.ort_run_all(out["ort"], x)[0])
    s_exec = h.sqnr_db(ref, h.ort_run_all(out["ort"], x, optimize=False)[0])  # the QDQ graph as written
    print(f"SQNR vs fp32: onnxruntime {s:.2f} dB, unoptimized {s_exec:.2f} dB")
    assert s >= 30.0 and abs(s - s_exec) <= 1.0


@pytest.mark.skipif(not rt.ov_available(), reason=rt.OV_UNAVAILABLE)
def test_openvino_target_keeps_hardswish_and_both_files_score_alike(files):
    out, x = files
    assert "HardSwish" in [n.op_type for n in onnx.load(str(out["ov"])).graph.node]
    ref = h.ort_run_all(out["fp32"], x)[0]
    s_ort, s_ov = h.sqnr_db(ref, h.ort_run_all(out["ort"], x)[0]), h.sqnr_db(ref, rt.ov_run_all(out["ort"], x)[0])
    print(f"--target onnxruntime file: SQNR onnxruntime {s_ort:.2f} dB, OpenVINO {s_ov:.2f} dB")
    assert abs(s_ort - s_ov) <= 1.0
