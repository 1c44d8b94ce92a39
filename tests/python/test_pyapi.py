# SPDX-License-Identifier: Apache-2.0
"""The Python package over the C API (pip install ./python): every function, and bad arguments that
must raise QtError instead of crashing. Runs without ../shared (scikit-learn's digits model)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import qtool

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits(digits_model):
    return digits_model


@pytest.fixture(scope="module")
def model(digits):
    return qtool.Model.load(digits / "digits_mlp.onnx")


def arrays(digits):
    return np.load(digits / "calib.npy"), np.load(digits / "test.npy"), np.load(digits / "test_labels.npy")


def test_version_and_package_library():
    assert qtool.version() == "0.2.0"
    assert Path(qtool._find_library()).exists()


def test_load_save_bytes_roundtrip(model, digits, tmp_path):
    data = model.to_bytes()
    m2 = qtool.Model.from_bytes(data)
    assert m2.to_bytes() == data
    m2.save(tmp_path / "copy.onnx")
    assert qtool.Model.load(tmp_path / "copy.onnx").to_bytes() == data
    with pytest.raises(qtool.QtError) as e:
        model.save(digits / "digits_mlp.onnx")  # never over the input
    assert e.value.status == 2


def test_quantize_evaluate_size_and_onnxruntime(model, digits, tmp_path):
    calib, x, y = arrays(digits)
    name = ort.InferenceSession(str(digits / "digits_mlp.onnx")).get_inputs()[0].name
    cal = qtool.Data.from_arrays({name: calib})
    data = qtool.Data.create()
    for i in range(0, len(x), 100):  # batch by batch, as a training loop produces them
        data.add_batch({name: x[i:i + 100]})
    assert len(data) == len(x) and len(cal) == len(calib)
    fp32 = model.evaluate(data, labels=y)
    q8 = model.quantize(calib=cal)
    q4 = model.quantize(calib=cal, bits=4, group_size=32)
    r8, r4 = q8.evaluate(data, labels=y, ref=model), q4.evaluate(data, labels=y, ref=model)
    assert r8.top1 >= fp32.top1 - 0.01 and r8.sqnr_db > 30 and r8.agreement > 0.98
    assert r4.top1 >= fp32.top1 - 0.02
    s32, s8, s4 = model.size(), q8.size(), q4.size()
    assert s32.bits_per_weight == 32 and 8 <= s8.bits_per_weight < 8.5 and 4 <= s4.bits_per_weight < 5.5
    assert s4.file_bytes < s8.file_bytes < s32.file_bytes and s8.zip_bytes < s32.zip_bytes
    q4.save(tmp_path / "q4.onnx")  # onnxruntime runs what the package wrote
    out = ort.InferenceSession(str(tmp_path / "q4.onnx")).run(None, {name: x})[0]
    assert abs(float((out.argmax(1) == y).mean()) - r4.top1) <= 0.002


def test_prune_masks_and_tensors(model):
    p = model.prune(sparsity=0.5)
    assert p.mask_names() == ("fc0.weight", "fc1.weight", "fc2.weight")
    w, mk = p.tensor("fc0.weight"), p.mask("fc0.weight")
    assert mk.dtype == np.uint8 and mk.shape == w.shape and abs(mk.mean() - 0.5) < 1e-3
    assert np.all(w[mk == 0] == 0)
    # write fine-tuned weights back, with the mask held
    w2 = (model.tensor("fc0.weight") * 1.01 * mk).astype(np.float32)
    p.set_tensor("fc0.weight", w2)
    assert np.array_equal(p.tensor("fc0.weight"), w2)
    q = p.quantize(bits=8)
    assert model.mask_names() == ()


def test_files_as_data(model, digits):
    calib, _, _ = arrays(digits)
    d = qtool.Data.open(digits / "calib.npy", model)
    assert len(d) == len(calib)


def test_bad_arguments_raise(model, digits):
    name = ort.InferenceSession(str(digits / "digits_mlp.onnx")).get_inputs()[0].name
    cases = [
        (lambda: qtool.Model.load(digits / "missing.onnx"), 2),
        (lambda: qtool.Model.from_bytes(b"not onnx"), 2),
        (lambda: qtool.Data.from_arrays({name: np.zeros((4, 64), np.float64)}), 1),  # wrong dtype
        (lambda: model.quantize(bits=3), 1),
        (lambda: model.quantize(colour="blue"), 1),
        (lambda: model.prune(sparsity=1.5), 1),
        (lambda: model.tensor("nope"), 3),
        (lambda: model.mask("fc0.weight"), 3),
        (lambda: model.set_tensor("fc0.weight", np.zeros(3, np.float32)), 1),
        (lambda: qtool.Data.open(digits / "missing.npy", model), 2),
        (lambda: model.quantize(calib=qtool.Data.from_arrays({name: np.zeros((4, 63), np.float32)})), 2),  # wrong shape
        (lambda: model.evaluate(qtool.Data.create()), 1),  # empty data
    ]
    for fn, status in cases:
        with pytest.raises(qtool.QtError) as e:
            fn()
        assert e.value.status == status, (e.value.status, e.value.message)
        assert e.value.message
    d = qtool.Data.create()
    d.add_batch({name: np.zeros((2, 64), np.float32)})
    with pytest.raises(qtool.QtError):
        d.add_batch({name: np.zeros((2, 65), np.float32)})  # sample shape changes between batches
    m = qtool.Model.load(digits / "digits_mlp.onnx")
    m.free()
    m.free()  # twice is fine
    with pytest.raises(qtool.QtError) as e:
        m.size()  # a freed handle raises, no crash
    assert "freed" in e.value.message


def test_weights_behind_cast_read_as_float(model):
    """bf16 storage is a bf16 initializer widened by Cast: the widened weight reads back through
    tensor() (the C API folds it), equal to the float weight rounded to bf16."""
    w = model.tensor("fc0.weight")
    b = model.quantize(dtype="bf16")
    got = b.tensor("fc0.weight_dequantized")
    assert got.shape == w.shape
    assert np.max(np.abs(got - w)) <= np.max(np.abs(w)) * 2.0 ** -8
    assert not np.array_equal(got, w)  # bf16 keeps 8 bits of mantissa
    with pytest.raises(qtool.QtError):
        b.set_tensor("fc0.weight_dequantized", got)
