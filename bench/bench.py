# SPDX-License-Identifier: Apache-2.0
"""qtool vs onnxruntime on resnet_4b and UltraFace RFB-320 (../shared/data), one run, 2 threads.

(a) fp32 inference throughput: qtool's executor vs onnxruntime CPU
(b) quantization end to end (entropy calibration, per-channel, QDQ): `qtool quantize` vs
    onnxruntime.quantization.quantize_static, wall time and peak RSS, each in its own process
(c) onnxruntime latency of the int8 files vs fp32, and accuracy of ours vs onnxruntime's quantizer

usage: .venv/bin/python bench/bench.py [--calib-samples 1000]
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import harness as h  # noqa: E402
import shared_data as sd  # noqa: E402

THREADS = 2
ENV = dict(os.environ, OMP_NUM_THREADS=str(THREADS))

ORT_QUANT = r"""
import sys, numpy as np, onnx
from onnx import version_converter
from onnxruntime.quantization import quantize_static, CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
src, calib, out, tmp = sys.argv[1:5]
m = onnx.load(src)
for i in [i for i in m.graph.input if i.name in {t.name for t in m.graph.initializer}]:
    m.graph.input.remove(i)
m = version_converter.convert_version(m, 13)
onnx.save(m, tmp)
x = np.load(calib, mmap_mode="r")
name = [i.name for i in m.graph.input][0]
class Reader(CalibrationDataReader):
    def __init__(self): self.i = 0
    def get_next(self):
        if self.i >= len(x): return None
        self.i += 1
        return {name: np.ascontiguousarray(x[self.i - 1:self.i])}
quantize_static(tmp, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.Entropy)
"""


def peak_rss_of(cmd):
    """Runs cmd under a fresh Python wrapper; returns (wall seconds, peak RSS MiB of cmd)."""
    code = ("import resource, subprocess, sys, time, json; t=time.perf_counter(); "
            "r=subprocess.run(sys.argv[1:]); "
            "print(json.dumps([r.returncode, time.perf_counter()-t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0]))")
    p = subprocess.run([sys.executable, "-c", code, *map(str, cmd)], env=ENV, capture_output=True, text=True)
    rc, secs, rss = json.loads(p.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr}")
    return secs, rss


def ort_throughput(model, x, reps=3):
    s = h.session(model, THREADS)
    name = s.get_inputs()[0].name
    s.run(None, {name: x[:1]})
    best = 1e9
    for _ in range(reps):
        t0 = time.perf_counter()
        for i in range(len(x)):
            s.run(None, {name: x[i:i + 1]})
        best = min(best, time.perf_counter() - t0)
    return len(x) / best


def qtool_throughput(model, data, reps=3):
    best = 1e9
    for _ in range(reps):
        r = subprocess.run([str(h.QTOOL), "-q", "eval", model, "--data", data, "--json"], env=ENV,
                           capture_output=True, text=True, check=True)
        best = min(best, json.loads(r.stdout)["seconds"])
    return len(np.load(data, mmap_mode="r")) / best


def ort_latency_ms(model, x, reps=200):
    s = h.session(model, THREADS)
    name = s.get_inputs()[0].name
    for _ in range(10):
        s.run(None, {name: x[:1]})
    t = []
    for i in range(reps):
        t0 = time.perf_counter()
        s.run(None, {name: x[i % len(x): i % len(x) + 1]})
        t.append(time.perf_counter() - t0)
    return 1000 * float(np.median(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calib-samples", type=int, default=1000)
    args = ap.parse_args()
    if not sd.available():
        raise SystemExit("../shared/data is absent; the benchmark needs the real models")
    work = Path(tempfile.mkdtemp(prefix="qtool_bench_"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # files written here go with the run
    cache = work / "cache"
    rows = []

    # resnet_4b: calibrate on the first N CIFAR JPEGs (decoded once, as .npy), evaluate on all 1,500
    resnet = sd.SHARED / "cifar10-resnet-vnncomp/resnet_4b.onnx"
    xr = h.cifar_jpg_array(sd.RESNET_STD)
    yr = np.load(sd.cifar_jpg_labels(cache))
    np.save(work / "cifar_eval.npy", xr)
    n = min(args.calib_samples, len(xr))
    np.save(work / "cifar_calib.npy", xr[:n])
    # UltraFace: only 8 photos exist; calibration repeats them to reach the sample count (capped at 64)
    uf = sd.SHARED / "ultraface/version-RFB-320.onnx"
    xu = h.ultraface_array(cache)
    np.save(work / "uf_eval.npy", xu)
    # throughput on 8 images would mostly time start-up: repeat them to 64 for (a), on both sides
    np.save(work / "uf_tput.npy", np.concatenate([xu] * 8))
    nu = min(args.calib_samples, 64)
    np.save(work / "uf_calib.npy", np.concatenate([xu] * (nu // len(xu))))

    for name, model, evald, tput, calib, ncal in [
            ("resnet_4b", resnet, work / "cifar_eval.npy", work / "cifar_eval.npy", work / "cifar_calib.npy", n),
            ("RFB-320", uf, work / "uf_eval.npy", work / "uf_tput.npy", work / "uf_calib.npy", nu)]:
        x = np.load(evald)
        print(f"\n=== {name} ({len(x)} eval samples, {ncal} calibration samples, {THREADS} threads) ===", flush=True)
        q_tp, o_tp = qtool_throughput(model, tput), ort_throughput(model, np.load(tput))
        print(f"(a) fp32 throughput: qtool {q_tp:8.1f} img/s | onnxruntime {o_tp:8.1f} img/s | ratio {q_tp / o_tp:.2f}x")
        ours, theirs = work / f"{name}.qtool.int8.onnx", work / f"{name}.ort.int8.onnx"
        q_s, q_rss = peak_rss_of([h.QTOOL, "-q", "quantize", model, "--calib", calib, "--method", "entropy", "-o", ours])
        o_s, o_rss = peak_rss_of([sys.executable, "-c", ORT_QUANT, model, calib, theirs, work / f"{name}.opset13.onnx"])
        print(f"(b) quantize (entropy): qtool {q_s:6.2f} s, {q_rss:7.1f} MiB | quantize_static {o_s:6.2f} s, "
              f"{o_rss:7.1f} MiB | speed {o_s / q_s:.1f}x, memory {q_rss / o_rss:.2f}x")
        # default method too (what `qtool quantize` uses without --method)
        ours_mse = work / f"{name}.qtool.mse.int8.onnx"
        h.qtool("-q", "quantize", model, "--calib", calib, "-o", ours_mse)
        lat = {k: ort_latency_ms(p, x) for k, p in [("fp32", model), ("qtool", ours), ("ort", theirs)]}
        print(f"(c) onnxruntime latency: fp32 {lat['fp32']:.3f} ms | qtool int8 {lat['qtool']:.3f} ms "
              f"({lat['fp32'] / lat['qtool']:.2f}x) | quantize_static int8 {lat['ort']:.3f} ms")
        ref = h.ort_run_all(model, x)
        for label, path in [("qtool entropy", ours), ("qtool mse (default)", ours_mse), ("quantize_static entropy", theirs)]:
            out = h.ort_run_all(path, x)
            size = path.stat().st_size / model.stat().st_size
            if name == "resnet_4b":
                print(f"    {label:26s} top-1 {100 * h.top1(out[0], yr):6.2f}% (fp32 {100 * h.top1(ref[0], yr):.2f}%), "
                      f"size {100 * size:.1f}% of fp32")
            else:
                print(f"    {label:26s} SQNR scores {h.sqnr_db(ref[0], out[0]):5.1f} dB, boxes "
                      f"{h.sqnr_db(ref[1], out[1]):5.1f} dB, size {100 * size:.1f}% of fp32")


if __name__ == "__main__":
    main()
