# SPDX-License-Identifier: Apache-2.0
"""The ONNX backend node suite, run in qtool's executor and in onnxruntime side by side.

The cases come from the pinned `onnx` package itself (onnx.backend.test.case.node.collect_testcases():
each is a one-node model with input and expected output values), written as ONNX test data
(model.onnx + test_data_set_0/input_K.pb, output_K.pb) into a cache folder; nothing is kept in git.
qtool runs each case as a user would, `qtool run --whole model.onnx --data test_data_set_0 -o OUT`
(one process per case, with a timeout, so a crash or a hang is counted, not fatal), and onnxruntime
runs the same model in-process. Both are compared with the expected outputs the same way: floats with
rtol 1e-3 / atol 1e-4 (or the case's own looser tolerance), NaN equal to NaN; integers, bools and
strings exactly; shapes and dtypes must match.

usage: python tests/conformance/node_suite.py --qtool build/qtool [--jobs 2] [--filter REGEX]
           [--json result.json] [--no-ort] [--cache DIR] [--list-failures]
Prints both counts and qtool's failures grouped by reason; exit 0 (the floor is checked by
tests/python/test_conformance.py).
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

RTOL, ATOL = 1e-3, 1e-4
TIMEOUT_S = 60
ROOT = Path(__file__).resolve().parents[2]


def _value_to_proto(value, value_info):
    t = value_info.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, value_info.name)
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, value_info.name)
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, value_info.name)
    if isinstance(value, onnx.TensorProto):
        return value
    return numpy_helper.from_array(value, value_info.name)


def generate(cache: Path):
    """Writes every node case with tensor/sequence/optional values into cache/<name>/."""
    stamp = cache / f".onnx-{onnx.__version__}"
    if stamp.exists():
        return sorted(p for p in cache.iterdir() if p.is_dir())
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    from onnx.backend.test.case import node
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    for case in cases:
        d = cache / case.name
        d.mkdir()
        (d / "model.onnx").write_bytes(case.model.SerializeToString())
        (d / "tolerance.json").write_text(json.dumps({"rtol": case.rtol, "atol": case.atol}))
        for k, (inputs, outputs) in enumerate(case.data_sets):
            ds = d / f"test_data_set_{k}"
            ds.mkdir()
            for j, v in enumerate(inputs):
                (ds / f"input_{j}.pb").write_bytes(_value_to_proto(v, case.model.graph.input[j]).SerializeToString())
            for j, v in enumerate(outputs):
                (ds / f"output_{j}.pb").write_bytes(_value_to_proto(v, case.model.graph.output[j]).SerializeToString())
    stamp.write_text("")
    return sorted(p for p in cache.iterdir() if p.is_dir())


def _read_value(path: Path, value_info):
    data = path.read_bytes()
    t = value_info.type
    if t.HasField("optional_type"):
        p = onnx.OptionalProto()
        p.ParseFromString(data)
        return numpy_helper.to_optional(p)
    if t.HasField("sequence_type"):
        p = onnx.SequenceProto()
        p.ParseFromString(data)
        return numpy_helper.to_list(p)
    p = onnx.TensorProto()
    p.ParseFromString(data)
    return numpy_helper.to_array(p)


def _is_float(dt):
    return dt.kind == "f" or "float" in str(dt) or "bfloat" in str(dt)


def compare(got, want, rtol, atol, where="output"):
    """None when equal, else the reason."""
    if want is None or got is None:
        return None if (want is None) == (got is None) else f"{where}: expected {'none' if want is None else 'a value'}"
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"{where}: expected a sequence"
        if len(got) != len(want):
            return f"{where}: sequence of {len(got)}, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            r = compare(g, w, rtol, atol, f"{where}[{i}]")
            if r:
                return r
        return None
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"{where}: shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype and not (want.dtype.kind == "O" and got.dtype.kind in "OUS"):
        return f"{where}: dtype {got.dtype}, expected {want.dtype}"
    if want.dtype.kind in "OUS":
        return None if np.array_equal(got.astype(object), want.astype(object)) else f"{where}: strings differ"
    if _is_float(want.dtype):
        g, w = got.astype(np.float64), want.astype(np.float64)
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            return f"{where}: NaN positions differ"
        m = ~np.isnan(w)
        if not np.array_equal(np.isinf(g[m]), np.isinf(w[m])) or not np.array_equal(g[m][np.isinf(w[m])], w[m][np.isinf(w[m])]):
            return f"{where}: inf values differ"
        fin = m & ~np.isinf(w)
        if fin.any() and not np.allclose(g[fin], w[fin], rtol=rtol, atol=atol):
            err = np.max(np.abs(g[fin] - w[fin]))
            return f"{where}: values differ (max abs error {err:.3g})"
        return None
    return None if np.array_equal(got, want) else f"{where}: values differ"


def _tolerance(case: Path):
    tol = json.loads((case / "tolerance.json").read_text())
    return max(RTOL, tol.get("rtol", 0)), max(ATOL, tol.get("atol", 0))


def run_qtool(qtool: str, case: Path):
    """(status, reason): status in pass, fail, error (exit 2), internal (exit 1), crash, hang."""
    model = onnx.load(str(case / "model.onnx"), load_external_data=False)
    rtol, atol = _tolerance(case)
    for ds in sorted(case.glob("test_data_set_*")):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            try:
                r = subprocess.run([qtool, "run", "--whole", str(case / "model.onnx"), "--data", str(ds), "-o", str(out)],
                                   capture_output=True, text=True, timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                return "hang", f"no result after {TIMEOUT_S} s"
            if r.returncode < 0 or r.returncode not in (0, 1, 2):
                return "crash", f"exit {r.returncode}: {r.stderr.strip()[-300:]}"
            if r.returncode != 0:
                msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "(no message)"
                return ("error" if r.returncode == 2 else "internal"), msg
            for j, vi in enumerate(model.graph.output):
                want = _read_value(ds / f"output_{j}.pb", vi)
                got_path = out / f"output_{j}.pb"
                if not got_path.exists():
                    return "fail", f"output {j} missing"
                try:
                    got = _read_value(got_path, vi)
                except Exception as e:  # noqa: BLE001 - a malformed output is a wrong result
                    return "fail", f"output {j} unreadable: {str(e)[:150]}"
                reason = compare(got, want, rtol, atol, f"output '{vi.name}'")
                if reason:
                    return "fail", reason
    return "pass", ""


def run_ort(case: Path):
    import onnxruntime as ort
    model = onnx.load(str(case / "model.onnx"), load_external_data=False)
    rtol, atol = _tolerance(case)
    try:
        so = ort.SessionOptions()
        so.log_severity_level = 4
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - any refusal counts as a failure
        return "error", str(e).splitlines()[0][:200]
    for ds in sorted(case.glob("test_data_set_*")):
        feeds = {}
        for j, vi in enumerate(model.graph.input):
            p = ds / f"input_{j}.pb"
            if p.exists():
                feeds[vi.name] = _read_value(p, vi)
        try:
            outs = sess.run(None, feeds)
        except Exception as e:  # noqa: BLE001
            return "error", str(e).splitlines()[0][:200]
        for j, vi in enumerate(model.graph.output):
            reason = compare(outs[j], _read_value(ds / f"output_{j}.pb", vi), rtol, atol, f"output '{vi.name}'")
            if reason:
                return "fail", reason
    return "pass", ""


def reason_key(status, reason):
    """Groups failures: op names and numbers stripped from messages."""
    r = re.sub(r"(/[^\s:]+)+\.onnx", "MODEL", reason)
    r = re.sub(r"node '[^']*'", "node", r)
    r = re.sub(r"'[^']*'", "'…'", r)
    r = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", r)
    return f"{status}: {r[:160]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qtool", default=str(ROOT / "build/qtool"))
    ap.add_argument("--cache", default=str(ROOT / "build/conformance/node"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--filter", default="", help="only cases whose name matches this regex")
    ap.add_argument("--json", help="write per-case results here")
    ap.add_argument("--no-ort", action="store_true", help="skip onnxruntime")
    ap.add_argument("--list-failures", action="store_true", help="print every failing case with its reason")
    args = ap.parse_args()

    t0 = time.time()
    cases = generate(Path(args.cache))
    if args.filter:
        cases = [c for c in cases if re.search(args.filter, c.name)]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        q = dict(zip([c.name for c in cases], pool.map(lambda c: run_qtool(args.qtool, c), cases)))
    t_qtool = time.time() - t0
    o = {}
    if not args.no_ort:
        for c in cases:
            o[c.name] = run_ort(c)
    counts = collections.Counter(s for s, _ in q.values())
    groups = collections.defaultdict(list)
    for name, (s, r) in q.items():
        if s != "pass":
            groups[reason_key(s, r)].append(name)
    print(f"ONNX node suite (onnx {onnx.__version__}): {len(cases)} cases")
    print(f"  qtool:        {counts['pass']} pass, {counts['fail']} wrong result, {counts['error']} refused (exit 2), "
          f"{counts['internal']} internal error (exit 1), {counts['crash']} crashes, {counts['hang']} hangs   "
          f"[{t_qtool:.0f} s]")
    if o:
        import onnxruntime as ort
        oc = collections.Counter(s for s, _ in o.values())
        print(f"  onnxruntime {ort.__version__}: {oc['pass']} pass, {oc['fail']} wrong result, {oc['error']} refused")
        both = sum(1 for n in q if q[n][0] == "pass" and o[n][0] == "pass")
        only_q = sum(1 for n in q if q[n][0] == "pass" and o[n][0] != "pass")
        only_o = sum(1 for n in q if q[n][0] != "pass" and o[n][0] == "pass")
        print(f"  both pass {both}, only qtool {only_q}, only onnxruntime {only_o}")
    print("qtool failures by reason:")
    for key, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(names[:6]) + (f", ... (+{len(names) - 6})" if len(names) > 6 else "")
        print(f"  {len(names):4d}  {key}\n        {shown}")
    if args.list_failures:
        for name, (s, r) in sorted(q.items()):
            if s != "pass":
                print(f"{name}\t{s}\t{r}")
    if args.json:
        Path(args.json).write_text(json.dumps({"onnx": onnx.__version__, "qtool": q, "onnxruntime": o}, indent=1))


if __name__ == "__main__":
    main()
