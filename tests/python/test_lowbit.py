# SPDX-License-Identifier: Apache-2.0
"""Issue 3 acceptance: low-bit weights (int4 per channel and per block, int2, binary, ternary,
fp16/bf16, W4A8, mixed widths) written by qtool and run in onnxruntime and in qtool's executor.

Calibration as in the int8 acceptance (MNIST: first 500 test images, CIFAR: the 100 exact CSV
images, UltraFace: its 8 images); evaluation on all 10,000 MNIST / 1,500 CIFAR JPEG images.
"""
import numpy as np
import onnx
import pytest

import harness as h
import shared_data as sd
from test_acceptance_int8 import check_file

MLP = "mnist-mlp-vnncomp/mnist-net_256x2.onnx"

# every storage path qtool writes, on the MLP: (label, args, top-1 bar or None, file-size bar or None)
MLP_CASES = [
    ("int4", ["--bits", "4"], 0.9800, 0.14),
    ("int4-sym", ["--bits", "4", "--symmetric"], None, 0.14),
    ("int4-g32", ["--bits", "4", "--group-size", "32"], None, None),
    ("int8-g32", ["--bits", "8", "--group-size", "32"], None, None),
    ("w4a8", ["--bits", "4", "--act-bits", "8"], None, None),
    ("int4-matmulnbits", ["--bits", "4", "--format", "matmulnbits"], 0.9800, None),
    ("w4a8-matmulnbits", ["--bits", "4", "--format", "matmulnbits", "--act-bits", "8"], None, None),
    ("int2", ["--bits", "2"], None, None),
    ("ternary", ["--ternary"], None, None),
    ("binary", ["--bits", "1"], None, 0.05),
    ("binary-first-last-8", ["--bits", "1", "--keep-first-last", "8"], None, None),
    ("fp16", ["--dtype", "fp16"], 0.9805, 0.51),
    ("bf16", ["--dtype", "bf16"], 0.9805, 0.51),
]


@pytest.mark.parametrize("label,args,bar,size_bar", MLP_CASES, ids=[c[0] for c in MLP_CASES])
def test_mlp_formats(label, args, bar, size_bar, shared, cache, tmp_path):
    m = sd.mnist(cache)
    model = shared / MLP
    out = tmp_path / f"mlp.{label}.onnx"
    h.qtool("quantize", model, "--calib", m["calib_flat"], "-o", out, *args)
    check_file(out)
    x, y = np.load(m["flat"]), np.load(m["labels"])
    ort_out = h.ort_run_all(out, x)[0]
    acc = h.top1(ort_out, y)
    ratio = out.stat().st_size / model.stat().st_size
    print(f"mnist-net_256x2 {label}: onnxruntime top-1 {100 * acc:.2f}%, file {100 * ratio:.1f}% of fp32")
    # the decode is exact: qtool's executor and onnxruntime agree on the written file (onnxruntime
    # runs the graph as written here; with optimizations it fuses QDQ activations into integer
    # kernels, whose requantization rounds differently)
    npz = tmp_path / "ours.npz"
    h.qtool("run", out, "--data", m["flat"], "--limit", "500", "-o", npz)
    ours = np.load(npz)[onnx.load(str(out)).graph.output[0].name]
    as_written = h.ort_run_all(out, x[:500], optimize=False)[0]
    assert h.sqnr_db(as_written, ours) >= 60.0
    if bar is not None:
        assert acc >= bar
    if size_bar is not None:
        assert ratio <= size_bar


def cifar_top1(model, out, std, cache):
    x = h.cifar_jpg_array(std)
    y = np.load(sd.cifar_jpg_labels(cache))
    return h.top1(h.ort_run_all(model, x)[0], y), h.top1(h.ort_run_all(out, x)[0], y)


@pytest.mark.parametrize("name,path,std,args,bar", [
    ("resnet_4b W4", "cifar10-resnet-vnncomp/resnet_4b.onnx", sd.RESNET_STD, ["--bits", "4"], 0.7500),
    ("resnet_4b W4A8", "cifar10-resnet-vnncomp/resnet_4b.onnx", sd.RESNET_STD, ["--bits", "4", "--act-bits", "8"], 0.7490),
    ("pgd_2_3_16 W4", "cifar10-vit-vnncomp/pgd_2_3_16.onnx", sd.VIT_STD, ["--bits", "4"], 0.5960),
])
def test_cifar_w4(name, path, std, args, bar, shared, cache, tmp_path):
    model = shared / path
    out = tmp_path / "w4.onnx"
    r = h.qtool("quantize", model, "--calib", sd.cifar_csv(cache, std), "-o", out, *args)
    assert "GPTQ" in r.stdout
    check_file(out)
    fp32, acc = cifar_top1(model, out, std, cache)
    print(f"{name}: onnxruntime fp32 {100 * fp32:.2f}% -> {100 * acc:.2f}%, "
          f"file {100 * out.stat().st_size / model.stat().st_size:.1f}% of fp32")
    assert acc >= bar


def test_ultraface_w4(shared, cache, tmp_path):
    model = shared / "ultraface/version-RFB-320.onnx"
    x = h.ultraface_array(cache)
    np.save(tmp_path / "uf.npy", x)
    out = tmp_path / "uf.int4.onnx"
    h.qtool("quantize", model, "--bits", "4", "--calib", tmp_path / "uf.npy", "-o", out)
    check_file(out)
    ref, got = h.ort_run_all(model, x), h.ort_run_all(out, x)
    s, b = h.sqnr_db(ref[0], got[0]), h.sqnr_db(ref[1], got[1])
    print(f"ultraface W4: SQNR scores {s:.1f} dB, boxes {b:.1f} dB")
    assert s >= 30.0


def test_gptq_beats_nearest_on_resnet(shared, cache, tmp_path):
    model = shared / "cifar10-resnet-vnncomp/resnet_4b.onnx"
    calib = sd.cifar_csv(cache, sd.RESNET_STD)
    accs = {}
    for rounding in ["nearest", "gptq"]:
        out = tmp_path / f"{rounding}.onnx"
        h.qtool("quantize", model, "--bits", "4", "--calib", calib, "--rounding", rounding, "-o", out)
        accs[rounding] = cifar_top1(model, out, sd.RESNET_STD, cache)[1]
    print(f"resnet_4b W4: nearest {100 * accs['nearest']:.2f}%, GPTQ {100 * accs['gptq']:.2f}%")
    assert accs["gptq"] > accs["nearest"]


@pytest.mark.parametrize("args,code_bits", [(["--bits", "4"], 4.0), (["--bits", "1"], 1.0), (["--ternary"], 2.0),
                                            (["--dtype", "bf16"], 16.0)])
def test_inspect_reports_bits_per_weight(args, code_bits, shared, cache, tmp_path):
    out = tmp_path / "w.onnx"
    h.qtool("quantize", shared / MLP, "-o", out, *args)
    weights = h.qtool_json("inspect", out, "--json")["weights"]
    assert len(weights) == 3
    for w in weights:
        assert w["code_bits"] == pytest.approx(code_bits, abs=0.01)
        assert code_bits <= w["bits_per_weight"] <= code_bits + 1.0  # scales and zero points on top
    r = h.qtool("inspect", out)
    assert "bits per weight" in r.stdout
