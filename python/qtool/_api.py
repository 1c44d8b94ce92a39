# SPDX-License-Identifier: Apache-2.0
"""Module-level functions in the style NNCF users know: qtool.quantize(model, calib, **options),
and the CLI's analysis commands (calibrate, sensitivity, sweep, auto, gate, inspect) returning
dataclasses. `model` is a qtool.Model, a path, serialized bytes or an onnx.ModelProto; data
arguments take a qtool.Data, arrays, a dict of arrays or any iterable of batches (a PyTorch
DataLoader: streamed batch by batch, see qtool.Data)."""
from __future__ import annotations

import ctypes
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Union

from . import _arrays, _lib
from ._data import Data, as_data, labels_args, labels_array
from ._lib import QtError
from ._model import Literal, Method, Model, PathLike
from ._results import (AutoResult, CalibrationTable, EvalResult, GateResult, GateRule, SensitivityReport, SweepReport,
                       SweepRow)

ModelLike = Union[Model, PathLike, bytes]


def quantize(model: ModelLike, calib: Any = None, *, transform_fn: Optional[Callable[[Any], Any]] = None,
             subset_size: Optional[int] = None, bits: Optional[Literal[8, 4, 2, 1]] = None, ternary: bool = False,
             dtype: Optional[Literal["fp16", "bf16"]] = None, group_size: Optional[Literal[16, 32, 64, 128]] = None,
             symmetric: Optional[bool] = None, act_bits: Optional[Literal[8, 32]] = None,
             act_type: Optional[Literal["uint8", "int8", "int8-asymmetric", "symmetric"]] = None,
             overflow_fix: Optional[Literal["pairs", "off"]] = None, method: Method = "mse", percentile: float = 99.999,
             rounding: Literal["gptq", "nearest"] = "gptq", format: Literal["qdq", "matmulnbits"] = "qdq",
             exclude: Sequence[str] = (), op_types: Optional[Sequence[str]] = None,
             keep_first_last: Optional[int] = None, layer_bits: Optional[Mapping[str, int]] = None,
             sparsity: float = 0.0, pattern: str = "unstructured", scope: Literal["layer", "global"] = "layer",
             plan: Optional[PathLike] = None, calib_table: Union[CalibrationTable, PathLike, None] = None,
             input_shapes: Optional[Mapping[str, Sequence[int]]] = None) -> Model:
    """Quantizes (and optionally prunes) `model` into a new qtool.Model, as `qtool quantize` does.

    calib: calibration data - qtool.Data, an array / dict of arrays, or any iterable of batches such
        as a torch.utils.data.DataLoader (streamed; see qtool.Data). None: weights only.
    transform_fn: maps one item of `calib` to the model input(s), e.g. lambda b: b[0] for
        (images, labels) batches (as nncf.Dataset's transform_func).
    subset_size: calibrate on at most this many samples.
    bits: weight bits 8 (default; W8A8), 4, 2 or 1 (binary). ternary / dtype ("fp16", "bf16"):
        instead of bits. group_size: one scale per block of input channels (int8/int4).
    symmetric: None = 8-bit symmetric, below asymmetric. act_bits: 8 (int8 activations, default with
        8-bit weights) or 32 (float). act_type: None = the target's default (uint8 for onnxruntime),
        "uint8", "int8" (symmetric), "int8-asymmetric" (the uint8 grid in int8 codes) or "symmetric".
        overflow_fix: None = the default ("pairs": int8 weight channels
        scaled so no adjacent pair saturates x86 vpmaddubsw without VNNI) or "off". method: activation observer.
    rounding: "gptq" (with calib; Frantar et al. 2022) or "nearest". format: "qdq" or "matmulnbits".
    exclude: node names that stay float. op_types: ops whose inputs get QDQ.
    keep_first_last: bits of the first and last weighted layers. layer_bits: {node: bits}.
    sparsity / pattern / scope: prune first ("unstructured", "2:4", "channel"; "layer" or "global").
    plan: a plan written by `qtool auto` / AutoResult.save_plan (replayed exactly).
    calib_table: a CalibrationTable (or its file) instead of calibrating on `calib`.
    Conflicting options (bits with dtype or ternary, plan with bits, ...) raise QtError (status 1).
    """
    m = Model.of(model)
    data = as_data(calib, m, transform_fn, subset_size)
    table_file = None
    if isinstance(calib_table, CalibrationTable):
        fd, table_file = tempfile.mkstemp(suffix=".json", prefix="qtool-table-")
        with os.fdopen(fd, "w") as f:
            f.write(calib_table.to_json())
        calib_table = table_file
    opts = {"bits": bits, "ternary": ternary or None, "dtype": dtype, "group_size": group_size, "symmetric": symmetric,
            "act_bits": act_bits, "act_type": act_type, "overflow_fix": overflow_fix, "method": method, "percentile": percentile,
            "rounding": rounding, "format": format, "exclude": list(exclude), "op_types": op_types,
            "keep_first_last": keep_first_last, "layer_bits": layer_bits, "sparsity": sparsity, "pattern": pattern,
            "scope": scope, "plan": plan, "calib_table": calib_table, "input_shapes": input_shapes}
    try:
        p = _lib.P()
        status = _lib.quantize_json(m.ptr, _arrays.options_json(opts), data.ptr if data else None, ctypes.byref(p))
        if data is not None:
            data._reading(status)
        else:
            _lib.check(status)
        return Model(p.value)
    finally:
        if table_file:
            os.unlink(table_file)


def prune(model: ModelLike, *, sparsity: float = 0.5, pattern: str = "unstructured",
          scope: Literal["layer", "global"] = "layer", exclude: Sequence[str] = (),
          sparsity_map: Optional[Mapping[str, float]] = None) -> Model:
    """Magnitude pruning into a new model that carries its masks (Model.masks())."""
    return Model.of(model).prune(sparsity=sparsity, pattern=pattern, scope=scope, exclude=exclude,
                                 sparsity_map=sparsity_map)


def evaluate(model: ModelLike, data: Any, labels: Optional[Iterable[int]] = None, ref: Optional[ModelLike] = None, *,
             transform_fn: Optional[Callable[[Any], Any]] = None) -> EvalResult:
    """`qtool eval`: top-1 with labels; agreement and SQNR/cosine of every output against ref."""
    return Model.of(model).evaluate(data, labels, Model.of(ref) if ref is not None else None, transform_fn=transform_fn)


def run(model: ModelLike, inputs: Any) -> Dict[str, Any]:
    """One run of the model in qtool's executor: {output name: numpy array}."""
    return Model.of(model).run(inputs)


def inspect(model: ModelLike) -> Dict[str, Any]:
    """`qtool inspect --json` as a dict."""
    return Model.of(model).inspect()


def calibrate(model: ModelLike, calib: Any, *, transform_fn: Optional[Callable[[Any], Any]] = None,
              subset_size: Optional[int] = None, method: Method = "mse", percentile: float = 99.999,
              act_type: Optional[Literal["uint8", "int8", "int8-asymmetric"]] = None) -> CalibrationTable:
    """Activation ranges of every tensor int8 quantization would observe (`qtool calibrate`)."""
    m = Model.of(model)
    data = as_data(calib, m, transform_fn, subset_size)
    p = _lib.P()
    status = _lib.calibrate(m.ptr, data.ptr, _arrays.options_json(
        {"method": method, "percentile": percentile, "act_type": act_type}), ctypes.byref(p))
    data._reading(status)
    return CalibrationTable.from_json(_lib.take_string(p))


def sensitivity(model: ModelLike, calib: Any, data: Any, labels: Optional[Iterable[int]] = None, *,
                transform_fn: Optional[Callable[[Any], Any]] = None, method: Method = "mse",
                with_pruning: bool = True) -> SensitivityReport:
    """Per-layer damage when only that layer is int8, int4 or 50% pruned (`qtool sensitivity`)."""
    m = Model.of(model)
    c, e = as_data(calib, m, transform_fn), as_data(data, m, transform_fn)
    lab = labels_array(labels)
    lp, ln = labels_args(lab)
    p = _lib.P()
    status = _lib.sensitivity(m.ptr, c.ptr, e.ptr, lp, ln,
                              _arrays.options_json({"method": method, "with_pruning": with_pruning}), ctypes.byref(p))
    _reading(status, c, e)
    return SensitivityReport.from_json(json.loads(_lib.take_string(p)))


def auto(model: ModelLike, calib: Any, data: Any, labels: Optional[Iterable[int]] = None, *,
         transform_fn: Optional[Callable[[Any], Any]] = None, max_drop: float = 1.0, target_size: int = 0,
         exclude: Sequence[str] = (), method: Method = "mse") -> AutoResult:
    """Per-layer float/int8/int4 for the smallest model within max_drop points (`qtool auto`)."""
    m = Model.of(model)
    c, e = as_data(calib, m, transform_fn), as_data(data, m, transform_fn)
    lab = labels_array(labels)
    lp, ln = labels_args(lab)
    out, p = _lib.P(), _lib.P()
    status = _lib.auto(m.ptr, c.ptr, e.ptr, lp, ln, _arrays.options_json(
        {"max_drop": max_drop, "target_size": target_size, "exclude": list(exclude), "method": method}),
        ctypes.byref(out), ctypes.byref(p))
    _reading(status, c, e)
    j = json.loads(_lib.take_string(p))
    return AutoResult(Model(out.value), j["plan"], j["drop"], j["value"], j["bytes"], j["within_budget"], tuple(j["log"]))


def _reading(status: int, *datas: Data) -> None:
    """Re-raises a data source's own exception (from whichever data set failed), else checks status."""
    for d in datas:
        if d._source is not None and d._source.error is not None:
            d._reading(status)
    _lib.check(status)


_FORMAT = {8: "int8", 4: "int4", 2: "int2", 1: "binary"}


def sweep(model: ModelLike, calib: Any, data: Any, labels: Optional[Iterable[int]] = None, *,
          transform_fn: Optional[Callable[[Any], Any]] = None, bits: Sequence[int] = (8, 4),
          sparsity: Sequence[float] = (0.0,), method: Method = "mse",
          out_dir: Optional[PathLike] = None) -> SweepReport:
    """Every configuration bits x sparsity, each evaluated against fp32 (`qtool sweep`). With
    out_dir, writes the models and report.{json,csv,svg,html} there (SweepReport.save)."""
    m = Model.of(model)
    c, e = as_data(calib, m, transform_fn), as_data(data, m, transform_fn)
    lab = labels_array(labels)
    for b in bits:
        if b not in _FORMAT:
            raise QtError(1, f"bits: {b} is not one of 8, 4, 2, 1")
    fp32_size = m.size()
    t0 = time.perf_counter()
    fp = m.evaluate(e, lab, ref=m)
    metric = "top1" if lab is not None else "sqnr_db"

    def value(r: EvalResult) -> float:
        return r.top1 if lab is not None else (r.sqnr_db if r.sqnr_db is not None else math.inf)

    rows = [SweepRow("fp32", "float", 0.0, "float", 32.0, fp32_size.file_bytes, fp32_size.zip_bytes, 1.0,
                     value(fp), 0.0 if lab is not None else math.inf, 1.0, time.perf_counter() - t0)]
    models = {}
    for b in bits:
        for s in sparsity:
            if b == 1 and s > 0:
                continue  # binary weights have no zero level
            t0 = time.perf_counter()
            config = _FORMAT[b] + (f"-s{s:.2f}" if s > 0 else "")
            q = quantize(m, c, bits=b, sparsity=s, method=method)
            r = q.evaluate(e, lab, ref=m)
            sz = q.size()
            v = value(r)
            rows.append(SweepRow(config, _FORMAT[b], float(s), "int8" if b == 8 else "float", sz.bits_per_weight,
                                 sz.file_bytes, sz.zip_bytes, sz.file_bytes / fp32_size.file_bytes, v,
                                 100.0 * (v - rows[0].value) if lab is not None else v,
                                 r.agreement if r.agreement is not None else 1.0, time.perf_counter() - t0,
                                 path=f"{config}.onnx"))
            models[config] = q
    name = m._origin if m._origin != "<memory>" else "model"
    report = SweepReport(Path(name).name, metric, tuple(rows), models)
    if out_dir is not None:
        report.save(out_dir)
    return report


def gate(model: ModelLike, *, max_size: Optional[int] = None, max_params: Optional[int] = None,
         min_top1: Optional[float] = None, max_drop: Optional[float] = None, data: Any = None,
         labels: Optional[Iterable[int]] = None, ref: Optional[ModelLike] = None,
         transform_fn: Optional[Callable[[Any], Any]] = None) -> GateResult:
    """`qtool gate`: size and accuracy rules. max_size in bytes (of the file when `model` is a path,
    else of the serialized model); min_top1 in percent (needs data, labels); max_drop in top-1
    points vs ref (needs ref, data; without labels: points of top-1 disagreement)."""
    if min_top1 is not None and (data is None or labels is None):
        raise QtError(1, "min_top1 needs data and labels")
    if max_drop is not None and (data is None or ref is None):
        raise QtError(1, "max_drop needs ref and data")
    if max_size is None and max_params is None and min_top1 is None and max_drop is None:
        raise QtError(1, "no rule given (max_size, max_params, min_top1, max_drop)")
    m = Model.of(model)
    rules = []
    if max_size is not None:
        size = Path(model).stat().st_size if isinstance(model, (str, Path)) else len(m.to_bytes())
        rules.append(GateRule("max-size", float(max_size), float(size), size <= max_size))
    if max_params is not None:
        params = m.size().parameters
        rules.append(GateRule("max-params", float(max_params), float(params), params <= max_params))
    if min_top1 is not None or max_drop is not None:
        lab = labels_array(labels)
        r = m.evaluate(data, lab, Model.of(ref) if ref is not None else None, transform_fn=transform_fn)
        if min_top1 is not None:
            top1 = 100.0 * (r.top1 or 0.0)
            rules.append(GateRule("min-top1", float(min_top1), top1, top1 >= min_top1))
        if max_drop is not None:
            if lab is not None:
                drop = 100.0 * ((r.ref_top1 or 0.0) - (r.top1 or 0.0))
            elif r.agreement is not None:
                drop = 100.0 * (1.0 - r.agreement)
            else:
                raise QtError(2, "max_drop without labels measures top-1 disagreement, which needs a classifier "
                                 "output [N, classes]; give labels")
            rules.append(GateRule("max-drop", float(max_drop), drop, drop <= max_drop + 1e-12))
    return GateResult(all(r.ok for r in rules), tuple(rules))
