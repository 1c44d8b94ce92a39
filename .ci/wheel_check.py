# SPDX-License-Identifier: Apache-2.0
"""The wheel check of .ci/fresh, run inside a minimal Debian 12 root that has python3 and the
installed wheel but no build dependency (no -dev package, no compiler, no libonnx/libdnnl).
usage: python wheel_check.py DIR    DIR holds digits_mlp.onnx, calib.npy, test.npy, test_labels.npy
(examples/digits/make_model.py). Checks, each an assertion (exit 1 with the reason):
  - import qtool loads the vendored libqtool.so; qtool.version() equals the wheel's metadata version
    (both from project() in CMakeLists.txt) and `qtool --version`;
  - the Python API quantizes the model to int8 with calibration and keeps its accuracy on the test
    set within 2 points of fp32 (evaluated by qtool's executor), at under 40% of the fp32 file size;
  - the console script `qtool` (the native binary in the wheel) quantizes and evaluates the same way.
Prints one line per check."""
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import qtool

d = Path(sys.argv[1])
model, calib, test, labels = (d / n for n in ("digits_mlp.onnx", "calib.npy", "test.npy", "test_labels.npy"))

meta = importlib.metadata.version("qtool-onnx")
cli = shutil.which("qtool")
assert cli, "the console script qtool is not on the venv's PATH"
cli_version = subprocess.run([cli, "--version"], check=True, capture_output=True, text=True).stdout.strip()
print(f"qtool {qtool.version()} (package {Path(qtool.__file__).parent}), wheel metadata {meta}, {cli}: {cli_version}")
assert qtool.version() == meta and cli_version == f"qtool {meta}", "versions differ"
if hasattr(qtool, "__version__"):
    assert qtool.__version__ == meta, f"qtool.__version__ {qtool.__version__} != {meta}"

m = qtool.Model.load(model)
q = m.quantize(calib=qtool.Data.open(calib, m), bits=8)
out = d / "digits_mlp.py_int8.onnx"
q.save(out)
y = np.load(labels)
r_fp32 = m.evaluate(qtool.Data.open(test, m), labels=y)
r_int8 = q.evaluate(qtool.Data.open(test, m), labels=y, ref=m)
ratio = out.stat().st_size / model.stat().st_size
print(f"Python API: int8 top-1 {100 * r_int8.top1:.2f}% (fp32 {100 * r_fp32.top1:.2f}%), "
      f"{out.stat().st_size} B = {100 * ratio:.1f}% of fp32, {r_int8.samples} test samples")
assert r_int8.top1 >= r_fp32.top1 - 0.02, "int8 lost more than 2 points"
assert ratio < 0.40, "int8 file is not smaller"

cli_out = d / "digits_mlp.cli_int8.onnx"
subprocess.run([cli, "-q", "quantize", str(model), "--bits", "8", "--calib", str(calib), "-o", str(cli_out)],
               check=True)
ev = subprocess.run([cli, "eval", str(cli_out), "--data", str(test), "--labels", str(labels), "--ref", str(model)],
                    check=True, capture_output=True, text=True).stdout
print("console script: qtool quantize + qtool eval:\n  " + "\n  ".join(ev.strip().splitlines()))
assert cli_out.stat().st_size / model.stat().st_size < 0.40
print("wheel check: OK")
