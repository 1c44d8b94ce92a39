# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the Python tests and the benchmark: run the qtool CLI, run onnxruntime."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort

import shared_data as sd

ROOT = Path(__file__).resolve().parents[2]
QTOOL = Path(os.environ.get("QTOOL_BIN", ROOT / "build" / "qtool"))


# Python runs with an ASan build's runtime LD_PRELOADed (`.ci/sanitize --pytest`): a few third-party
# set-ups cannot live with it, and their tests skip with this reason's details.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")


def child_env():
    """The environment for a child process: without an ASan runtime LD_PRELOADed into Python for an
    ASan build of libqtool.so (README "Sanitizers and fuzzing"). An ASan qtool links the shared
    runtime itself (CMakeLists.txt); programs that are not ours (chromium) must not get it."""
    env = dict(os.environ)
    if "asan" in env.get("LD_PRELOAD", ""):
        del env["LD_PRELOAD"]
    return env


def qtool(*args, check=True):
    r = subprocess.run([str(QTOOL), *map(str, args)], capture_output=True, text=True, env=child_env())
    if check and r.returncode != 0:
        raise AssertionError(f"qtool {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def session(path, threads=2, optimize=True, config=None):
    """optimize=False runs the graph exactly as written (no fusion of QDQ into integer kernels);
    config: session configuration entries (name -> value)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_run_all(path, x, batch=1, optimize=True):
    """Runs every sample of x ([N, ...]) through onnxruntime; returns a list of outputs per output name."""
    s = session(path, optimize=optimize)
    name = s.get_inputs()[0].name
    outs = None
    for i in range(0, len(x), batch):
        r = s.run(None, {name: x[i:i + batch]})
        outs = [[o] for o in r] if outs is None else [a + [o] for a, o in zip(outs, r)]
    return [np.concatenate(o) for o in outs]


def top1(logits, labels):
    return float((logits.reshape(len(logits), -1).argmax(1) == labels).mean())


def sqnr_db(ref, x):
    ref = ref.astype(np.float64)
    noise = ((ref - x) ** 2).sum()
    return float("inf") if noise == 0 else float(10 * np.log10((ref ** 2).sum() / noise))


def qtool_json(*args):
    return json.loads(qtool(*args).stdout)


def qtool_eval_json(model, data, *extra):
    r = qtool("eval", model, "--data", data, "--json", *extra)
    return json.loads(r.stdout)


# ---- data as arrays, for onnxruntime (the same preprocessing qtool applies) ----
def cifar_jpg_array(std):
    """Decodes the CIFAR JPEGs the way qtool does (libjpeg, plain chroma upsampling)."""
    import simplejpeg
    x = np.stack([simplejpeg.decode_jpeg(p.read_bytes(), colorspace="RGB", fastupsample=True, fastdct=False)
                  for p in sd.cifar_jpg_files()]).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    mean = np.array(sd.CIFAR_MEAN, np.float32)[:, None, None]
    return ((x - mean) / np.array(std, np.float32)[:, None, None]).astype(np.float32)


def ultraface_array(cache):
    """UltraFace inputs as qtool computes them, dumped by qtool itself is not possible, so
    recomputed here: libjpeg decode (plain upsampling), cv2-style bilinear to 320x240, (x-127)/128."""
    import simplejpeg
    out = []
    for p in sorted((sd.SHARED / "ultraface" / "imgs").glob("*.jpg")):
        img = simplejpeg.decode_jpeg(p.read_bytes(), colorspace="RGB", fastupsample=True, fastdct=False).astype(np.float64)
        out.append(resize_bilinear(img, 320, 240))
    x = np.stack(out).transpose(0, 3, 1, 2)
    return ((x - 127.0) / 128.0).astype(np.float32)


def resize_bilinear(img, ow, oh):
    h, w, _ = img.shape
    def coords(n_out, n_in):
        f = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        i0 = np.floor(f).astype(int)
        d = f - i0
        d[i0 < 0] = 0
        i0 = np.clip(i0, 0, n_in - 1)
        d[i0 >= n_in - 1] = 0
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, d
    y0, y1, dy = coords(oh, h)
    x0, x1, dx = coords(ow, w)
    dy = dy[:, None, None]
    dx = dx[None, :, None]
    top = img[y0][:, x0] * (1 - dx) + img[y0][:, x1] * dx
    bot = img[y1][:, x0] * (1 - dx) + img[y1][:, x1] * dx
    return top * (1 - dy) + bot * dy


def count_faces(scores, boxes, threshold=0.7, iou=0.3):
    """UltraFace post-processing: score > threshold, then hard NMS at `iou`; returns the count."""
    keep_mask = scores[:, 1] > threshold
    s, b = scores[keep_mask, 1], boxes[keep_mask]
    order = np.argsort(-s)
    kept = 0
    while len(order):
        i = order[0]
        kept += 1
        rest = order[1:]
        xx1 = np.maximum(b[i, 0], b[rest, 0]); yy1 = np.maximum(b[i, 1], b[rest, 1])
        xx2 = np.minimum(b[i, 2], b[rest, 2]); yy2 = np.minimum(b[i, 3], b[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda q: np.clip(q[:, 2] - q[:, 0], 0, None) * np.clip(q[:, 3] - q[:, 1], 0, None)
        union = area(b[i:i + 1]) + area(b[rest]) - inter
        order = rest[inter / np.maximum(union, 1e-12) <= iou]
    return kept


def cpu_has_vnni():
    """True when this x86 CPU has AVX512-VNNI or AVX-VNNI. Without it, onnxruntime computes uint8 x int8
    products with vpmaddubsw, whose int16 sums of two products saturate (onnxruntime's quantization docs);
    its int8 x int8 kernels do not."""
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def uint8_weight_bound():
    """Largest int8 weight magnitude a bit-exactness test against onnxruntime's uint8 x int8 kernels
    may draw: 127 with VNNI, else 64 (two products 255 * 64 sum to 32640, below int16's 32767)."""
    return 127 if cpu_has_vnni() else 64
