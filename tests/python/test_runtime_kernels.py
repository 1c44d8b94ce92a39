# SPDX-License-Identifier: Apache-2.0
"""Issue 11: qtool's int8 files become integer kernels in the runtimes people deploy with.

onnxruntime: every Conv/MatMul/Gemm of the shared models is an integer kernel in onnxruntime's own
optimized graph (QLinearConv / QLinearMatMul / QGemm, MatMulIntegerToFloat only where no Q follows),
and `qtool inspect --runtime onnxruntime` predicts exactly that count.
OpenVINO (skipped when the openvino package is absent): the same files load in its CPU plugin and
score what onnxruntime scores (top-1 within 0.2 points, SQNR within 1 dB).
"""
import json

import numpy as np
import pytest

import harness as h
import runtimes as rt
import shared_data as sd

# name -> (model, calibration args builder, minimum QLinearMatMul count)
MODELS = {
    "mnist-12": ("mnist/mnist-12.onnx", 0),
    "ultraface": ("ultraface/version-RFB-320.onnx", 0),
    "pgd_2_3_16": ("cifar10-vit-vnncomp/pgd_2_3_16.onnx", 16),
    "resnet_4b": ("cifar10-resnet-vnncomp/resnet_4b.onnx", 0),
}


def calib_args(name, shared, cache):
    if name == "mnist-12":
        return ["--calib", sd.mnist(cache)["calib_nchw"]]
    if name == "ultraface":
        return ["--calib", shared / "ultraface/imgs", *sd.ULTRAFACE_ARGS]
    return ["--calib", sd.cifar_csv(cache, sd.VIT_STD if name == "pgd_2_3_16" else sd.RESNET_STD)]


@pytest.fixture(scope="module")
def int8_files(shared, cache, tmp_path_factory):
    d = tmp_path_factory.mktemp("int8")
    out = {}
    for name, (path, _) in MODELS.items():
        out[name] = d / f"{name}.int8.onnx"
        h.qtool("quantize", shared / path, "-o", out[name], *calib_args(name, shared, cache))
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_every_layer_is_an_integer_kernel_in_onnxruntime(name, shared, int8_files):
    path, min_qlinear_matmul = MODELS[name]
    layers = rt.layer_count(shared / path)
    ints, floats = rt.integer_kernels(int8_files[name])
    print(f"{name}: {sum(ints.values())}/{layers} integer kernels {ints}, float {floats}")
    assert sum(ints.values()) == layers and not floats
    assert ints.get("QLinearMatMul", 0) >= min_qlinear_matmul
    # qtool's static reading of the file agrees with onnxruntime's optimizer
    pred = json.loads(h.qtool("inspect", int8_files[name], "--runtime", "onnxruntime", "--json").stdout)
    assert (pred["integer"], pred["total"]) == (sum(ints.values()), layers)
    kinds = {}
    for layer in pred["layers"]:
        kinds[layer["kernel"]] = kinds.get(layer["kernel"], 0) + 1
    assert kinds == ints


def test_inspect_explains_a_float_layer(shared, cache, tmp_path):
    """Weights only (no calibration): every layer stays float and inspect says why."""
    out = tmp_path / "w.onnx"
    h.qtool("quantize", shared / MODELS["mnist-12"][0], "-o", out)
    pred = json.loads(h.qtool("inspect", out, "--runtime", "onnxruntime", "--json").stdout)
    ints, _ = rt.integer_kernels(out)
    assert pred["integer"] == sum(ints.values()) == 0
    assert all(layer["reason"] for layer in pred["layers"])


@pytest.mark.skipif(not rt.ov_available(), reason=rt.OV_UNAVAILABLE)
@pytest.mark.parametrize("name", ["mnist-12", "resnet_4b", "ultraface"])
def test_openvino_scores_what_onnxruntime_scores(name, shared, cache, int8_files):
    f = int8_files[name]
    if name == "ultraface":
        x = h.ultraface_array(cache)
        ref = h.ort_run_all(shared / MODELS[name][0], x)
        o, v = h.ort_run_all(f, x), rt.ov_run_all(f, x)
        for i in range(2):
            s_ort, s_ov = h.sqnr_db(ref[i], o[i]), h.sqnr_db(ref[i], v[i])
            print(f"{name} output {i}: SQNR onnxruntime {s_ort:.2f} dB, OpenVINO {s_ov:.2f} dB")
            assert abs(s_ort - s_ov) <= 1.0
        return
    if name == "mnist-12":
        m = sd.mnist(cache)
        x, y = np.load(m["nchw"]), np.load(m["labels"])
    else:
        x, y = h.cifar_jpg_array(sd.RESNET_STD), np.load(sd.cifar_jpg_labels(cache))
    l_ort, l_ov = h.ort_run_all(f, x)[0], rt.ov_run_all(f, x)[0]
    a_ort, a_ov = h.top1(l_ort, y), h.top1(l_ov, y)
    agree = h.sqnr_db(l_ort, l_ov)
    print(f"{name}: top-1 onnxruntime {a_ort:.4f}, OpenVINO {a_ov:.4f}; logits agree at {agree:.1f} dB")
    # Without VNNI, OpenVINO's int8 kernels round differently from the QDQ graph (resnet_4b on an AVX2
    # EPYC: 36 dB against the graph as written, where onnxruntime gives 63 dB), which moved 4 of 1,500
    # top-1 answers; a saturating file (no overflow fix) agrees at 6 dB.
    assert abs(a_ort - a_ov) <= (0.002 if h.cpu_has_vnni() else 0.004)
    assert agree >= 30


@pytest.mark.skipif(not rt.ov_available(), reason=rt.OV_UNAVAILABLE)
def test_openvino_target_vit(shared, cache, tmp_path):
    """--target openvino on the ViT: plain QDQ that both runtimes load, scoring alike (the onnxruntime-target
    file of this model differs by ~0.5 points between the two runtimes) and above issue 2's bar."""
    out = tmp_path / "pgd.ov.int8.onnx"
    h.qtool("quantize", shared / MODELS["pgd_2_3_16"][0], "--target", "openvino", "-o", out,
            *calib_args("pgd_2_3_16", shared, cache))
    x, y = h.cifar_jpg_array(sd.VIT_STD), np.load(sd.cifar_jpg_labels(cache))
    a_ort, a_ov = h.top1(h.ort_run_all(out, x)[0], y), h.top1(rt.ov_run_all(out, x)[0], y)
    print(f"pgd_2_3_16 --target openvino: top-1 onnxruntime {a_ort:.4f}, OpenVINO {a_ov:.4f}")
    assert abs(a_ort - a_ov) <= 0.002
    assert min(a_ort, a_ov) >= 0.5960


@pytest.mark.skipif(not rt.ov_available(), reason=rt.OV_UNAVAILABLE)
def test_openvino_target_ultraface(shared, cache, tmp_path):
    """--target openvino on UltraFace scores in OpenVINO what it scores in onnxruntime (OpenVINO 2026.4 computed
    the RFB block's Concat -> Conv wrongly from int8 activation Q/DQ: 31.7 dB scores vs 45.5 dB; the symmetric grid
    is stored as uint8 with zero point 128 for that target), above issue 2's bar in both."""
    out = tmp_path / "uf.ov.int8.onnx"
    h.qtool("quantize", shared / MODELS["ultraface"][0], "--target", "openvino", "-o", out,
            *calib_args("ultraface", shared, cache))
    x = h.ultraface_array(cache)
    ref = h.ort_run_all(shared / MODELS["ultraface"][0], x)
    runs = {"onnxruntime": h.ort_run_all(out, x), "OpenVINO": rt.ov_run_all(out, x)}
    for i, bar in enumerate([38.0, 42.0]):
        s = {k: h.sqnr_db(ref[i], v[i]) for k, v in runs.items()}
        print(f"ultraface --target openvino output {i}: SQNR " + ", ".join(f"{k} {v:.2f} dB" for k, v in s.items()))
        assert abs(s["onnxruntime"] - s["OpenVINO"]) <= 1.0
        assert min(s.values()) >= bar
    for k, v in runs.items():
        faces = sum(h.count_faces(v[0][j], v[1][j]) == h.count_faces(ref[0][j], ref[1][j]) for j in range(len(x)))
        assert faces == len(x), k
    # the file keeps symmetric grids: zero point 0 (non-negative tensors) or 128 (signed ones), all uint8
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(out))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    zps = [inits[n.input[2]] for n in m.graph.node if n.op_type == "QuantizeLinear"]
    assert zps and all(z.dtype == np.uint8 and int(z) in (0, 128) for z in zps)
    assert any(int(z) == 128 for z in zps)
