# SPDX-License-Identifier: Apache-2.0
"""Outputs never clobber (issue 13.6, issue 14 "data loss"): no output may be an input of the same
command (same inode: hard links and symlinks count), an existing default output needs --force,
devices are written through, symlinks write their target, and read-only folders, folders, FIFOs
and empty paths are clear errors. Each case overwrote an input, replaced a device node or a link,
or exited 1 with a raw message before the fix."""
import os
import stat

import numpy as np
import pytest

import hostile as h


@pytest.fixture
def work(tmp_path):
    m = h.save(h.gemm_model(), tmp_path / "m.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))
    return tmp_path, m, calib


def unchanged(paths):
    before = {p: p.read_bytes() for p in paths}
    return lambda: all(p.read_bytes() == b for p, b in before.items())


@pytest.mark.parametrize("cmd", [
    lambda m, c, d: ["calibrate", m, "--calib", c, "-o", m],
    lambda m, c, d: ["calibrate", m, "--calib", c, "-o", c],
    lambda m, c, d: ["run", m, "--data", c, "-o", c],
    lambda m, c, d: ["run", m, "--data", d / "data.npz", "-o", d / "data.npz"],
    lambda m, c, d: ["quantize", m, "--calib", c, "--save-calib-table", m, "-o", d / "q.onnx"],
    lambda m, c, d: ["quantize", m, "--calib", c, "--save-calib-table", c, "-o", d / "q.onnx"],
    lambda m, c, d: ["quantize", m, "--calib", c, "-o", c],
    lambda m, c, d: ["prune", m, "--save-masks", m, "-o", d / "p.onnx"],
    lambda m, c, d: ["auto", m, "--calib", c, "--data", c, "--plan", m, "-o", d / "a.onnx"],
    lambda m, c, d: ["auto", m, "--calib", c, "--data", c, "--plan", c, "-o", d / "a.onnx"],
])
def test_outputs_never_overwrite_inputs(work, cmd):
    d, m, c = work
    np.savez(d / "data.npz", x=np.zeros((2, 16), np.float32))
    same = unchanged([m, c, d / "data.npz"])
    h.assert_bad_input(h.run(*cmd(m, c, d)), "refusing to overwrite")
    assert same()


def test_hard_link_to_the_input_counts(work):
    d, m, c = work
    os.link(m, d / "alias.onnx")
    same = unchanged([m])
    h.assert_bad_input(h.run("quantize", m, "-o", d / "alias.onnx"), "alias.onnx", "refusing to overwrite")
    h.assert_bad_input(h.run("calibrate", m, "--calib", c, "-o", d / "alias.onnx"), "refusing to overwrite")
    assert same()


def test_output_over_the_models_external_data(tmp_path):
    import onnx
    g = h.gemm_model(k=64, n=64)
    onnx.save(g, tmp_path / "ext.onnx", save_as_external_data=True, location="ext.bin", size_threshold=0)
    same = unchanged([tmp_path / "ext.bin"])
    for cmd in (["quantize", tmp_path / "ext.onnx", "-o", tmp_path / "ext.bin"],
                ["prune", tmp_path / "ext.onnx", "--save-masks", tmp_path / "ext.bin", "-o", tmp_path / "p.onnx"]):
        h.assert_bad_input(h.run(*cmd), "ext.bin", "refusing to overwrite")
    assert same()


def test_two_outputs_on_one_path(work):
    d, m, c = work
    h.assert_bad_input(h.run("quantize", m, "--calib", c, "--save-calib-table", d / "q.onnx", "-o", d / "q.onnx"),
                       "also the output")


def test_output_inside_a_data_folder(work):
    d, m, c = work
    folder = d / "samples"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", np.zeros(16, np.float32))
    h.assert_bad_input(h.run("calibrate", m, "--calib", folder, "-o", folder / "t.json"), "data folder")


def test_run_whole_never_writes_into_its_test_data_folder(work):
    d, m, c = work
    t = d / "test_data_set_0"
    t.mkdir()
    import onnx.numpy_helper as nh
    (t / "input_0.pb").write_bytes(nh.from_array(np.zeros((2, 16), np.float32), "x").SerializeToString())
    (t / "output_0.pb").write_bytes(b"expected outputs")
    h.assert_bad_input(h.run("run", m, "--whole", "--data", t, "-o", t), "data folder")
    assert (t / "output_0.pb").read_bytes() == b"expected outputs"


def test_default_outputs_are_not_silently_replaced(work):
    d, m, c = work
    r = h.run("quantize", m)
    assert r.returncode == 0, r
    out = d / "m.int8.onnx"
    first = out.read_bytes()
    h.assert_bad_input(h.run("quantize", m, "--bits", "8"), "m.int8.onnx", "--force")
    assert out.read_bytes() == first
    assert h.run("quantize", m, "--force").returncode == 0
    assert h.run("quantize", m, "-o", out).returncode == 0  # named explicitly: replaced
    r = h.run("prune", m)
    assert r.returncode == 0, r
    h.assert_bad_input(h.run("prune", m), "m.pruned.onnx", "--force")


def test_device_output_is_written_through(work):
    d, m, c = work
    dev = d / "null"
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a null device made here, not the machine's
    for cmd in (["quantize", m, "-o", dev], ["calibrate", m, "--calib", c, "-o", dev],
                ["run", m, "--data", c, "-o", dev], ["prune", m, "-o", dev]):
        r = h.run(*cmd)
        assert r.returncode == 0, r
        assert stat.S_ISCHR(os.lstat(dev).st_mode), "the device node was replaced by a file"


def test_symlinked_output_writes_its_target(work):
    d, m, c = work
    (d / "real.onnx").write_bytes(b"old")
    (d / "link.onnx").symlink_to("real.onnx")
    r = h.run("quantize", m, "-o", d / "link.onnx")
    assert r.returncode == 0, r
    assert (d / "link.onnx").is_symlink()
    assert (d / "real.onnx").read_bytes() != b"old"
    import onnx
    onnx.checker.check_model(onnx.load(d / "real.onnx"))


@pytest.mark.parametrize("kind", ["folder", "fifo", "empty", "missing_folder", "read_only_folder"])
def test_unwritable_outputs(work, kind):
    d, m, c = work
    if kind == "folder":
        out, word = d / "f", "is a folder"
        out.mkdir()
    elif kind == "fifo":
        out, word = d / "pipe", "FIFO"
        os.mkfifo(out)
    elif kind == "empty":
        out, word = "", "empty"
    elif kind == "missing_folder":
        out, word = d / "nope" / "q.onnx", "does not exist"
    else:
        ro = d / "ro"
        ro.mkdir()
        out, word = ro / "q.onnx", "read-only"
        ro.chmod(0o555)
    for cmd in (["quantize", m, "-o", out], ["calibrate", m, "--calib", c, "-o", out],
                ["run", m, "--data", c, "-o", out]):
        h.assert_bad_input(h.run(*cmd, timeout=20), word)
    if kind == "read_only_folder":
        assert list((d / "ro").iterdir()) == []
        (d / "ro").chmod(0o755)


def test_default_output_beside_a_model_in_a_read_only_folder(work):
    d, m, c = work
    ro = d / "models"
    ro.mkdir()
    (ro / "m.onnx").write_bytes(m.read_bytes())
    ro.chmod(0o555)
    try:
        h.assert_bad_input(h.run("quantize", ro / "m.onnx"), "read-only")
        assert sorted(p.name for p in ro.iterdir()) == ["m.onnx"]
    finally:
        ro.chmod(0o755)


def test_leftovers_of_killed_runs_are_ignored(work):
    d, m, c = work
    for name in (".q.onnx.tmp1234", ".q.onnx.0123456789abcdef.qtool-tmp"):
        (d / name).write_bytes(b"partial")
    r = h.run("quantize", m, "-o", d / "q.onnx")
    assert r.returncode == 0, r
    assert not [p for p in d.iterdir() if p.name.startswith(".q.onnx") and p.name.endswith(".qtool-tmp")
                and p.read_bytes() != b"partial"]


def test_sweep_report_folder_is_not_silently_replaced(work):
    d, m, c = work
    args = ["sweep", m, "--calib", c, "--data", c, "--bits", "8", "--no-sensitivity"]
    assert h.run(*args, timeout=120).returncode == 0
    h.assert_bad_input(h.run(*args, timeout=120), "report.json", "--force")
    assert h.run(*args, "--force", timeout=120).returncode == 0
    # a model inside the report folder is never one of the configurations' outputs
    h.assert_bad_input(h.run("sweep", d / "m.sweep" / "int8.onnx", "--calib", c, "--data", c, "--bits", "8",
                             "--out-dir", d / "m.sweep", timeout=120), "int8.onnx")
