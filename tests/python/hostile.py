# SPDX-License-Identifier: Apache-2.0
"""Helpers for the hostile-input tests (issue 14): run qtool with a memory ceiling and a time limit
and report its exit code, output and peak RSS; build small crafted models.

Every crafted input here is a few hundred bytes to a few KB. A qtool that trusted the sizes in
their headers would allocate gigabytes; the address-space limit makes such an allocation fail
(instead of using the machine's memory) and the peak-RSS check catches any that succeed."""
import os
import resource
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import harness

AS_LIMIT = 1 << 30  # bytes of address space for the child (qtool needs < 512 MB on these inputs)


def sanitized():
    """True when the qtool under test is an ASan build (QTOOL_SANITIZE / QTOOL_FUZZ): ASan reserves
    terabytes of address space for its shadow, so the address-space limit is replaced by ASan's
    own allocation ceiling (max_allocation_size_mb, a failed allocation throws std::bad_alloc as
    the limit made it do) and the peak-RSS bounds allow ASan's overhead (RSS_FACTOR)."""
    global _SANITIZED
    if _SANITIZED is None:
        with open(harness.QTOOL, "rb") as f:
            _SANITIZED = b"__asan_init" in f.read()
    return _SANITIZED


_SANITIZED = None
RSS_FACTOR_SANITIZED = 4


def rss_bound(mb):
    """A peak-RSS bound in MB, scaled for an ASan build."""
    return mb * (RSS_FACTOR_SANITIZED if sanitized() else 1)


class Result:
    def __init__(self, returncode, stdout, stderr, maxrss_mb, seconds):
        self.returncode, self.stdout, self.stderr, self.maxrss_mb, self.seconds = (
            returncode, stdout, stderr, maxrss_mb, seconds)

    def __repr__(self):
        return (f"Result(rc={self.returncode}, rss={self.maxrss_mb:.0f} MB, {self.seconds:.1f} s,\n"
                f"stdout={self.stdout[-2000:]!r},\nstderr={self.stderr[-2000:]!r})")


def run(*args, timeout=60, as_limit=AS_LIMIT, cwd=None, env=None):
    """Runs qtool; returns Result with the child's own peak RSS (os.wait4)."""
    if sanitized():
        # the ASan runtime LD_PRELOADed into Python for libqtool.so is not the child's: clang links
        # it statically into qtool, and two runtimes in one process abort
        env = dict(harness.child_env() if env is None else env)
        env.pop("LD_PRELOAD", None)
        if as_limit:
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""), "detect_leaks=0",
                                                         f"max_allocation_size_mb={as_limit >> 20}",
                                                         "allocator_may_return_null=1"]))
            as_limit = 0

    def limit():
        if as_limit:
            resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    t0 = time.monotonic()
    p = subprocess.Popen([str(harness.QTOOL), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=limit, cwd=cwd, env=env)
    chunks = {"out": [], "err": []}

    def pump(stream, key):
        for block in iter(lambda: stream.read(65536), b""):
            chunks[key].append(block)

    threads = [threading.Thread(target=pump, args=(p.stdout, "out")),
               threading.Thread(target=pump, args=(p.stderr, "err"))]
    for t in threads:
        t.start()
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > timeout:
            p.kill()
            pid, status, usage = os.wait4(p.pid, 0)
            for t in threads:
                t.join()
            raise AssertionError(f"qtool {' '.join(map(str, args))} did not finish within {timeout} s (hang)")
        time.sleep(0.02)
    for t in threads:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return Result(p.returncode, b"".join(chunks["out"]).decode(errors="replace"),
                  b"".join(chunks["err"]).decode(errors="replace"), usage.ru_maxrss / 1024.0,
                  time.monotonic() - t0)


def assert_bad_input(r, *words, max_rss_mb=400):
    """Exit 2, one line on stderr containing every word, no crash, bounded memory."""
    assert r.returncode == 2, r
    lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("[")]
    assert len(lines) == 1, r
    assert lines[0].startswith("qtool: error: "), r
    for w in words:
        assert str(w) in lines[0], (w, r)
    assert r.maxrss_mb < rss_bound(max_rss_mb), r


def model(nodes, inputs, outputs, inits=(), opset=13, sparse=(), ir=8):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    g.sparse_initializer.extend(sparse)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def save(m, path):
    """Writes without onnx's checks (the models are broken on purpose)."""
    Path(path).write_bytes(m.SerializeToString())
    return Path(path)


def gemm_model(k=16, n=8, w=None, name="fc"):
    """x[N,k] -> Gemm(w[n,k], b[n]) -> y[N,n]."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, k)).astype(np.float32) if w is None else w
    b = np.zeros(n, np.float32)
    return model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], name=name, transB=1)],
                 [vi("x", ["N", k])], [vi("y", ["N", n])],
                 [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
