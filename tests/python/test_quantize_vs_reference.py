# SPDX-License-Identifier: Apache-2.0
"""QuantizeLinear / DequantizeLinear in qtool's executor against onnx's reference implementation,
bit for bit, on seeded random configurations of every version 19..25: output types (8/16-bit,
int4/int2, float8, float4), input and scale types (float32/float16/bfloat16, mixed from 23),
per-tensor / per-axis / blocked scales, the precision attribute (23+)."""
import os
import random
import subprocess

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import harness as h

INT_RANGES = {TP.UINT8: (0, 255), TP.INT8: (-128, 127), TP.UINT16: (0, 65535), TP.INT16: (-32768, 32767),
              TP.UINT4: (0, 15), TP.INT4: (-8, 7), TP.UINT2: (0, 3), TP.INT2: (-2, 1)}
OUT_TYPES = {19: [TP.UINT8, TP.INT8, TP.FLOAT8E4M3FN, TP.FLOAT8E5M2],
             21: [TP.UINT16, TP.INT16, TP.UINT4, TP.INT4, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2FNUZ],
             23: [TP.FLOAT4E2M1, TP.INT4, TP.UINT8], 25: [TP.INT2, TP.UINT2, TP.INT8]}
NP = {TP.FLOAT: np.float32, TP.FLOAT16: np.float16, TP.BFLOAT16: ml_dtypes.bfloat16}


def run_qtool(model, feeds, tmp_path):
    onnx.save(model, str(tmp_path / "m.onnx"))
    data = tmp_path / "in"
    data.mkdir(exist_ok=True)
    for i, (k, v) in enumerate(feeds.items()):
        (data / f"input_{i}.pb").write_bytes(numpy_helper.from_array(v, k).SerializeToString())
    out = tmp_path / "out"
    r = subprocess.run([str(h.QTOOL), "run", "--whole", str(tmp_path / "m.onnx"), "--data", str(data), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    p = onnx.TensorProto()
    p.ParseFromString((out / "output_0.pb").read_bytes())
    return numpy_helper.to_array(p)


def config(seed):
    rnd, rng = random.Random(seed), np.random.default_rng(seed)
    v = rnd.choice(list(OUT_TYPES))
    zt = rnd.choice(OUT_TYPES[v])
    xt = rnd.choice([TP.FLOAT, TP.FLOAT, TP.FLOAT16, TP.BFLOAT16])
    st = xt if v < 23 else rnd.choice([TP.FLOAT, TP.FLOAT16, xt])
    shape = [rnd.randint(1, 5) for _ in range(rnd.randint(1, 3))]
    axis = rnd.randint(-len(shape), len(shape) - 1)
    attrs = {"axis": axis}
    mode = rnd.choice(["tensor", "axis", "block"] if v >= 21 else ["tensor", "axis"])
    if mode == "tensor":
        sshape = []
    elif mode == "axis":
        sshape = [shape[axis]]
    else:
        bs = rnd.randint(1, 3)
        attrs["block_size"] = bs
        sshape = list(shape)
        sshape[axis] = (shape[axis] + bs - 1) // bs
    if v >= 23 and rnd.random() < 0.3:
        attrs["precision"] = rnd.choice([TP.FLOAT, TP.FLOAT16])
    x = (rng.standard_normal(shape) * rnd.choice([1, 10, 300])).astype(NP[xt])
    s = rng.uniform(0.01, 2, size=sshape).astype(NP[st])
    z = rng.integers(*INT_RANGES[zt], size=sshape, endpoint=True) if zt in INT_RANGES else np.zeros(sshape)
    z = np.asarray(z).astype(helper.tensor_dtype_to_np_dtype(zt))
    return v, zt, xt, st, shape, attrs, x, s, z


@pytest.mark.parametrize("seed", range(40))
def test_quantize_dequantize_match_reference(seed, tmp_path):
    v, zt, xt, st, shape, attrs, x, s, z = config(seed)
    inits = [numpy_helper.from_array(s, "s"), numpy_helper.from_array(z, "z")]
    q = helper.make_model(helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs)], "g",
                                            [helper.make_tensor_value_info("x", xt, shape)],
                                            [helper.make_tensor_value_info("y", zt, shape)], inits),
                          opset_imports=[helper.make_opsetid("", v)])
    ref_q = ReferenceEvaluator(q).run(None, {"x": x})[0]
    got_q = run_qtool(q, {"x": x}, tmp_path)
    assert got_q.dtype == ref_q.dtype
    np.testing.assert_array_equal(got_q.astype(np.float64), np.asarray(ref_q).astype(np.float64))
    dq_attrs = {k: a for k, a in attrs.items() if k != "precision"}
    dq = helper.make_model(helper.make_graph([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **dq_attrs)], "g",
                                             [helper.make_tensor_value_info("q", zt, shape)],
                                             [helper.make_tensor_value_info("y", st, shape)], inits),
                           opset_imports=[helper.make_opsetid("", v)])
    ref_d = ReferenceEvaluator(dq).run(None, {"q": ref_q})[0]
    got_d = run_qtool(dq, {"q": np.asarray(ref_q)}, tmp_path)
    assert got_d.dtype == ref_d.dtype
    np.testing.assert_array_equal(got_d.astype(np.float64), np.asarray(ref_d).astype(np.float64))
