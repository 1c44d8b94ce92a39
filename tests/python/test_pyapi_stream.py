# SPDX-License-Identifier: Apache-2.0
"""The NNCF-style Python API (issue 13, item 8): qtool.quantize(model, calib, **typed options) with
calib streamed from any iterable through the C API's data source, transform_fn, numpy scalars and
float64 data, plan=, Model.run, calibration tables, sensitivity / sweep / auto / gate / inspect as
dataclasses, logging + warnings, __repr__ and __version__. Runs on scikit-learn's digits MLP (no
../shared); the PyTorch DataLoader cases are in test_pyapi_torch.py."""
import inspect
import json
import logging
import warnings

import numpy as np
import onnxruntime as ort
import pytest

import qtool


@pytest.fixture(scope="module")
def digits(digits_model):
    return digits_model


@pytest.fixture(scope="module")
def model(digits):
    return qtool.Model.load(digits / "digits_mlp.onnx")


@pytest.fixture(scope="module")
def arrays(digits):
    return np.load(digits / "calib.npy"), np.load(digits / "test.npy"), np.load(digits / "test_labels.npy")


class Batches:
    """A re-iterable source of batches that records how it is read (like a DataLoader)."""

    def __init__(self, x, batch=50, wrap=lambda b: {"image": b}):
        self.x, self.batch, self.wrap = x, batch, wrap
        self.passes = 0
        self.items = 0

    def __iter__(self):
        self.passes += 1
        for i in range(0, len(self.x), self.batch):
            self.items += 1
            yield self.wrap(self.x[i:i + self.batch])


def test_streamed_calibration_equals_in_memory(model, arrays):
    calib, _, _ = arrays
    ref = model.quantize(qtool.Data.from_arrays({"image": calib}))
    src = Batches(calib)
    q = qtool.quantize(model, src)
    assert src.passes >= 2  # read pass by pass (calibration, then GPTQ / counting), not copied once
    assert q.to_bytes() == ref.to_bytes()
    # an ndarray, a dict of arrays, a list of dicts, a generator and float64 data: the same model
    for calib_like in [calib, {"image": calib}, [{"image": calib[i:i + 7]} for i in range(0, len(calib), 7)],
                       (b for b in [calib[:100], calib[100:]]), calib.astype(np.float64)]:
        assert qtool.quantize(model, calib_like).to_bytes() == ref.to_bytes()


def test_transform_fn_and_subset_size(model, arrays):
    calib, _, _ = arrays
    y = np.zeros(len(calib), np.int64)
    pairs = Batches(calib, wrap=lambda b: (b, y[:len(b)]))  # (images, labels) as a DataLoader yields them
    with pytest.raises(qtool.QtError) as e:
        qtool.quantize(model, pairs)
    assert "transform_fn" in e.value.message
    q = qtool.quantize(model, pairs, transform_fn=lambda item: item[0])
    assert q.to_bytes() == model.quantize(calib).to_bytes()
    sub = qtool.quantize(model, pairs, transform_fn=lambda item: item[0], subset_size=120)
    assert sub.to_bytes() == model.quantize(calib[:120]).to_bytes()


def test_source_errors_propagate(model, arrays):
    calib, _, _ = arrays

    class Broken:
        def __iter__(self):
            yield {"image": calib[:10]}
            raise ValueError("disk on fire")

    with pytest.raises(ValueError, match="disk on fire"):  # the iterable's own exception, not a generic one
        qtool.quantize(model, Broken())

    class Shrinking:
        n = 3

        def __iter__(self):
            self.n -= 1
            for i in range(self.n):
                yield {"image": calib[i * 10:(i + 1) * 10]}

    with pytest.raises(qtool.QtError) as e:  # each pass must give the same samples
        qtool.quantize(model, Shrinking())
    assert e.value.status == 2 and "every pass" in e.value.message
    with pytest.raises(qtool.QtError) as e:
        qtool.quantize(model, [{"imag": calib[:10]}])
    assert "image" in e.value.message  # names the model input
    with pytest.raises(qtool.QtError) as e:
        qtool.quantize(model, [calib[:10, :60]])
    assert e.value.status == 2 and "image" in e.value.message


def test_numpy_scalars_and_typed_signature(model, arrays):
    calib, x, y = arrays
    a = qtool.quantize(model, calib, bits=np.int64(4), group_size=np.int32(32), sparsity=np.float32(0.5),
                       exclude=np.array(["fc2"]))
    b = qtool.quantize(model, calib, bits=4, group_size=32, sparsity=0.5, exclude=["fc2"])
    assert a.to_bytes() == b.to_bytes()
    s1, s2 = inspect.signature(qtool.quantize), inspect.signature(qtool.Model.quantize)
    assert list(s1.parameters)[1:] == list(s2.parameters)[1:]  # Model.quantize cannot drift from quantize
    for p in list(s1.parameters.values())[2:]:
        assert p.kind == inspect.Parameter.KEYWORD_ONLY and p.annotation is not inspect.Parameter.empty, p.name


def test_run_matches_onnxruntime(model, digits, arrays):
    _, x, _ = arrays
    out = model.run({"image": x[:16].astype(np.float64)})  # float64 converted
    assert list(out) == ["logits"] and out["logits"].dtype == np.float32
    ref = ort.InferenceSession(str(digits / "digits_mlp.onnx")).run(None, {"image": x[:16]})[0]
    np.testing.assert_allclose(out["logits"], ref, rtol=1e-4, atol=1e-4)
    assert np.array_equal(qtool.run(model, x[:16])["logits"], out["logits"])  # one array for a one-input model
    with pytest.raises(qtool.QtError) as e:
        model.run({"imag": x[:2]})
    assert "did you mean 'image'" in e.value.message


def test_evaluate_every_output_and_repr(model, arrays):
    calib, x, y = arrays
    q = qtool.quantize(model, calib)
    r = q.evaluate(x, labels=y, ref=model)
    assert r.classifier and r.agreement > 0.98 and r.top1 > 0.9 and r.sqnr_db > 30
    assert [o.name for o in r.outputs] == ["logits"] and r.outputs[0].sqnr_db == r.sqnr_db
    assert "EvalResult(samples=719" in repr(r)
    assert repr(model).startswith("<qtool.Model ") and "image[-1, 64]" in repr(model) and "logits" in repr(model)
    assert repr(qtool.Data.from_arrays({"image": x})) == "<qtool.Data in-memory arrays, 719 samples>"


def test_calibration_table_roundtrip(model, arrays, tmp_path):
    calib, _, _ = arrays
    table = qtool.calibrate(model, calib, method="minmax")
    assert table.method == "minmax" and table.samples == len(calib) and len(table.ranges) >= 3
    lo, hi = table.ranges["image"]
    assert lo == pytest.approx(float(calib.min())) and hi == pytest.approx(float(calib.max()))
    q1 = qtool.quantize(model, calib, method="minmax")
    q2 = qtool.quantize(model, calib_table=table)
    assert q1.to_bytes() == q2.to_bytes()
    table.save(tmp_path / "t.json")
    assert qtool.CalibrationTable.load(tmp_path / "t.json") == table
    assert qtool.quantize(model, calib_table=tmp_path / "t.json").to_bytes() == q1.to_bytes()


def test_sensitivity_auto_plan_replay(model, arrays, tmp_path):
    calib, x, y = arrays
    s = qtool.sensitivity(model, calib, x[:300], y[:300])
    assert isinstance(s, qtool.SensitivityReport) and s.metric == "top1"
    assert sorted(l.node for l in s.layers) == ["fc0", "fc1", "fc2"]
    assert all(isinstance(l, qtool.LayerSensitivity) and l.params > 0 for l in s.layers)
    r = qtool.auto(model, calib, x[:300], y[:300], max_drop=1.0)
    assert isinstance(r.model, qtool.Model) and r.drop <= 1.0 and r.within_budget and r.log
    plan = r.save_plan(tmp_path / "plan.json")
    replay = qtool.quantize(model, calib, plan=plan)  # every CLI option, plan= included
    assert len(replay.to_bytes()) == r.bytes
    np.testing.assert_array_equal(replay.run(x[:50])["logits"], r.model.run(x[:50])["logits"])


def test_sweep_gate_inspect(model, digits, arrays, tmp_path):
    calib, x, y = arrays
    rep = qtool.sweep(model, calib, x[:300], y[:300], bits=[8, 4], sparsity=[0, 0.5], out_dir=tmp_path / "sw")
    assert [r.config for r in rep.rows] == ["fp32", "int8", "int8-s0.50", "int4", "int4-s0.50"]
    assert rep.rows[1].value > 0.9 and rep.rows[3].file_bytes < rep.rows[1].file_bytes < rep.rows[0].file_bytes
    html = (tmp_path / "sw" / "report.html").read_text()
    assert "int4-s0.50" in html and (tmp_path / "sw" / "int4.onnx").exists()
    assert "int8" in str(rep)
    g = qtool.gate(digits / "digits_mlp.onnx", max_size=10_000_000, min_top1=90, data=x, labels=y)
    assert g and g.passed and [r.rule for r in g.rules] == ["max-size", "min-top1"]
    assert isinstance(g.rules[1].measured, float) and g.rules[1].measured > 90
    bad = qtool.gate(model, max_params=1000)
    assert not bad and not bad.rules[0].ok and bad.rules[0].measured > 1000
    info = qtool.inspect(model)
    assert info["ops"]["Gemm"] == 3 and info["parameters"] == 50826


def test_warnings_and_logging(model, arrays, caplog):
    calib, _, _ = arrays
    with caplog.at_level(logging.DEBUG, logger="qtool"):
        with pytest.warns(qtool.QtoolWarning, match="no calibration data"):
            qtool.quantize(model, bits=8)  # weights only
        qtool.quantize(model, calib)
    msgs = [r.getMessage() for r in caplog.records if r.name == "qtool"]
    assert any("no calibration data" in m for m in msgs)
    assert any("calibrating on" in m for m in msgs)  # debug lines reach logging, not stderr
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        qtool.quantize(model, calib)
    assert not [x for x in w if issubclass(x.category, qtool.QtoolWarning)]
