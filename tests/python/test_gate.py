# SPDX-License-Identifier: Apache-2.0
"""qtool gate: exit 0 when every rule holds, 1 with one line per violated rule, 2 on bad input;
deterministic. Runs without ../shared (the digits model is trained from scikit-learn's data)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import harness as h

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits(digits_model):
    h.qtool("quantize", digits_model / "digits_mlp.onnx", "--calib", digits_model / "calib.npy", "-o",
            digits_model / "q.onnx")
    return digits_model


def gate(*args):
    return h.qtool("gate", *args, check=False)


def test_pass_and_fail_lines(digits):
    q = digits / "q.onnx"
    size = q.stat().st_size
    r = gate(q, "--max-size", str(size), "--max-params", "1000000")
    assert r.returncode == 0 and r.stdout.startswith("PASS"), r.stdout + r.stderr
    r = gate(q, "--max-size", str(size - 1), "--max-params", "10", "--min-top1", "99.9", "--data", digits / "test.npy",
             "--labels", digits / "test_labels.npy")
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert [l.split(":")[0] for l in lines] == ["FAIL max-size", "FAIL max-params", "FAIL min-top1"]
    assert f"measured {size} B" in lines[0]


def test_units_drop_and_json(digits):
    q, ref = digits / "q.onnx", digits / "digits_mlp.onnx"
    assert gate(q, "--max-size", "1MiB").returncode == 0
    assert gate(q, "--max-size", "1KiB").returncode == 1
    args = [q, "--max-drop", "1.0", "--ref", ref, "--data", digits / "test.npy", "--labels", digits / "test_labels.npy",
            "--json"]
    r1, r2 = gate(*args), gate(*args)
    assert r1.returncode == 0 and r1.stdout == r2.stdout  # deterministic, byte for byte
    j = json.loads(r1.stdout)
    assert j["pass"] is True and j["rules"][0]["rule"] == "max-drop"


def test_bad_input_is_exit_2(digits, tmp_path):
    q = digits / "q.onnx"
    for args in [(q,), (q, "--max-size", "12 parsecs"), (q, "--min-top1", "90"),
                 (tmp_path / "missing.onnx", "--max-size", "1MiB")]:
        r = gate(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len([l for l in r.stderr.splitlines() if l.strip()]) == 1


def test_example_ci_script(digits):
    script = ROOT / "examples/ci/gate.sh"
    ok = subprocess.run(["bash", str(script), "1MiB", "1.0"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "PASS" in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run(["bash", str(script), "10KiB", "1.0"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL max-size"), bad.stdout + bad.stderr
