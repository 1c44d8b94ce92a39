# SPDX-License-Identifier: Apache-2.0
"""ctypes binding of libqtool.so (capi/qtool.h): library loading, function signatures, the C
structs, status codes -> QtError, and the bridge of qtool's log messages into Python's `logging`
(logger "qtool", every message) and `warnings` (QtoolWarning, for qtool's warnings).

Log records are collected while a C call runs (on whatever thread qtool logs from) and replayed on
the calling thread when the call returns, so warnings point at the user's line."""
from __future__ import annotations

import collections
import ctypes
import logging
import os
import sys
import warnings
from pathlib import Path

STATUS = {0: "ok", 1: "invalid argument", 2: "bad input", 3: "not found", 4: "failure", 5: "out of memory",
          6: "callback failed"}

logger = logging.getLogger("qtool")
logger.addHandler(logging.NullHandler())  # a library leaves output to the application's logging set-up


class QtError(RuntimeError):
    """A qtool call failed. .status is the C API's qt_status (int), .message qtool's text."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{STATUS.get(status, status)}: {message}")
        self.status = status
        self.message = message


class InvalidArgument(QtError, TypeError):
    """An argument of the wrong type or kind (also a TypeError); status 1 like qtool's own checks."""

    def __init__(self, message: str):
        super().__init__(1, message)


class QtoolWarning(UserWarning):
    """A warning from qtool's library (e.g. a tensor calibration never saw); also logged to 'qtool'."""


def _find_library() -> str:
    env = os.environ.get("QTOOL_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for candidate in [here / "libqtool.so", here.parents[1] / "build" / "libqtool.so"]:
        if candidate.exists():
            return str(candidate)
    raise OSError("libqtool.so not found: install the package (pip install qtool-onnx, or pip install . in a checkout) or set QTOOL_LIBRARY")


lib = ctypes.CDLL(_find_library())

P = ctypes.c_void_p
S = ctypes.c_char_p
I64P = ctypes.POINTER(ctypes.c_int64)


class EvalResultC(ctypes.Structure):
    _fields_ = [("samples", ctypes.c_int64), ("top1", ctypes.c_double), ("agreement", ctypes.c_double),
                ("sqnr_db", ctypes.c_double)]


class SizeReportC(ctypes.Structure):
    _fields_ = [("file_bytes", ctypes.c_int64), ("zip_bytes", ctypes.c_int64), ("parameters", ctypes.c_int64),
                ("weight_params", ctypes.c_int64), ("weight_bytes", ctypes.c_int64),
                ("bits_per_weight", ctypes.c_double)]


class Array(ctypes.Structure):
    """qt_array"""
    _fields_ = [("name", S), ("dtype", ctypes.c_int32), ("values", P), ("shape", I64P), ("rank", ctypes.c_size_t)]


RESET_FN = ctypes.CFUNCTYPE(ctypes.c_int, P)
NEXT_FN = ctypes.CFUNCTYPE(ctypes.c_int, P, ctypes.POINTER(ctypes.POINTER(Array)), ctypes.POINTER(ctypes.c_size_t))
FREE_FN = ctypes.CFUNCTYPE(None, P)
LOG_FN = ctypes.CFUNCTYPE(None, P, ctypes.c_int, S)


def _sig(name, args, res=ctypes.c_int):
    f = getattr(lib, name)
    f.argtypes, f.restype = args, res
    return f


status_string = _sig("qt_status_string", [ctypes.c_int], S)
last_error = _sig("qt_last_error", [], S)
version = _sig("qt_version", [], S)
model_load = _sig("qt_model_load", [S, ctypes.POINTER(P)])
model_load_mem = _sig("qt_model_load_from_memory", [P, ctypes.c_size_t, ctypes.POINTER(P)])
model_save = _sig("qt_model_save", [P, S])
model_serialize = _sig("qt_model_serialize", [P, ctypes.POINTER(P), ctypes.POINTER(ctypes.c_size_t)])
buffer_free = _sig("qt_buffer_free", [P], None)
model_free = _sig("qt_model_free", [P], None)
tensor_shape = _sig("qt_model_tensor_shape", [P, S, I64P, ctypes.POINTER(ctypes.c_size_t)])
get_tensor = _sig("qt_model_get_tensor", [P, S, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t])
set_tensor = _sig("qt_model_set_tensor", [P, S, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t])
get_mask = _sig("qt_model_get_mask", [P, S, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t])
mask_names = _sig("qt_model_mask_names", [P, ctypes.POINTER(S)])
data_create = _sig("qt_data_create", [ctypes.POINTER(P)])
data_add = _sig("qt_data_add_batch", [P, S, ctypes.POINTER(ctypes.c_float), I64P, ctypes.c_size_t])
data_open = _sig("qt_data_open", [S, P, S, ctypes.POINTER(P)])
data_size = _sig("qt_data_size", [P, I64P])
data_free = _sig("qt_data_free", [P], None)
data_from_source = _sig("qt_data_from_source", [RESET_FN, NEXT_FN, FREE_FN, P, ctypes.c_int64, ctypes.POINTER(P)])
quantize_json = _sig("qt_quantize_json", [P, S, P, ctypes.POINTER(P)])
prune = _sig("qt_prune", [P, S, ctypes.POINTER(P)])
evaluate = _sig("qt_evaluate", [P, P, I64P, ctypes.c_size_t, P, ctypes.POINTER(EvalResultC)])
size = _sig("qt_size", [P, ctypes.POINTER(SizeReportC)])
model_info = _sig("qt_model_info", [P, ctypes.POINTER(P)])
model_run = _sig("qt_model_run", [P, ctypes.POINTER(Array), ctypes.c_size_t, ctypes.POINTER(P)])
values_count = _sig("qt_values_count", [P, ctypes.POINTER(ctypes.c_size_t)])
values_get = _sig("qt_values_get", [P, ctypes.c_size_t, ctypes.POINTER(Array)])
values_free = _sig("qt_values_free", [P], None)
evaluate_json = _sig("qt_evaluate_json", [P, P, I64P, ctypes.c_size_t, P, ctypes.POINTER(P)])
calibrate = _sig("qt_calibrate", [P, P, S, ctypes.POINTER(P)])
sensitivity = _sig("qt_sensitivity", [P, P, P, I64P, ctypes.c_size_t, S, ctypes.POINTER(P)])
auto = _sig("qt_auto", [P, P, P, I64P, ctypes.c_size_t, S, ctypes.POINTER(P), ctypes.POINTER(P)])
inspect = _sig("qt_inspect", [P, ctypes.POINTER(P)])
report_render = _sig("qt_report_render", [S, S, ctypes.POINTER(P)])
set_log_callback = _sig("qt_set_log_callback", [LOG_FN, P, ctypes.c_int], None)


# ---- log bridge ----
_records = collections.deque()
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}


@LOG_FN
def _on_log(user, level, message):  # any thread; only queues (no Python logging inside C calls)
    _records.append((level, message.decode("utf-8", "replace")))


# debug and above reach Python; the "qtool" logger's level and handlers decide what is shown
_log_level = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "warning": 3, "error": 4}.get(
    os.environ.get("QTOOL_LOG", "debug").lower(), 1)
set_log_callback(_on_log, None, _log_level)
_PKG_DIR = str(Path(__file__).resolve().parent)


def _user_stacklevel() -> int:
    """stacklevel for warnings.warn that points at the first frame outside this package."""
    f, level = sys._getframe(1), 1
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f, level = f.f_back, level + 1
    return level


def flush_log() -> None:
    """Replays queued qtool log records into `logging` and, for warnings, `warnings`."""
    while _records:
        level, message = _records.popleft()
        logger.log(_LEVELS.get(level, logging.INFO), message)
        if level == 3:
            warnings.warn(message, QtoolWarning, stacklevel=_user_stacklevel())




def check(status: int) -> None:
    """Raises QtError for a failed status (after replaying the call's log records)."""
    flush_log()
    if status != 0:
        raise QtError(status, last_error().decode("utf-8", "replace"))


def take_string(ptr: P) -> str:
    """A malloc'd string from the C API, released."""
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        buffer_free(ptr)
