# SPDX-License-Identifier: Apache-2.0
"""Issue 11: qtool's int8 files in the runtimes people deploy with, side by side with onnxruntime's quantizer.

For each shared model (../shared/data) in one run:
  kernels   Conv/MatMul/Gemm layers that are integer kernels in onnxruntime's optimized graph
            (tests/python/runtimes.py: integer_kernels), qtool's file vs quantize_static's
  accuracy  top-1 (or SQNR vs fp32 and face counts for UltraFace) in onnxruntime, and of qtool's file in OpenVINO
  size      int8 file / fp32 file
  latency   batch 1, 2 threads, median of --runs runs (ms): onnxruntime fp32, qtool int8, quantize_static int8;
            OpenVINO fp32 (INFERENCE_PRECISION_HINT f32), fp32 at the plugin's default precision, qtool int8 (the
            default --target onnxruntime file and the --target openvino file), quantize_static int8
The peer is onnxruntime.quantization.quantize_static (QDQ, MinMax, per channel, u8 activations, s8 weights,
opset 13) on the same calibration array; qtool runs with its defaults (mse, --target onnxruntime).

With --zoo it adds real-size Conv-heavy architectures without trained weights (kernels, SQNR of int8 vs fp32
and latency only): onnx's Model Zoo ResNet-50 and DenseNet-121 (onnx/backend/test/data/light) with the seeded
weights of bench/make_models.py (the wheel's files hold ConstantOfShape(0.02) weights, on which int8 is exact
and quantize_static fails), calibrated on 16 CIFAR-10 JPEGs resized to 224 and scored on the next 16; and the
PyTorch exports of tests/models/export_torch.py found in --torch-models (MobileNetV3, EfficientNet-B0,
DeepLabV3, SSDlite) on their exported samples. Seeded models and resized images go to --cache.

usage: <venv>/bin/python bench/bench_runtime.py [--runs 50] [--models mnist-12,resnet_4b,...] [--zoo]
  (needs onnxruntime; OpenVINO columns when the openvino package is installed)
"""
import argparse
import atexit
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import harness as h  # noqa: E402
import make_models as mm  # noqa: E402
import runtimes as rt  # noqa: E402
import shared_data as sd  # noqa: E402

logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice lines

# name, model, heavy (Conv-heavy model of real size: int8 must be >= 1.5x faster than fp32)
MODELS = [
    ("mnist-12", "mnist/mnist-12.onnx", False),
    ("mnist-net_256x2", "mnist-mlp-vnncomp/mnist-net_256x2.onnx", False),
    ("resnet_4b", "cifar10-resnet-vnncomp/resnet_4b.onnx", False),
    ("pgd_2_3_16", "cifar10-vit-vnncomp/pgd_2_3_16.onnx", False),
    ("ultraface", "ultraface/version-RFB-320.onnx", True),
]
ZOO = [("resnet50", True), ("densenet121", True)]  # Model Zoo "light" architectures, seeded weights
TORCH = [("mobilenet_v3_small", True), ("efficientnet_b0", True), ("deeplabv3_mobilenet_v3_large", False),
         ("ssdlite320_mobilenet_v3_large", False)]


def zoo_models(torch_dir, cache, wanted):
    """(name, model path, heavy) of the --zoo models present here (seeded Model Zoo files written on demand)."""
    out = [(n, mm.materialize_light(n, cache / f"{n}.onnx"), heavy) for n, heavy in ZOO
           if n in wanted and (mm.LIGHT / f"light_{n}.onnx").exists()]
    out += [(n, torch_dir / f"{n}-opset17.onnx", heavy) for n, heavy in TORCH
            if (torch_dir / f"{n}-opset17.onnx").exists()]
    return out


def zoo_data(name, model, work, cache):
    """Model Zoo: 16 + 16 CIFAR images at 224; PyTorch exports: their exported samples (calibration and eval).
    Returns (qtool args, peer calibration .npy, eval x, None)."""
    calib = work / f"{model.stem}.calib.npy"
    if name in dict(ZOO):
        x = np.load(mm.cifar224(cache, 32))
        np.save(calib, x[:16])
        return ["--calib", calib], calib, x[16:], None
    with np.load(model.with_suffix(".npz")) as z:
        x = z[z.files[0]].astype(np.float32)
    np.save(calib, x)
    return ["--calib", calib], calib, x, None


def data(name, cache, work):
    """(qtool calibration args, calibration .npy for the peer, eval x, labels or None)."""
    if name.startswith("mnist"):
        m = sd.mnist(cache)
        k = "flat" if "256x2" in name else "nchw"
        return ["--calib", m[f"calib_{k}"]], m[f"calib_{k}"], np.load(m[k]), np.load(m["labels"])
    if name == "ultraface":
        x = h.ultraface_array(cache)
        np.save(work / "uf_calib.npy", x)
        return ["--calib", sd.SHARED / "ultraface/imgs", *sd.ULTRAFACE_ARGS], work / "uf_calib.npy", x, None
    std = sd.VIT_STD if name == "pgd_2_3_16" else sd.RESNET_STD
    calib = sd.cifar_csv(cache, std)
    return ["--calib", calib], calib, h.cifar_jpg_array(std), np.load(sd.cifar_jpg_labels(cache))


def score(outs, ref, labels):
    if labels is not None:
        return f"{100 * h.top1(outs[0], labels):6.2f}%"
    if len(ref) != 2 or ref[0].ndim != 3:  # not UltraFace: SQNR of every output vs fp32
        return "/".join(f"{h.sqnr_db(r, o):.1f}" for r, o in zip(ref, outs) if r.dtype.kind == "f") + " dB"
    faces = sum(h.count_faces(outs[0][i], outs[1][i]) == h.count_faces(ref[0][i], ref[1][i]) for i in range(len(ref[0])))
    return f"{h.sqnr_db(ref[0], outs[0]):.1f}/{h.sqnr_db(ref[1], outs[1]):.1f} dB, faces {faces}/{len(ref[0])}"


def kernels(path, layers):
    ints, floats = rt.integer_kernels(path)
    return f"{sum(ints.values())}/{layers} " + ",".join(f"{k}:{v}" for k, v in sorted(ints.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--models", default=",".join(m[0] for m in MODELS),
                    help="comma-separated names of shared or zoo models (--zoo adds every zoo model)")
    ap.add_argument("--zoo", action="store_true", help="also the real-size architectures without trained weights")
    ap.add_argument("--torch-models", type=Path, default=Path(__file__).resolve().parents[1] / "build/torch-models")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qtool_bench",
                    help="seeded Model Zoo files and resized images (bench/make_models.py's cache)")
    args = ap.parse_args()
    if not sd.available():
        raise SystemExit("../shared/data is absent (set QTOOL_SHARED); the benchmark needs the real models")
    import onnxruntime as ort
    ort.set_default_logger_severity(3)
    ov = rt.ov_available()
    work = Path(tempfile.mkdtemp(prefix="qtool_bench_rt_"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # files written here go with the run
    cache = work / "cache"
    wanted = args.models.split(",")
    print(f"onnxruntime {ort.__version__}; OpenVINO "
          f"{__import__('openvino').__version__ + ' (default precision ' + rt.ov_default_precision() + ')' if ov else 'absent'}"
          f"; batch 1, {rt.THREADS} threads, median of {args.runs} runs (10x for sub-millisecond models), files "
          "timed interleaved")
    summary = []
    if args.zoo:
        wanted += [n for n, _ in ZOO + TORCH]
    args.cache.mkdir(parents=True, exist_ok=True)
    zoo = zoo_models(args.torch_models, args.cache, wanted)
    todo = [t for t in [(n, sd.SHARED / rel, heavy) for n, rel, heavy in MODELS] + zoo if t[0] in wanted]
    for name, model, heavy in todo:
        qargs, calib, x, labels = (data(name, cache, work) if model.is_relative_to(sd.SHARED)
                                   else zoo_data(name, model, work, args.cache))
        ours, peer = work / f"{name}.qtool.int8.onnx", work / f"{name}.ort.int8.onnx"
        h.qtool("-q", "quantize", model, "-o", ours, *qargs)
        ours_ov = work / f"{name}.qtool.openvino.int8.onnx"  # --target openvino: timed in OpenVINO
        if ov:
            h.qtool("-q", "quantize", model, "-o", ours_ov, "--target", "openvino", *qargs)
        try:
            rt.quantize_static(model, calib, peer)
        except Exception as e:  # noqa: BLE001 - the peer failing on a model is a result, reported
            peer_error = f"{type(e).__name__}: {str(e).strip()[:160]}"
            peer = None
        layers = rt.layer_count(model)
        print(f"\n=== {name} ({len(x)} eval samples, {len(np.load(calib, mmap_mode='r'))} calibration samples, "
              f"{layers} Conv/MatMul/Gemm) ===", flush=True)
        if peer is None:
            print(f"quantize_static fails: {peer_error}")
        print(f"integer kernels (onnxruntime): qtool {kernels(ours, layers)} | quantize_static "
              f"{kernels(peer, layers) if peer else '-'}")
        ref = h.ort_run_all(model, x)
        acc = {k: score(h.ort_run_all(p, x), ref, labels) if p else "-"
               for k, p in [("fp32", model), ("qtool", ours), ("peer", peer)]}
        line = f"accuracy onnxruntime: fp32 {acc['fp32']} | qtool int8 {acc['qtool']} | quantize_static int8 {acc['peer']}"
        if ov:
            line += (f" | OpenVINO: qtool int8 {score(rt.ov_run_all(ours, x), ref, labels)}, qtool --target openvino "
                     f"{score(rt.ov_run_all(ours_ov, x), ref, labels)}")
        print(line)
        size = {k: p.stat().st_size / model.stat().st_size if p else float("nan")
                for k, p in [("qtool", ours), ("peer", peer)]}
        print(f"size: qtool {100 * size['qtool']:.1f}% | quantize_static {100 * size['peer']:.1f}% of fp32")
        # sub-millisecond models: 10x the runs, so one scheduler hiccup on a shared machine weighs less
        runs = args.runs * (10 if rt.ort_latency_ms(model, x, 5) < 1.0 else 1)
        lat = dict(zip(["fp32", "qtool", "peer"], rt.ort_latency_ms([p for p in (model, ours, peer) if p], x, runs)))
        lat.setdefault("peer", float("nan"))
        print(f"latency onnxruntime: fp32 {lat['fp32']:.3f} ms | qtool int8 {lat['qtool']:.3f} ms | quantize_static "
              f"int8 {lat['peer']:.3f} ms | qtool vs fp32 {lat['fp32'] / lat['qtool']:.2f}x, vs quantize_static "
              f"{lat['peer'] / lat['qtool']:.2f}x")
        row = [name, lat["fp32"] / lat["qtool"], lat["peer"] / lat["qtool"], heavy]
        if ov:
            f32, dflt, q8, q8d, pq, o8, o8d = rt.ov_latency_ms(
                [(model, "f32"), (model, None), (ours, "f32"), (ours, None), (peer or ours, "f32"), (ours_ov, "f32"),
                 (ours_ov, None)], x, runs)
            pq = pq if peer else float("nan")
            for k, e in rt.ov_latency_ms.errors.items():
                print(f"    OpenVINO cannot run {['fp32', 'fp32', 'qtool', 'qtool', 'quantize_static', 'qtool openvino', 'qtool openvino'][k]}'s file: {e}")
            print(f"latency OpenVINO: fp32 (f32) {f32:.3f} ms | fp32 (default) {dflt:.3f} ms | qtool int8 {q8:.3f} ms "
                  f"(default precision {q8d:.3f} ms) | qtool --target openvino int8 {o8:.3f} ms (default {o8d:.3f} ms) | "
                  f"quantize_static int8 {pq:.3f} ms | qtool --target openvino vs f32 {f32 / o8:.2f}x, vs default "
                  f"{dflt / o8d:.2f}x")
            row += [f32 / o8]
        summary.append(row)
    print("\n=== summary: latency ratios (higher is better for qtool) ===")
    print(f"{'model':30s} {'ORT fp32/qtool':>15s} {'ORT peer/qtool':>15s} {'OV f32/qtool-ov':>16s}  bar")
    for r in summary:
        bar = ">= 1.5x fp32 (ORT, OV) and >= 1.0x peer" if r[3] else ">= 1.0x peer"
        ok = not r[2] < 1.0 and (not r[3] or (r[1] >= 1.5 and (len(r) < 5 or r[4] >= 1.5)))
        ov_ratio = f"{r[4]:16.2f}" if len(r) > 4 else f"{'-':>16s}"
        print(f"{r[0]:30s} {r[1]:15.2f} {r[2]:15.2f} {ov_ratio}  {bar}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
