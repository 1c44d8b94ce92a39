# SPDX-License-Identifier: Apache-2.0
"""qtool.Model: an ONNX model held by qtool (load, save, run, quantize, prune, evaluate, size)."""
from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _arrays, _lib
from ._data import Data, _Handle, as_data, labels_args, labels_array
from ._lib import QtError
from ._results import EvalResult, SizeReport

try:
    from typing import Literal
except ImportError:  # Python 3.7
    from typing_extensions import Literal  # type: ignore

PathLike = Union[str, Path]
Method = Literal["mse", "minmax", "percentile", "entropy", "auto"]


class Model(_Handle):
    """An ONNX model held by qtool."""
    _free = _lib.model_free

    def __init__(self, ptr: int, origin: str = "<memory>"):
        super().__init__(ptr)
        self._origin = origin
        self._info: Optional[Dict[str, Any]] = None

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        p = _lib.P()
        _lib.check(_lib.model_load(str(path).encode(), ctypes.byref(p)))
        return cls(p.value, str(path))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        """From serialized ONNX (e.g. torch.onnx.export into io.BytesIO().getvalue())."""
        p = _lib.P()
        _lib.check(_lib.model_load_mem(data, len(data), ctypes.byref(p)))
        return cls(p.value)

    @classmethod
    def of(cls, model: Union["Model", PathLike, bytes]) -> "Model":
        """A Model from a Model, a path or serialized bytes."""
        if isinstance(model, Model):
            return model
        if isinstance(model, (bytes, bytearray)):
            return cls.from_bytes(bytes(model))
        if isinstance(model, (str, Path)):
            return cls.load(model)
        if hasattr(model, "SerializeToString"):  # an onnx.ModelProto
            return cls.from_bytes(model.SerializeToString())
        raise _lib.InvalidArgument(f"model: expected qtool.Model, a path, bytes or an onnx.ModelProto, got {type(model).__name__}")

    def save(self, path: PathLike) -> None:
        """Atomic write; never over the file the model was loaded from."""
        _lib.check(_lib.model_save(self.ptr, str(path).encode()))

    def to_bytes(self) -> bytes:
        buf, size = _lib.P(), ctypes.c_size_t()
        _lib.check(_lib.model_serialize(self.ptr, ctypes.byref(buf), ctypes.byref(size)))
        try:
            return ctypes.string_at(buf, size.value)
        finally:
            _lib.buffer_free(buf)

    def info(self) -> Dict[str, Any]:
        """{"inputs": [{"name", "dtype" (ONNX type code), "shape" (-1 symbolic)}], "outputs": [...],
        "opset", "nodes", "path"}."""
        if self._info is None:
            p = _lib.P()
            _lib.check(_lib.model_info(self.ptr, ctypes.byref(p)))
            self._info = json.loads(_lib.take_string(p))
        return self._info

    @property
    def input_names(self) -> Tuple[str, ...]:
        return tuple(i["name"] for i in self.info()["inputs"])

    @property
    def output_names(self) -> Tuple[str, ...]:
        return tuple(o["name"] for o in self.info()["outputs"])

    def __repr__(self) -> str:
        if not self._ptr:
            return "<qtool.Model (freed)>"
        i = self.info()
        sig = lambda vs: ", ".join(f"{v['name']}{list(v['shape'])}" for v in vs)  # noqa: E731
        return (f"<qtool.Model {self._origin}: opset {i['opset']}, {i['nodes']} nodes, inputs {sig(i['inputs'])}, "
                f"outputs {sig(i['outputs'])}, {len(self.to_bytes())} bytes>")

    def tensor(self, name: str) -> np.ndarray:
        """An initializer as float32 (a copy), e.g. weights to load back into a training model."""
        shape, rank = (ctypes.c_int64 * 8)(), ctypes.c_size_t()
        _lib.check(_lib.tensor_shape(self.ptr, name.encode(), shape, ctypes.byref(rank)))
        out = np.empty(tuple(shape[:rank.value]), np.float32)
        _lib.check(_lib.get_tensor(self.ptr, name.encode(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
        return out

    def set_tensor(self, name: str, value: Any) -> None:
        """Replaces a float32 initializer with the same number of values (e.g. fine-tuned weights)."""
        arr = _arrays.convert(value, 1, f"tensor '{name}'")
        _lib.check(_lib.set_tensor(self.ptr, name.encode(), arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), arr.size))

    def mask_names(self) -> Tuple[str, ...]:
        """Weights that carry a pruning mask (after prune / quantize with sparsity)."""
        s = _lib.S()
        _lib.check(_lib.mask_names(self.ptr, ctypes.byref(s)))
        return tuple(n for n in s.value.decode().split(",") if n)

    def mask(self, weight: str) -> np.ndarray:
        """Pruning mask of a weight: uint8 of the weight's shape, 1 = kept."""
        shape, rank = (ctypes.c_int64 * 8)(), ctypes.c_size_t()
        _lib.check(_lib.tensor_shape(self.ptr, weight.encode(), shape, ctypes.byref(rank)))
        out = np.empty(tuple(shape[:rank.value]), np.uint8)
        _lib.check(_lib.get_mask(self.ptr, weight.encode(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), out.size))
        return out

    def masks(self) -> Dict[str, np.ndarray]:
        """Every pruning mask {weight name: uint8 array, 1 = kept}."""
        return {n: self.mask(n) for n in self.mask_names()}

    def run(self, inputs: Union[Mapping[str, Any], Any]) -> Dict[str, np.ndarray]:
        """Runs the model once in qtool's executor: {output name: array}. inputs: {input name: array},
        or one array for a one-input model; float64 and other dtypes are converted to the input's."""
        specs = self.info()["inputs"]
        if not isinstance(inputs, Mapping):
            if len(specs) != 1:
                raise _lib.InvalidArgument(f"run: the model has {len(specs)} inputs {[s['name'] for s in specs]}; pass a dict")
            inputs = {specs[0]["name"]: inputs}
        dtypes = {s["name"]: s["dtype"] for s in specs}
        feeds = {k: _arrays.convert(v, dtypes.get(k, 0), f"input '{k}'") for k, v in inputs.items()}
        pack = _arrays.ArrayPack(feeds)
        out = _lib.P()
        _lib.check(_lib.model_run(self.ptr, pack.structs, len(pack), ctypes.byref(out)))
        try:
            n = ctypes.c_size_t()
            _lib.check(_lib.values_count(out, ctypes.byref(n)))
            result = {}
            for i in range(n.value):
                a = _lib.Array()
                _lib.check(_lib.values_get(out, i, ctypes.byref(a)))
                result[a.name.decode()] = _arrays.from_struct(a)
            return result
        finally:
            _lib.values_free(out)

    def quantize(self, calib: Any = None, *, transform_fn: Optional[Callable[[Any], Any]] = None,
                 subset_size: Optional[int] = None, bits: Optional[Literal[8, 4, 2, 1]] = None, ternary: bool = False,
                 dtype: Optional[Literal["fp16", "bf16"]] = None, group_size: Optional[Literal[16, 32, 64, 128]] = None,
                 symmetric: Optional[bool] = None, act_bits: Optional[Literal[8, 32]] = None,
                 act_type: Optional[Literal["uint8", "int8", "int8-asymmetric", "symmetric"]] = None,
                 overflow_fix: Optional[Literal["pairs", "off"]] = None, method: Method = "mse", percentile: float = 99.999,
                 rounding: Literal["gptq", "nearest"] = "gptq", format: Literal["qdq", "matmulnbits"] = "qdq",
                 exclude: Sequence[str] = (), op_types: Optional[Sequence[str]] = None,
                 keep_first_last: Optional[int] = None, layer_bits: Optional[Mapping[str, int]] = None,
                 sparsity: float = 0.0, pattern: str = "unstructured", scope: Literal["layer", "global"] = "layer",
                 plan: Optional[PathLike] = None, calib_table: Union["CalibrationTable", PathLike, None] = None,  # noqa: F821
                 input_shapes: Optional[Mapping[str, Sequence[int]]] = None) -> "Model":
        """A quantized (and optionally pruned) copy; see qtool.quantize for the options."""
        from ._api import quantize
        opts = dict(locals())
        del opts["self"], opts["quantize"]
        return quantize(self, **opts)

    def prune(self, *, sparsity: float = 0.5, pattern: str = "unstructured", scope: Literal["layer", "global"] = "layer",
              exclude: Sequence[str] = (), sparsity_map: Optional[Mapping[str, float]] = None) -> "Model":
        """A pruned copy with masks. pattern: "unstructured", "N:M" (e.g. "2:4") or "channel";
        scope: per "layer" or "global" threshold; sparsity_map {node: sparsity} overrides per layer."""
        p = _lib.P()
        opts = {"sparsity": sparsity, "pattern": pattern, "scope": scope, "exclude": list(exclude),
                "sparsity_map": sparsity_map}
        _lib.check(_lib.prune(self.ptr, _arrays.options_json(opts), ctypes.byref(p)))
        return Model(p.value)

    def evaluate(self, data: Any, labels: Optional[Iterable[int]] = None, ref: Optional["Model"] = None, *,
                 transform_fn: Optional[Callable[[Any], Any]] = None) -> EvalResult:
        """Runs qtool's executor on data (qtool.Data, arrays or an iterable of batches): top-1 with
        labels (classifier outputs), and against ref: top-1 agreement and SQNR / cosine of every output."""
        d = as_data(data, self, transform_fn)
        lab = labels_array(labels)
        lp, ln = labels_args(lab)
        p = _lib.P()
        status = _lib.evaluate_json(self.ptr, d.ptr, lp, ln, ref.ptr if ref else None, ctypes.byref(p))
        d._reading(status)
        return EvalResult.from_json(json.loads(_lib.take_string(p)))

    def size(self) -> SizeReport:
        """File, zip-compressed and weight bytes, parameters, bits per weight."""
        r = _lib.SizeReportC()
        _lib.check(_lib.size(self.ptr, ctypes.byref(r)))
        return SizeReport(r.file_bytes, r.zip_bytes, r.parameters, r.weight_params, r.weight_bytes, r.bits_per_weight)

    def inspect(self) -> Dict[str, Any]:
        """`qtool inspect --json`: op histogram, parameters and bytes by data type, weights."""
        p = _lib.P()
        _lib.check(_lib.inspect(self.ptr, ctypes.byref(p)))
        return json.loads(_lib.take_string(p))
