# SPDX-License-Identifier: Apache-2.0
"""Issue 14, crafted models: no crash, no out-of-bounds read, no file read outside the model's
folder, memory bounded by the file; every bad model exits 2 with one line naming the file and the
tensor or node. Each case was a crash, a hang, a memory bomb or a silent exit 0 before the fix."""
import os
import stat

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import hostile as h
from hostile import vi

I64_MAX = 2**63 - 1


def add_model(w_proto, shape=(3, 3), sparse=()):
    inits = [] if w_proto is None else [w_proto]
    return h.model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [vi("x", list(shape))],
                   [vi("y", list(shape))], inits, sparse=sparse)


def data_for(tmp_path, shape, name="x.npy"):
    p = tmp_path / name
    np.save(p, np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    return p


# ---- 1. out-of-bounds reads and crashes -------------------------------------------------------

def sparse_model(rows):
    values = numpy_helper.from_array(np.ones(4, np.float32), "w")
    indices = numpy_helper.from_array(np.zeros((rows, 2), np.int64), "w_indices")
    return add_model(None, sparse=[helper.make_sparse_tensor(values, indices, [3, 3])])


def test_sparse_indices_with_fewer_rows_than_values(tmp_path):
    p = h.save(sparse_model(rows=2), tmp_path / "sparse.onnx")
    for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"]):
        h.assert_bad_input(h.run(*cmd), p, "'w'", "indices")


def test_sparse_indices_python_api(tmp_path):
    import qtool
    p = h.save(sparse_model(rows=2), tmp_path / "sparse.onnx")
    with pytest.raises(qtool.QtError) as e:
        qtool.Model.load(p)
    assert e.value.status == 2 and "'w'" in str(e.value)
    with pytest.raises(qtool.QtError) as e:
        qtool.Model.from_bytes(p.read_bytes())
    assert e.value.status == 2


def test_sparse_dense_size_bomb(tmp_path):
    """A sparse tensor of 1 value whose dense shape is 750M floats: refused, not allocated."""
    values = numpy_helper.from_array(np.ones(1, np.float32), "w")
    indices = numpy_helper.from_array(np.zeros(1, np.int64), "w_indices")
    m = add_model(None, shape=(750_000_000,), sparse=[helper.make_sparse_tensor(values, indices, [750_000_000])])
    p = h.save(m, tmp_path / "sparse_bomb.onnx")
    h.assert_bad_input(h.run("inspect", p), p, "'w'")


def overflow_tensor(dims):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT)
    t.dims.extend(dims)
    return t


@pytest.mark.parametrize("dims", [[2**62, 4, 3, 3], [I64_MAX, I64_MAX]])
def test_dims_whose_product_overflows(tmp_path, dims):
    m = h.model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [vi("x", [1, 3, 8, 8])],
                [vi("y", ["a", "b", "c", "d"])], [overflow_tensor(dims)])
    p = h.save(m, tmp_path / "overflow.onnx")
    for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"], ["gate", p, "--max-params", "10"]):
        h.assert_bad_input(h.run(*cmd), p, "'w'")


def test_negative_dims(tmp_path):
    p = h.save(add_model(overflow_tensor([-3, 3])), tmp_path / "neg.onnx")
    h.assert_bad_input(h.run("inspect", p), p, "'w'")


def run_on(tmp_path, m, x_shape):
    p = h.save(m, tmp_path / "m.onnx")
    return p, h.run("run", p, "--data", data_for(tmp_path, x_shape), "-o", tmp_path / "out.npz", "--whole")


def test_transpose_perm_beyond_int32(tmp_path):
    m = h.model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=[1, 2**31])], [vi("x", [2, 3])],
                [vi("y", ["a", "b"])])
    p, r = run_on(tmp_path, m, (2, 3))
    h.assert_bad_input(r, "tr", "perm")


def conv_bn_model(bias_len=4, var_len=4, beta_len=4):
    rng = np.random.default_rng(0)
    f = lambda n, name: numpy_helper.from_array(rng.random(n).astype(np.float32) + 0.5, name)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 2, 1, 1)).astype(np.float32), "W"), f(bias_len, "B"),
             f(4, "gamma"), f(beta_len, "beta"), f(4, "mean"), f(var_len, "var")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"], name="bn")]
    return h.model(nodes, [vi("x", [1, 2, 4, 4])], [vi("y", [1, 4, 4, 4])], inits)


@pytest.mark.parametrize("kw,what", [({"bias_len": 0}, "'B'"), ({"var_len": 2}, "'var'"), ({"beta_len": 1}, "'beta'")])
def test_fold_batchnorm_checks_parameter_lengths(tmp_path, kw, what):
    p = h.save(conv_bn_model(**kw), tmp_path / "convbn.onnx")
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx"), p, what)


@pytest.mark.parametrize("op,attrs,what", [
    ("Conv", {"dilations": [1]}, "dilations"),
    ("Conv", {"pads": [0, 0]}, "pads"),
    ("Conv", {"strides": [0, 0]}, "strides"),
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [1]}, "strides"),
    ("MaxPool", {"kernel_shape": [2, 2], "pads": [0, 0]}, "pads"),
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [0, 0]}, "strides"),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [1]}, "strides"),
])
def test_spatial_attributes_shorter_than_rank_or_zero(tmp_path, op, attrs, what):
    inputs = ["x", "W"] if op == "Conv" else ["x"]
    inits = [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "W")] if op == "Conv" else []
    m = h.model([helper.make_node(op, inputs, ["y"], name="n0", **attrs)], [vi("x", [1, 2, 8, 8])], [vi("y", ["a", "b", "c", "d"])],
                inits)
    p, r = run_on(tmp_path, m, (1, 2, 8, 8))
    h.assert_bad_input(r, "n0", what)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "Conv"])
@pytest.mark.parametrize("pad", [2**31, 2**31 - 1])
def test_pads_around_2_to_31_are_bad_input(tmp_path, op, pad):
    """Was exit 1 "out of memory" (a 96 GB output from a 150-byte model); found by the issue's probe."""
    inputs = ["x", "W"] if op == "Conv" else ["x"]
    inits = [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "W")] if op == "Conv" else []
    attrs = {} if op == "Conv" else {"kernel_shape": [3, 3]}
    m = h.model([helper.make_node(op, inputs, ["y"], name="n0", pads=[pad, 0, pad, 0], **attrs)],
                [vi("x", [1, 2, 8, 8])], [vi("y", ["a", "b", "c", "d"])], inits)
    p, r = run_on(tmp_path, m, (1, 2, 8, 8))
    h.assert_bad_input(r, "n0", "pads")


# ---- 2. external data: only regular files inside the model's folder ------------------------------

def external_model(tmp_path, location, n=4, extra=()):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[n], data_location=TensorProto.EXTERNAL)
    for k, v in [("location", location), *extra]:
        e = t.external_data.add()
        e.key, e.value = k, v
    return h.save(add_model(t, shape=(n,)), tmp_path / "ext.onnx")


def test_external_data_symlink_is_refused(tmp_path):
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    d = tmp_path / "model"
    d.mkdir()
    (d / "w.bin").symlink_to(secret)
    p = external_model(d, "w.bin")
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx"), p, "w.bin", "symbolic link")
    assert not (tmp_path / "q.onnx").exists()


def test_external_data_through_a_symlinked_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    d = tmp_path / "model"
    d.mkdir()
    (d / "sub").symlink_to(outside)
    p = external_model(d, "sub/w.bin")
    h.assert_bad_input(h.run("inspect", p), p, "sub/w.bin", "outside")


@pytest.mark.parametrize("loc", ["../w.bin", "/etc/passwd", "a/../../w.bin", ""])
def test_external_data_location_outside_folder(tmp_path, loc):
    p = external_model(tmp_path, loc)
    h.assert_bad_input(h.run("inspect", p), p, "'w'")


def test_external_data_fifo_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "w.bin")
    p = external_model(tmp_path, "w.bin")
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx", timeout=20), p, "w.bin", "not a regular file")


def test_external_data_device_is_refused(tmp_path):
    os.mknod(tmp_path / "w.bin", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # a zero device, made here
    p = external_model(tmp_path, "w.bin", n=750_000_000)
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx", timeout=20), p, "w.bin", "not a regular file")


# ---- 4. memory bombs: sizes in headers checked against the bytes present -------------------------

def test_model_claiming_750m_floats(tmp_path):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[750_000_000], raw_data=b"\0" * 10000)
    p = h.save(add_model(t, shape=(750_000_000,)), tmp_path / "claims.onnx")
    for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"]):
        h.assert_bad_input(h.run(*cmd), p, "'w'")


@pytest.mark.parametrize("extra", [(), (("length", "3000000000"),), (("offset", "8"), ("length", "16"))])
def test_external_file_smaller_than_the_tensor(tmp_path, extra):
    (tmp_path / "w.bin").write_bytes(b"\0" * 16)
    p = external_model(tmp_path, "w.bin", n=750_000_000, extra=extra)
    for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"]):
        h.assert_bad_input(h.run(*cmd), p, "'w'", "w.bin")


@pytest.mark.parametrize("extra", [(("offset", "abc"),), (("length", "-5"),), (("offset", "99999999999999999999"),),
                                   (("checksum", "x"), ("offset", "1e3"))])
def test_external_data_bad_numbers(tmp_path, extra):
    (tmp_path / "w.bin").write_bytes(b"\0" * 16)
    p = external_model(tmp_path, "w.bin", extra=extra)
    h.assert_bad_input(h.run("inspect", p), p, "'w'")


def test_constant_of_shape_bomb_is_not_folded(tmp_path):
    """ConstantOfShape [187.5M, 4] feeding a reduction: folding it would materialize 3 GB."""
    shape = numpy_helper.from_array(np.array([187_500_000, 4], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="cos"),
             helper.make_node("ReduceSum", ["big"], ["s"], name="sum", keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"], name="add")]
    m = h.model(nodes, [vi("x", [1])], [vi("y", [1])], [shape])
    p = h.save(m, tmp_path / "cos.onnx")
    assert p.stat().st_size < 400
    for cmd in (["inspect", p], ["quantize", p, "-o", tmp_path / "q.onnx"]):
        r = h.run(*cmd, timeout=60)
        assert r.returncode == 0, r
        assert r.maxrss_mb < h.rss_bound(400) and r.seconds < 30, r


# ---- 5. graphs onnxruntime refuses are refused at load -------------------------------------------

def test_graph_without_outputs(tmp_path):
    m = h.model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4])], [])
    p = h.save(m, tmp_path / "noout.onnx")
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx"), p, "no outputs")


def test_duplicate_output_names(tmp_path):
    m = h.model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4])], [vi("y", [1, 4]), vi("y", [1, 4])])
    p = h.save(m, tmp_path / "dupout.onnx")
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx"), p, "'y'", "twice")


def test_nonfinite_weights_are_an_error(tmp_path):
    for bad in (np.nan, np.inf):
        w = np.ones((8, 16), np.float32)
        w[3, 5] = bad
        p = h.save(h.gemm_model(w=w), tmp_path / "nanw.onnx")
        h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx", "--force"), p, "'w'", "not finite")


def test_weights_beyond_fp16_range(tmp_path):
    w = np.ones((8, 16), np.float32)
    w[0, 0] = 1e6
    p = h.save(h.gemm_model(w=w), tmp_path / "big.onnx")
    h.assert_bad_input(h.run("quantize", p, "--dtype", "fp16", "-o", tmp_path / "q.onnx"), "'w'", "float16")


def fold_model(tmp_path):
    """ConstantOfShape [1000, 1000] (4 MB of float zeros) + x: foldable under the default limit."""
    shape = numpy_helper.from_array(np.array([1000, 1000], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="cos"),
             helper.make_node("Add", ["x", "big"], ["y"], name="add")]
    return h.save(h.model(nodes, [vi("x", [1000, 1000])], [vi("y", [1000, 1000])], [shape]), tmp_path / "fold.onnx")


def test_fold_limit_is_configurable(tmp_path):
    """QTOOL_FOLD_LIMIT (bytes) replaces the default fold limit max(16 MiB, 2 x the model file)."""
    import onnx
    p = fold_model(tmp_path)
    ops = lambda q: [n.op_type for n in onnx.load(q).graph.node]
    r = h.run("quantize", p, "-o", tmp_path / "a.onnx")
    assert r.returncode == 0, r
    assert "ConstantOfShape" not in ops(tmp_path / "a.onnx")  # 4 MB < 16 MiB: folded
    env = {**os.environ, "QTOOL_FOLD_LIMIT": "1000000"}
    r = h.run("quantize", p, "-o", tmp_path / "b.onnx", env=env)
    assert r.returncode == 0, r
    assert "ConstantOfShape" in ops(tmp_path / "b.onnx")  # 4 MB > 1 MB: left in the graph
    for bad in ("lots", "-1", "1e6", "99999999999999999999"):
        h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "c.onnx", env={**os.environ, "QTOOL_FOLD_LIMIT": bad}),
                           "QTOOL_FOLD_LIMIT")


@pytest.mark.parametrize("bits", ["8", "4"])
def test_opset_upgrade_keeps_external_weights(tmp_path, bits):
    """An opset-11 model whose weights are external data goes through onnx's version converter with
    the weights as stubs (not copied, not dropped) and comes back with the real weights: the output
    agrees with the input model in onnxruntime."""
    import onnx
    import onnxruntime as ort
    rng = np.random.default_rng(3)
    w = rng.standard_normal((64, 256)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([-1, 8, 8], np.int64), "shape")]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node("Reshape", ["h", "shape"], ["r"], name="reshape"),
             helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=2)]
    m = h.model(nodes, [vi("x", ["N", 256])], [vi("y", ["N", 8, 8])], inits, opset=11, ir=6)
    onnx.save(m, tmp_path / "old.onnx", save_as_external_data=True, location="old.bin", size_threshold=1024)
    assert onnx.load(tmp_path / "old.onnx", load_external_data=False).graph.initializer[0].data_location == 1
    x = rng.standard_normal((4, 256)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    args = ["--bits", bits, "--calib", tmp_path / "x.npy"]
    r = h.run("quantize", tmp_path / "old.onnx", *args, "-o", tmp_path / "q.onnx")
    assert r.returncode == 0, r
    assert "upgraded opset 11" in r.stderr or onnx.load(tmp_path / "q.onnx").opset_import[0].version >= 13
    # the same model at opset 13 with its weights inline takes no conversion: the same quantized model
    m.opset_import[0].version = 13
    r = h.run("quantize", h.save(m, tmp_path / "new.onnx"), *args, "-o", tmp_path / "q13.onnx")
    assert r.returncode == 0, r
    run = lambda f: ort.InferenceSession(str(tmp_path / f)).run(None, {"x": x})[0]
    a, b, c = run("old.onnx"), run("q.onnx"), run("q13.onnx")
    assert np.abs(b - c).max() < 1e-6, np.abs(b - c).max()
    assert np.abs(a - b).max() < 0.2, np.abs(a - b).max()


@pytest.mark.parametrize("op,attrs,what", [("MaxPool", {"kernel_shape": [3, 3], "strides": [0, 3]}, "strides"),
                                           ("Conv", {"strides": [0, 1]}, "strides")])
def test_bad_attributes_before_the_opset_upgrade(tmp_path, op, attrs, what):
    """Found by test_hostile_mutations (mnist-12, MaxPool strides [0, 3]): quantizing an opset-12
    model ran libonnx's shape inference on the unvalidated attribute (SIGFPE)."""
    inputs = ["x", "W"] if op == "Conv" else ["x"]
    inits = [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "W")] if op == "Conv" else []
    m = h.model([helper.make_node(op, inputs, ["y"], name="n0", **attrs)], [vi("x", [1, 2, 8, 8])],
                [vi("y", ["a", "b", "c", "d"])], inits, opset=12)
    p = h.save(m, tmp_path / "old.onnx")
    h.assert_bad_input(h.run("quantize", p, "-o", tmp_path / "q.onnx"), p, "n0", what)
