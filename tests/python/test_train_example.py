"""The PyTorch training example (examples/train_digits.py) in its fast setting: trains, compresses
through the Python package, evaluates every file in onnxruntime, and asserts the bars."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_train_digits_fast(tmp_path):
    pytest.importorskip("torch", reason="PyTorch (Debian python3-torch) is not installed; .ci/test installs it")
    r = subprocess.run([sys.executable, str(ROOT / "examples/train_digits.py"), "--fast", "--check", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ["fp32", "int8", "int4", "pruned", "binary"]:
        assert (tmp_path / f"{name}.onnx").exists()
