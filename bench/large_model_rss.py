# SPDX-License-Identifier: Apache-2.0
"""Peak RSS of `qtool inspect` and `qtool quantize --bits 8` on a large model whose weights are
external data (issue 14, "large models"), against the model's bytes on disk.

The model is a chain of MatMul layers x[N, D] @ W_i[D, D] (float32, D = 4096 by default), weights in
one external file written layer by layer (the script itself never holds more than one layer). It
is written to a temporary folder (or --dir) and removed afterwards unless --keep.

usage: python bench/large_model_rss.py --qtool build/qtool [--gib 2.4] [--dim 4096] [--dir /tmp/x]
Prints one line per command: peak RSS (MiB), model bytes (MiB), ratio, wall seconds, exit code.
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper


def make_model(folder: Path, gib: float, dim: int) -> Path:
    layer_bytes = dim * dim * 4
    layers = max(1, int(round(gib * (1 << 30) / layer_bytes)))
    inits, nodes = [], []
    rng = np.random.default_rng(0)
    offset = 0
    with open(folder / "weights.bin", "wb") as f:
        for i in range(layers):
            w = (rng.standard_normal((dim, dim), dtype=np.float32) / np.sqrt(dim)).astype(np.float32)
            f.write(w.tobytes())
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[dim, dim],
                            data_location=TensorProto.EXTERNAL)
            for k, v in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(layer_bytes))):
                e = t.external_data.add()
                e.key, e.value = k, v
            offset += layer_bytes
            inits.append(t)
            nodes.append(helper.make_node("MatMul", ["x" if i == 0 else f"h{i - 1}", f"w{i}"],
                                          ["y" if i == layers - 1 else f"h{i}"], name=f"mm{i}"))
    g = helper.make_graph(nodes, "large", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", dim])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", dim])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    p = folder / "large.onnx"
    p.write_bytes(m.SerializeToString())
    return p


def measure(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace")
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, time.monotonic() - t0, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qtool", default="build/qtool")
    ap.add_argument("--gib", type=float, default=2.4)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    folder = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="qtool-large-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        model = make_model(folder, a.gib, a.dim)
        size = model.stat().st_size + (folder / "weights.bin").stat().st_size
        print(f"model: {model} + weights.bin, {size / 2**20:.0f} MiB on disk")
        for name, cmd in (("inspect", [a.qtool, "inspect", model]),
                          ("quantize --bits 8", [a.qtool, "quantize", model, "--bits", "8", "-o", folder / "q.onnx"])):
            rc, rss, secs, err = measure([str(c) for c in cmd])
            print(f"{name}: exit {rc}, peak RSS {rss / 2**20:.0f} MiB = {rss / size:.2f} x the model, {secs:.1f} s")
            if rc != 0:
                print(err.strip()[-2000:])
        q = folder / "q.onnx"
        if q.exists():
            out = sum(f.stat().st_size for f in folder.iterdir() if f.name.startswith("q.onnx"))
            print(f"quantized: {out / 2**20:.0f} MiB on disk ({', '.join(sorted(f.name for f in folder.iterdir() if f.name.startswith('q.onnx')))})")
    finally:
        if not a.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
