# SPDX-License-Identifier: Apache-2.0
"""Issue 15: a local sweep divides the cores between concurrent configurations (--jobs) and the
threads of each (--threads), never more threads than cores; `--ray` hands the command to the Python
package and fails with exit 2 and one line when there is no Python to hand it to."""
import os

import numpy as np
import pytest

import harness as h
import shared_data as sd

MNIST_MLP = "mnist-mlp-vnncomp/mnist-net_256x2.onnx"


@pytest.fixture(scope="module")
def small(shared, cache):
    m = sd.mnist(cache)
    x = np.load(m["flat"])
    path = cache / "jobs_mnist_200.npy"
    np.save(path, x[:200])
    return shared / MNIST_MLP, path


def test_jobs_times_threads_never_exceeds_cores(small, tmp_path):
    model, data = small
    cores = os.cpu_count()
    r = h.qtool("sweep", model, "--calib", data, "--data", data, "--bits", "8,4", "--out-dir", tmp_path / "a",
                "--no-sensitivity", "--jobs", cores, "--threads", 2, check=False)
    assert r.returncode == 2 and "cores" in r.stderr, r.stderr
    r = h.qtool("sweep", model, "--calib", data, "--data", data, "--bits", "8,4", "--out-dir", tmp_path / "b",
                "--no-sensitivity", "--jobs", cores + 1, check=False)
    assert r.returncode == 2 and "cores" in r.stderr, r.stderr
    r = h.qtool("sweep", model, "--calib", data, "--data", data, "--bits", "8,4", "--out-dir", tmp_path / "c",
                "--no-sensitivity", "--jobs", 1)
    assert f"1 at a time with {cores} thread(s) each" in r.stderr
    r = h.qtool("sweep", model, "--calib", data, "--data", data, "--bits", "8,4", "--out-dir", tmp_path / "d",
                "--no-sensitivity", "--threads", 1)
    assert f"{min(2, cores)} at a time with 1 thread(s) each" in r.stderr
    # the split changes no number in the report
    strip = lambda p: [l.rsplit(",", 2)[0] for l in (p / "report.csv").read_text().splitlines()]
    assert strip(tmp_path / "c") == strip(tmp_path / "d")


def test_method_list_names_configurations(small, tmp_path):
    model, data = small
    h.qtool("sweep", model, "--calib", data, "--data", data, "--bits", "8", "--method", "mse,percentile",
            "--out-dir", tmp_path, "--no-sensitivity")
    ids = [l.split(",")[0] for l in (tmp_path / "report.csv").read_text().splitlines()[1:]]
    assert ids == ["fp32", "int8-mse", "int8-percentile"]
    r = h.qtool("sweep", model, "--calib", data, "--data", data, "--method", "nosuch", "--out-dir", tmp_path / "x",
                check=False)
    assert r.returncode == 2 and "nosuch" in r.stderr


def test_ray_without_python_is_bad_input(small, tmp_path):
    model, data = small
    import subprocess
    env = dict(os.environ, QTOOL_PYTHON=str(tmp_path / "no-python"))
    r = subprocess.run([str(h.QTOOL), "sweep", model, "--calib", data, "--data", data, "--ray", "127.0.0.1:1"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "cannot start" in r.stderr and r.stderr.count("\n") == 1, r.stderr
