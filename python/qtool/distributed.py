# SPDX-License-Identifier: Apache-2.0
"""qtool's searches on a Ray cluster: sweeps, per-layer sensitivity and auto mixed precision with one
Ray task per independent unit of work.

    import qtool.distributed as qd
    reports = qd.sweep([qd.SweepModel("resnet_4b.onnx", calib="calib.npy", data="eval.npy",
                                      labels="labels.npy", out_dir="resnet.sweep")],
                       {"bits": [8, 4, 2], "sparsity": [0, 0.5], "method": ["mse", "percentile"]},
                       address="127.0.0.1:6379")

Units of work (search/ in the C++ library, run through the C API so results equal a local run's):
  sweep        one configuration of one model (compress, write, evaluate): qt_sweep_run_config
  sensitivity  one layer's probe (int8 / int4 / 50% pruned alone): qt_sensitivity_probe
  auto         the probes above as tasks (without pruning), then the greedy search as one task (each
               step's single candidate depends on the step before, so the steps cannot run at once)
Every task asks Ray for `threads` CPUs (num_cpus) and runs qtool with that many threads.

Data movement: the driver opens the model and data once (checking them; a bad file fails before any
task starts), puts the serialized model, the decoded samples (one .npz) and the labels into Ray's
object store with ray.put, and passes the references to every task. A task returns its row (and,
for a sweep, the compressed file's bytes); the driver writes <out_dir>/<id>.onnx and
report.{json,csv,svg,html} with qtool's own report writer (qt_report_write), so the table equals a
local `qtool sweep`'s except the seconds column. The out_dir need not be shared with the workers.

Fault tolerance: tasks are retried by Ray (max_retries) when their worker dies; report.json is
rewritten after every finished configuration, so resume=True (the CLI's --resume) skips the
configurations whose row and file exist, and a driver killed mid-way and restarted does only the
rest. Bad input raises QtError (status 2); ray missing raises ImportError naming the pin.

CLI: `python -m qtool.distributed sweep|sensitivity|auto ... --ray ADDRESS` takes the options of the
C++ `qtool` command of the same name (which forwards here when given --ray).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import Data, Model, QtError, _search

RAY_PIN = "ray==2.60.0 (python-ray-requirements.txt)"


def _ray():
    try:
        import ray  # noqa: F401
    except ImportError as e:  # pragma: no cover - exercised by the skip in the tests
        raise ImportError(f"qtool.distributed needs Ray: pip install {RAY_PIN}") from e
    return ray


@dataclass
class SweepModel:
    """One model with its calibration and evaluation data (paths as for the CLI)."""
    model: Union[str, Path]
    calib: Union[str, Path]
    data: Union[str, Path]
    labels: Optional[Union[str, Path]] = None
    out_dir: Optional[Union[str, Path]] = None  # default <model stem>.sweep beside the model
    # the CLI's data options as qt_data_open takes them, for calib, data and labels alike: image
    # options (size, resize_shorter, center_crop, letterbox, pad_value, mean, std, scale, layout, bgr,
    # jpeg_fancy_upsampling), the sample selection (offset, limit, sample, seed) and whole
    image_options: Dict = field(default_factory=dict)


# ---------------------------------------------------------------- driver side: inputs into the object store

@dataclass
class _Prepared:
    name: str           # file name of the model (report.json's "model")
    out_dir: Path
    file_bytes: int     # size of the original model file (the fp32 row)
    model_ref: object   # ray.put(serialized model)
    calib_ref: object   # ray.put(.npz bytes of every calibration sample)
    eval_ref: object
    labels: Optional[np.ndarray]
    labels_ref: object
    key: str            # content hash: a worker process opens each model/data set once
    metric: str
    whole: bool         # every array fed whole (--whole): the workers open the .npz the same way


def _npz_bytes(data: Data, model: Model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="qtool-ray-") as tmp:
        path = os.path.join(tmp, "data.npz")
        _search.data_save_npz(data, model, path)
        return Path(path).read_bytes()


def _prepare(ray, m: SweepModel, default_suffix: str) -> _Prepared:
    path = Path(m.model)
    model = Model.load(path)
    opts = dict(m.image_options)
    calib = Data.open(m.calib, model, **opts)  # the selected samples, decoded: what the .npz holds
    ev = Data.open(m.data, model, **opts)
    # the labels of the selected samples (a .npy for all samples or for the selection, or "folders")
    labels = None if m.labels is None else _search.labels_open(str(m.labels), str(m.data), model, opts)
    model_bytes, calib_npz, eval_npz = model.to_bytes(), _npz_bytes(calib, model), _npz_bytes(ev, model)
    h = hashlib.sha256()
    for b in (model_bytes, calib_npz, eval_npz, b"" if labels is None else labels.tobytes()):
        h.update(hashlib.sha256(b).digest())
    h.update(b"whole" if opts.get("whole") else b"split")
    out_dir = Path(m.out_dir) if m.out_dir else path.parent / (path.stem + default_suffix)
    return _Prepared(path.name, out_dir, path.stat().st_size, ray.put(model_bytes), ray.put(calib_npz), ray.put(eval_npz),
                     labels, ray.put(labels), h.hexdigest(), "sqnr_db" if labels is None else "top1",
                     bool(opts.get("whole")))


# ---------------------------------------------------------------- worker side

_CACHE: Dict[str, tuple] = {}  # per worker process: key -> (model, calib, eval, temp dir)


def _open_inputs(key: str, model_bytes: bytes, calib_npz: bytes, eval_npz: bytes, whole: bool):
    if key not in _CACHE:
        tmp = tempfile.mkdtemp(prefix="qtool-task-")
        model = Model.from_bytes(model_bytes)
        paths = []
        for name, blob in (("calib.npz", calib_npz), ("eval.npz", eval_npz)):
            p = os.path.join(tmp, name)
            Path(p).write_bytes(blob)
            paths.append(p)
        _CACHE.clear()  # one model at a time per process keeps memory bounded
        opts = {"whole": True} if whole else {}
        _CACHE[key] = (model, Data.open(paths[0], model, **opts), Data.open(paths[1], model, **opts), tmp)
    return _CACHE[key]


def _task_sweep_config(key, model_bytes, calib_npz, eval_npz, labels, whole, config, fp32_row, threads):
    """One configuration: returns (row, compressed model bytes, seconds spent outside qtool, CPU seconds
    of this worker process for the whole task)."""
    t0, c0 = time.perf_counter(), time.process_time()
    _search.set_threads(threads)
    model, calib, ev, tmp = _open_inputs(key, model_bytes, calib_npz, eval_npz, whole)
    with tempfile.TemporaryDirectory(dir=tmp) as out:
        t1 = time.perf_counter()
        row = _search.sweep_run_config(model, config, calib, ev, labels, fp32_row, out)
        t2 = time.perf_counter()
        blob = Path(out, row["path"]).read_bytes()
    return row, blob, (t1 - t0) + (time.perf_counter() - t2), time.process_time() - c0


def _task_fp32_row(key, model_bytes, calib_npz, eval_npz, labels, whole, file_bytes, threads):
    _search.set_threads(threads)
    model, _, ev, _ = _open_inputs(key, model_bytes, calib_npz, eval_npz, whole)
    return _search.sweep_fp32_row(model, file_bytes, ev, labels)


def _task_sensitivity_layers(key, model_bytes, calib_npz, eval_npz, labels, whole, threads):
    _search.set_threads(threads)
    model, _, ev, _ = _open_inputs(key, model_bytes, calib_npz, eval_npz, whole)
    return _search.sensitivity_layers(model, ev, labels)


def _task_sensitivity_probe(key, model_bytes, calib_npz, eval_npz, labels, whole, options, threads):
    _search.set_threads(threads)
    model, calib, ev, _ = _open_inputs(key, model_bytes, calib_npz, eval_npz, whole)
    return _search.sensitivity_probe(model, calib, ev, labels, options)


def _task_auto(key, model_bytes, calib_npz, eval_npz, labels, whole, options, threads):
    """The greedy search of auto (each step depends on the previous one): (result, model bytes, plan)."""
    _search.set_threads(threads)
    model, calib, ev, tmp = _open_inputs(key, model_bytes, calib_npz, eval_npz, whole)
    with tempfile.TemporaryDirectory(dir=tmp) as out:
        onnx, plan = os.path.join(out, "auto.onnx"), os.path.join(out, "auto.plan.json")
        result = _search.auto(model, calib, ev, labels, options, onnx, plan)
        return result, Path(onnx).read_bytes(), Path(plan).read_bytes()


# ---------------------------------------------------------------- driver helpers

def _init(address: Optional[str], quiet: bool = True):
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=not quiet, logging_level="WARNING",
                 runtime_env={"env_vars": {"QTOOL_LOG": os.environ.get("QTOOL_LOG", "warn")}})
    return ray


def _remote(ray, fn, threads: int, max_retries: int):
    # retry_exceptions=False: a QtError (bad input, qtool failure) is not retried; a dead worker is
    return ray.remote(fn).options(num_cpus=threads, max_retries=max_retries, retry_exceptions=False)


def _write_atomic(path: Path, blob: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)


def _resume_rows(out_dir: Path, metric: str) -> Dict[str, dict]:
    import json
    report = out_dir / "report.json"
    if not report.exists():
        return {}
    try:
        old = json.loads(report.read_text())
    except ValueError as e:
        raise QtError(2, f"{report}: report.json is malformed: {e}") from None
    if old.get("metric") != metric:
        return {}
    return {r["config"]: r for r in old.get("rows", [])
            if r.get("config") == "fp32" or (r.get("path") and (out_dir / r["path"]).exists())}


@dataclass
class SweepResult:
    model: str
    out_dir: Path
    text: str                 # the terminal table (eval/report.cpp)
    ran: List[str]            # configurations run by this call
    skipped: List[str]        # configurations kept from an earlier run (resume)
    task_seconds: Dict[str, float]  # per configuration: wall seconds inside qtool
    overhead_seconds: Dict[str, float]  # per configuration: task time outside qtool (inputs, copies)
    task_cpu_seconds: Dict[str, float]  # per configuration: CPU seconds of the task's worker process


def sweep(models: Sequence[Union[SweepModel, Mapping]], configs: Optional[Mapping] = None, *, threads: int = 1,
          max_retries: int = 3, resume: bool = False, address: Optional[str] = None, sensitivity: bool = False,
          quiet: bool = True, on_done=None, timeout: Optional[float] = None, jobs: int = 0,
          skip_nonfinite: bool = False, size_axis: str = "file") -> List[SweepResult]:
    """Sweeps every model over configs = {"bits": [...], "sparsity": [...], "method": [...]} (defaults
    as `qtool sweep`: bits 8,4, sparsity 0, method mse), one Ray task per (model, configuration), all
    models at once. Writes each model's out_dir as a local sweep does. sensitivity=True adds the
    per-layer table to report.html (its probes run as tasks too). on_done(model, config_id) is called
    as each configuration lands (tests use it to kill a worker mid-way). timeout: seconds after which
    the unfinished work is cancelled and TimeoutError raised (report.json keeps what finished).
    As `qtool sweep`: jobs > 0 runs at most that many configurations at once (default: as many as Ray
    schedules), skip_nonfinite drops calibration samples holding NaN/inf (--skip-nonfinite),
    size_axis "file" | "zip" is the plot's x axis (--size-axis)."""
    if size_axis not in ("file", "zip"):
        raise QtError(2, f"--size-axis must be file or zip, got '{size_axis}'")
    if jobs < 0 or threads < 1:
        raise QtError(2, "--jobs must be >= 0 and --threads >= 1")
    ray = _init(address, quiet)
    configs = dict(configs or {})
    plan = _search.sweep_configs(configs.get("bits", [8, 4]), configs.get("sparsity", [0]),
                                 configs.get("method", ["mse"]))
    items = [m if isinstance(m, SweepModel) else SweepModel(**m) for m in models]
    prepared = [_prepare(ray, m, ".sweep") for m in items]
    run_config = _remote(ray, _task_sweep_config, threads, max_retries)
    run_fp32 = _remote(ray, _task_fp32_row, threads, max_retries)
    pending = {}  # ObjectRef -> (model index, config id)
    queue = []    # (model index, config, task arguments) not submitted yet (jobs > 0)
    state = []
    for i, p in enumerate(prepared):
        p.out_dir.mkdir(parents=True, exist_ok=True)
        done = _resume_rows(p.out_dir, p.metric) if resume else {}
        args = (p.key, p.model_ref, p.calib_ref, p.eval_ref, p.labels_ref, p.whole)
        fp32 = done.get("fp32") or run_fp32.remote(*args, p.file_bytes, threads)
        todo = [c for c in plan if c["id"] not in done]
        skipped = [c["id"] for c in plan if c["id"] in done]
        if resume:
            print(f"resuming {p.name}: {len(skipped)} of {len(plan)} configurations already done", file=sys.stderr)
        queue.extend((i, c, args) for c in todo)
        state.append({"done": done, "fp32": fp32, "ran": [c["id"] for c in todo], "skipped": skipped, "seconds": {},
                      "overhead": {}, "cpu": {}})

    def submit():
        while queue and (not jobs or len(pending) < jobs):
            i, c, args = queue.pop(0)
            fp32 = state[i]["fp32"]  # a reference to the fp32 task's row (Ray passes its value), or the row
            cfg = dict(c, skip_nonfinite=True) if skip_nonfinite else c
            pending[run_config.remote(*args, cfg, fp32, threads)] = (i, c["id"])

    submit()  # the configurations wait for their model's fp32 row in Ray, not here
    for i, s in enumerate(state):  # the fp32 rows (tasks, unless resumed)
        if not isinstance(s["fp32"], dict):
            s["fp32"] = ray.get(s["fp32"])
        s["done"]["fp32"] = s["fp32"]
        _search.report_write(_report(prepared[i], plan, s["done"], size_axis), str(prepared[i].out_dir), json_only=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    while pending:
        left = None if deadline is None else deadline - time.monotonic()
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=left)
        if not ready:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise TimeoutError(f"sweep: {len(pending)} configurations unfinished after {timeout} s")
        for ref in ready:
            i, cid = pending.pop(ref)
            row, blob, overhead, cpu = ray.get(ref)
            p, s = prepared[i], state[i]
            _write_atomic(p.out_dir / row["path"], blob)
            s["done"][cid] = row
            s["seconds"][cid] = row["seconds"]
            s["overhead"][cid] = overhead
            s["cpu"][cid] = cpu
            _search.report_write(_report(p, plan, s["done"], size_axis), str(p.out_dir), json_only=True)  # for resume
            if on_done:
                on_done(p.name, cid)
        submit()
    results = []
    for i, p in enumerate(prepared):
        report = _report(p, plan, state[i]["done"], size_axis)
        if sensitivity:
            report["sensitivity_html"] = _sensitivity_on_ray(ray, p, configs.get("method", ["mse"])[0], True, threads,
                                                             max_retries)["html"]
        text = _search.report_write(report, str(p.out_dir))
        results.append(SweepResult(p.name, p.out_dir, text, state[i]["ran"], state[i]["skipped"], state[i]["seconds"],
                                   state[i]["overhead"], state[i]["cpu"]))
    return results


def _report(p: _Prepared, plan: list, done: Dict[str, dict], size_axis: str) -> dict:
    rows = [done["fp32"]] + [done[c["id"]] for c in plan if c["id"] in done]
    return {"model": p.name, "metric": p.metric, "size_axis": size_axis, "rows": rows}


def _sensitivity_on_ray(ray, p: _Prepared, method: str, with_pruning: bool, threads: int, max_retries: int) -> dict:
    args = (p.key, p.model_ref, p.calib_ref, p.eval_ref, p.labels_ref, p.whole)
    info = ray.get(_remote(ray, _task_sensitivity_layers, threads, max_retries).remote(*args, threads))
    probe = _remote(ray, _task_sensitivity_probe, threads, max_retries)
    refs = [probe.remote(*args, {"layer": k, "baseline": info["baseline"], "method": method,
                                 "with_pruning": with_pruning}, threads) for k in range(len(info["layers"]))]
    probes = ray.get(refs)
    return _search.sensitivity_report({"metric": info["metric"], "baseline": info["baseline"], "layers": probes})


def sensitivity(model: Union[SweepModel, Mapping], *, method: str = "mse", with_pruning: bool = True, threads: int = 1,
                max_retries: int = 3, address: Optional[str] = None, quiet: bool = True) -> dict:
    """Per-layer sensitivity with one Ray task per layer; returns {"json", "text", "html"} exactly as
    `qtool sensitivity` ranks and renders it."""
    ray = _init(address, quiet)
    m = model if isinstance(model, SweepModel) else SweepModel(**model)
    p = _prepare(ray, m, ".sensitivity")
    return _sensitivity_on_ray(ray, p, method, with_pruning, threads, max_retries)


def auto(model: Union[SweepModel, Mapping], *, output: Optional[Union[str, Path]] = None,
         plan: Optional[Union[str, Path]] = None, max_drop: float = 1.0, target_size: int = 0, method: str = "mse",
         exclude: Sequence[str] = (), threads: int = 1, max_retries: int = 3, address: Optional[str] = None,
         quiet: bool = True) -> dict:
    """Auto mixed precision as `qtool auto`: the per-layer sensitivity probes run as one Ray task per
    layer, then the greedy search (each step depends on the previous one) as one task. Writes the
    model (default <model stem>.auto.onnx) and the plan (<output without .onnx>.plan.json); returns
    the search result {"bytes", "drop", "value", "within_budget", "int4", "excluded", "log"}."""
    ray = _init(address, quiet)
    m = model if isinstance(model, SweepModel) else SweepModel(**model)
    src = Path(m.model)
    out = Path(output) if output else src.parent / (src.stem + ".auto.onnx")
    if out.exists() and src.exists() and out.resolve() == src.resolve():
        raise QtError(2, f"{out}: refusing to overwrite the input model; choose another output path")
    if not out.parent.is_dir():
        raise QtError(2, f"{out}: output folder {out.parent} does not exist")
    plan_path = Path(plan) if plan else out.with_suffix("").with_name(out.with_suffix("").name + ".plan.json")
    if max_drop < 0:
        raise QtError(2, "max_drop must be >= 0")
    p = _prepare(ray, m, ".auto")
    args = (p.key, p.model_ref, p.calib_ref, p.eval_ref, p.labels_ref, p.whole)
    info = ray.get(_remote(ray, _task_sensitivity_layers, threads, max_retries).remote(*args, threads))
    probe = _remote(ray, _task_sensitivity_probe, threads, max_retries)
    probes = ray.get([probe.remote(*args, {"layer": k, "baseline": info["baseline"], "method": method,
                                           "with_pruning": False}, threads) for k in range(len(info["layers"]))])
    options = {"max_drop": max_drop, "target_size": int(target_size), "method": method, "exclude": list(exclude),
               "sensitivity": {"metric": info["metric"], "baseline": info["baseline"], "layers": probes}}
    result, blob, plan_text = ray.get(_remote(ray, _task_auto, threads, max_retries).remote(*args, options, threads))
    _write_atomic(out, blob)
    _write_atomic(plan_path, plan_text)
    result.update(output=str(out), plan=str(plan_path))
    return result


# ---------------------------------------------------------------- CLI: python -m qtool.distributed

def _floats(s: str) -> List[float]:
    return [float(x) for x in s.split(",") if x]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qtool (--ray)", description="qtool sweep/sensitivity on a Ray cluster")
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("model")
        p.add_argument("--calib", required=True)
        p.add_argument("--data", required=True)
        p.add_argument("--labels")
        p.add_argument("--ray", required=True, metavar="ADDRESS", help="ray.init address (host:port or auto)")
        p.add_argument("--threads", type=int, default=1, help="threads (and Ray CPUs) per task (default 1)")
        p.add_argument("--max-retries", type=int, default=3, help="retries of a task whose worker died (default 3)")
        p.add_argument("--quiet", "-q", action="store_true")
        # the data options of the C++ command (tools/common_options.cpp add_data_options)
        p.add_argument("--size")
        p.add_argument("--resize-shorter", type=int)
        p.add_argument("--center-crop")
        p.add_argument("--letterbox")
        p.add_argument("--pad-value", type=float)
        p.add_argument("--mean", type=_floats)
        p.add_argument("--std", type=_floats)
        p.add_argument("--scale", type=float)
        p.add_argument("--layout")
        p.add_argument("--bgr", action="store_true", default=None)
        p.add_argument("--rgb", dest="bgr", action="store_false")
        p.add_argument("--jpeg-fancy-upsampling", action="store_true")
        p.add_argument("--offset", type=int)
        p.add_argument("--limit", type=int)
        p.add_argument("--sample", choices=["first", "every-k", "random"])
        p.add_argument("--seed", type=int)
        p.add_argument("--whole", action="store_true")
        p.add_argument("--skip-nonfinite", action="store_true")
        p.add_argument("--force", action="store_true", help="replace an earlier run's outputs")

    s = sub.add_parser("sweep")
    common(s)
    s.add_argument("--bits", default="8,4")
    s.add_argument("--sparsity", default="0")
    s.add_argument("--method", default="mse")
    s.add_argument("--out-dir")
    s.add_argument("--size-axis", default="file")
    s.add_argument("--resume", action="store_true")
    s.add_argument("--jobs", type=int, default=0, help="configurations run at once (default: as Ray schedules)")
    sens = s.add_mutually_exclusive_group()
    sens.add_argument("--sensitivity", action="store_true", help="per-layer sensitivity into report.html")
    sens.add_argument("--no-sensitivity", action="store_true", help="no per-layer sensitivity (the default)")
    t = sub.add_parser("sensitivity")
    common(t)
    t.add_argument("--method", default="mse")
    t.add_argument("--no-prune", action="store_true")
    t.add_argument("--json", action="store_true")
    u = sub.add_parser("auto")
    common(u)
    u.add_argument("--max-drop", type=float, default=1.0)
    u.add_argument("--target-size", type=int, default=0)
    u.add_argument("--exclude", default="")
    u.add_argument("--method", default="mse")
    u.add_argument("-o", "--output")
    u.add_argument("--plan")
    return ap


def _data_options(a) -> dict:
    """The data options given on the command line, as qt_data_open takes them."""
    if a.sample is not None and a.limit is None:
        raise QtError(2, "--sample needs --limit")
    if a.pad_value is not None and a.letterbox is None:
        raise QtError(2, "--pad-value needs --letterbox")
    o = {}
    for k in ("size", "resize_shorter", "center_crop", "letterbox", "pad_value", "mean", "std", "scale", "layout",
              "bgr", "offset", "limit", "sample", "seed"):
        if getattr(a, k) is not None:
            o[k] = getattr(a, k)
    if a.jpeg_fancy_upsampling:
        o["jpeg_fancy_upsampling"] = True
    if a.whole:
        o["whole"] = True
    return o


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = _parser().parse_args(argv)
    try:
        m = SweepModel(a.model, a.calib, a.data, a.labels, getattr(a, "out_dir", None), _data_options(a))
        if a.command == "sweep":
            if not (a.out_dir or a.resume or a.force):  # as the C++ command's output guard
                report = Path(a.model).parent / (Path(a.model).stem + ".sweep") / "report.json"
                if report.exists():
                    raise QtError(2, f"--out-dir {report}: exists (an earlier result?); pass --force to replace it, "
                                     "or name the output explicitly")
            try:
                bits = [int(x) for x in a.bits.split(",") if x]
            except ValueError:
                raise QtError(2, f"--bits: expected integers, got '{a.bits}'") from None
            try:
                sparsity = _floats(a.sparsity)
            except ValueError:
                raise QtError(2, f"--sparsity: expected numbers, got '{a.sparsity}'") from None
            cfg = {"bits": bits, "sparsity": sparsity, "method": [x for x in a.method.split(",") if x]}
            r = sweep([m], cfg, threads=a.threads, max_retries=a.max_retries, resume=a.resume, address=a.ray,
                      sensitivity=a.sensitivity, quiet=a.quiet, jobs=a.jobs, skip_nonfinite=a.skip_nonfinite,
                      size_axis=a.size_axis)[0]
            print(f"qtool sweep (ray {a.ray}): {a.model} ({len(r.ran) + len(r.skipped)} configurations, "
                  f"{'top-1' if a.labels else 'SQNR of output 0 vs fp32'} on {a.data})")
            print(r.text + f"  written: {r.out_dir / 'report.{json,csv,svg,html}'}")
        elif a.command == "auto":
            if a.skip_nonfinite:
                raise QtError(2, "--skip-nonfinite: not supported by auto --ray yet (run auto without --ray)")
            r = auto(m, output=a.output, plan=a.plan, max_drop=a.max_drop, target_size=a.target_size, method=a.method,
                     exclude=[x for x in a.exclude.split(",") if x], threads=a.threads, max_retries=a.max_retries,
                     address=a.ray, quiet=a.quiet)
            print(f"qtool auto (ray {a.ray}): {a.model} -> {r['output']} (plan {r['plan']})")
            for line in r["log"]:
                print("  " + line)
            print("  plan:            default int8 (W8A8)")
            for name in r["int4"]:
                print(f"                   {name}: int4 (weights), int8 activations")
            for name in r["excluded"]:
                print(f"                   {name}: float")
            print(f"  result:          {r['bytes']} bytes, drop {r['drop']:.2f} points (budget {a.max_drop:.2f})"
                  + ("" if r["within_budget"] else " - NOT within budget"))
        else:
            rep = sensitivity(m, method=a.method, with_pruning=not a.no_prune, threads=a.threads,
                              max_retries=a.max_retries, address=a.ray, quiet=a.quiet)
            print(rep["json"] if a.json else rep["text"], end="")
    except QtError as e:
        print(f"qtool: error: {e.message}", file=sys.stderr)
        return 2 if e.status in (1, 2, 3) else 1
    except ImportError as e:
        print(f"qtool: error: {e}", file=sys.stderr)
        return 2
    except ConnectionError as e:
        print(f"qtool: error: --ray {a.ray}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # run as qtool.distributed (not __main__) so Ray ships tasks by reference to the installed package
    from qtool.distributed import main as _main
    sys.exit(_main())
