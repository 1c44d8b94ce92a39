# SPDX-License-Identifier: Apache-2.0
"""The ONNX backend node suite (tests/conformance/node_suite.py) in qtool's executor and in
onnxruntime: qtool must not crash or hang on any case, must not drop below the recorded floor
(tests/conformance/floor.txt; raise it as operators land), and must pass at least as many cases as
onnxruntime. .ci/test runs the suite once before pytest (printing both counts to the CI log) and
this test reads that result; run alone, it runs the suite itself."""
import json
import os
import subprocess
import sys

from harness import QTOOL, ROOT

RESULT = QTOOL.parent / "conformance.json"  # beside the binary under test (build/, or build-fuzz/ under ASan)


def suite_result():
    fresh = RESULT.exists() and RESULT.stat().st_mtime >= QTOOL.stat().st_mtime
    if not fresh:
        r = subprocess.run([sys.executable, str(ROOT / "tests/conformance/node_suite.py"), "--qtool", str(QTOOL),
                            "--json", str(RESULT)], capture_output=True, text=True, timeout=3600)
        print(r.stdout[:3000])
        assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(RESULT.read_text())


def test_node_suite_floor_no_crash_no_hang():
    res = suite_result()
    q = res["qtool"]
    status = lambda s: sum(1 for v in q.values() if v[0] == s)  # noqa: E731
    passed = status("pass")
    floor = int((ROOT / "tests/conformance/floor.txt").read_text().split()[0])
    crashes = [k for k, v in q.items() if v[0] in ("crash", "hang")]
    internal = [f"{k}: {v[1]}" for k, v in q.items() if v[0] == "internal"]
    assert not crashes, f"crashes/hangs: {crashes}"
    assert not internal, "internal errors (exit 1) instead of a clear exit 2:\n" + "\n".join(internal[:20])
    assert passed >= floor, f"qtool passes {passed} node-suite cases, below the recorded floor {floor}"
    if res.get("onnxruntime"):
        ort_passed = sum(1 for v in res["onnxruntime"].values() if v[0] == "pass")
        print(f"qtool {passed} vs onnxruntime {ort_passed} of {len(q)}")
        assert passed >= ort_passed, f"qtool passes {passed}, onnxruntime {ort_passed}"
