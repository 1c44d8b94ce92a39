# SPDX-License-Identifier: Apache-2.0
"""`qtool quantize --bits 8` against onnxruntime's quantize_static on the same model and data, one run.

Each quantizer runs in its own process, one after the other, with the same thread count
(OMP_NUM_THREADS / intra-op threads = --threads). Reported per model and observer: wall seconds,
CPU seconds (user + system) and peak RSS (ru_maxrss of the process, MiB) of each, and the ratios
speed = quantize_static wall / qtool wall and memory = qtool RSS / quantize_static RSS. With --eval,
both int8 files run in onnxruntime on held-out samples and their output SQNR against fp32 is printed.

Observers: qtool minmax / percentile (99.999) / entropy against quantize_static MinMax / Percentile
(99.999) / Entropy; qtool mse (its default) against MinMax (quantize_static's default).
quantize_static is fed its calibration data in chunks of 16 samples (bench/ort_quantize.py says why);
--ort-chunk 0 runs it unchunked. A process that exceeds --mem-cap-gib is stopped and reported as
"> cap" with the number of samples it had read.

Models and data come from bench/make_models.py (run first; it writes --cache):
  resnet50   Model Zoo ResNet-50 (onnx wheel), seeded weights; CIFAR-10 JPEGs resized to 224
  ultraface  UltraFace RFB-320 (../shared/data); random crops/flips of its 8 photos at 320x240
  vit        pgd_2_3_16 CIFAR ViT (../shared/data); CIFAR-10 JPEGs at 32x32
  resnet_4b  CIFAR ResNet (../shared/data); CIFAR-10 JPEGs at 32x32
--scaling prints the scaling table instead: qtool quantize (default observer) time and peak RSS
against model size (resnet_4b, UltraFace, ResNet-50, DenseNet-121, a 100M-parameter MatMul stack, a
2.5 GB external-data MatMul stack) at --samples, and against 100 / 1,000 / 10,000 samples.

usage: python bench/bench_quantize.py [--cache /tmp/qtool_bench] [--samples 1000] [--models resnet50,ultraface,vit]
                                      [--methods minmax,percentile,entropy,mse] [--eval 0] [--scaling]
This is a benchmark, not a test: it prints numbers and asserts nothing.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
sys.path.insert(0, str(HERE))
import harness as h  # noqa: E402
import make_models as mm  # noqa: E402
import shared_data as sd  # noqa: E402

ORT_METHOD = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy", "mse": "MinMax"}


def measure(cmd, env, cap_bytes=None, progress=None):
    """Runs cmd under GNU time (a fresh small process, so the peak RSS is cmd's own and not this
    Python's, which a forked child would inherit); returns dict(wall, cpu, rss MiB, rc, capped,
    samples, stdout, stderr). Above cap_bytes of RSS the process group is killed (capped=True)."""
    stats = Path(tempfile.mktemp(prefix="qtool_bq_time_"))
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-q", "-o", stats, "-f", "%e %U %S %M", *map(str, cmd)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    capped = threading.Event()

    def watch():
        while p.poll() is None:
            try:
                kids = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
                rss = 0
                for k in kids:
                    with open(f"/proc/{k}/status") as f:
                        rss += next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS"))
            except (OSError, StopIteration):
                rss = 0
            if cap_bytes and rss > cap_bytes:
                capped.set()
                os.killpg(p.pid, 9)
                return
            time.sleep(0.1)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    out, err = p.communicate()
    th.join()
    fields = stats.read_text().split() if stats.exists() else []
    stats.unlink(missing_ok=True)
    wall, user, sys_, rss_kb = (float(v) for v in fields[-4:]) if len(fields) >= 4 else (time.perf_counter() - t0, 0, 0, 0)
    samples = None
    if progress and Path(progress).exists():
        txt = Path(progress).read_text().split()
        samples = int(txt[0]) if txt else 0
    r = dict(wall=wall, cpu=user + sys_, rss=rss_kb / 1024.0, rc=p.returncode, capped=capped.is_set(), samples=samples,
             stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"))
    if r["rc"] != 0 and not r["capped"]:
        raise SystemExit(f"failed ({r['rc']}): {' '.join(map(str, cmd))}\n{r['stderr'][-3000:]}")
    return r


def prepare(cache: Path, n, n_eval, names):
    """name -> (model, calib .npy) and name -> eval array, built (and cached) only for `names`."""
    make = {
        "resnet50": lambda: (mm.materialize_light("resnet50", cache / "resnet50.onnx"), mm.cifar224(cache, n)),
        "ultraface": lambda: (sd.SHARED / "ultraface/version-RFB-320.onnx", mm.ultraface(cache, n)),
        "vit": lambda: (sd.SHARED / "cifar10-vit-vnncomp/pgd_2_3_16.onnx", mm.cifar32(cache, n, sd.VIT_STD, "vit")),
        "resnet_4b": lambda: (sd.SHARED / "cifar10-resnet-vnncomp/resnet_4b.onnx",
                              mm.cifar32(cache, n, sd.RESNET_STD, "resnet")),
        "densenet121": lambda: (mm.materialize_light("densenet121", cache / "densenet121.onnx"), mm.cifar224(cache, n)),
    }
    unknown = [m for m in names if m not in make]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; known: {sorted(make)}")
    models = {m: make[m]() for m in names}
    evals = {}
    if n_eval:
        jpg_tail = lambda std: h.cifar_jpg_array(std)[-n_eval:]  # last JPEGs: not in a calibration set < 1,469
        ev = {
            "vit": lambda: jpg_tail(sd.VIT_STD),
            "resnet_4b": lambda: jpg_tail(sd.RESNET_STD),
            "resnet50": lambda: mm.resize_bilinear_batch(jpg_tail(sd.RESNET_STD), 224, 224),
            "densenet121": lambda: mm.resize_bilinear_batch(jpg_tail(sd.RESNET_STD), 224, 224),
            "ultraface": lambda: h.ultraface_array(cache),  # the 8 photos, uncropped
        }
        evals = {m: ev[m]() for m in names}
    return models, evals


def sqnr_all(ref_outs, outs):
    return min(h.sqnr_db(r, o) for r, o in zip(ref_outs, outs))


def page_in(path):
    """Reads a file once so that both quantizers start with it in the page cache: the one run
    first would otherwise pay for reading it from disk (1.1 s of UltraFace's 920 MB .npy)."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_pair(name, model, calib, method, work, args, env, ev):
    ours, theirs = work / f"{name}.{method}.qtool.onnx", work / f"{name}.{method}.ort.onnx"
    page_in(calib)
    q = measure([h.QTOOL, "-q", "quantize", model, "--calib", calib, "--method", method, "-o", ours], env)
    prog = work / f"{name}.{method}.progress"
    o = measure([sys.executable, HERE / "ort_quantize.py", model, calib, theirs, work, ORT_METHOD[method],
                 "--chunk", args.ort_chunk, "--progress", prog], env, cap_bytes=int(args.mem_cap_gib * 2**30),
                progress=prog)
    line = (f"{name:10s} {method:10s} | qtool {q['wall']:7.1f} s {q['cpu']:7.1f} cpu-s {q['rss']:7.0f} MiB | "
            f"quantize_static {ORT_METHOD[method]:10s} ")
    if o["capped"]:
        line += (f"> {args.mem_cap_gib:.0f} GiB after {o['samples']} samples, {o['wall']:.1f} s | speed n/a, "
                 f"memory < {q['rss'] / (args.mem_cap_gib * 1024):.2f}x")
    else:
        line += (f"{o['wall']:7.1f} s {o['cpu']:7.1f} cpu-s {o['rss']:7.0f} MiB | speed {o['wall'] / q['wall']:5.2f}x, "
                 f"memory {q['rss'] / o['rss']:5.2f}x")
    if ev is not None:
        ref = h.ort_run_all(model, ev)
        line += f" | SQNR qtool {sqnr_all(ref, h.ort_run_all(ours, ev)):5.1f} dB"
        if not o["capped"]:
            line += f", ort {sqnr_all(ref, h.ort_run_all(theirs, ev)):5.1f} dB"
    print(line, flush=True)
    for p in (ours, theirs):
        for f in (p, Path(str(p) + ".data")):
            f.unlink(missing_ok=True)
    return q, o


def scaling(args, env, work):
    cache = args.cache
    rows = []
    models, _ = prepare(cache, args.samples, 0, ["resnet_4b", "ultraface", "resnet50", "densenet121", "vit"])
    mm.matmul_stack(cache / "matmul_100m.onnx", 2048, 24, external=False)
    mm.matmul_stack(cache / "matmul_2_5g.onnx", 4096, 38, external=True)
    sizes = [("resnet_4b", *models["resnet_4b"]), ("ultraface", *models["ultraface"]), ("resnet50", *models["resnet50"]),
             ("densenet121", *models["densenet121"]),
             ("matmul_100m", cache / "matmul_100m.onnx", mm.gaussian(cache, args.samples, 2048)),
             ("matmul_2_5g", cache / "matmul_2_5g.onnx", mm.gaussian(cache, args.samples, 4096))]
    print(f"\n=== scaling with model size ({args.samples} calibration samples, default observer, {args.threads} threads) ===")
    print(f"{'model':12s} {'params':>10s} {'file MB':>9s} {'wall s':>8s} {'cpu s':>8s} {'peak RSS MiB':>13s}")
    import onnx
    for name, model, calib in sizes:
        m = onnx.load(str(model), load_external_data=False)
        params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
        mb = sum(f.stat().st_size for f in Path(model).parent.glob(Path(model).name + "*")) / 1e6
        out = work / f"scale.{name}.onnx"
        r = measure([h.QTOOL, "-q", "quantize", model, "--calib", calib, "-o", out], env)
        print(f"{name:12s} {params / 1e6:9.1f}M {mb:9.1f} {r['wall']:8.1f} {r['cpu']:8.1f} {r['rss']:13.0f}", flush=True)
        for f in (out, Path(str(out) + ".data")):
            f.unlink(missing_ok=True)
    for name in args.sample_models.split(","):
        model = models[name][0]
        print(f"\n=== scaling with calibration samples: {name} ===")
        print(f"{'samples':>8s} {'wall s':>8s} {'cpu s':>8s} {'peak RSS MiB':>13s} {'s / 1k samples':>15s}")
        for n in (100, 1000, 10000):
            calib = {"ultraface": mm.ultraface, "resnet50": mm.cifar224}.get(name)
            if calib:
                data = calib(cache, n)
            else:
                data = mm.cifar32(cache, n, sd.VIT_STD if name == "vit" else sd.RESNET_STD, "vit" if name == "vit" else "resnet")
            out = work / f"samples.{name}.{n}.onnx"
            r = measure([h.QTOOL, "-q", "quantize", model, "--calib", data, "-o", out], env)
            print(f"{n:8d} {r['wall']:8.1f} {r['cpu']:8.1f} {r['rss']:13.0f} {1000 * r['wall'] / n:15.2f}", flush=True)
            out.unlink(missing_ok=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qtool_bench")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--models", default="resnet50,ultraface,vit")
    ap.add_argument("--methods", default="minmax,percentile,entropy,mse")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mem-cap-gib", type=float, default=8.0)
    ap.add_argument("--ort-chunk", type=int, default=16)
    ap.add_argument("--eval", type=int, default=0, help="held-out samples for the SQNR check (0 = skip)")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--sample-models", default="resnet_4b,vit")
    args = ap.parse_args()
    if not sd.available():
        raise SystemExit("../shared/data is absent (set QTOOL_SHARED); the benchmark needs the real models")
    args.cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    work = Path(tempfile.mkdtemp(prefix="qtool_bq_"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # files written here go with the run
    if args.scaling:
        scaling(args, env, work)
        return
    models, evals = prepare(args.cache, args.samples, args.eval, args.models.split(","))
    print(f"=== qtool quantize vs onnxruntime {__import__('onnxruntime').__version__} quantize_static: "
          f"{args.samples} calibration samples, {args.threads} threads, quantize_static fed in chunks of "
          f"{args.ort_chunk or 'all'}, calibration file paged in before each pair ===", flush=True)
    for name in args.models.split(","):
        model, calib = models[name]
        for method in args.methods.split(","):
            run_pair(name, model, calib, method, work, args, env, evals.get(name))


if __name__ == "__main__":
    main()
