# SPDX-License-Identifier: Apache-2.0
"""The PyTorch training example (examples/train_digits.py) in its fast setting: trains, compresses
through the Python package, evaluates every file in onnxruntime, and asserts the bars."""
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


TORCH_PY = ROOT / ".venv-torch/bin/python"


def test_train_digits_fast(tmp_path):
    if not TORCH_PY.exists():
        pytest.skip("no .venv-torch (PyTorch from Debian's python3-torch): `bash .ci/setup --torch` makes it")
    r = subprocess.run([str(TORCH_PY), str(ROOT / "examples/train_digits.py"), "--fast", "--check", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ["fp32", "int8", "int4", "pruned", "binary"]:
        assert (tmp_path / f"{name}.onnx").exists()
