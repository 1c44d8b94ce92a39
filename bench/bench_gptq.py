# SPDX-License-Identifier: Apache-2.0
"""`qtool quantize --bits 4` (GPTQ, sequential waves) against `--bits 8` on the same model and data,
one run (issue 12, goal 4: int4 within 5x the time and 1.5x the peak RSS of int8 on UltraFace;
ResNet-50 within 10 minutes on 2 cores).

Each run is its own process under GNU time (wall seconds, CPU seconds, peak RSS in MiB), with the
same thread count (OMP_NUM_THREADS = --threads). With --eval N, both files run in onnxruntime on
inputs and their output SQNR against the fp32 model is printed (for UltraFace its 8 photos uncropped,
which the calibration set's crops also come from; for the CIFAR models held-out JPEGs). `-v` runs print qtool's own split of the int4 time (Hessians, GPTQ, activation cache).

Models and data come from bench/make_models.py (see bench/bench_quantize.py): ultraface, resnet50,
resnet_4b, vit, densenet121.

usage: python bench/bench_gptq.py [--cache /tmp/qtool_bench] [--samples 64] [--models ultraface] [--eval 8]
This is a benchmark, not a test: it prints numbers and asserts nothing.
"""
import argparse
import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

import bench_quantize as bq

h, sd = bq.h, bq.sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qtool_bench")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--models", default="ultraface")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval", type=int, default=8, help="held-out samples for the SQNR check (0 = skip)")
    args = ap.parse_args()
    if not sd.available():
        raise SystemExit("../shared/data is absent (set QTOOL_SHARED); the benchmark needs the real models")
    args.cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    work = Path(tempfile.mkdtemp(prefix="qtool_bg_"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # files written here go with the run
    names = args.models.split(",")
    models, evals = bq.prepare(args.cache, args.samples, args.eval, names)
    print(f"=== qtool quantize --bits 4 (GPTQ) vs --bits 8: {args.samples} calibration samples, "
          f"{args.threads} threads ===", flush=True)
    for name in names:
        model, calib = models[name]
        runs = {}
        for bits in (8, 4):
            out = work / f"{name}.w{bits}.onnx"
            runs[bits] = (out, bq.measure([h.QTOOL, "-v", "quantize", model, "--bits", bits, "--calib", calib, "-o", out],
                                          env))
        (o8, r8), (o4, r4) = runs[8], runs[4]
        line = (f"{name:10s} | --bits 8 {r8['wall']:7.2f} s {r8['cpu']:7.1f} cpu-s {r8['rss']:6.0f} MiB | "
                f"--bits 4 {r4['wall']:7.2f} s {r4['cpu']:7.1f} cpu-s {r4['rss']:6.0f} MiB | "
                f"time {r4['wall'] / r8['wall']:5.2f}x (goal <= 5), RSS {r4['rss'] / r8['rss']:4.2f}x (goal <= 1.5)")
        if name in evals:
            ref = h.ort_run_all(model, evals[name])
            line += (f" | SQNR in onnxruntime: int8 {bq.sqnr_all(ref, h.ort_run_all(o8, evals[name])):5.1f} dB, "
                     f"int4 {bq.sqnr_all(ref, h.ort_run_all(o4, evals[name])):5.1f} dB")
        print(line, flush=True)
        split = re.search(r"GPTQ: (\d+) waves, (\d+) on cached activations \(at most (\d+) MiB\); "
                          r"([\d.]+) s Hessians, ([\d.]+) s GPTQ, ([\d.]+) s caching", r4["stderr"] + r4["stdout"])
        if split:
            w, c, mib, th, tg, tc = split.groups()
            print(f"{'':10s} | int4: {w} waves, {c} on cached activations (<= {mib} MiB); "
                  f"Hessians {th} s, GPTQ {tg} s, caching {tc} s", flush=True)
        for f in (o8, o4):
            f.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
