# SPDX-License-Identifier: Apache-2.0
"""qtool: quantize, prune and compress ONNX models from Python.

A ctypes binding over libqtool.so (the C API in capi/qtool.h), in the style NNCF users know:

    import qtool
    q = qtool.quantize("model.onnx", loader, transform_fn=lambda b: b[0])  # a DataLoader, streamed
    q4 = qtool.quantize(model, calib, bits=4, group_size=32)               # int4 weights with GPTQ
    print(q.evaluate(test_x, labels=test_y, ref=model))                    # EvalResult dataclass
    q.save("model.int8.onnx")
    outputs = q.run({"input": x})                                          # {output name: ndarray}

Models are qtool.Model (or a path / bytes / onnx.ModelProto wherever a model is taken). Data is
qtool.Data or anything iterable that yields batches (dicts, arrays, tuples; numpy or PyTorch):
qtool pulls it batch by batch through the C API's streaming data source. Analysis functions
(calibrate, sensitivity, sweep, auto, gate, inspect) return dataclasses / dicts. Failures raise
QtError with the C status and qtool's message; qtool's log goes to the "qtool" logger and its
warnings also to `warnings` (QtoolWarning).
"""
from . import _lib
from ._api import auto, calibrate, evaluate, gate, inspect, prune, quantize, run, sensitivity, sweep
from ._data import Data
from ._lib import STATUS, QtError, QtoolWarning
from ._model import Model
from ._results import (AutoResult, CalibrationTable, EvalResult, GateResult, GateRule, LayerSensitivity, OutputScore,
                       SensitivityReport, SizeReport, SweepReport, SweepRow)
from .torch_masks import masks_for_torch

__all__ = ["QtError", "QtoolWarning", "Model", "Data", "EvalResult", "OutputScore", "SizeReport", "CalibrationTable",
           "SensitivityReport", "LayerSensitivity", "AutoResult", "SweepReport", "SweepRow", "GateResult", "GateRule",
           "quantize", "prune", "evaluate", "run", "inspect", "calibrate", "sensitivity", "sweep", "auto", "gate",
           "masks_for_torch", "version", "__version__", "STATUS"]


def version() -> str:
    """qtool's version, e.g. "0.2.0" (the library's, set once in CMake's project())."""
    return _lib.version().decode()


__version__ = version()
_find_library = _lib._find_library
