# SPDX-License-Identifier: Apache-2.0
"""Issue 14, structure-aware mutation smoke: seeded random mutations of real and small models
(dims, data types, raw bytes, attribute values, node wiring, opsets, serialized bytes) run through
`inspect`, `quantize` (weights only) and `run`. Each mutant must end with exit 0 or with exit 2 and
one line "qtool: error: ..." — never a signal, an internal failure (exit 1), a hang or gigabytes of
memory. Deterministic (one seed per case); QTOOL_MUTANTS scales the number of mutants per seed
(default 40; the probe of issue 14 ran 1,285)."""
import copy
import os
import random

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import hostile as h
import shared_data
from hostile import vi

N = int(os.environ.get("QTOOL_MUTANTS", "40"))
BIG = [0, 1, 2, 3, -1, -2, 7, 255, 2**31 - 1, 2**31, 2**32 + 1, 2**62, 2**63 - 1, -(2**63), 750_000_000]


def conv_model():
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B"),
             numpy_helper.from_array(np.ones(4, np.float32), "gamma"), numpy_helper.from_array(np.zeros(4, np.float32), "beta"),
             numpy_helper.from_array(np.zeros(4, np.float32), "mean"), numpy_helper.from_array(np.ones(4, np.float32), "var"),
             numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
             numpy_helper.from_array(rng.standard_normal((10, 64)).astype(np.float32), "fcw")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"], name="bn"),
             helper.make_node("Relu", ["bn"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
             helper.make_node("Transpose", ["p"], ["t"], name="tr", perm=[0, 1, 3, 2]),
             helper.make_node("Reshape", ["t", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fcw"], ["y"], name="fc", transB=1)]
    return h.model(nodes, [vi("x", [1, 2, 8, 8])], [vi("y", [1, 10])], inits)


def seeds():
    out = {"conv": (conv_model(), (1, 2, 8, 8)), "gemm": (h.gemm_model(), (2, 16))}
    if shared_data.available():
        out["mnist12"] = (onnx.load(shared_data.SHARED / "mnist" / "mnist-12.onnx"), (1, 1, 28, 28))
    return out


def tensors(m):
    ts = list(m.graph.initializer)
    for n in m.graph.node:
        ts += [a.t for a in n.attribute if a.type == onnx.AttributeProto.TENSOR]
    return ts


def mutate(m, rng):
    """One to three structural mutations of a copy of `m`."""
    m = copy.deepcopy(m)
    g = m.graph
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["dims", "dtype", "raw", "attr", "wire", "drop", "opset", "ints_attr", "shape_value"])
        ts = tensors(m)
        if kind == "dims" and ts:
            t = rng.choice(ts)
            if t.dims and rng.random() < 0.7:
                t.dims[rng.randrange(len(t.dims))] = rng.choice(BIG)
            else:
                t.dims.append(rng.choice(BIG))
        elif kind == "dtype" and ts:
            rng.choice(ts).data_type = rng.randrange(0, 27)
        elif kind == "raw" and ts:
            t = rng.choice(ts)
            if t.raw_data:
                cut = rng.randrange(len(t.raw_data))
                t.raw_data = t.raw_data[:cut] if rng.random() < 0.5 else t.raw_data + bytes(rng.randrange(1, 9))
            elif t.float_data:
                del t.float_data[rng.randrange(len(t.float_data)):]
            elif t.int64_data:
                del t.int64_data[rng.randrange(len(t.int64_data)):]
        elif kind in ("attr", "ints_attr") and g.node:
            n = rng.choice(list(g.node))
            ints = [a for a in n.attribute if a.type == onnx.AttributeProto.INTS and a.ints]
            one = [a for a in n.attribute if a.type == onnx.AttributeProto.INT]
            if ints and (kind == "ints_attr" or not one):
                a = rng.choice(ints)
                if rng.random() < 0.3:
                    del a.ints[rng.randrange(len(a.ints)):]
                else:
                    a.ints[rng.randrange(len(a.ints))] = rng.choice(BIG)
            elif one:
                rng.choice(one).i = rng.choice(BIG)
            else:
                n.attribute.append(helper.make_attribute(rng.choice(["axis", "strides", "pads", "perm"]),
                                                         [rng.choice(BIG)] * rng.randrange(1, 5)))
        elif kind == "wire" and g.node:
            names = [i.name for i in g.input] + [t.name for t in g.initializer] + [o for n in g.node for o in n.output] + [""]
            n = rng.choice(list(g.node))
            if n.input and rng.random() < 0.8:
                n.input[rng.randrange(len(n.input))] = rng.choice(names)
            else:
                n.input.append(rng.choice(names))
        elif kind == "drop" and len(g.node) > 1:
            del g.node[rng.randrange(len(g.node))]
        elif kind == "opset":
            m.opset_import[0].version = rng.choice([1, 6, 7, 9, 11, 13, 17, 21, 28, 29, 1000])
        elif kind == "shape_value":
            ints = [t for t in g.initializer if t.data_type == TensorProto.INT64]
            if ints:
                t = rng.choice(ints)
                try:
                    arr = numpy_helper.to_array(t)
                except Exception:  # an earlier mutation broke it already
                    continue
                a = arr.copy().reshape(-1)
                if a.size:
                    a[rng.randrange(a.size)] = rng.choice(BIG)
                    t.CopyFrom(numpy_helper.from_array(a.reshape(arr.shape), t.name))
    return m


def byte_mutant(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return bytes(b[:rng.randrange(len(b) // 2, len(b) + 1)])


def check(r, label):
    assert r.returncode in (0, 2), (label, r)
    if r.returncode == 2:
        lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("[")]
        assert len(lines) == 1 and lines[0].startswith("qtool: error: "), (label, r)
    assert r.maxrss_mb < h.rss_bound(600), (label, r)


@pytest.mark.parametrize("name", ["conv", "gemm", "mnist12"])
def test_structural_mutants(tmp_path, name):
    all_seeds = seeds()
    if name not in all_seeds:
        pytest.skip("../shared/data is absent")
    base, x_shape = all_seeds[name]
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).standard_normal(x_shape).astype(np.float32))
    rng = random.Random(f"qtool-{name}")
    for i in range(N):
        m = mutate(base, rng)
        p = h.save(m, tmp_path / f"{name}_{i}.onnx")
        label = f"{name} mutant {i}: {p}"
        for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"],
                    ["run", p, "--data", data, "-o", tmp_path / "o.npz", "--whole"]):
            check(h.run(*cmd, timeout=30), label)
        p.unlink()


@pytest.mark.parametrize("name", ["conv", "mnist12"])
def test_byte_mutants(tmp_path, name):
    all_seeds = seeds()
    if name not in all_seeds:
        pytest.skip("../shared/data is absent")
    raw = all_seeds[name][0].SerializeToString()
    rng = random.Random(f"qtool-bytes-{name}")
    for i in range(N):
        p = tmp_path / f"{name}_b{i}.onnx"
        p.write_bytes(byte_mutant(raw, rng))
        for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"]):
            check(h.run(*cmd, timeout=30), f"{name} byte mutant {i}: {p}")
        p.unlink()
