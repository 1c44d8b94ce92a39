# SPDX-License-Identifier: Apache-2.0
"""`cmake --install` puts the header, libqtool.so, a CMake package (find_package(qtool), target
qtool::qtool) and a pkg-config file in place; examples/c builds against them both ways and runs."""
import os
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort

import harness as h

ROOT = Path(__file__).resolve().parents[2]


def run(*cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
    return r


def test_install_find_package_and_pkg_config(tmp_path):
    prefix = tmp_path / "prefix"
    run("cmake", "--install", ROOT / "build", "--prefix", prefix)
    assert (prefix / "include/qtool.h").exists()
    lib = next((prefix / "lib").glob("libqtool.so*"), None) or next(prefix.glob("lib*/libqtool.so*"))
    assert lib
    # find_package(qtool) + qtool::qtool
    build = tmp_path / "example"
    run("cmake", "-S", ROOT / "examples/c", "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}")
    run("cmake", "--build", build)
    # pkg-config
    pc_dir = next(prefix.glob("lib*/pkgconfig"))
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc_dir))
    flags = run("pkg-config", "--cflags", "--libs", "qtool", env=env).stdout.split()
    run("cc", ROOT / "examples/c/quantize.c", "-o", tmp_path / "quantize_pc", *flags)
    # the example quantizes a real model (scikit-learn's digits MLP) and onnxruntime runs the result
    digits = tmp_path / "digits"
    run(sys.executable, ROOT / "examples/digits/make_model.py", digits)
    libdir = lib.parent
    out = tmp_path / "q.onnx"
    r = run(build / "quantize_c", digits / "digits_mlp.onnx", digits / "calib.npy", out,
            env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    assert "bits per weight" in r.stdout
    run(tmp_path / "quantize_pc", digits / "digits_mlp.onnx", digits / "calib.npy", tmp_path / "q2.onnx",
        env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    assert out.read_bytes() == (tmp_path / "q2.onnx").read_bytes()
    ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
