# SPDX-License-Identifier: Apache-2.0
"""Issue 15 acceptance: qtool.distributed.sweep on a local Ray cluster (a head node and one worker
node, both on 127.0.0.1 with every Ray port listening on loopback only, started here and stopped at
the end) gives the same report as a local `qtool sweep` (every column but seconds), with the data
options too; survives a worker killed mid-sweep with every configuration exactly once; and a
`qtool sweep --ray` driver killed mid-way (SIGKILL) and restarted with --resume runs only the
missing configurations.

Needs ray (python-ray-requirements.txt); skipped with a message when it is not installed."""
import csv
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import harness as h
from ray_cluster import LOOPBACK_ENV, LocalCluster, ray_cli
import shared_data as sd

# Ray reads these when it is imported: the test cluster uses token authentication (the default of
# `ray start`) and keeps 127.0.0.1 as every node's address (ray_node.py), so the driver in this
# process must too; subprocess drivers inherit them
for _k, _v in LOOPBACK_ENV.items():
    os.environ.setdefault(_k, _v)
ray = pytest.importorskip("ray", reason="ray is not installed: pip install -r python-ray-requirements.txt "
                                        "(qtool.distributed runs on Ray)")
qd = pytest.importorskip("qtool.distributed", reason="the qtool Python package is not installed (pip install .)")

CONFIGS = {"bits": [8, 4, 2], "sparsity": [0, 0.5], "method": ["mse", "percentile"]}
SWEEP_TIMEOUT = 900  # seconds for one distributed sweep of both models (about 60 s on 2 free cores)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not ray_cli():
        pytest.skip("the ray command is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="qtool-ray-"))  # short: Ray's socket paths must fit 107 bytes
    c = LocalCluster(tmp)
    try:
        ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
        yield c
    finally:
        ray.shutdown()
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def inputs(shared, cache):
    """resnet_4b on the 100 pixel-exact CIFAR images, mnist-net_256x2 on 500 MNIST test digits."""
    rows = np.loadtxt(sd.SHARED / "cifar10" / "eran_cifar10_test.csv", delimiter=",", dtype=np.float32)
    cifar_labels = cache / "cifar_csv_labels.npy"
    np.save(cifar_labels, rows[:, 0].astype(np.int64))
    cifar = sd.cifar_csv(cache, sd.RESNET_STD)
    m = sd.mnist(cache)
    x, y = np.load(m["flat"]), np.load(m["labels"])
    mnist_eval, mnist_labels, mnist_calib = cache / "dist_mnist_eval.npy", cache / "dist_mnist_labels.npy", cache / "dist_mnist_calib.npy"
    np.save(mnist_eval, x[1000:1500])
    np.save(mnist_labels, y[1000:1500])
    np.save(mnist_calib, x[:200])
    return {"resnet_4b": (shared / "cifar10-resnet-vnncomp/resnet_4b.onnx", cifar, cifar, cifar_labels),
            "mnist-net_256x2": (shared / "mnist-mlp-vnncomp/mnist-net_256x2.onnx", mnist_calib, mnist_eval, mnist_labels)}


def _models(inputs, root: Path):
    return [qd.SweepModel(model, calib, data, labels, root / name) for name, (model, calib, data, labels) in inputs.items()]


def _table(path: Path):
    """report.csv without the seconds column (the only one allowed to differ)."""
    rows = list(csv.reader(open(path / "report.csv")))
    col = rows[0].index("seconds")
    return [r[:col] + r[col + 1:] for r in rows]


def _json_rows(path: Path):
    import json
    rows = json.loads((path / "report.json").read_text())["rows"]
    for r in rows:
        r.pop("seconds")
    return rows


@pytest.fixture(scope="module")
def local(inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    for name, (model, calib, data, labels) in inputs.items():
        h.qtool("sweep", model, "--calib", calib, "--data", data, "--labels", labels, "--bits", "8,4,2",
                "--sparsity", "0,0.5", "--method", "mse,percentile", "--out-dir", root / name, "--no-sensitivity")
    return root


def test_distributed_sweep_equals_local(cluster, inputs, local, tmp_path):
    t0 = time.monotonic()
    results = qd.sweep(_models(inputs, tmp_path), CONFIGS, threads=1, timeout=SWEEP_TIMEOUT)
    wall = time.monotonic() - t0
    assert len(results) == 2
    for r in results:
        name = r.out_dir.name
        assert len(r.ran) == 12 and not r.skipped
        assert _table(r.out_dir) == _table(local / name), name
        assert _json_rows(r.out_dir) == _json_rows(local / name), name
        for cid in r.ran:  # the compressed files are the same bytes
            assert (r.out_dir / f"{cid}.onnx").read_bytes() == (local / name / f"{cid}.onnx").read_bytes(), cid
        for ext in ("svg", "html"):
            assert (r.out_dir / f"report.{ext}").stat().st_size > 1000
    overhead = [v for r in results for v in r.overhead_seconds.values()]
    cpu = [v for r in results for v in r.task_cpu_seconds.values()]
    assert len(cpu) == 24 and all(v > 0 for v in cpu)
    print(f"ray sweep of 2 models x 12 configurations: {wall:.1f} s wall, task overhead outside qtool "
          f"median {1000 * np.median(overhead):.1f} ms")


def test_worker_killed_mid_sweep_every_configuration_once(cluster, inputs, local, tmp_path):
    killed = []

    def kill_worker_tasks(model, cid):
        if killed:
            return
        # a worker process busy with a configuration: on the worker node, else on the head (on an idle
        # machine the head may run every task)
        pids = cluster.node_pids("worker", "ray::_task_sweep_config") or cluster.node_pids("head", "ray::_task_sweep_config")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed.extend(pids)

    results = qd.sweep(_models(inputs, tmp_path), CONFIGS, threads=1, max_retries=5, on_done=kill_worker_tasks,
                       timeout=SWEEP_TIMEOUT)
    assert killed, "no worker process running a configuration was found to kill"
    print(f"killed {len(killed)} worker process(es) running a configuration")
    for r in results:
        ids = [row[0] for row in _table(r.out_dir)[1:]]
        assert sorted(ids) == sorted(["fp32"] + r.ran) and len(ids) == len(set(ids)) == 13
        assert _table(r.out_dir) == _table(local / r.out_dir.name)


def test_resume_and_restarted_driver_run_only_the_rest(cluster, inputs, local, tmp_path):
    name = "mnist-net_256x2"
    model, calib, data, labels = inputs[name]
    out = tmp_path / name
    # resume=True after an earlier sweep of a subset (bits 8 only) runs only the rest; a real driver
    # killed mid-sweep: test_driver_killed_and_restarted_finishes_only_the_rest
    first = qd.sweep([qd.SweepModel(model, calib, data, labels, out)], {**CONFIGS, "bits": [8]}, timeout=SWEEP_TIMEOUT)
    assert len(first[0].ran) == 4
    stamp = {p.name: p.stat().st_mtime_ns for p in out.glob("*.onnx")}
    again = qd.sweep([qd.SweepModel(model, calib, data, labels, out)], CONFIGS, resume=True, timeout=SWEEP_TIMEOUT)[0]
    assert sorted(again.skipped) == sorted(first[0].ran) and len(again.ran) == 8
    assert {p: out.joinpath(p).stat().st_mtime_ns for p in stamp} == stamp  # finished files untouched
    assert _table(out) == _table(local / name)


def test_cli_ray_forwards_to_python(cluster, inputs, tmp_path):
    name = "mnist-net_256x2"
    model, calib, data, labels = inputs[name]
    env = dict(os.environ, QTOOL_PYTHON=sys.executable)
    r = subprocess.run([str(h.QTOOL), "sweep", model, "--calib", calib, "--data", data, "--labels", labels,
                        "--bits", "8", "--out-dir", tmp_path / "cli", "--no-sensitivity", "--ray", cluster.address],
                       capture_output=True, text=True, env=env, timeout=SWEEP_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "qtool sweep (ray" in r.stdout and "int8" in r.stdout
    rows = {row["config"]: row for row in csv.DictReader(open(tmp_path / "cli" / "report.csv"))}
    assert set(rows) == {"fp32", "int8"}
    # bad input: one line, exit 2, before any task
    bad = subprocess.run([str(h.QTOOL), "sweep", model, "--calib", tmp_path / "missing.npy", "--data", data,
                          "--ray", cluster.address], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "missing.npy" in bad.stderr, bad.stderr


def test_distributed_sensitivity_equals_local(cluster, inputs):
    """One task per layer; ranked and rendered by the C++ code: the JSON equals `qtool sensitivity --json`."""
    model, calib, data, labels = inputs["mnist-net_256x2"]
    local = h.qtool("sensitivity", model, "--calib", calib, "--data", data, "--labels", labels, "--json").stdout
    rep = qd.sensitivity(qd.SweepModel(model, calib, data, labels), threads=1)
    assert rep["json"] == local
    assert "suggested --exclude" in rep["text"] and "<table>" in rep["html"]


def test_distributed_auto_equals_local(cluster, inputs, tmp_path):
    """Probes as tasks, the greedy search as one task: same model and plan bytes as `qtool auto`."""
    model, calib, data, labels = inputs["mnist-net_256x2"]
    h.qtool("auto", model, "--calib", calib, "--data", data, "--labels", labels, "--max-drop", "0.5",
            "-o", tmp_path / "local.onnx")
    r = qd.auto(qd.SweepModel(model, calib, data, labels), output=tmp_path / "ray.onnx", max_drop=0.5, threads=1)
    assert r["plan"] == str(tmp_path / "ray.plan.json")
    assert (tmp_path / "ray.plan.json").read_bytes() == (tmp_path / "local.plan.json").read_bytes()
    assert (tmp_path / "ray.onnx").read_bytes() == (tmp_path / "local.onnx").read_bytes()
    assert r["within_budget"] and r["drop"] <= 0.5 and r["log"]


def _loopback(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr.split("%")[0])
    except ValueError:  # "*": every address
        return False
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


def test_cluster_listens_on_loopback_only(cluster):
    """While a task runs on each node: every TCP/UDP socket the cluster's processes (GCS, raylets,
    agents, workers) and this driver listen on is bound to 127.0.0.1 (`ss -ltunp`)."""
    if not shutil.which("ss"):
        pytest.skip("ss (iproute2) is not installed")

    def hold():
        time.sleep(15)
        return os.getpid()

    import ray.cloudpickle as cloudpickle
    this = sys.modules[__name__]  # not importable by the workers: ship hold by value
    cloudpickle.register_pickle_by_value(this)
    try:
        refs = [ray.remote(hold).options(num_cpus=1).remote() for _ in range(2)]  # one per node (1 CPU each)
        deadline = time.monotonic() + 60
        while True:  # until both tasks run (their workers titled ray::hold)
            socks = cluster.listening([os.getpid()])
            if len({pid for _, _, name, pid in socks if name == "ray::hold"}) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        pids = ray.get(refs, timeout=120)
    finally:
        cloudpickle.unregister_pickle_by_value(this)
    assert len(set(pids)) == 2
    names = {name for _, _, name, _ in socks}
    ports = {port for _, port, _, _ in socks}
    raylets = {pid for _, _, name, pid in socks if name == "raylet"}
    print(f"{len(socks)} listening sockets of the cluster and driver: " + ", ".join(sorted({f"{a}:{p} {n}" for a, p, n, _ in socks})))
    assert cluster.port in ports and "gcs_server" in names and len(raylets) == 2  # both nodes seen
    assert any(pid in pids for _, _, _, pid in socks)  # the workers running hold listen too
    wide = [s for s in socks if not _loopback(s[0])]
    assert not wide, f"Ray listens beyond loopback: {wide}"


def _finished(out: Path):
    """The configurations report.json lists with their file present (what --resume keeps)."""
    try:
        rows = json.loads((out / "report.json").read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return {}
    return {r["config"]: r for r in rows if r["config"] != "fp32" and (out / r["path"]).exists()}


def test_driver_killed_and_restarted_finishes_only_the_rest(cluster, inputs, local, tmp_path):
    """A real driver (`qtool sweep --ray`, a process of its own) killed with SIGKILL once some
    configurations finished; restarted with --resume it runs only the rest: the finished files keep
    their inode and mtime, their rows keep their seconds, every configuration is in the report once
    and the table equals the local sweep's."""
    name = "resnet_4b"
    model, calib, data, labels = inputs[name]
    out = tmp_path / name
    env = dict(os.environ, QTOOL_PYTHON=sys.executable)
    cmd = [str(h.QTOOL), "sweep", str(model), "--calib", str(calib), "--data", str(data), "--labels", str(labels),
           "--bits", "8,4,2", "--sparsity", "0,0.5", "--method", "mse,percentile", "--out-dir", str(out),
           "--ray", cluster.address]
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + SWEEP_TIMEOUT
    try:
        while len(_finished(out)) < 2:
            assert first.poll() is None, "the driver ended before it could be killed: " + (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no configuration finished in time"
            time.sleep(0.1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        log.close()
    assert first.returncode == -signal.SIGKILL
    done = _finished(out)
    stamp = {cid: ((out / r["path"]).stat().st_ino, (out / r["path"]).stat().st_mtime_ns) for cid, r in done.items()}
    print(f"driver killed after {len(done)} of 12 configurations: {sorted(done)}")
    assert 2 <= len(done) < 12

    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env, timeout=SWEEP_TIMEOUT)
    assert again.returncode == 0, again.stderr
    assert f"resuming {name}.onnx: {len(done)} of 12 configurations already done" in again.stderr, again.stderr
    for cid, r in done.items():  # not recomputed: the same file (inode, mtime) and the same row
        st = (out / r["path"]).stat()
        assert (st.st_ino, st.st_mtime_ns) == stamp[cid], cid
    final = json.loads((out / "report.json").read_text())["rows"]
    for r in final:
        if r["config"] in done:
            assert r == done[r["config"]]
    ids = [row[0] for row in _table(out)[1:]]
    assert len(ids) == len(set(ids)) == 13
    assert _table(out) == _table(local / name)


def test_data_options_equal_local(cluster, inputs, tmp_path):
    """The data options of the local sweep (sample selection, size axis, --skip-nonfinite) give the
    same report through `qtool sweep --ray` as locally, and they do change it."""
    model, calib, data, labels = inputs["mnist-net_256x2"]
    base = [str(model), "--calib", str(calib), "--data", str(data), "--labels", str(labels), "--bits", "8,4",
            "--sparsity", "0,0.5"]
    opts = ["--offset", "40", "--limit", "120", "--sample", "random", "--seed", "7", "--size-axis", "zip",
            "--skip-nonfinite"]
    env = dict(os.environ, QTOOL_PYTHON=sys.executable)
    h.qtool("sweep", *base, *opts, "--out-dir", tmp_path / "local")
    h.qtool("sweep", *base, "--out-dir", tmp_path / "plain")
    r = subprocess.run([str(h.QTOOL), "sweep", *base, *opts, "--out-dir", str(tmp_path / "ray"), "--ray",
                        cluster.address], capture_output=True, text=True, env=env, timeout=SWEEP_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert _table(tmp_path / "ray") == _table(tmp_path / "local")
    assert _json_rows(tmp_path / "ray") == _json_rows(tmp_path / "local")
    for d in ("ray", "local"):
        assert json.loads((tmp_path / d / "report.json").read_text())["size_axis"] == "zip"
    assert _json_rows(tmp_path / "plain") != _json_rows(tmp_path / "local")  # the selection mattered
    # --sample needs --limit, as locally: one line, exit 2
    bad = subprocess.run([str(h.QTOOL), "sweep", *base, "--sample", "random", "--out-dir", str(tmp_path / "bad"),
                          "--ray", cluster.address], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "--limit" in bad.stderr, bad.stderr
