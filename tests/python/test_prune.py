# SPDX-License-Identifier: Apache-2.0
"""Issue 4 acceptance: pruning (unstructured, N:M, channel) written by qtool, run in onnxruntime,
and composed with quantization. MNIST evaluates on all 10,000 test images, CIFAR on the 1,500
JPEGs; no fine-tuning anywhere."""
import zlib

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import harness as h
import shared_data as sd

MLP = "mnist-mlp-vnncomp/mnist-net_256x2.onnx"
RESNET = "cifar10-resnet-vnncomp/resnet_4b.onnx"


def weights(path):
    m = onnx.load(str(path))
    out = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for sp in m.graph.sparse_initializer:
        dense = np.zeros(int(np.prod(sp.dims)), np.float32)
        dense[numpy_helper.to_array(sp.indices)] = numpy_helper.to_array(sp.values)
        out[sp.values.name] = dense.reshape(tuple(sp.dims))
    return out


def dense_params(path):
    m = onnx.load(str(path))
    return sum(int(np.prod(t.dims)) for t in m.graph.initializer) + \
        sum(int(np.prod(sp.dims)) for sp in m.graph.sparse_initializer)


def mlp_top1(path, cache):
    m = sd.mnist(cache)
    return h.top1(h.ort_run_all(path, np.load(m["flat"]))[0], np.load(m["labels"]))


def test_unstructured_50_with_masks(shared, cache, tmp_path):
    out, masks = tmp_path / "p.onnx", tmp_path / "masks.npz"
    h.qtool("prune", shared / MLP, "--sparsity", "0.5", "-o", out, "--save-masks", masks)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    acc = mlp_top1(out, cache)
    print(f"mnist-net_256x2 50% unstructured: onnxruntime top-1 {100 * acc:.2f}%")
    assert acc >= 0.9780
    w, mk = weights(out), np.load(masks)
    assert sorted(mk.files) == ["layers.0.weight", "layers.2.weight", "layers.4.weight"]
    for name in mk.files:
        assert mk[name].dtype == np.uint8 and mk[name].shape == w[name].shape
        assert abs(1 - mk[name].mean() - 0.5) < 1e-3
        assert np.all(w[name][mk[name] == 0] == 0)


def test_nm_2_4_pattern_on_every_tensor(shared, cache, tmp_path):
    out = tmp_path / "p24.onnx"
    h.qtool("prune", shared / MLP, "--pattern", "2:4", "-o", out)
    w = weights(out)
    for name in ["layers.0.weight", "layers.2.weight", "layers.4.weight"]:  # Gemm transB=1: [N, K]
        groups = w[name].reshape(w[name].shape[0], -1, 4)
        assert np.all((groups != 0).sum(-1) <= 2), name
    print(f"mnist-net_256x2 2:4: onnxruntime top-1 {100 * mlp_top1(out, cache):.2f}%")


def test_global_scope_uses_sparse_initializers(shared, cache, tmp_path):
    out = tmp_path / "g80.onnx"
    r = h.qtool("prune", shared / MLP, "--sparsity", "0.8", "--scope", "global", "-o", out)
    assert "sparse_initializer" in r.stdout
    m = onnx.load(str(out))
    assert len(m.graph.sparse_initializer) >= 1
    assert out.stat().st_size < 0.7 * (shared / MLP).stat().st_size
    w = weights(out)
    total = sum(w[n].size for n in ["layers.0.weight", "layers.2.weight", "layers.4.weight"])
    zeros = sum((w[n] == 0).sum() for n in ["layers.0.weight", "layers.2.weight", "layers.4.weight"])
    assert abs(zeros / total - 0.8) < 1e-3
    acc = mlp_top1(out, cache)
    ours = h.qtool_eval_json(out, sd.mnist(cache)["flat"], "--labels", sd.mnist(cache)["labels"])["top1"]
    print(f"mnist-net_256x2 80% global: onnxruntime {100 * acc:.2f}%, qtool {100 * ours:.2f}%")
    assert abs(acc - ours) <= 0.002  # qtool reads its own sparse file


def test_channel_pruning_resnet(shared, cache, tmp_path):
    model, out = shared / RESNET, tmp_path / "rc.onnx"
    r = h.qtool("prune", model, "--pattern", "channel", "--sparsity", "0.25", "-o", out)
    assert "skipped:         Conv_4: output channels reach Add" in r.stdout
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    x = h.cifar_jpg_array(sd.RESNET_STD)
    y = np.load(sd.cifar_jpg_labels(cache))
    acc = h.top1(h.ort_run_all(out, x)[0], y)
    p0, p1 = dense_params(model), dense_params(out)
    s0, s1 = model.stat().st_size, out.stat().st_size
    print(f"resnet_4b channel 25%: params {p0} -> {p1} ({100 * (1 - p1 / p0):.1f}% fewer), "
          f"file {s0} -> {s1} ({100 * (1 - s1 / s0):.1f}% smaller), onnxruntime top-1 {100 * acc:.2f}% (no fine-tuning)")
    assert p1 <= 0.8 * p0 and s1 <= 0.8 * s0


def test_channel_pruning_ultraface(shared, cache, tmp_path):
    model, out = shared / "ultraface/version-RFB-320.onnx", tmp_path / "ufc.onnx"
    h.qtool("prune", model, "--pattern", "channel", "--sparsity", "0.2", "-o", out)
    x = h.ultraface_array(cache)
    ref, got = h.ort_run_all(model, x), h.ort_run_all(out, x)
    assert [a.shape for a in got] == [a.shape for a in ref]
    print(f"ultraface channel 20%: params {dense_params(model)} -> {dense_params(out)}, "
          f"SQNR scores {h.sqnr_db(ref[0], got[0]):.1f} dB")
    assert dense_params(out) < 0.9 * dense_params(model)


def test_prune_then_int8_zip_and_exact_zeros(shared, cache, tmp_path):
    m = sd.mnist(cache)
    model, out, masks = shared / MLP, tmp_path / "q.onnx", tmp_path / "masks.npz"
    r = h.qtool("quantize", model, "--bits", "8", "--sparsity", "0.5", "--calib", m["calib_flat"], "-o", out,
                "--save-masks", masks)
    assert "pruning:" in r.stdout
    z0, z1 = len(zlib.compress(model.read_bytes())), len(zlib.compress(out.read_bytes()))
    acc = mlp_top1(out, cache)
    print(f"mnist-net_256x2 50% + int8: zip {z1} / {z0} = {100 * z1 / z0:.1f}% of fp32's, onnxruntime top-1 {100 * acc:.2f}%")
    assert z1 <= 0.18 * z0
    w, mk = weights(out), np.load(masks)
    for name in mk.files:
        q = w[name + "_quantized"]
        assert np.all(q[mk[name] == 0] == 0)  # symmetric int8: zero point 0


def test_nm_survives_int4_packing(shared, cache, tmp_path):
    m = sd.mnist(cache)
    out, masks = tmp_path / "q4.onnx", tmp_path / "masks.npz"
    h.qtool("quantize", shared / MLP, "--bits", "4", "--pattern", "2:4", "--calib", m["calib_flat"], "-o", out,
            "--save-masks", masks)
    w, mk = weights(out), np.load(masks)
    for name in mk.files:
        q = w[name + "_quantized"].astype(np.int32)  # uint4 codes, one zero point per output channel
        zp = w[name + "_zero_point"].astype(np.int32)[:, None]
        pruned = mk[name] == 0
        assert np.all((q == zp)[pruned])  # decodes to exactly 0
        assert np.all((mk[name].reshape(mk[name].shape[0], -1, 4) == 0).sum(-1) >= 2)
    print(f"mnist-net_256x2 2:4 + int4 GPTQ: onnxruntime top-1 {100 * mlp_top1(out, cache):.2f}%")


def test_allocate_beats_uniform_at_70_percent(shared, cache, tmp_path):
    model = shared / RESNET
    calib = sd.cifar_csv(cache, sd.RESNET_STD)  # sensitivity on the 100 CSV images, evaluation on the JPEGs
    alloc, uniform, amap = tmp_path / "alloc.onnx", tmp_path / "uniform.onnx", tmp_path / "map.json"
    r = h.qtool("prune", model, "--allocate", "--sparsity", "0.7", "--data", calib, "-o", alloc, "--write-map", amap)
    assert "sensitivity" in r.stdout and amap.exists()
    h.qtool("prune", model, "--sparsity", "0.7", "-o", uniform)
    names = [n.input[1] for n in onnx.load(str(model)).graph.node if n.op_type in ("Conv", "Gemm")]
    for path in (alloc, uniform):
        w = weights(path)
        zeros = sum(int((w[n] == 0).sum()) for n in names)
        assert abs(zeros / sum(w[n].size for n in names) - 0.7) < 0.01
    x, y = h.cifar_jpg_array(sd.RESNET_STD), np.load(sd.cifar_jpg_labels(cache))
    a, u = h.top1(h.ort_run_all(alloc, x)[0], y), h.top1(h.ort_run_all(uniform, x)[0], y)
    print(f"resnet_4b 70% unstructured: --allocate {100 * a:.2f}% vs uniform {100 * u:.2f}% (onnxruntime)")
    assert a > u
    # the written map replays exactly
    replay = tmp_path / "replay.onnx"
    h.qtool("prune", model, "--sparsity-map", amap, "-o", replay)
    assert weights(replay).keys() == weights(alloc).keys()
    for k, v in weights(alloc).items():
        assert np.array_equal(v, weights(replay)[k]), k


def test_sensitivity_with_labels_ranks_layers(shared, cache, tmp_path):
    m = sd.mnist(cache)
    # labels for the whole test set, data the first 500 of it (--limit selects the labels too)
    r = h.qtool("prune", shared / MLP, "--sensitivity", "--data", m["flat"], "--limit", "500", "--labels", m["labels"],
                "--levels", "0.5,0.9")
    lines = [l for l in r.stdout.splitlines() if l.startswith("  ") and "%" in l and "node" not in l]
    assert len(lines) == 3 and "top-1" in r.stdout
