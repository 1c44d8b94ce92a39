# SPDX-License-Identifier: Apache-2.0
"""Issue 5 acceptance: sweep report (numbers match onnxruntime, SVG renders, resume), auto mixed
precision within budget and smaller than uniform int8 (checked in onnxruntime), plan replay."""
import csv
import shutil
import subprocess

import numpy as np
import pytest

import harness as h
import shared_data as sd

RESNET = "cifar10-resnet-vnncomp/resnet_4b.onnx"


def cifar_eval_args(cache):
    return ["--data", sd.SHARED / "cifar10/test-jpg", *sd.cifar_image_args(sd.RESNET_STD), "--labels",
            sd.cifar_jpg_labels(cache)]


@pytest.fixture(scope="module")
def sweep(shared, cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    r = h.qtool("sweep", shared / RESNET, "--calib", sd.cifar_csv(cache, sd.RESNET_STD), *cifar_eval_args(cache),
                "--bits", "8,4", "--sparsity", "0,0.5", "--out-dir", out, "--sensitivity")
    print(r.stdout)
    return out


def test_sweep_numbers_match_onnxruntime(sweep, cache):
    rows = {r["config"]: r for r in csv.DictReader(open(sweep / "report.csv"))}
    assert set(rows) == {"fp32", "int8", "int8-s0.50", "int4", "int4-s0.50"}
    x, y = h.cifar_jpg_array(sd.RESNET_STD), np.load(sd.cifar_jpg_labels(cache))
    ort = h.top1(h.ort_run_all(sweep / rows["int8"]["path"], x)[0], y)
    ours = float(rows["int8"]["value"])
    print(f"int8: report.csv {100 * ours:.2f}%, onnxruntime {100 * ort:.2f}%")
    assert abs(ours - ort) <= 0.002
    assert int(rows["int4"]["file_bytes"]) < int(rows["int8"]["file_bytes"]) < int(rows["fp32"]["file_bytes"])
    assert int(rows["int8-s0.50"]["zip_bytes"]) < int(rows["int8"]["zip_bytes"])
    html = (sweep / "report.html").read_text()
    assert "<svg" in html and "Per-layer sensitivity" in html and "Conv_0" in html


def test_svg_renders_in_headless_chromium(sweep):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    png = sweep / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
                    "--window-size=760,480", str(sweep / "report.svg")], capture_output=True, timeout=120,
                   env=h.child_env())  # not under the ASan runtime the suite may preload for libqtool.so
    assert png.exists() and png.stat().st_size > 5000
    svg = (sweep / "report.svg").read_text()
    assert "Pareto front" in svg and "polyline" in svg and "fp32" in svg
    print(f"rendered {png}")


def test_resume_keeps_finished_configurations(sweep, shared, cache):
    before = (sweep / "report.csv").read_text()
    r = h.qtool("sweep", shared / RESNET, "--calib", sd.cifar_csv(cache, sd.RESNET_STD), *cifar_eval_args(cache),
                "--bits", "8,4", "--sparsity", "0,0.5", "--out-dir", sweep, "--resume", "--no-sensitivity")
    assert "resuming: 4 of 4" in r.stderr
    strip = lambda t: [l.rsplit(",", 2)[0] for l in t.splitlines()]  # seconds may not be re-measured
    assert strip((sweep / "report.csv").read_text()) == strip(before)


def test_auto_within_one_point_and_smaller_than_int8(shared, cache, tmp_path):
    model = shared / RESNET
    calib = sd.cifar_csv(cache, sd.RESNET_STD)
    out = tmp_path / "auto.onnx"
    h.qtool("auto", model, "--calib", calib, *cifar_eval_args(cache), "--max-drop", "1.0", "-o", out)
    plan = tmp_path / "auto.plan.json"
    assert plan.exists()
    int8 = tmp_path / "int8.onnx"
    h.qtool("quantize", model, "--calib", calib, "-o", int8)
    x, y = h.cifar_jpg_array(sd.RESNET_STD), np.load(sd.cifar_jpg_labels(cache))
    fp32 = h.top1(h.ort_run_all(model, x)[0], y)
    acc = h.top1(h.ort_run_all(out, x)[0], y)
    print(f"auto: {out.stat().st_size} B (int8 {int8.stat().st_size} B), onnxruntime {100 * acc:.2f}% vs fp32 {100 * fp32:.2f}%")
    assert fp32 - acc <= 0.010 and out.stat().st_size < int8.stat().st_size
    replay = tmp_path / "replay.onnx"
    h.qtool("quantize", model, "--plan", plan, "--calib", calib, "-o", replay)
    assert replay.read_bytes() == out.read_bytes()
