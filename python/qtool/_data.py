# SPDX-License-Identifier: Apache-2.0
"""qtool.Data: calibration / evaluation samples for qtool, from in-memory arrays, files, or any
iterable of batches (a PyTorch DataLoader, a list of dicts, a generator) streamed through the C
API's data source (qt_data_from_source): qtool pulls one batch at a time, pass by pass, instead
of the whole data set being copied in first.

An item of the iterable, after the optional transform_fn (as in NNCF's nncf.Dataset), is
  - a dict {input name: array}, or
  - one array (a one-input model), or
  - a tuple/list with one array per model input, in input order.
Arrays have the sample axis first; numpy arrays, PyTorch tensors, lists and numpy scalars are
accepted and converted to the model input's dtype (float64 -> float32, ...).
Re-iterable sources (lists, DataLoaders, Datasets) are streamed on every pass; a one-shot iterator
(a generator) is kept in memory on its first pass, since qtool reads the data more than once."""
from __future__ import annotations

import ctypes
import json
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

import numpy as np

from . import _arrays, _lib
from ._lib import QtError

logger = logging.getLogger("qtool")


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
        if getattr(self, "_ptr", None):
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


class _Source:
    """The reset/next callbacks behind a streamed Data. Exceptions inside them are kept and
    re-raised by the qtool call that was reading (the C side only sees a failure code)."""

    def __init__(self, iterable: Iterable, inputs: List[Dict[str, Any]], transform_fn: Optional[Callable],
                 limit: Optional[int]):
        self.iterable = iterable
        self.inputs = inputs
        self.transform_fn = transform_fn
        self.limit = limit
        self.one_shot = hasattr(iterable, "__next__")  # an iterator / generator: one pass only
        self.cache: Optional[List[_arrays.ArrayPack]] = None  # one-shot iterators: packs of the first pass
        self.recording: Optional[List[_arrays.ArrayPack]] = [] if self.one_shot else None
        self.error: Optional[BaseException] = None
        self._it = None
        self._served = 0
        self._pack = None
        self._replay = 0
        self.reset_cb = _lib.RESET_FN(self._reset)
        self.next_cb = _lib.NEXT_FN(self._next)
        self.free_cb = ctypes.cast(None, _lib.FREE_FN)

    def _reset(self, user) -> int:
        try:
            self._served = 0
            self._replay = 0
            if self.one_shot and self.recording is not None and self._it is not None:
                # the first pass ended (or stopped early): later passes replay what was read
                self.cache, self.recording = self.recording, None
            if self.cache is None:
                self._it = iter(self.iterable)
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised by the caller
            self.error = e
            return -1

    def feeds(self, item: Any) -> Dict[str, np.ndarray]:
        """One item of the iterable -> {input name: array} of the model's dtypes."""
        if self.transform_fn is not None:
            item = self.transform_fn(item)
        names = _arrays.names_of(self.inputs)
        if isinstance(item, Mapping):
            raw = dict(item)
        elif isinstance(item, (tuple, list)) and not _looks_numeric_list(item):
            if len(item) != len(names):
                hint = (" - pass transform_fn=lambda item: item[0] to pick the model input (as with NNCF), e.g. from "
                        "(images, labels) pairs" if len(names) == 1 else "")
                raise _lib.InvalidArgument(f"calibration item is a {type(item).__name__} of {len(item)} values, but the model has "
                                f"{len(names)} input(s) {names}{hint}")
            raw = dict(zip(names, item))
        else:
            if len(names) != 1:
                raise _lib.InvalidArgument(f"calibration item is one array, but the model has {len(names)} inputs {names}: "
                                "yield a dict {input name: array}")
            raw = {names[0]: item}
        dtypes = {s["name"]: s["dtype"] for s in self.inputs}
        out = {}
        for k, v in raw.items():
            if k not in dtypes:
                raise _lib.InvalidArgument(f"calibration item names '{k}', which is no model input (inputs: {names})")
            a = _arrays.convert(v, dtypes[k], f"input '{k}'")
            out[k] = a if a.ndim else a.reshape(1)
        return out

    def _next(self, user, arrays_pp, count_p) -> int:
        try:
            if self.limit is not None and self._served >= self.limit:
                return 0
            if self.cache is not None:
                if self._replay >= len(self.cache):
                    return 0
                pack = self.cache[self._replay]
                self._replay += 1
            else:
                try:
                    item = next(self._it)
                except StopIteration:
                    return 0
                feeds = self.feeds(item)
                if self.limit is not None:
                    room = self.limit - self._served
                    feeds = {k: v[:room] for k, v in feeds.items()}
                pack = _arrays.ArrayPack(feeds)
                if self.recording is not None:
                    self.recording.append(pack)
            self._served += len(next(iter(pack.arrays.values()))) if pack.arrays else 0
            self._pack = pack  # alive until the next call
            arrays_pp[0] = ctypes.cast(pack.structs, ctypes.POINTER(_lib.Array))
            count_p[0] = len(pack)
            return 1
        except BaseException as e:  # noqa: BLE001 - re-raised by the caller
            self.error = e
            return -1

    def known_size(self) -> int:
        """Samples per pass when cheap to know, else -1 (qtool then counts with one pass)."""
        it = self.iterable
        n = -1
        if type(it).__name__ == "DataLoader" and getattr(it, "batch_size", None):
            sampler = getattr(it, "sampler", None)
            try:
                total = len(sampler)
                n = (total // it.batch_size) * it.batch_size if it.drop_last else total
            except TypeError:
                n = -1
        elif isinstance(it, (list, tuple)) and self.transform_fn is None:
            n = 0
            for item in it:
                f = self.feeds(item)
                n += len(next(iter(f.values())))
        if n >= 0 and self.limit is not None:
            n = min(n, self.limit)
        return n


def _looks_numeric_list(item) -> bool:
    """[[0.1, 0.2], ...] is one array given as nested lists, not one value per input."""
    return isinstance(item, list) and len(item) > 0 and isinstance(item[0], (int, float, list)) and not any(
        hasattr(x, "shape") for x in item)


class Data(_Handle):
    """Calibration / evaluation samples: in-memory arrays (batch axis first), files, or a stream."""
    _free = _lib.data_free

    def __init__(self, ptr: int, source: Optional[_Source] = None, label: str = "in-memory arrays"):
        super().__init__(ptr)
        self._source = source  # keeps the callbacks alive as long as qtool may call them
        self._label = label

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> "Data":
        """arrays: {input name: [N, ...] array}; float data is converted to float32 and copied in."""
        d = cls.create()
        d.add_batch(arrays)
        return d

    @classmethod
    def create(cls) -> "Data":
        p = _lib.P()
        _lib.check(_lib.data_create(ctypes.byref(p)))
        return cls(p.value)

    def add_batch(self, arrays: Mapping[str, Any]) -> "Data":
        """Appends a batch {input name: [n, ...]} (float data, converted to float32 and copied)."""
        for name, a in arrays.items():
            arr = _arrays.convert(a, 1, f"input '{name}'")
            if arr.ndim < 1:
                raise QtError(1, f"input '{name}': needs a batch axis")
            shape = (ctypes.c_int64 * arr.ndim)(*arr.shape)
            _lib.check(_lib.data_add(self.ptr, name.encode(), arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                     shape, arr.ndim))
        return self

    @classmethod
    def open(cls, path: Union[str, Path], model: "Model", **image_options) -> "Data":  # noqa: F821
        """A .npy / .npz / folder of .npy / folder of images, checked against model's inputs.
        image_options (the CLI's data options): size="WxH", resize_shorter=N with center_crop="WxH"
        (torchvision Resize(N) + CenterCrop), letterbox="WxH" with pad_value=114 (YOLO), mean=[..],
        std=[..], scale=..., layout="nchw"|"nhwc", bgr=bool, jpeg_fancy_upsampling=bool; the sample
        selection offset=N, limit=N, sample="first"|"every-k"|"random", seed=N; whole=bool."""
        p = _lib.P()
        _lib.check(_lib.data_open(str(path).encode(), model.ptr, _arrays.options_json(image_options), ctypes.byref(p)))
        return cls(p.value, label=str(path))

    @classmethod
    def from_iterable(cls, iterable: Iterable, model: "Model", transform_fn: Optional[Callable[[Any], Any]] = None,  # noqa: F821
                      subset_size: Optional[int] = None) -> "Data":
        """Streams `iterable` (a DataLoader, a list of batches, a generator, ...) batch by batch.
        transform_fn maps an item to the model input(s); subset_size stops each pass after that many
        samples (NNCF's subset_size)."""
        src = _Source(iterable, model.info()["inputs"], transform_fn, subset_size)
        n = src.known_size()
        p = _lib.P()
        status = _lib.data_from_source(src.reset_cb, src.next_cb, src.free_cb, None, n, ctypes.byref(p))
        _raise_source_error(src, status)
        kind = type(iterable).__name__
        return cls(p.value, src, f"{kind} stream")

    def __len__(self) -> int:
        n = ctypes.c_int64()
        _lib.check(_lib.data_size(self.ptr, ctypes.byref(n)))
        return n.value

    def __repr__(self) -> str:
        if not self._ptr:
            return "<qtool.Data (freed)>"
        return f"<qtool.Data {self._label}, {len(self)} samples>"

    def _reading(self, status: int) -> None:
        """Checks a status of a call that read this data (re-raises a callback's own exception)."""
        _raise_source_error(self._source, status)


def _raise_source_error(src: Optional[_Source], status: int) -> None:
    if src is not None and src.error is not None:
        err, src.error = src.error, None
        _lib.flush_log()
        raise err
    _lib.check(status)


def as_data(calib: Any, model: "Model", transform_fn: Optional[Callable] = None,  # noqa: F821
            subset_size: Optional[int] = None) -> Optional[Data]:
    """Data from whatever the user handed over: Data, a path, an array / dict of arrays (streamed
    in slices, no copy), or any iterable of batches."""
    if calib is None or isinstance(calib, Data):
        if isinstance(calib, Data) and (transform_fn is not None or subset_size is not None):
            raise _lib.InvalidArgument("transform_fn / subset_size apply to iterables, not to a qtool.Data")
        return calib
    if isinstance(calib, (str, Path)):
        return Data.open(calib, model)
    if isinstance(calib, Mapping) or isinstance(calib, np.ndarray) or hasattr(calib, "detach"):
        arrays = calib if isinstance(calib, Mapping) else {model.info()["inputs"][0]["name"]: calib}
        arrays = {k: _arrays.to_numpy(v) for k, v in arrays.items()}
        n = min(len(v) for v in arrays.values())
        batches = [{k: v[i:i + 64] for k, v in arrays.items()} for i in range(0, n, 64)]
        return Data.from_iterable(batches, model, transform_fn, subset_size)
    if hasattr(calib, "__iter__"):
        return Data.from_iterable(calib, model, transform_fn, subset_size)
    raise _lib.InvalidArgument(f"calibration/evaluation data: expected qtool.Data, an array, a dict of arrays or an iterable "
                    f"of batches (e.g. a DataLoader), got {type(calib).__name__}")


def labels_array(labels: Any) -> Optional[np.ndarray]:
    if labels is None:
        return None
    lab = _arrays.to_numpy(labels)
    if lab.dtype.kind == "f":
        if not np.all(lab == np.round(lab)):
            raise _lib.InvalidArgument("labels must be integer class ids")
    return np.ascontiguousarray(lab.reshape(-1).astype(np.int64))


def labels_args(labels: Optional[np.ndarray]):
    if labels is None:
        return None, 0
    return labels.ctypes.data_as(_lib.I64P), labels.size


def parse_json(ptr) -> Any:
    return json.loads(_lib.take_string(ptr))
