# SPDX-License-Identifier: Apache-2.0
"""Arrays in and out of qtool: numpy / PyTorch / scalars / lists -> C-contiguous numpy arrays of
the model input's dtype (float64 -> float32 and so on), and the qt_array structs that point at
them (no copy when an array already has the right dtype and layout)."""
from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from . import _lib

# ONNX TensorProto.DataType <-> numpy
ONNX_TO_NUMPY = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
                 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
NUMPY_TO_ONNX = {np.dtype(v): k for k, v in ONNX_TO_NUMPY.items()}


def to_numpy(x: Any) -> np.ndarray:
    """numpy view of x: numpy arrays and scalars, PyTorch tensors (detached, on the CPU), lists."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        t = x.detach().cpu()
        try:
            return t.numpy()
        except (RuntimeError, TypeError):  # torch built against another numpy ABI
            return np.array(t.tolist())
    return np.asarray(x)


def convert(x: Any, dtype_code: int, what: str) -> np.ndarray:
    """x as a C-contiguous array of the ONNX dtype `dtype_code` (0: float -> float32, ints -> int64).
    Floats convert to any float type and ints/bools to ints or floats; floats never silently become
    ints (TypeError naming `what`)."""
    a = to_numpy(x)
    if a.dtype == object or a.dtype.kind in "USV":
        raise _lib.InvalidArgument(f"{what}: expected numbers, got an array of {a.dtype}")
    if dtype_code:
        want = np.dtype(ONNX_TO_NUMPY.get(dtype_code, np.float32))
    else:
        want = np.dtype(np.float32 if a.dtype.kind in "fc" else np.int64 if a.dtype.kind in "iu" else a.dtype)
    if a.dtype != want:
        if a.dtype.kind == "f" and want.kind in "iub":
            raise _lib.InvalidArgument(f"{what}: the model input is {want.name}, but the data is {a.dtype.name}")
        if a.dtype.kind == "c":
            raise _lib.InvalidArgument(f"{what}: complex data is not supported")
        a = a.astype(want)
    return np.ascontiguousarray(a)


class ArrayPack:
    """qt_array structs for named numpy arrays; keeps the arrays alive while the structs are used."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.arrays = dict(arrays)
        self._names = [n.encode() for n in self.arrays]
        self._shapes = [(ctypes.c_int64 * max(1, a.ndim))(*a.shape) for a in self.arrays.values()]
        self.structs = (_lib.Array * max(1, len(self.arrays)))()
        for i, (a, name, shape) in enumerate(zip(self.arrays.values(), self._names, self._shapes)):
            code = NUMPY_TO_ONNX.get(a.dtype)
            if code is None:
                raise _lib.InvalidArgument(f"input '{name.decode()}': dtype {a.dtype} is not supported")
            self.structs[i] = _lib.Array(name, code, a.ctypes.data if a.size else None,
                                         ctypes.cast(shape, _lib.I64P), a.ndim)

    def __len__(self):
        return len(self.arrays)


def from_struct(a: "_lib.Array") -> np.ndarray:
    """A numpy copy of a qt_array owned by qtool."""
    dt = ONNX_TO_NUMPY.get(a.dtype)
    if dt is None:
        raise _lib.QtError(1, f"output '{a.name.decode()}' has unsupported dtype {a.dtype}")
    shape = tuple(a.shape[i] for i in range(a.rank))
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(shape, dt)
    if n:
        ctypes.memmove(out.ctypes.data, a.values, out.nbytes)
    return out


def jsonable(v: Any) -> Any:
    """Option values for the C API's JSON: numpy scalars/arrays, paths, tuples and sets converted."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 1) == 0:  # 0-d torch tensor
        return v.item()
    return v


def options_json(options: Dict[str, Any]) -> bytes:
    import json
    return json.dumps({k: jsonable(v) for k, v in options.items() if v is not None}).encode()


def names_of(seq: Sequence[Dict[str, Any]]) -> List[str]:
    return [s["name"] for s in seq]
