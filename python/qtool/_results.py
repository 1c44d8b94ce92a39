# SPDX-License-Identifier: Apache-2.0
"""Result types of the Python API (frozen dataclasses; the fields follow the CLI's --json output)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union


def _inf(v):
    return math.inf if v is None or v == 999.0 else v


@dataclass(frozen=True)
class OutputScore:
    name: str
    sqnr_db: float  # vs the reference (+inf when identical)
    cosine: float


@dataclass(frozen=True)
class EvalResult:
    samples: int
    top1: Optional[float] = None        # fraction 0..1 (labels given)
    agreement: Optional[float] = None   # top-1 agreement with ref (classifier-shaped output 0 and ref only)
    sqnr_db: Optional[float] = None     # smallest SQNR over the outputs vs ref in dB (ref only)
    ref_top1: Optional[float] = None
    classifier: bool = False            # output 0 is [N, classes]
    outputs: Tuple[OutputScore, ...] = ()
    seconds: float = 0.0

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "EvalResult":
        outs = tuple(OutputScore(o["name"], _inf(o["sqnr_db"]), o["cosine"]) for o in j.get("outputs", []))
        return cls(samples=j["samples"], top1=j.get("top1"), agreement=j.get("agreement"),
                   sqnr_db=_inf(j["min_sqnr_db"]) if "min_sqnr_db" in j else None, ref_top1=j.get("ref_top1"),
                   classifier=j.get("classifier", False), outputs=outs, seconds=j.get("seconds", 0.0))


@dataclass(frozen=True)
class SizeReport:
    file_bytes: int
    zip_bytes: int
    parameters: int
    weight_params: int
    weight_bytes: int
    bits_per_weight: float


@dataclass(frozen=True)
class CalibrationTable:
    """Activation ranges {tensor: (min, max)}, the format `qtool calibrate` writes."""
    method: str
    samples: int
    ranges: Dict[str, Tuple[float, float]]

    def to_json(self) -> str:
        return json.dumps({"format": "qtool-calibration-table", "version": 1, "method": self.method,
                           "samples": self.samples,
                           "tensors": {k: {"min": lo, "max": hi} for k, (lo, hi) in self.ranges.items()}}, indent=2)

    def save(self, path: Union[str, Path]) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def from_json(cls, text: str) -> "CalibrationTable":
        j = json.loads(text)
        return cls(j.get("method", ""), j.get("samples", 0),
                   {k: (v["min"], v["max"]) for k, v in j["tensors"].items()})

    @classmethod
    def load(cls, path: Union[str, Path]) -> "CalibrationTable":
        return cls.from_json(Path(path).read_text())

    def __repr__(self) -> str:
        return f"CalibrationTable(method={self.method!r}, samples={self.samples}, {len(self.ranges)} tensors)"


@dataclass(frozen=True)
class LayerSensitivity:
    node: str
    params: int
    int8_delta: Optional[float]
    int8_sqnr_db: Optional[float]
    int4_delta: Optional[float]
    int4_sqnr_db: Optional[float]
    prune50_delta: Optional[float]
    prune50_sqnr_db: Optional[float]


@dataclass(frozen=True)
class SensitivityReport:
    """Per-layer damage when only that layer is int8 / int4 / 50% pruned, most sensitive first."""
    metric: str            # "top1" (deltas in points) or "sqnr_db"
    baseline: Optional[float]
    layers: Tuple[LayerSensitivity, ...]
    suggested_exclude: Tuple[str, ...]

    @classmethod
    def from_json(cls, j: Dict[str, Any]) -> "SensitivityReport":
        return cls(j["metric"], j.get("baseline"), tuple(LayerSensitivity(**l) for l in j["layers"]),
                   tuple(j.get("suggested_exclude", [])))


@dataclass(frozen=True)
class AutoResult:
    """`qtool auto`: the chosen per-layer precision, its model and measurements."""
    model: Any             # qtool.Model
    plan: Dict[str, Any]   # the plan JSON (quantize(plan=...) replays it after save_plan)
    drop: float            # points (top-1 drop with labels, else top-1 disagreement)
    value: Optional[float]
    bytes: int
    within_budget: bool
    log: Tuple[str, ...] = ()

    def save_plan(self, path: Union[str, Path]) -> Path:
        Path(path).write_text(json.dumps(self.plan, indent=2) + "\n")
        return Path(path)


@dataclass(frozen=True)
class SweepRow:
    config: str
    weights: str
    sparsity: float
    activations: str
    bits_per_weight: float
    file_bytes: int
    zip_bytes: int
    size_ratio: float
    value: float           # top-1 (0..1) or smallest SQNR over outputs (dB)
    delta: float           # top-1 points vs fp32 (SQNR: same as value)
    agreement: float
    seconds: float
    pattern: str = "unstructured"
    path: str = ""


@dataclass(frozen=True)
class SweepReport:
    """Rows of a sweep (fp32 first); render() gives the CLI's table / CSV / SVG / HTML."""
    model: str
    metric: str
    rows: Tuple[SweepRow, ...]
    models: Dict[str, Any] = field(default_factory=dict, repr=False)  # config -> qtool.Model

    def to_json(self) -> str:
        def num(v):
            return None if isinstance(v, float) and math.isinf(v) else v
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["value"], d["delta"] = num(d["value"]), num(d["delta"])
            rows.append(d)
        return json.dumps({"model": self.model, "metric": self.metric, "rows": rows}, indent=2)

    def render(self, format: str = "text") -> str:
        """format: text, csv, svg, html or json (the files `qtool sweep` writes)."""
        from . import _lib
        import ctypes
        p = _lib.P()
        _lib.check(_lib.report_render(self.to_json().encode(), format.encode(), ctypes.byref(p)))
        return _lib.take_string(p)

    def save(self, out_dir: Union[str, Path]) -> Path:
        """Writes report.{json,csv,svg,html} and the models (<config>.onnx) into out_dir."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for config, m in self.models.items():
            m.save(d / f"{config}.onnx")
        for fmt in ("json", "csv", "svg", "html"):
            (d / f"report.{fmt}").write_text(self.render(fmt))
        return d

    def __str__(self) -> str:
        return self.render("text")


@dataclass(frozen=True)
class GateRule:
    rule: str
    limit: float
    measured: float
    ok: bool


@dataclass(frozen=True)
class GateResult:
    """`qtool gate`: passed is True when every rule holds; bool(result) == passed."""
    passed: bool
    rules: Tuple[GateRule, ...]

    def __bool__(self) -> bool:
        return self.passed
