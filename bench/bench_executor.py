# SPDX-License-Identifier: Apache-2.0
"""Executor throughput, qtool vs onnxruntime, fp32 and int8 (QDQ written by `qtool quantize`), one run.

Models: the Model Zoo ResNet-50, DenseNet-121 and Inception-v2 from the onnx wheel
(onnx/backend/test/data/light/, weights are constants: speed only), resnet_4b, UltraFace RFB-320 and
the ViT pgd_2_3_16 from ../shared/data, MobileNetV3-small and EfficientNet-B0 exported by PyTorch
(build/torch-models, written by the coverage tests' tests/models/export_torch.py; skipped when absent). Batch 1 and 16
(the models declare batch 1: both runtimes run a copy with a symbolic batch extent, where a constant Reshape target
[1, K] becomes [-1, K], as before the Model Zoo ResNet-50's and Inception-v2's classifiers; a model whose graph
fixes the batch otherwise reports n/a).
Same thread count for both (OMP_NUM_THREADS for qtool's oneDNN, intra_op_num_threads for
onnxruntime). qtool is timed by build/bench_executor (in-process Executor::run, after one warm-up
run); onnxruntime by InferenceSession.run after one warm-up run. Each cell: images/s, the median
of --rounds alternating runs of each; ratios > 1 mean qtool is faster.

--memory adds each runtime's peak RSS per cell (MiB; one more short run of each in a process of its own:
build/bench_executor for qtool, a Python process holding one InferenceSession for onnxruntime, so the
latter includes the interpreter and numpy, about 60 MiB) and their ratio.

usage: python bench/bench_executor.py [--threads 2] [--seconds 2] [--rounds 3] [--models resnet50,...] [--batches 1,16]
                                      [--memory]
needs: ninja -C build qtool bench_executor
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
import onnx
from onnx import numpy_helper
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
TORCH = Path(os.environ.get("QTOOL_TORCH_MODELS", ROOT / "build/torch-models"))  # tests/models/export_torch.py
MODELS = {
    "resnet50": LIGHT / "light_resnet50.onnx",
    "densenet121": LIGHT / "light_densenet121.onnx",
    "inception_v2": LIGHT / "light_inception_v2.onnx",
    "resnet_4b": SHARED / "cifar10-resnet-vnncomp/resnet_4b.onnx",
    "ultraface": SHARED / "ultraface/version-RFB-320.onnx",
    "vit": SHARED / "cifar10-vit-vnncomp/pgd_2_3_16.onnx",
    "mobilenet_v3": TORCH / "mobilenet_v3_small-opset17.onnx",
    "efficientnet": TORCH / "efficientnet_b0-opset17.onnx",
}


def input_shape(path):
    m = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    i = [i for i in m.graph.input if i.name not in inits][0]
    return i.name, [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]


def symbolic_batch(path, out):
    """A copy whose inputs and outputs have a symbolic first extent (and no stale value_info). A constant
    Reshape target that spells the batch out as 1 ([1, 2048] before the Model Zoo ResNet-50's and
    Inception-v2's classifier) becomes -1 there, the same shape at batch 1, so larger batches run."""
    m = onnx.load(str(path))
    inits = {t.name: t for t in m.graph.initializer}
    for v in list(m.graph.input) + list(m.graph.output):
        if v.name in inits or not v.type.tensor_type.shape.dim:
            continue
        v.type.tensor_type.shape.dim[0].dim_param = "N"
    for n in m.graph.node:
        if n.op_type == "Reshape" and len(n.input) > 1 and n.input[1] in inits:
            target = numpy_helper.to_array(inits[n.input[1]])
            if target.ndim == 1 and len(target) >= 2 and target[0] == 1 and -1 not in target:
                fixed = target.copy()
                fixed[0] = -1
                inits[n.input[1]].CopyFrom(numpy_helper.from_array(fixed, n.input[1]))
    del m.graph.value_info[:]
    onnx.save(m, str(out))
    return out


def qtool_ips(bench, model, batch, seconds, env):
    r = subprocess.run([str(bench), str(model), str(batch), str(seconds)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
    return json.loads(r.stdout.strip().splitlines()[-1])["images_per_s"], None


def ort_ips(model, batch, seconds, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 4  # fatal only: a refused batch size is reported in the table
    try:
        s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        name, shape = input_shape(model)
        x = np.random.RandomState(0).rand(batch, *shape[1:]).astype(np.float32)
        s.run(None, {name: x})
        runs, t0 = 0, time.perf_counter()
        while True:
            s.run(None, {name: x})
            runs += 1
            el = time.perf_counter() - t0
            if el >= seconds:
                break
        return batch * runs / el, None
    except Exception as e:  # noqa: BLE001 - reported in the table
        return None, str(e).splitlines()[0][:80]


ORT_RSS = r"""
import sys, numpy as np, onnxruntime as ort
model, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
so = ort.SessionOptions()
so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 4
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
x = np.random.RandomState(0).rand(batch, *[d if isinstance(d, int) else 1 for d in i.shape[1:]]).astype(np.float32)
for _ in range(3):
    s.run(None, {i.name: x})
"""

# Run through this wrapper, a small fresh process: Linux keeps a process's RSS high-water mark across
# exec, so a child forked straight from this script would report this script's RSS as its own.
CHILD_RSS = r"""
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)
"""


def peak_rss_mib(bench, model, batch, threads, env):
    """(qtool, onnxruntime) peak RSS in MiB of a short run at this batch, each in a fresh process; None on failure."""
    q = subprocess.run([sys.executable, "-c", CHILD_RSS, str(bench), str(model), str(batch), "0.5"], env=env,
                       capture_output=True, text=True)
    o = subprocess.run([sys.executable, "-c", CHILD_RSS, sys.executable, "-c", ORT_RSS, str(model), str(batch), str(threads)],
                       capture_output=True, text=True)
    val = lambda r: int(r.stdout.split()[-1]) / 1024 if r.returncode == 0 and r.stdout.split() and int(r.stdout.split()[-1]) > 0 else None  # noqa: E731
    return val(q), val(o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating qtool / onnxruntime runs per cell (median)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--memory", action="store_true", help="also each runtime's peak RSS per cell")
    a = ap.parse_args()
    qtool, bench = Path(a.build) / "qtool", Path(a.build) / "bench_executor"
    for b in (qtool, bench):
        if not b.exists():
            raise SystemExit(f"{b} not found: ninja -C {a.build} qtool bench_executor")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    batches = [int(b) for b in a.batches.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench_executor_"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # files written here go with the run
    print(f"threads {a.threads}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}, "
          f"median of {a.rounds} alternating runs of ~{a.seconds}s per cell, load average {os.getloadavg()[0]:.1f}, "
          f"onnxruntime {ort.__version__}")
    print(f"{'model':13s} {'prec':4s} {'batch':>5s} {'qtool img/s':>11s} {'ort img/s':>10s} {'qtool/ort':>9s} "
          f"{'int8/fp32 qtool':>15s} {'int8/fp32 ort':>13s}" + ("  qtool MiB   ort MiB  RSS qtool/ort" if a.memory else ""))
    for key in a.models.split(","):
        src = MODELS[key]
        if not src.exists():
            print(f"{key:13s} skipped: {src} absent")
            continue
        name, shape = input_shape(src)
        calib = tmp / f"{key}_calib.npy"
        np.save(calib, np.random.RandomState(0).rand(4, *shape[1:]).astype(np.float32))
        q8 = tmp / f"{key}.int8.onnx"
        r = subprocess.run([str(qtool), "-q", "quantize", str(src), "--calib", str(calib), "--method", "minmax", "-o",
                            str(q8)], env=env, capture_output=True, text=True)
        files = {"fp32": src}
        if r.returncode == 0:
            files["int8"] = q8
        else:
            print(f"{key:13s} int8 skipped: quantize failed: {r.stderr.strip()[-200:]}")
        fp32 = {}
        for prec, path in files.items():
            path = symbolic_batch(path, tmp / f"{key}.{prec}.any_batch.onnx")  # both runtimes run this copy
            for b in batches:
                # alternate the two a few times and keep each one's median: this machine's speed
                # drifts by up to 2x over minutes, which one run each would put into the ratio
                qs, os_, qerr, oerr = [], [], None, None
                for _ in range(a.rounds):
                    qi, qerr = qtool_ips(bench, path, b, a.seconds, env)
                    oi, oerr = ort_ips(path, b, a.seconds, a.threads)
                    qs += [qi] if qi else []
                    os_ += [oi] if oi else []
                    if qerr and oerr:
                        break
                qi = float(np.median(qs)) if qs else None
                oi = float(np.median(os_)) if os_ else None
                fmt = lambda v: f"{v:.2f}" if v else "n/a"  # noqa: E731
                ratio = f"{qi / oi:.2f}x" if qi and oi else "n/a"
                extra = ""
                if prec == "fp32":
                    fp32[b] = (qi, oi)
                else:
                    fq, fo = fp32.get(b, (None, None))
                    extra = (f"{qi / fq:14.2f}x" if qi and fq else f"{'n/a':>15s}") + \
                            (f"{oi / fo:12.2f}x" if oi and fo else f"{'n/a':>13s}")
                mem = ""
                if a.memory:
                    qm, om = peak_rss_mib(bench, path, b, a.threads, env)
                    extra = f"{extra:28s}"
                    mem = f" {fmt(qm):>10s} {fmt(om):>9s} " + (f"{qm / om:13.2f}x" if qm and om else f"{'n/a':>14s}")
                print(f"{key:13s} {prec:4s} {b:5d} {fmt(qi):>11s} {fmt(oi):>10s} {ratio:>9s} {extra}{mem}", flush=True)
                for err, who in ((qerr, "qtool"), (oerr, "ort")):
                    if err:
                        print(f"    {who}: {err}")


if __name__ == "__main__":
    sys.exit(main())
