# SPDX-License-Identifier: Apache-2.0
"""Issue 2 acceptance: int8 files written by qtool, run in onnxruntime, on the real models.

Calibration data is disjoint from evaluation data where the set allows it (MNIST: first 500
test images calibrate, all 10,000 evaluate; CIFAR: the 100 exact CSV images calibrate, the
1,500 JPEGs evaluate; UltraFace: the 8 images both). Default method (mse) throughout.
"""
import subprocess
import sys

import numpy as np
import onnx
import pytest

import harness as h
import shared_data as sd

CIFAR_BARS = {"resnet_4b": 0.7570, "pgd_2_3_16": 0.5960}


def quantize(model, out, *args):
    r = h.qtool("quantize", model, "-o", out, *args)
    assert "file size" in r.stdout
    return out


def check_file(path):
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    # onnxruntime loads it without a single warning
    code = ("import onnxruntime as ort; ort.set_default_logger_severity(1); "
            f"ort.InferenceSession({str(path)!r}, providers=['CPUExecutionProvider'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stderr.splitlines() if " [W:" in l or "Warning" in l]
    assert not warnings, "\n".join(warnings)


def qtool_top1(model, data, labels, *extra):
    return h.qtool_eval_json(model, data, "--labels", labels, *extra)["top1"]


@pytest.mark.parametrize("name,path,bar,size_bar", [
    ("mnist-12", "mnist/mnist-12.onnx", 0.9880, None),
    ("mnist-net_256x2", "mnist-mlp-vnncomp/mnist-net_256x2.onnx", 0.9795, 0.27),
])
def test_mnist(name, path, bar, size_bar, shared, cache, tmp_path):
    m = sd.mnist(cache)
    flat = "256x2" in name
    model = shared / path
    out = quantize(model, tmp_path / f"{name}.int8.onnx", "--calib", m["calib_flat" if flat else "calib_nchw"])
    check_file(out)
    x, y = np.load(m["flat" if flat else "nchw"]), np.load(m["labels"])
    acc = h.top1(h.ort_run_all(out, x)[0], y)
    print(f"{name}: onnxruntime int8 top-1 {acc:.4f}, size {out.stat().st_size / model.stat().st_size:.3f} of fp32")
    assert acc >= bar
    if size_bar:
        assert out.stat().st_size <= size_bar * model.stat().st_size
    ours = qtool_top1(out, m["flat" if flat else "nchw"], m["labels"])
    assert abs(ours - acc) <= 0.002


@pytest.mark.parametrize("name,path,std,size_bar", [
    ("resnet_4b", "cifar10-resnet-vnncomp/resnet_4b.onnx", sd.RESNET_STD, 0.30),
    ("pgd_2_3_16", "cifar10-vit-vnncomp/pgd_2_3_16.onnx", sd.VIT_STD, None),
])
def test_cifar(name, path, std, size_bar, shared, cache, tmp_path):
    model = shared / path
    out = quantize(model, tmp_path / f"{name}.int8.onnx", "--calib", sd.cifar_csv(cache, std))
    check_file(out)
    labels = sd.cifar_jpg_labels(cache)
    y = np.load(labels)
    x = h.cifar_jpg_array(std)
    acc = h.top1(h.ort_run_all(out, x)[0], y)
    fp32 = h.top1(h.ort_run_all(model, x)[0], y)
    print(f"{name}: onnxruntime fp32 {fp32:.4f} int8 {acc:.4f}, size {out.stat().st_size / model.stat().st_size:.3f}")
    assert acc >= CIFAR_BARS[name]
    if size_bar:
        assert out.stat().st_size <= size_bar * model.stat().st_size
    ours = qtool_top1(out, sd.SHARED / "cifar10" / "test-jpg", labels, *sd.cifar_image_args(std))
    assert abs(ours - acc) <= 0.002


def test_ultraface(shared, cache, tmp_path):
    model = shared / "ultraface/version-RFB-320.onnx"
    out = quantize(model, tmp_path / "rfb.int8.onnx", "--calib", shared / "ultraface/imgs", *sd.ULTRAFACE_ARGS)
    check_file(out)
    x = h.ultraface_array(cache)
    ref, q = h.ort_run_all(model, x), h.ort_run_all(out, x)
    s_scores, s_boxes = h.sqnr_db(ref[0], q[0]), h.sqnr_db(ref[1], q[1])
    faces_ref = [h.count_faces(ref[0][i], ref[1][i]) for i in range(len(x))]
    faces_q = [h.count_faces(q[0][i], q[1][i]) for i in range(len(x))]
    print(f"ultraface: SQNR scores {s_scores:.1f} dB, boxes {s_boxes:.1f} dB, faces fp32 {faces_ref} int8 {faces_q}")
    assert s_scores >= 38 and s_boxes >= 42
    assert faces_q == faces_ref


def test_calibration_table_reuse(shared, cache, tmp_path):
    model = shared / "cifar10-resnet-vnncomp/resnet_4b.onnx"
    data = sd.cifar_csv(cache, sd.RESNET_STD)
    table = tmp_path / "table.json"
    h.qtool("calibrate", model, "--calib", data, "-o", table)
    a = quantize(model, tmp_path / "a.onnx", "--calib", data)
    b = quantize(model, tmp_path / "b.onnx", "--calib-table", table)
    assert a.read_bytes() == b.read_bytes()


def test_weight_only_without_calibration_warns(shared, tmp_path):
    model = shared / "mnist-mlp-vnncomp/mnist-net_256x2.onnx"
    r = h.qtool("quantize", model, "-o", tmp_path / "w.onnx")
    assert "activations stay float" in r.stderr
    kinds = {n.op_type for n in onnx.load(str(tmp_path / "w.onnx")).graph.node}
    assert "DequantizeLinear" in kinds and "QuantizeLinear" not in kinds
