# SPDX-License-Identifier: Apache-2.0
"""Where the time of an int8 file goes in onnxruntime: per op type, fp32 vs qtool's int8 file vs quantize_static's.

For each model, onnxruntime's profiler (SessionOptions.enable_profiling) on batch 1, 2 threads, --runs runs; a
node's time is the median of its kernel times over the runs after 5 warm-up runs (medians, and the three files'
runs interleaved, so load from other processes on a shared machine weighs little and alike), summed per op type of onnxruntime's optimized graph (QLinearConv,
QLinearMul, DequantizeLinear, ...). "sum of nodes" is the compute a run needs without scheduling gaps; its ratio
fp32 / int8 bounds the latency ratio bench_runtime.py measures.
Files are made as bench_runtime.py makes them (qtool defaults, --target onnxruntime; the peer is
onnxruntime.quantization.quantize_static: QDQ, MinMax, per channel, u8/s8, opset 13).

usage: <venv>/bin/python bench/profile_ort_ops.py [--runs 40] [--models mobilenet_v3_small,efficientnet_b0,ultraface]
       [--torch-models DIR]   (QTOOL_BIN, QTOOL_SHARED as for the tests)
"""
import argparse
import atexit
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_runtime as br  # noqa: E402

h, rt, sd = br.h, br.rt, br.sd


def profile(paths, x, runs):
    """Per file: ({op type: ms}, {op type: node count}) in onnxruntime's optimized graph. The files' runs are
    interleaved (one run of each in turn), so load from other processes falls on all of them alike."""
    import onnxruntime as ort
    sessions = []
    for path in paths:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = rt.THREADS, 1
        so.enable_profiling = True
        prof_dir = tempfile.mkdtemp(prefix="qtool_prof_")
        atexit.register(shutil.rmtree, prof_dir, ignore_errors=True)
        so.profile_file_prefix = prof_dir + "/p"
        sessions.append(ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]))
    for i in range(runs + 5):
        for s in sessions:
            s.run(None, {s.get_inputs()[0].name: x[i % len(x): i % len(x) + 1]})
    out = []
    for s in sessions:
        with open(s.end_profiling()) as f:
            events = json.load(f)
        times, op_of = {}, {}
        for e in events:
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                times.setdefault(e["name"], []).append(e["dur"])
                op_of[e["name"]] = e["args"]["op_name"]
        per, count = {}, {}
        for node, t in times.items():
            op = op_of[node]
            per[op] = per.get(op, 0.0) + float(np.median(t[5:])) / 1000
            count[op] = count.get(op, 0) + 1
        out.append((per, count))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--models", default="mobilenet_v3_small,efficientnet_b0")
    ap.add_argument("--torch-models", type=Path, default=Path(__file__).resolve().parents[1] / "build/torch-models")
    args = ap.parse_args()
    import onnxruntime as ort
    ort.set_default_logger_severity(3)
    work = Path(tempfile.mkdtemp(prefix="qtool_prof_"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # files written here go with the run
    known = {n: (sd.SHARED / rel) for n, rel, _ in br.MODELS}
    known.update({n: p for n, p, _ in br.zoo_models(args.torch_models)})
    for name in args.models.split(","):
        if name not in known:
            print(f"{name}: not found (shared models: {', '.join(m[0] for m in br.MODELS)}; torch exports in "
                  f"{args.torch_models})")
            continue
        model = known[name]
        qargs, calib, x, _ = (br.data(name, work / "cache", work) if model.is_relative_to(sd.SHARED)
                              else br.zoo_data(model, work))
        ours, peer = work / f"{name}.qtool.onnx", work / f"{name}.ort.onnx"
        h.qtool("-q", "quantize", model, "-o", ours, *qargs)
        rt.quantize_static(model, calib, peer)
        files = [("fp32", model), ("qtool int8", ours), ("quantize_static", peer)]
        res = profile([p for _, p in files], x, args.runs)
        ops = sorted(set().union(*[r[0] for r in res]), key=lambda o: -max(r[0].get(o, 0) for r in res))
        print(f"\n=== {name}: ms per run by op type (sum of node medians), batch 1, {rt.THREADS} threads ===")
        print(f"{'op':26s}" + "".join(f"{k:>22s}" for k, _ in files))
        for o in ops:
            print(f"{o:26s}" + "".join(f"{r[0].get(o, 0):13.3f} ms x{r[1].get(o, 0):<4d}" for r in res))
        sums = [sum(r[0].values()) for r in res]
        print(f"{'sum of nodes':26s}" + "".join(f"{v:13.3f} ms      " for v in sums))
        print(f"fp32 / int8: qtool {sums[0] / sums[1]:.2f}x, quantize_static {sums[0] / sums[2]:.2f}x", flush=True)


if __name__ == "__main__":
    main()
