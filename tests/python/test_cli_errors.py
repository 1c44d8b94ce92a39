# SPDX-License-Identifier: Apache-2.0
"""Bad input: one clear line naming the file and the problem, exit code 2, no crash."""
import numpy as np
import onnx
from onnx import TensorProto, helper

from harness import qtool


def tiny_model(op="Relu", opset=13):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], name="n0")], "g", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def assert_input_error(r, *words):
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_missing_file(tmp_path):
    p = tmp_path / "nope.onnx"
    assert_input_error(qtool("quantize", p, check=False), str(p), "no such file")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    assert_input_error(qtool("inspect", p, check=False), str(p), "empty")


def test_truncated_file(tmp_path):
    w = helper.make_tensor("w", TensorProto.FLOAT, [64, 64], np.random.rand(64 * 64).astype(np.float32))
    m = tiny_model()
    m.graph.initializer.append(w)
    data = m.SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    assert_input_error(qtool("quantize", p, check=False), str(p))


def test_not_onnx(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("hello, I am a text file\n" * 20)
    assert_input_error(qtool("quantize", p, check=False), str(p))


def test_unsupported_opset(tmp_path):
    p = tmp_path / "old.onnx"
    onnx.save(tiny_model(opset=5), p)
    assert_input_error(qtool("quantize", p, check=False), str(p), "unsupported opset 5")


def test_unsupported_ops_are_all_listed(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    # ops of a made-up domain (every ai.onnx op of a model may become supported)
    nodes = [helper.make_node("Sin", ["x"], ["a"], name="s1", domain="qtool.test"),
             helper.make_node("Sin", ["a"], ["b"], name="s2", domain="qtool.test"),
             helper.make_node("Relu", ["b"], ["c"], name="r"),
             helper.make_node("Cos", ["c"], ["y"], name="c1", domain="qtool.test")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qtool.test", 1)])
    p = tmp_path / "trig.onnx"
    onnx.save(m, p)
    out = tmp_path / "trig.int8.onnx"
    r = qtool("quantize", p, check=False)
    assert_input_error(r, str(p), "qtool.test.Sin (node 's1')", "qtool.test.Cos (node 'c1')")
    assert "s2" not in r.stderr
    assert not out.exists()


def test_data_shape_mismatch(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(tiny_model(), p)
    d = tmp_path / "bad.npy"
    np.save(d, np.zeros((3, 5), np.float32))
    assert_input_error(qtool("quantize", p, "--calib", d, check=False), str(d), "[5]", "'x'")


def test_bad_option_values(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(tiny_model(), p)
    assert_input_error(qtool("quantize", p, "--method", "magic", check=False), "magic")
    assert_input_error(qtool("quantize", p, "--bits", "3", check=False), "--bits 3")
    assert_input_error(qtool("quantize", p, "--bits", "4", "--group-size", "7", check=False), "--group-size", "7")
    assert_input_error(qtool("quantize", p, "--bits", "2", "--group-size", "32", check=False), "--group-size")
    assert_input_error(qtool("quantize", p, "--dtype", "fp8", check=False), "--dtype", "fp8")
    assert_input_error(qtool("quantize", p, "--format", "matmulnbits", check=False), "--format matmulnbits")
    assert_input_error(qtool("quantize", p, "--rounding", "stochastic", check=False), "--rounding")
    assert_input_error(qtool("quantize", p, "--act-bits", "4", check=False), "--act-bits")
    assert_input_error(qtool("quantize", p, "--layer-bits", "n0", check=False), "--layer-bits", "NAME=BITS")
    assert_input_error(qtool("quantize", p, "--layer-bits", "nope=4", check=False), "--layer-bits", "nope")
    assert_input_error(qtool("quantize", p, "--symmetric", "--asymmetric", check=False), "--symmetric")


def test_never_overwrites_input(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(tiny_model(), p)
    before = p.read_bytes()
    assert_input_error(qtool("quantize", p, "-o", p, check=False), "overwrite")
    assert p.read_bytes() == before
