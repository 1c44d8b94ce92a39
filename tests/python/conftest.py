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
def shared():
    if not shared_data.available():
        pytest.skip("../shared/data is absent: skipping tests on real models")
    return shared_data.SHARED


def pytest_configure(config):
    if not harness.QTOOL.exists():
        raise SystemExit(f"qtool binary not found at {harness.QTOOL}; build first (cmake --build build)")
