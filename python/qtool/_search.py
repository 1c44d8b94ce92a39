# SPDX-License-Identifier: Apache-2.0
"""ctypes bindings of the C API's search units (capi/qtool.h, "threads" and "search"): one sweep
configuration, one layer's sensitivity probe, the report writers. Used by qtool.distributed; every
JSON string crosses the boundary as UTF-8 and qtool-owned results are released with qt_buffer_free."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Optional, Sequence

import numpy as np

from . import _lib as _L
from ._data import Data
from ._lib import QtError
from ._model import Model

_P, _S = _L.P, _L.S
_buffer_free, _check, _lib = _L.buffer_free, _L.check, _L.lib

_OUT = ctypes.POINTER(ctypes.c_void_p)
_I64P = ctypes.POINTER(ctypes.c_int64)


def _sig(name, args, res=ctypes.c_int):
    f = getattr(_lib, name)
    f.argtypes, f.restype = args, res
    return f


_set_threads = _sig("qt_set_threads", [ctypes.c_int])
_hardware_threads = _sig("qt_hardware_threads", [], ctypes.c_int)
_data_save_npz = _sig("qt_data_save_npz", [_P, _P, _S])
_labels_open = _sig("qt_labels_open", [_S, _S, _P, _S, _OUT])
_sweep_configs = _sig("qt_sweep_configs", [_S, _OUT])
_sweep_fp32_row = _sig("qt_sweep_fp32_row", [_P, ctypes.c_int64, _P, _I64P, ctypes.c_size_t, _OUT])
_sweep_run_config = _sig("qt_sweep_run_config", [_P, _S, _P, _P, _I64P, ctypes.c_size_t, _S, _S, _OUT])
_report_write = _sig("qt_report_write", [_S, _S, ctypes.c_int, _OUT])
_sensitivity_layers = _sig("qt_sensitivity_layers", [_P, _P, _I64P, ctypes.c_size_t, _OUT])
_sensitivity_probe = _sig("qt_sensitivity_probe", [_P, _P, _P, _I64P, ctypes.c_size_t, _S, _OUT])
_sensitivity_report = _sig("qt_sensitivity_report", [_S, _OUT, _OUT, _OUT])


def _take(p: ctypes.c_void_p) -> Optional[str]:
    if not p.value:
        return None
    try:
        return ctypes.string_at(p.value).decode()
    finally:
        _buffer_free(p)


def _labels(labels: Optional[np.ndarray]):
    if labels is None:
        return None, 0
    arr = np.ascontiguousarray(labels, dtype=np.int64)
    return arr, arr.size


def set_threads(threads: int) -> None:
    """Threads for qtool work started from the calling thread (oneDNN's OpenMP team included)."""
    _check(_set_threads(int(threads)))


def hardware_threads() -> int:
    return int(_hardware_threads())


def data_save_npz(data: Data, model: Model, path: str) -> None:
    _check(_data_save_npz(data.ptr, model.ptr, str(path).encode()))


def labels_open(labels: str, data_path: str, model: Model, options: dict) -> np.ndarray:
    """The CLI's --labels (a .npy, or "folders") for the samples Data.open(data_path, model, **options)
    serves (options: image options, offset/limit/sample/seed, whole); int64 [N]."""
    from ._arrays import options_json
    out = ctypes.c_void_p()
    _check(_labels_open(str(labels).encode(), str(data_path).encode(), model.ptr, options_json(options),
                        ctypes.byref(out)))
    return np.asarray(json.loads(_take(out)), dtype=np.int64)


def sweep_configs(bits: Sequence[int], sparsity: Sequence[float], method: Sequence[str]) -> list:
    out = ctypes.c_void_p()
    opts = {"bits": [int(b) for b in bits], "sparsity": [float(s) for s in sparsity], "method": list(method)}
    _check(_sweep_configs(json.dumps(opts).encode(), ctypes.byref(out)))
    return json.loads(_take(out))


def sweep_fp32_row(model: Model, file_bytes: int, eval_data: Data, labels: Optional[np.ndarray]) -> dict:
    arr, n = _labels(labels)
    out = ctypes.c_void_p()
    _check(_sweep_fp32_row(model.ptr, int(file_bytes), eval_data.ptr, None if arr is None else arr.ctypes.data_as(_I64P),
                           n, ctypes.byref(out)))
    return json.loads(_take(out))


def sweep_run_config(model: Model, config: dict, calib: Data, eval_data: Data, labels: Optional[np.ndarray],
                     fp32_row: dict, out_dir: str) -> dict:
    arr, n = _labels(labels)
    out = ctypes.c_void_p()
    _check(_sweep_run_config(model.ptr, json.dumps(config).encode(), calib.ptr, eval_data.ptr,
                             None if arr is None else arr.ctypes.data_as(_I64P), n, json.dumps(fp32_row).encode(),
                             str(out_dir).encode(), ctypes.byref(out)))
    return json.loads(_take(out))


def report_write(report: dict, out_dir: str, json_only: bool = False) -> str:
    """Writes report.{json,csv,svg,html} (json_only: report.json) with qtool's writers; returns the table."""
    out = ctypes.c_void_p()
    _check(_report_write(json.dumps(report).encode(), str(out_dir).encode(), 1 if json_only else 0, ctypes.byref(out)))
    return _take(out) or ""


def sensitivity_layers(model: Model, eval_data: Data, labels: Optional[np.ndarray]) -> dict:
    arr, n = _labels(labels)
    out = ctypes.c_void_p()
    _check(_sensitivity_layers(model.ptr, eval_data.ptr, None if arr is None else arr.ctypes.data_as(_I64P), n,
                               ctypes.byref(out)))
    return json.loads(_take(out))


def sensitivity_probe(model: Model, calib: Data, eval_data: Data, labels: Optional[np.ndarray], options: dict) -> dict:
    arr, n = _labels(labels)
    out = ctypes.c_void_p()
    _check(_sensitivity_probe(model.ptr, calib.ptr, eval_data.ptr, None if arr is None else arr.ctypes.data_as(_I64P), n,
                              json.dumps(options).encode(), ctypes.byref(out)))
    return json.loads(_take(out))


def sensitivity_report(probes: dict) -> dict:
    """{"json": ..., "text": ..., "html": ...} ranked as `qtool sensitivity` does."""
    j, t, h = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    _check(_sensitivity_report(json.dumps(probes).encode(), ctypes.byref(j), ctypes.byref(t), ctypes.byref(h)))
    return {"json": _take(j), "text": _take(t), "html": _take(h)}


_auto = _sig("qt_auto_search", [_P, _P, _P, _I64P, ctypes.c_size_t, _S, _S, _S, _OUT])


def auto(model: Model, calib: Data, eval_data: Data, labels: Optional[np.ndarray], options: dict, out_path: str,
         plan_path: str) -> dict:
    """qtool auto (options: max_drop, target_size, method, exclude, sensitivity); writes out_path and plan_path."""
    arr, n = _labels(labels)
    out = ctypes.c_void_p()
    _check(_auto(model.ptr, calib.ptr, eval_data.ptr, None if arr is None else arr.ctypes.data_as(_I64P), n,
                 json.dumps(options).encode(), str(out_path).encode(), str(plan_path).encode(), ctypes.byref(out)))
    return json.loads(_take(out))
