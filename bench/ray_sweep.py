# SPDX-License-Identifier: Apache-2.0
"""Sweep scaling (issue 15): the same sweep (resnet_4b and mnist-net_256x2, bits {8,4,2} x sparsity
{0,0.5} x method {mse,percentile} = 24 configurations) run
  (a) locally: `qtool sweep` per model, configurations on threads (--jobs x --threads = cores);
  (b) on Ray with 1 worker process (a head node with 1 CPU);
  (c) on Ray with 2 worker processes (head + one worker node, 1 CPU each);
each cluster started on this machine and stopped afterwards (tests/python/ray_cluster.py). Also the
per-task overhead: (d) a no-op Ray task's round trip, (e) the time a sweep task spends outside qtool
(inputs from the object store, files), and (f) Ray wall minus the qtool seconds, per task.
Prints one JSON object; the README's scaling note quotes it.

usage: RAY_AUTH_MODE=token .venv/bin/python bench/ray_sweep.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "token")  # before ray is imported (see ray_cluster.py)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
import shared_data as sd  # noqa: E402
from ray_cluster import LocalCluster  # noqa: E402

import ray  # noqa: E402
import qtool.distributed as qd  # noqa: E402

QTOOL = Path(os.environ.get("QTOOL_BIN", ROOT / "build" / "qtool"))
CONFIGS = {"bits": [8, 4, 2], "sparsity": [0, 0.5], "method": ["mse", "percentile"]}


def inputs(cache: Path):
    cache.mkdir(parents=True, exist_ok=True)
    rows = np.loadtxt(sd.SHARED / "cifar10" / "eran_cifar10_test.csv", delimiter=",", dtype=np.float32)
    np.save(cache / "cifar_labels.npy", rows[:, 0].astype(np.int64))
    cifar = sd.cifar_csv(cache, sd.RESNET_STD)
    m = sd.mnist(cache)
    x, y = np.load(m["flat"]), np.load(m["labels"])
    np.save(cache / "mnist_eval.npy", x[1000:1500])
    np.save(cache / "mnist_labels.npy", y[1000:1500])
    np.save(cache / "mnist_calib.npy", x[:200])
    return {"resnet_4b": (sd.SHARED / "cifar10-resnet-vnncomp/resnet_4b.onnx", cifar, cifar, cache / "cifar_labels.npy"),
            "mnist-net_256x2": (sd.SHARED / "mnist-mlp-vnncomp/mnist-net_256x2.onnx", cache / "mnist_calib.npy",
                                cache / "mnist_eval.npy", cache / "mnist_labels.npy")}


def local_sweep(data, out: Path):
    t0 = time.monotonic()
    for name, (model, calib, ev, labels) in data.items():
        subprocess.run([str(QTOOL), "-q", "sweep", model, "--calib", calib, "--data", ev, "--labels", labels,
                        "--bits", "8,4,2", "--sparsity", "0,0.5", "--method", "mse,percentile", "--out-dir",
                        out / name, "--no-sensitivity"], check=True, capture_output=True)
    return time.monotonic() - t0


def ray_sweep(data, out: Path, workers: int):
    tmp = Path(tempfile.mkdtemp(prefix="qtool-bench-ray-"))
    cluster = LocalCluster(tmp, workers=workers)
    try:
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        noop = ray.remote(lambda: None).options(num_cpus=1)
        ray.get([noop.remote() for _ in range(4)])  # warm the worker processes
        t0 = time.monotonic()
        ray.get([noop.remote() for _ in range(100)])
        noop_ms = (time.monotonic() - t0) * 1000 / 100
        models = [qd.SweepModel(m, c, e, l, out / name) for name, (m, c, e, l) in data.items()]
        t0 = time.monotonic()
        results = qd.sweep(models, CONFIGS, threads=1, timeout=1800)
        wall = time.monotonic() - t0
        qtool_s = sum(v for r in results for v in r.task_seconds.values())
        outside = [v for r in results for v in r.overhead_seconds.values()]
        tasks = sum(len(r.ran) for r in results)
        return {"wall_s": round(wall, 2), "tasks": tasks, "qtool_seconds_sum": round(qtool_s, 2),
                "noop_task_ms": round(noop_ms, 2), "task_outside_qtool_ms_median": round(1000 * float(np.median(outside)), 2),
                "wall_minus_qtool_per_task_ms": round(1000 * (wall * (workers + 1) - qtool_s) / tasks, 1)}
    finally:
        ray.shutdown()
        cluster.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="qtool-bench-") as tmp:
        tmp = Path(tmp)
        data = inputs(tmp / "cache")
        load = os.getloadavg()[0]
        res = {"cores": os.cpu_count(), "loadavg_1min_before": round(load, 2)}
        res["local_threads_s"] = round(local_sweep(data, tmp / "local"), 2)
        res["ray_1_worker"] = ray_sweep(data, tmp / "ray1", 0)
        res["ray_2_workers"] = ray_sweep(data, tmp / "ray2", 1)
        res["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
        print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
