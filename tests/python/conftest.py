# SPDX-License-Identifier: Apache-2.0
import sys
from pathlib import Path

import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).parent))
ort.set_default_logger_severity(3)

import harness  # noqa: E402
import shared_data  # noqa: E402


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("qtool_data")


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory):
    """examples/digits: an MLP trained on scikit-learn's digits, with calib/test arrays (no ../shared)."""
    import subprocess
    out = tmp_path_factory.mktemp("digits")
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "examples/digits/make_model.py"), str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def shared():
    if not shared_data.available():
        pytest.skip("../shared/data is absent: skipping tests on real models")
    return shared_data.SHARED


def pytest_configure(config):
    if not harness.QTOOL.exists():
        raise SystemExit(f"qtool binary not found at {harness.QTOOL}; build first (cmake --build build)")
