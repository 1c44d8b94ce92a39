# SPDX-License-Identifier: Apache-2.0
"""Issue 13, items 3-5 and the CI example: the licence (SPDX headers, wheel metadata), the installed
distribution (qtool-onnx, platform-tagged, with libqtool.so, the native binary and the `qtool`
console script), one version number everywhere (CMakeLists.txt project() -> qtool --version,
qt_version(), the package, the wheel metadata, CHANGELOG.md), and the user's GitHub workflow whose
commands run against the installed console script. Needs the package installed from this checkout
(bash .ci/setup: pip install . into .venv)."""
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness as h

ROOT = Path(__file__).resolve().parents[2]
DIST = "qtool-onnx"


def cmake_version() -> str:
    m = re.search(r"^project\(qtool VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M)
    assert m, "project(qtool VERSION ...) not found in CMakeLists.txt"
    return m.group(1)


def console_script() -> Path:
    """The `qtool` entry point pip installed beside this interpreter."""
    script = Path(sys.executable).parent / "qtool"
    assert script.exists(), f"{script} missing: install the package (pip install .)"
    return script


# The ASan suite (.ci/sanitize --pytest) imports the source tree (PYTHONPATH=python) with
# build-fuzz's library: the installed wheel's files and metadata are the release suite's to check.
WHEEL = pytest.mark.skipif(h.UNDER_ASAN, reason="checks the installed wheel; the ASan suite imports the source tree")


def run(*cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


@WHEEL
def test_one_version_everywhere():
    import qtool
    v = cmake_version()
    assert run(h.QTOOL, "--version").stdout.strip() == f"qtool {v}"
    assert qtool.version() == v                                   # qt_version() of libqtool.so
    assert importlib.metadata.version(DIST) == v                  # the wheel's metadata
    if hasattr(qtool, "__version__"):
        assert qtool.__version__ == v
    assert run(console_script(), "--version").stdout.strip() == f"qtool {v}"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## ([0-9][0-9.]*)", changelog, re.M)
    assert versions and versions[0] == v, f"CHANGELOG.md's newest numbered section {versions[:1]} != {v}"


@WHEEL
def test_distribution_metadata_licence_and_platform_tag():
    import qtool
    dist = importlib.metadata.distribution(DIST)
    assert dist.metadata["Name"] == DIST
    assert dist.metadata["License-Expression"] == "Apache-2.0"
    licence = [f for f in dist.files if f.name == "LICENSE"]
    assert licence and "Apache License" in licence[0].read_text()
    # a platform wheel: it holds an x86-64 library and binary, so never py3-none-any
    tags = [line.split(":", 1)[1].strip() for line in dist.read_text("WHEEL").splitlines() if line.startswith("Tag:")]
    assert tags and all(t.startswith("py3-none-") and not t.endswith("-any") for t in tags), tags
    assert dist.read_text("entry_points.txt").count("qtool = qtool._cli:main") == 1
    pkg = Path(qtool.__file__).parent
    for f in (pkg / "libqtool.so", pkg / "bin" / "qtool"):
        assert f.read_bytes()[:4] == b"\x7fELF", f


@WHEEL
def test_console_script_runs_the_native_binary_with_its_exit_codes(tmp_path):
    script = console_script()
    r = run(script, "quantize", tmp_path / "missing.onnx", "--bits", "8")
    assert r.returncode == 2, r
    assert "missing.onnx" in r.stderr
    r = run(script, "inspect", "--help")
    assert r.returncode == 0 and "inspect" in r.stdout


def test_console_script_without_the_binary_says_so(tmp_path, monkeypatch):
    """A source checkout on sys.path has no bin/qtool: one line naming it, exit 1."""
    pkg = tmp_path / "qtool"
    pkg.mkdir()
    shutil.copy(ROOT / "python/qtool/_cli.py", pkg / "_cli.py")
    r = run(sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import _cli; _cli.main()", pkg)
    assert r.returncode == 1
    assert "native binary" in r.stderr and str(pkg / "bin" / "qtool") in r.stderr


def test_every_source_file_has_an_spdx_header(tmp_path):
    r = run(sys.executable, ROOT / ".ci/spdx.py")
    assert r.returncode == 0, r.stdout
    # the checker fails on a file without the header (a copy of the tree with one such file)
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / ".ci", tree / ".ci")
    shutil.copytree(ROOT / "tools", tree / "tools")
    (tree / "tools" / "cmd_new.cpp").write_text("int x;\n")
    r = run(sys.executable, tree / ".ci/spdx.py", cwd=tree)
    assert r.returncode == 1 and "tools/cmd_new.cpp" in r.stdout


def workflow_steps(path: Path):
    """The `run:` commands of a GitHub workflow (single-line and `|` blocks), in order, and its
    top-level `env:` values (the workflow is plain enough that no YAML library is needed)."""
    lines = path.read_text().splitlines()
    env, commands, i = {}, [], 0
    while i < len(lines):
        line = lines[i]
        if line == "env:":
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and ":" in lines[i]:
                k, v = lines[i].strip().split(":", 1)
                env[k] = v.split(" #")[0].strip().strip('"')
                i += 1
            continue
        m = re.match(r"^(\s*)(?:- )?run: ?(.*)$", line)
        if m:
            indent, value = len(m.group(1)), m.group(2)
            if value == "|":
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                commands.append("\n".join(block).replace("\\\n", " "))
                continue
            commands.append(value)
        i += 1
    return env, commands


def test_user_workflow_installs_the_wheel_and_its_commands_run(digits_model, tmp_path):
    """examples/ci/github-workflow.yml on the digits model: it installs the wheel (never builds qtool's
    source tree), and every command after the install runs here against the installed console
    script: quantize, sweep (report.html), gate (passes; fails when the size limit is too small)."""
    wf = ROOT / "examples/ci/github-workflow.yml"
    env, commands = workflow_steps(wf)
    text = wf.read_text()
    assert "pip install \"$QTOOL_WHEEL\"" in text and env["QTOOL_WHEEL"].startswith(DIST + "==")
    assert not re.search(r"cmake|\.ci/setup|gate\.sh|build/qtool", text)
    assert "out/sweep/report.html" in text
    d = digits_model
    env.update(MODEL=str(d / "digits_mlp.onnx"), CALIB=str(d / "calib.npy"), TEST=str(d / "test.npy"),
               LABELS=str(d / "test_labels.npy"))
    env["PATH"] = f"{console_script().parent}{os.pathsep}{os.environ['PATH']}"
    env["HOME"] = os.environ.get("HOME", str(tmp_path))
    ran = []
    for cmd in commands:
        lines = [c for c in cmd.splitlines() if "pip install" not in c]  # the wheel is installed already
        if not lines:
            continue
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
        ran += re.findall(r"^qtool (?:-q )?([a-z]+)", "\n".join(lines), re.M)
    assert {"quantize", "sweep", "gate"} <= set(ran), ran
    assert (tmp_path / "out/sweep/report.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert (tmp_path / "out/model.int8.onnx").stat().st_size < (d / "digits_mlp.onnx").stat().st_size
    # the gate step is a real gate: the same command with a size limit below the file fails with 1
    gate = next(c for c in commands if c.lstrip().startswith("qtool gate"))
    env["MAX_SIZE"] = "1KiB"
    r = subprocess.run(["bash", "-c", gate], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 1, r
