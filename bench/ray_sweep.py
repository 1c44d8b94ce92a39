# SPDX-License-Identifier: Apache-2.0
"""Sweep scaling (issue 15): the same sweep (resnet_4b and mnist-net_256x2, bits {8,4,2} x sparsity
{0,0.5} x method {mse,percentile} = 24 configurations) run
  (a) locally: `qtool sweep` per model, configurations on threads (--jobs x --threads = cores);
  (b) on Ray with 1 worker process (a head node with 1 CPU);
  (c) on Ray with 2 worker processes (head + one worker node, 1 CPU each);
each cluster started on this machine and stopped afterwards (tests/python/ray_cluster.py). Also the
per-task overhead: (d) a no-op Ray task's round trip, (e) the time a sweep task spends outside qtool
(inputs from the object store, files), and (f) Ray wall minus the qtool seconds, per task. Wall
times depend on how loaded the machine is (the load averages before and after each part are
printed); CPU seconds much less: (g) per task, the CPU time of the worker process running it
(qtool's work and the task's own overhead), the driver's CPU time per task, and for the local sweep
the CPU time of the qtool processes per configuration. (h) A projection for 8 and 64 machines
(2 worker processes each, as here) of a 600-task sweep (50 models x 12 configurations) from the
measured per-task cost: rounds of tasks x (task seconds + overhead per task), CPU-based and wall-based.
Prints one JSON object; the README's scaling note quotes it.

usage: RAY_AUTH_MODE=token .venv/bin/python bench/ray_sweep.py
"""
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
import shared_data as sd  # noqa: E402
from ray_cluster import LOOPBACK_ENV, LocalCluster  # noqa: E402

for _k, _v in LOOPBACK_ENV.items():  # before ray is imported (see ray_cluster.py)
    os.environ.setdefault(_k, _v)

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


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def local_sweep(data, out: Path):
    t0, c0 = time.monotonic(), _children_cpu()
    for name, (model, calib, ev, labels) in data.items():
        subprocess.run([str(QTOOL), "-q", "sweep", model, "--calib", calib, "--data", ev, "--labels", labels,
                        "--bits", "8,4,2", "--sparsity", "0,0.5", "--method", "mse,percentile", "--out-dir",
                        out / name, "--no-sensitivity"], check=True, capture_output=True)
    wall, cpu = time.monotonic() - t0, _children_cpu() - c0
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "cpu_per_configuration_s": round(cpu / 24, 3)}


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
        t0, c0 = time.monotonic(), time.process_time()
        results = qd.sweep(models, CONFIGS, threads=1, timeout=1800)
        wall, driver_cpu = time.monotonic() - t0, time.process_time() - c0
        qtool_s = sum(v for r in results for v in r.task_seconds.values())
        outside = [v for r in results for v in r.overhead_seconds.values()]
        cpu = [v for r in results for v in r.task_cpu_seconds.values()]
        tasks = sum(len(r.ran) for r in results)
        return {"wall_s": round(wall, 2), "tasks": tasks, "qtool_seconds_sum": round(qtool_s, 2),
                "noop_task_ms": round(noop_ms, 2), "task_outside_qtool_ms_median": round(1000 * float(np.median(outside)), 2),
                "wall_minus_qtool_per_task_ms": round(1000 * (wall * (workers + 1) - qtool_s) / tasks, 1),
                "task_cpu_s_sum": round(sum(cpu), 2), "task_cpu_s_mean": round(float(np.mean(cpu)), 3),
                "task_cpu_s_median": round(float(np.median(cpu)), 3), "task_cpu_s_max": round(max(cpu), 3),
                "driver_cpu_ms_per_task": round(1000 * driver_cpu / tasks, 1)}
    finally:
        ray.shutdown()
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    with tempfile.TemporaryDirectory(prefix="qtool-bench-") as tmp:
        tmp = Path(tmp)
        data = inputs(tmp / "cache")
        load = lambda: [round(x, 2) for x in os.getloadavg()]  # noqa: E731
        res = {"cores": os.cpu_count(), "loadavg_before": load()}
        res["local_threads"] = local_sweep(data, tmp / "local")
        res["loadavg_after_local"] = load()
        res["ray_1_worker"] = ray_sweep(data, tmp / "ray1", 0)
        res["loadavg_after_ray_1"] = load()
        res["ray_2_workers"] = ray_sweep(data, tmp / "ray2", 1)
        res["loadavg_after"] = load()
        res["projection_600_tasks"] = projection(res["ray_2_workers"])
        print(json.dumps(res, indent=2))


def projection(r, tasks=600, workers_per_machine=2):
    """Seconds for `tasks` tasks on 1 worker process and on 8 / 64 machines: rounds x per-task cost,
    the cost from CPU seconds (load-independent) and from wall (as measured here) plus the driver's
    serial CPU per result, which does not shrink with machines."""
    overhead = r["task_outside_qtool_ms_median"] / 1000 + r["noop_task_ms"] / 1000
    per_cpu = r["task_cpu_s_mean"] + overhead
    per_wall = r["qtool_seconds_sum"] / r["tasks"] + overhead
    driver = r["driver_cpu_ms_per_task"] / 1000 * tasks
    out = {"per_task_cpu_s": round(per_cpu, 3), "per_task_wall_s": round(per_wall, 3),
           "driver_serial_s": round(driver, 1)}
    for name, procs in (("1_worker", 1), ("8_machines", 8 * workers_per_machine), ("64_machines", 64 * workers_per_machine)):
        rounds = math.ceil(tasks / procs)
        out[name] = {"rounds": rounds, "cpu_based_s": round(max(rounds * per_cpu, driver), 1),
                     "wall_based_s": round(max(rounds * per_wall, driver), 1)}
    return out


if __name__ == "__main__":
    main()
