# SPDX-License-Identifier: Apache-2.0
"""Observer quality: int8 files from every qtool observer and from onnxruntime's quantize_static
(MinMax, Entropy, Percentile), all run in onnxruntime and scored against the fp32 model.

Models and data (calibration disjoint from evaluation where the set allows it):
  mnist-12, mnist-net_256x2   calibrate on the first 500 MNIST test images, evaluate on all 10,000 (top-1)
  resnet_4b, pgd_2_3_16       calibrate on the 100 exact CIFAR CSV images, evaluate on the 1,500 JPEGs (top-1)
  ultraface                   calibrate and evaluate on the 8 photos (SQNR of scores and boxes)
  torch exports               /work/main/build/torch-models (tests/models/export_torch.py; seeded random
                              weights): calibrate on 32 seeded inputs of the export's kind (U[0,1) images,
                              N(0,1) frames, random tokens), evaluate on 16 others (output SQNR)
  text_recognizer             a trained CTC text-line recognizer (Conv backbone + 2 transformer blocks with
                              LayerNorm written out as ReduceMean/Sub/Pow/Sqrt/Div ops, as PaddleOCR's SVTR
                              exports have) on rendered synthetic lines, made by bench/make_text_recognizer.py
                              in $QTOOL_TEXT_RECOGNIZER (default /tmp/qtool_bench_obs/text_recognizer):
                              calibrate on its 200 calibration lines, evaluate on the 1,000 others
Score: top-1 where there are labels, else the lowest output SQNR (dB) over the model's float outputs; for
text_recognizer both, on two rows: exact-line accuracy (%) of greedy CTC decoding (argmax per time step,
collapse repeats, drop blanks) and the SQNR of the logits.
Both quantizers: per-channel int8 weights, uint8 activations, QDQ. Only the MNIST, CIFAR and UltraFace
models need ../shared/data.

usage: python bench/bench_observers.py [--models a,b] [--methods minmax,percentile,entropy,mse] [--ort MinMax,Entropy]
A benchmark, not a test: it prints a table and asserts nothing.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
import harness as h  # noqa: E402
import shared_data as sd  # noqa: E402

TORCH_DIR = Path(os.environ.get("QTOOL_TORCH_MODELS", "/work/main/build/torch-models"))
TORCH = ["mobilenet_v3_small", "efficientnet_b0", "deeplabv3_mobilenet_v3_large", "transformer_text", "lstm_tagger",
         "gru_tagger"]
TEXT_DIR = Path(os.environ.get("QTOOL_TEXT_RECOGNIZER", "/tmp/qtool_bench_obs/text_recognizer"))
SHARED_MODELS = ("mnist-12", "mnist-net_256x2", "resnet_4b", "pgd_2_3_16", "ultraface")


def torch_inputs(name, n, seed):
    rng = np.random.RandomState(seed)
    if name == "transformer_text":
        t = rng.randint(1, 1000, size=(n, 24)).astype(np.int64)
        t[: n // 2, 18:] = 0  # padding, as the export's mask handles
        return {"tokens": t}
    if name in ("lstm_tagger", "gru_tagger"):
        return {"x": rng.randn(n, 30, 20).astype(np.float32)}
    size = 256 if name.startswith("deeplab") else 224
    return {"input": rng.rand(n, 3, size, size).astype(np.float32)}


def cases(cache: Path, names):
    """name -> dict(model, calib (path), eval feeds dict, labels or None)."""
    out = {}
    if any(n in names for n in ("mnist-12", "mnist-net_256x2")):
        m = sd.mnist(cache)
        y = np.load(m["labels"])
        out["mnist-12"] = dict(model=sd.SHARED / "mnist/mnist-12.onnx", calib=m["calib_nchw"], x=np.load(m["nchw"]), y=y)
        out["mnist-net_256x2"] = dict(model=sd.SHARED / "mnist-mlp-vnncomp/mnist-net_256x2.onnx", calib=m["calib_flat"],
                                      x=np.load(m["flat"]), y=y)
    if any(n in names for n in ("resnet_4b", "pgd_2_3_16")):
        y = np.load(sd.cifar_jpg_labels(cache))
        out["resnet_4b"] = dict(model=sd.SHARED / "cifar10-resnet-vnncomp/resnet_4b.onnx",
                                calib=sd.cifar_csv(cache, sd.RESNET_STD), x=h.cifar_jpg_array(sd.RESNET_STD), y=y)
        out["pgd_2_3_16"] = dict(model=sd.SHARED / "cifar10-vit-vnncomp/pgd_2_3_16.onnx",
                                 calib=sd.cifar_csv(cache, sd.VIT_STD), x=h.cifar_jpg_array(sd.VIT_STD), y=y)
    if "ultraface" in names:
        x = h.ultraface_array(cache)
        np.save(cache / "uf8.npy", x)
        out["ultraface"] = dict(model=sd.SHARED / "ultraface/version-RFB-320.onnx", calib=cache / "uf8.npy", x=x, y=None)
    for t in TORCH:
        if t in names and (TORCH_DIR / f"{t}-opset17.onnx").exists():
            calib = cache / f"{t}_calib.npz"
            np.savez(calib, **torch_inputs(t, 32, 1))
            out[t] = dict(model=TORCH_DIR / f"{t}-opset17.onnx", calib=calib, feeds=torch_inputs(t, 16, 2), y=None)
    if "text_recognizer" in names and (TEXT_DIR / "text_recognizer.onnx").exists():
        t = TEXT_DIR / "text_recognizer"
        # batch 20 divides the 200 calibration lines: onnxruntime's histogram calibrators (Entropy,
        # Percentile) cannot stack a short last batch
        out["text_recognizer"] = dict(model=Path(f"{t}.onnx"), calib=Path(f"{t}_calib.npy"), x=np.load(f"{t}_eval.npy"),
                                      y=None, texts=json.loads(Path(f"{t}_eval_labels.json").read_text()),
                                      alphabet=Path(f"{t}_alphabet.txt").read_text().strip(), batch=20)
    return out


def ctc_greedy(logits, alphabet):
    """[N, T, classes] -> strings: argmax per time step, repeats collapsed, blanks (class 0) dropped."""
    out = []
    for row in logits.argmax(-1):
        keep = row[np.r_[True, row[1:] != row[:-1]]]
        out.append("".join(alphabet[k - 1] for k in keep if k))
    return out


def run_ort(model, feeds, batch):
    s = h.session(model)
    names = [i.name for i in s.get_inputs()]
    n = len(next(iter(feeds.values())))
    outs = None
    for i in range(0, n, batch):
        r = s.run(None, {k: feeds[k][i:i + batch] for k in names})
        outs = [[o] for o in r] if outs is None else [a + [o] for a, o in zip(outs, r)]
    return [np.concatenate(o) for o in outs]


def metrics(case, out, ref):
    """[(value, metric)] of outputs out against the fp32 outputs ref: one row each in the table."""
    sqnr = min(h.sqnr_db(r, o) for r, o in zip(ref, out) if r.dtype.kind == "f")
    if "texts" in case:
        lines = 100 * float(np.mean([p == t for p, t in zip(ctc_greedy(out[0], case["alphabet"]), case["texts"])]))
        return [(lines, "lines %"), (sqnr, "SQNR dB")]
    if case["y"] is not None:
        return [(100 * h.top1(out[0], case["y"]), "top-1 %")]
    return [(sqnr, "SQNR dB")]


def score(case, path, ref):
    feeds = case.get("feeds") or {"x": case["x"]}
    if "x" in case:
        import onnxruntime as ort
        name = ort.InferenceSession(str(case["model"]), providers=["CPUExecutionProvider"]).get_inputs()[0].name
        feeds = {name: case["x"]}
    return metrics(case, run_ort(path, feeds, case.get("batch", 1)), ref)


ORT_SCRIPT = r"""
import sys, numpy as np, onnx
from onnx import version_converter
from onnxruntime.quantization import quantize_static, CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
src, calib, out, tmp, method, batch = sys.argv[1:7]
batch = int(batch)
m = onnx.load(src)
for i in [i for i in m.graph.input if i.name in {t.name for t in m.graph.initializer}]:
    m.graph.input.remove(i)
if m.opset_import[0].version < 13:
    m = version_converter.convert_version(m, 13)
onnx.save(m, tmp)
z = np.load(calib)
arrays = {k: z[k] for k in z.files} if calib.endswith(".npz") else {m.graph.input[0].name: z}
n = len(next(iter(arrays.values())))
class Reader(CalibrationDataReader):
    def __init__(self): self.i = 0
    def get_next(self):
        if self.i >= n: return None
        self.i += batch
        return {k: v[self.i - batch:self.i] for k, v in arrays.items()}
extra = {"CalibPercentile": 99.999} if method == "Percentile" else {}
quantize_static(tmp, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, calibrate_method=getattr(CalibrationMethod, method), extra_options=extra)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mnist-12,mnist-net_256x2,resnet_4b,pgd_2_3_16,ultraface," + ",".join(TORCH))
    ap.add_argument("--methods", default="minmax,percentile,entropy,mse")
    ap.add_argument("--ort", default="MinMax,Entropy,Percentile")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qtool_bench_obs")
    a = ap.parse_args()
    names = a.models.split(",")
    if any(n in SHARED_MODELS for n in names) and not sd.available():
        raise SystemExit("../shared/data is absent (set QTOOL_SHARED)")
    a.cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="qtool_obs_"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # files written here go with the run
    cs = cases(a.cache, names)
    methods = [m for m in a.methods.split(",") if m]
    orts = [m for m in a.ort.split(",") if m]
    print(f"{'model':30s} {'metric':8s} {'fp32':>7s} " + " ".join(f"{m:>10s}" for m in methods) + " | " +
          " ".join(f"{'ort ' + m:>14s}" for m in orts), flush=True)
    for name in names:
        if name not in cs:
            if name == "text_recognizer":
                print(f"{name}: {TEXT_DIR / 'text_recognizer.onnx'} is absent (make it with .venv-torch/bin/python "
                      f"bench/make_text_recognizer.py {TEXT_DIR}, or set QTOOL_TEXT_RECOGNIZER), skipped")
            else:
                print(f"{name}: not available, skipped")
            continue
        c = cs[name]
        import onnx
        d0 = onnx.load(str(c["model"]), load_external_data=False).graph.input[0].type.tensor_type.shape.dim[0]
        c.setdefault("batch", 16 if d0.dim_param or d0.dim_value <= 0 else 1)
        feeds = c.get("feeds")
        if feeds is None:
            import onnxruntime as ort
            feeds = {ort.InferenceSession(str(c["model"]), providers=["CPUExecutionProvider"]).get_inputs()[0].name: c["x"]}
        ref = run_ort(c["model"], feeds, c["batch"])
        fp32 = metrics(c, ref, ref)
        rows = [[] for _ in fp32]  # one per metric: qtool cells, then onnxruntime cells
        fail = [(None, "")] * len(fp32)
        for m in methods:
            out = work / f"{name}.{m}.onnx"
            r = subprocess.run([str(h.QTOOL), "-q", "quantize", c["model"], "--calib", c["calib"], "--method", m, "-o", out],
                               capture_output=True, text=True)
            for row, (v, _) in zip(rows, score(c, out, ref) if r.returncode == 0 else fail):
                row.append(f"{v:10.2f}" if v is not None else f"{'fail':>10s}")
        orows = [[] for _ in fp32]
        for m in orts:
            out = work / f"{name}.ort.{m}.onnx"
            r = subprocess.run([sys.executable, "-c", ORT_SCRIPT, str(c["model"]), str(c["calib"]), str(out),
                                str(work / f"{name}.ort_in.onnx"), m, str(c["batch"])], capture_output=True, text=True)
            for row, (v, _) in zip(orows, score(c, out, ref) if r.returncode == 0 else fail):
                row.append(f"{v:14.2f}" if v is not None else f"{'fail':>14s}")
            if r.returncode:
                print(r.stderr[-500:], file=sys.stderr)
        for (v, metric), row, orow in zip(fp32, rows, orows):
            print(f"{name:30s} {metric:8s} {v:7.2f} " + " ".join(row) + " | " + " ".join(orow), flush=True)


if __name__ == "__main__":
    main()
