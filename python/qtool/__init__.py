# SPDX-License-Identifier: Apache-2.0
"""qtool: quantize, prune and compress ONNX models from Python.

A thin ctypes binding over libqtool.so (the C API in capi/qtool.h). numpy float32 arrays go in
without copies where the C API reads them directly; every failure raises QtError carrying the C
status code and qtool's message (which names the file, node or tensor).

    import numpy as np, qtool
    m = qtool.Model.load("model.onnx")                 # or qtool.Model.from_bytes(buf)
    calib = qtool.Data.from_arrays({"input": x_calib})  # [N, ...] float32, batch axis first
    q = m.quantize(bits=4, calib=calib)                 # int4 weights with GPTQ
    print(q.evaluate(qtool.Data.from_arrays({"input": x}), labels=y, ref=m))
    q.save("model.int4.onnx")
"""
from __future__ import annotations

import ctypes
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Tuple, Union

import numpy as np

__all__ = ["QtError", "Model", "Data", "EvalResult", "SizeReport", "version", "STATUS"]

STATUS = {0: "ok", 1: "invalid argument", 2: "bad input", 3: "not found", 4: "failure", 5: "out of memory"}


def _find_library() -> str:
    env = os.environ.get("QTOOL_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for candidate in [here / "libqtool.so", here.parents[1] / "build" / "libqtool.so"]:
        if candidate.exists():
            return str(candidate)
    raise OSError("libqtool.so not found: install the package (pip install ./python) or set QTOOL_LIBRARY")


_lib = ctypes.CDLL(_find_library())


class QtError(RuntimeError):
    """A qtool call failed. .status is the C API's qt_status (int), .message qtool's text."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{STATUS.get(status, status)}: {message}")
        self.status = status
        self.message = message


class _EvalResult(ctypes.Structure):
    _fields_ = [("samples", ctypes.c_int64), ("top1", ctypes.c_double), ("agreement", ctypes.c_double),
                ("sqnr_db", ctypes.c_double)]


class _SizeReport(ctypes.Structure):
    _fields_ = [("file_bytes", ctypes.c_int64), ("zip_bytes", ctypes.c_int64), ("parameters", ctypes.c_int64),
                ("weight_params", ctypes.c_int64), ("weight_bytes", ctypes.c_int64),
                ("bits_per_weight", ctypes.c_double)]


_P = ctypes.c_void_p
_S = ctypes.c_char_p


def _sig(name, args, res=ctypes.c_int):
    f = getattr(_lib, name)
    f.argtypes, f.restype = args, res
    return f


_status_string = _sig("qt_status_string", [ctypes.c_int], _S)
_last_error = _sig("qt_last_error", [], _S)
_version = _sig("qt_version", [], _S)
_model_load = _sig("qt_model_load", [_S, ctypes.POINTER(_P)])
_model_load_mem = _sig("qt_model_load_from_memory", [_P, ctypes.c_size_t, ctypes.POINTER(_P)])
_model_save = _sig("qt_model_save", [_P, _S])
_model_serialize = _sig("qt_model_serialize", [_P, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)])
_buffer_free = _sig("qt_buffer_free", [_P], None)
_model_free = _sig("qt_model_free", [_P], None)
_tensor_shape = _sig("qt_model_tensor_shape", [_P, _S, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_size_t)])
_get_tensor = _sig("qt_model_get_tensor", [_P, _S, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t])
_set_tensor = _sig("qt_model_set_tensor", [_P, _S, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t])
_get_mask = _sig("qt_model_get_mask", [_P, _S, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t])
_mask_names = _sig("qt_model_mask_names", [_P, ctypes.POINTER(_S)])
_data_create = _sig("qt_data_create", [ctypes.POINTER(_P)])
_data_add = _sig("qt_data_add_batch", [_P, _S, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t])
_data_open = _sig("qt_data_open", [_S, _P, _S, ctypes.POINTER(_P)])
_data_size = _sig("qt_data_size", [_P, ctypes.POINTER(ctypes.c_int64)])
_data_free = _sig("qt_data_free", [_P], None)
_quantize_json = _sig("qt_quantize_json", [_P, _S, _P, ctypes.POINTER(_P)])
_prune = _sig("qt_prune", [_P, _S, ctypes.POINTER(_P)])
_evaluate = _sig("qt_evaluate", [_P, _P, ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t, _P, ctypes.POINTER(_EvalResult)])
_size = _sig("qt_size", [_P, ctypes.POINTER(_SizeReport)])


def _check(status: int) -> None:
    if status != 0:
        raise QtError(status, _last_error().decode())


def version() -> str:
    """qtool's version, e.g. "0.2.0"."""
    return _version().decode()


def _f32(a, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != np.float32:
        raise QtError(1, f"{what}: expected float32, got {arr.dtype}")
    return np.ascontiguousarray(arr)  # no copy when already C-contiguous


@dataclass(frozen=True)
class EvalResult:
    samples: int
    top1: Optional[float]       # fraction 0..1 (None without labels)
    agreement: Optional[float]  # top-1 agreement with ref (None without ref)
    sqnr_db: Optional[float]    # output 0 vs ref in dB (None without ref)


@dataclass(frozen=True)
class SizeReport:
    file_bytes: int
    zip_bytes: int
    parameters: int
    weight_params: int
    weight_bytes: int
    bits_per_weight: float


class _Handle:
    _free = None

    def __init__(self, ptr: int):
        self._ptr = ptr

    @property
    def ptr(self) -> int:
        if not self._ptr:
            raise QtError(1, f"{type(self).__name__} was freed")
        return self._ptr

    def free(self) -> None:
        """Releases the native object now (also done by the garbage collector); safe to repeat."""
        if self._ptr:
            type(self)._free(self._ptr)
            self._ptr = None

    def __del__(self):
        try:
            self.free()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()


class Data(_Handle):
    """Calibration / evaluation samples: in-memory arrays (batch axis first) or files."""
    _free = _data_free

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Data":
        """arrays: {input name: float32 [N, ...]}; copied into qtool."""
        d = cls.create()
        d.add_batch(arrays)
        return d

    @classmethod
    def create(cls) -> "Data":
        p = _P()
        _check(_data_create(ctypes.byref(p)))
        return cls(p.value)

    def add_batch(self, arrays: Mapping[str, np.ndarray]) -> "Data":
        """Appends a batch {input name: float32 [n, ...]} (e.g. one DataLoader batch)."""
        for name, a in arrays.items():
            arr = _f32(a, f"input '{name}'")
            if arr.ndim < 1:
                raise QtError(1, f"input '{name}': needs a batch axis")
            shape = (ctypes.c_int64 * arr.ndim)(*arr.shape)
            _check(_data_add(self.ptr, name.encode(), arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), shape, arr.ndim))
        return self

    @classmethod
    def open(cls, path: Union[str, Path], model: "Model", **image_options) -> "Data":
        """A .npy / .npz / folder of .npy / folder of images, checked against model's inputs.
        image_options: size="WxH", mean=[..], std=[..], scale=..., layout="nchw"|"nhwc", bgr=bool."""
        p = _P()
        _check(_data_open(str(path).encode(), model.ptr, json.dumps(image_options).encode(), ctypes.byref(p)))
        return cls(p.value)

    def __len__(self) -> int:
        n = ctypes.c_int64()
        _check(_data_size(self.ptr, ctypes.byref(n)))
        return n.value


class Model(_Handle):
    """An ONNX model held by qtool."""
    _free = _model_free

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Model":
        p = _P()
        _check(_model_load(str(path).encode(), ctypes.byref(p)))
        return cls(p.value)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        """From serialized ONNX (e.g. torch.onnx.export into io.BytesIO().getvalue())."""
        p = _P()
        _check(_model_load_mem(data, len(data), ctypes.byref(p)))
        return cls(p.value)

    def save(self, path: Union[str, Path]) -> None:
        """Atomic write; never over the file the model was loaded from."""
        _check(_model_save(self.ptr, str(path).encode()))

    def to_bytes(self) -> bytes:
        buf, size = _P(), ctypes.c_size_t()
        _check(_model_serialize(self.ptr, ctypes.byref(buf), ctypes.byref(size)))
        try:
            return ctypes.string_at(buf, size.value)
        finally:
            _buffer_free(buf)

    def tensor(self, name: str) -> np.ndarray:
        """An initializer as float32 (a copy), e.g. weights to load back into a training model."""
        shape, rank = (ctypes.c_int64 * 8)(), ctypes.c_size_t()
        _check(_tensor_shape(self.ptr, name.encode(), shape, ctypes.byref(rank)))
        out = np.empty(tuple(shape[:rank.value]), np.float32)
        _check(_get_tensor(self.ptr, name.encode(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
        return out

    def set_tensor(self, name: str, value: np.ndarray) -> None:
        """Replaces a float32 initializer with the same number of values (e.g. fine-tuned weights)."""
        arr = _f32(value, f"tensor '{name}'")
        _check(_set_tensor(self.ptr, name.encode(), arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), arr.size))

    def mask_names(self) -> Tuple[str, ...]:
        """Weights that carry a pruning mask (after prune / quantize with sparsity)."""
        s = _S()
        _check(_mask_names(self.ptr, ctypes.byref(s)))
        return tuple(n for n in s.value.decode().split(",") if n)

    def mask(self, weight: str) -> np.ndarray:
        """Pruning mask of a weight: uint8 of the weight's shape, 1 = kept."""
        shape, rank = (ctypes.c_int64 * 8)(), ctypes.c_size_t()
        _check(_tensor_shape(self.ptr, weight.encode(), shape, ctypes.byref(rank)))
        out = np.empty(tuple(shape[:rank.value]), np.uint8)
        _check(_get_mask(self.ptr, weight.encode(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), out.size))
        return out

    def quantize(self, calib: Optional[Data] = None, **options) -> "Model":
        """A quantized copy. options: every CLI option as a keyword, e.g. bits=4, group_size=32,
        act_bits=8, rounding="nearest", ternary=True, dtype="bf16", sparsity=0.5, pattern="2:4",
        exclude=[...], layer_bits={"fc1": 8}, method="entropy", format="matmulnbits"."""
        p = _P()
        _check(_quantize_json(self.ptr, json.dumps(options).encode(), calib.ptr if calib else None, ctypes.byref(p)))
        return Model(p.value)

    def prune(self, **options) -> "Model":
        """A pruned copy with masks. options: sparsity, pattern ("unstructured", "2:4", "channel"),
        scope ("layer", "global"), exclude [...], sparsity_map {node: s}."""
        p = _P()
        _check(_prune(self.ptr, json.dumps(options).encode(), ctypes.byref(p)))
        return Model(p.value)

    def evaluate(self, data: Data, labels: Optional[Iterable[int]] = None, ref: Optional["Model"] = None) -> EvalResult:
        """Runs qtool's executor on data: top-1 with labels, agreement and SQNR against ref."""
        lab = None if labels is None else np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
        r = _EvalResult()
        _check(_evaluate(self.ptr, data.ptr, None if lab is None else lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                         0 if lab is None else lab.size, ref.ptr if ref else None, ctypes.byref(r)))
        return EvalResult(r.samples, None if r.top1 < 0 else r.top1, None if r.agreement < 0 else r.agreement,
                          None if r.sqnr_db == -1.0 else r.sqnr_db)

    def size(self) -> SizeReport:
        """File, zip-compressed and weight bytes, parameters, bits per weight."""
        r = _SizeReport()
        _check(_size(self.ptr, ctypes.byref(r)))
        return SizeReport(r.file_bytes, r.zip_bytes, r.parameters, r.weight_params, r.weight_bytes, r.bits_per_weight)
