# SPDX-License-Identifier: Apache-2.0
"""The runtimes a quantized file is deployed with (issue 11), shared by the tests and bench/bench_runtime.py.

onnxruntime
  integer_kernels(path)   which Conv/ConvTranspose/MatMul/Gemm layers end up as integer kernels in
                          onnxruntime's optimized graph (ORT_ENABLE_EXTENDED: the QDQ selector fusions,
                          before the NCHWc layout rewrite); returns {kernel op: count} and the layer count
  quantize_static(...)    the peer: onnxruntime.quantization.quantize_static, QDQ, MinMax, per channel,
                          uint8 activations / int8 weights, on the model converted to opset 13
  ort_latency_ms(...)     batch 1, median of `runs` runs after 10 warm-up runs, 2 threads; several files are
                          timed interleaved (one run of each in turn), so load from other processes on a shared
                          machine falls on all of them alike
OpenVINO (PyPI openvino, CPU plugin; optional: ov_available() is False without it)
  ov_compile(path, precision)   precision "f32" (INFERENCE_PRECISION_HINT f32) or None (the plugin's
                                default: bf16 on CPUs with AMX/AVX512-BF16)
  ov_run_all / ov_latency_ms    as the onnxruntime ones
"""
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

import harness as h

THREADS = 2
LAYER_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
# what a layer becomes in onnxruntime's optimized graph
INTEGER_KERNELS = {"QLinearConv", "QLinearMatMul", "MatMulIntegerToFloat", "QGemm", "ConvInteger", "MatMulInteger",
                   "DynamicQuantizeMatMul", "QLinearConvTranspose"}
FLOAT_KERNELS = {"Conv", "ConvTranspose", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm", "NchwcConv",
                 "TransposeMatMul"}


def layer_count(path):
    return sum(n.op_type in LAYER_OPS for n in onnx.load(str(path)).graph.node)


def integer_kernels(path):
    """({op: count} of integer kernels, {op: count} of float layer kernels) in onnxruntime's optimized graph."""
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = str(Path(d) / "opt.onnx")
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        g = onnx.load(so.optimized_model_filepath).graph
    ints, floats = {}, {}
    for n in g.node:
        if n.op_type in INTEGER_KERNELS:
            ints[n.op_type] = ints.get(n.op_type, 0) + 1
        elif n.op_type in FLOAT_KERNELS:
            floats[n.op_type] = floats.get(n.op_type, 0) + 1
    return ints, floats


def quantize_static(src, calib, out, opset=13):
    """onnxruntime's quantizer on the same calibration array qtool gets ([N, ...], fed one sample at a time)."""
    from onnx import version_converter
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static as ort_quantize_static)
    m = onnx.load(str(src))
    inits = {t.name for t in m.graph.initializer}
    for i in [i for i in m.graph.input if i.name in inits]:
        m.graph.input.remove(i)
    if m.opset_import[0].version < opset:
        try:
            m = version_converter.convert_version(m, opset)
        except Exception:  # noqa: BLE001 - e.g. weights computed by ConstantOfShape: fold them with
            # onnxruntime's basic optimizer first (what onnxruntime's quant_pre_process does too)
            import onnxruntime as ort
            with tempfile.TemporaryDirectory() as d:
                so = ort.SessionOptions()
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
                so.optimized_model_filepath = str(Path(d) / "folded.onnx")
                ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
                m = version_converter.convert_version(onnx.load(so.optimized_model_filepath), opset)
    x = np.load(calib, mmap_mode="r")
    name = [i.name for i in m.graph.input][0]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.i = 0

        def get_next(self):
            if self.i >= len(x):
                return None
            self.i += 1
            return {name: np.ascontiguousarray(x[self.i - 1:self.i])}

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) / "in.onnx"
        onnx.save(m, str(tmp))
        ort_quantize_static(str(tmp), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
    return out


def _median_ms(fns, x, runs):
    """fns: one callable per file; returns the median latency of each (ms), timed interleaved."""
    for f in fns:
        for i in range(10):
            f(x[i % len(x): i % len(x) + 1])
    t = [[] for _ in fns]
    for i in range(runs):
        xi = x[i % len(x): i % len(x) + 1]
        for k, f in enumerate(fns):
            t0 = time.perf_counter()
            f(xi)
            t[k].append(time.perf_counter() - t0)
    return [1000 * float(np.median(v)) for v in t]


def _ort_fn(path):
    # Files are timed interleaved: without this, the pool of the session that ran last keeps spinning
    # on both cores during the next session's run (the Model Zoo ResNet-50: 52 ms alone, 89-99 ms
    # interleaved with two other sessions; 51 ms with it, and sub-millisecond models unchanged).
    s = h.session(path, THREADS, config={"session.force_spinning_stop": "1"})
    name = s.get_inputs()[0].name
    return lambda xi: s.run(None, {name: xi})


def ort_latency_ms(paths, x, runs=50):
    """Median latency (ms) of each file in paths (a list), or of one file."""
    if not isinstance(paths, (list, tuple)):
        return _median_ms([_ort_fn(paths)], x, runs)[0]
    return _median_ms([_ort_fn(p) for p in paths], x, runs)


# ---- OpenVINO ----
OV_UNAVAILABLE = "openvino is not installed"


def ov_available():
    """False without openvino, and under ASan: OpenVINO dlopens its TBB with RTLD_DEEPBIND, which
    the sanitizer runtime refuses (google/sanitizers#611) by exiting the process."""
    global OV_UNAVAILABLE
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        OV_UNAVAILABLE = "OpenVINO cannot run under ASan (its TBB is dlopened with RTLD_DEEPBIND, google/sanitizers#611)"
        return False
    try:
        import openvino  # noqa: F401
        return True
    except ImportError:
        return False


def ov_compile(path, precision=None):
    import openvino as ov
    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": THREADS, "PERFORMANCE_HINT": "LATENCY"}
    if precision:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    return core.compile_model(core.read_model(str(path)), "CPU", cfg)


def ov_default_precision():
    import openvino as ov
    return str(ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT"))


def ov_run_all(path, x, precision="f32"):
    c = ov_compile(path, precision)
    req = c.create_infer_request()
    outs = None
    for i in range(len(x)):
        r = req.infer({0: x[i:i + 1]})
        vals = [np.array(r[o]) for o in c.outputs]
        outs = [[v] for v in vals] if outs is None else [a + [v] for a, v in zip(outs, vals)]
    return [np.concatenate(o) for o in outs]


def _ov_fn(path, precision):
    req = ov_compile(path, precision).create_infer_request()
    return lambda xi: req.infer({0: xi})


_OV_PROBE = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import runtimes as rt
c = rt.ov_compile(sys.argv[2], None if sys.argv[3] == "default" else sys.argv[3])
c.create_infer_request().infer({0: np.load(sys.argv[4])})
"""


def ov_crash(path, precision, xi):
    """None, or why OpenVINO cannot even be asked about the file in this process: compiling and running it
    once in a child process ended with a signal (OpenVINO 2026.4 segfaults on quantize_static's DenseNet-121)."""
    import subprocess
    import sys
    with tempfile.TemporaryDirectory() as d:
        npy = Path(d) / "x.npy"
        np.save(npy, xi)
        r = subprocess.run([sys.executable, "-c", _OV_PROBE, str(Path(__file__).parent), str(path),
                            precision or "default", str(npy)], capture_output=True, text=True)
    return f"the process ended with signal {-r.returncode}" if r.returncode < 0 else None


def ov_latency_ms(runs_of, x, runs=50):
    """runs_of: [(path, precision)]; median latency (ms) of each, interleaved; NaN for a file OpenVINO cannot
    compile or crashes on (with the reason in `ov_latency_ms.errors`)."""
    fns, idx, out = [], [], [float("nan")] * len(runs_of)
    ov_latency_ms.errors = {}
    for k, (p, prec) in enumerate(runs_of):
        crash = ov_crash(p, prec, x[:1])
        if crash:
            ov_latency_ms.errors[k] = f"OpenVINO crashes: {crash}"
            continue
        try:
            fns.append(_ov_fn(p, prec))
            idx.append(k)
        except Exception as e:  # noqa: BLE001 - a runtime that cannot compile a file is reported, not fatal
            lines = str(e).strip().splitlines()
            ov_latency_ms.errors[k] = f"{type(e).__name__}: {lines[-1][:160] if lines else ''}"
    for k, v in zip(idx, _median_ms(fns, x, runs)):
        out[k] = v
    return out
