# SPDX-License-Identifier: Apache-2.0
"""A small trained text-line recognizer (CTC) for measuring observer quality on an OCR-style model.

qtool's benchmarks need a *trained* network of the kind PaddleOCR's SVTR / CRNN recognizers are:
a convolutional backbone, then transformer blocks with MatMul attention and LayerNorm written out as
elementary ops. No such model or data set can be downloaded here, so this script makes both.

Data: rendered synthetic text lines, nothing real. Each line is a random string of 4-12 characters
over digits + lowercase letters (36 symbols), drawn with PIL in one of a few DejaVu TrueType fonts
(/usr/share/fonts/truetype/dejavu; PIL's built-in bitmap font when none is found), on a grayscale
32 x 128 (height x width) canvas with light augmentation: random text height (scale), slight
horizontal stretch, random offset, random background and ink gray levels, occasional blur, Gaussian
noise. Lines wider than the canvas are squeezed horizontally to fit, as PaddleOCR's resize does.
Pixels are mapped to [-1, 1] ((x / 255 - 0.5) / 0.5), the values the model takes. Everything is
seeded; the calibration and evaluation lines are drawn first from their own seeds, and a training
line whose string is one of theirs is never used, so the held-out strings are disjoint from training.

Model (690,181 parameters):
  backbone   Conv3x3-BN-ReLU stages, 1 -> 32 -> 64 -> 96 -> 128 -> 128 channels; strides take the
             height 32 -> 1 and the width 128 -> 32, so each of the 32 time steps sees 4 pixel columns
  neck       (N, C, 1, 32) -> (N, 32, C), plus a learned position embedding
  encoder    2 pre-norm transformer blocks (d = 128, 4 heads, MLP 128 -> 256 -> 128 with GELU):
               x = x + Proj(Attention(LN(x)));  x = x + MLP(LN(x))
             attention written out: Linear q, k, v -> Reshape/Transpose -> MatMul(q, k^T) * 1/sqrt(d_head)
             -> Softmax -> MatMul(., v) -> Transpose/Reshape -> Linear
  head       LN, Linear -> 37 classes (class 0 = CTC blank, class i = alphabet[i - 1])
LayerNorm is a hand-written module (mean, x - mean, pow 2, mean, + eps, sqrt, div, * gamma + beta),
so the ONNX file has ReduceMean / Sub / Pow / ReduceMean / Add / Sqrt / Div / Mul / Add as separate
nodes, as exports of PaddleOCR models and of PyTorch models at opsets below 17 have, rather than the
fused LayerNormalization op: the quantizer then sees (and must calibrate) each intermediate tensor,
which is the case this benchmark model exists to measure.

Training: CTC loss, Adam with warm-up and cosine decay over a wall-clock budget (--minutes), CPU,
one thread; fresh lines are rendered for every batch. The held-out line accuracy (exact match after
greedy CTC decoding: argmax per step, collapse repeats, drop blanks) is printed now and then.

Writes to OUT_DIR:
  text_recognizer.onnx               opset 13, input "image" [N, 1, 32, 128] (N dynamic), output
                                     "logits" [N, 32, 37]; checked with onnx.checker and against
                                     onnxruntime (max |difference| to torch <= 1e-4)
  text_recognizer_calib.npy          200 lines, float32 [200, 1, 32, 128]
  text_recognizer_eval.npy           1000 other lines, float32 [1000, 1, 32, 128]
  text_recognizer_eval_labels.json   the 1000 evaluation strings
  text_recognizer_alphabet.txt       the alphabet, one line (class i = character i - 1)

usage: .venv-torch/bin/python bench/make_text_recognizer.py OUT_DIR [--minutes 6] [--seed 0]
(onnxruntime is taken from /work/main/.venv, QTOOL_ORT_PYTHON, when the torch venv has none.)
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
H, W, T = 32, 128, 32  # input height and width, time steps
MIN_LEN, MAX_LEN = 4, 12
N_CALIB, N_EVAL = 200, 1000
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_NAMES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf",
              "DejaVuSansCondensed.ttf"]
ORT_PYTHON = os.environ.get("QTOOL_ORT_PYTHON", str(Path(__file__).resolve().parents[1] / ".venv/bin/python"))


# ---------------------------------------------------------------------------------------------- data

class Renderer:
    """Draws text lines into float32 [1, H, W] arrays in [-1, 1]."""

    def __init__(self, size=28):
        paths = [FONT_DIR / n for n in FONT_NAMES if (FONT_DIR / n).exists()]
        if paths:
            self.fonts = [ImageFont.truetype(str(p), size) for p in paths]
        else:  # PIL's bitmap font: small, so it is drawn at its size and scaled like the others
            self.fonts = [ImageFont.load_default()]

    def mask(self, text, font):
        """The text's coverage (0..255) at the font's size: full line height (ascent + descent),
        cropped horizontally to the ink."""
        try:
            ascent, descent = font.getmetrics()
        except AttributeError:
            ascent, descent = font.getsize("Ay")[1], 0
        width = font.getlength(text) if hasattr(font, "getlength") else font.getsize(text)[0]
        img = Image.new("L", (int(width) + 8, ascent + descent + 4), 0)
        ImageDraw.Draw(img).text((4, 2), text, fill=255, font=font)
        box = img.getbbox()
        return img.crop((box[0], 0, box[2], img.height)) if box else img

    def render(self, text, rng):
        m = self.mask(text, self.fonts[rng.randint(len(self.fonts))])
        th = rng.randint(22, 33)  # text line height in pixels (scale)
        tw = m.width * th / m.height * rng.uniform(0.85, 1.15)  # slight horizontal stretch
        tw = int(round(min(tw, W - 2)))
        m = m.resize((max(tw, 1), th), Image.BILINEAR)
        if rng.rand() < 0.3:
            m = m.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
        canvas = np.zeros((H, W), np.float32)
        x0 = rng.randint(0, W - tw + 1)
        y0 = rng.randint(0, H - th + 1)
        canvas[y0:y0 + th, x0:x0 + tw] = np.asarray(m, np.float32) / 255
        bg = rng.uniform(0.55, 1.0)
        fg = rng.uniform(0.0, bg - 0.35)
        img = bg + (fg - bg) * canvas + rng.normal(0, rng.uniform(0, 0.06), canvas.shape)
        img = np.clip(img, 0, 1)
        return ((img - 0.5) / 0.5).astype(np.float32)[None]


def random_text(rng):
    n = rng.randint(MIN_LEN, MAX_LEN + 1)
    return "".join(ALPHABET[i] for i in rng.randint(len(ALPHABET), size=n))


def rendered_set(renderer, n, seed, exclude=()):
    """n lines with distinct strings not in exclude: (float32 [n, 1, H, W], strings)."""
    rng = np.random.RandomState(seed)
    texts, seen = [], set(exclude)
    while len(texts) < n:
        t = random_text(rng)
        if t not in seen:
            seen.add(t)
            texts.append(t)
    return np.stack([renderer.render(t, rng) for t in texts]), texts


# --------------------------------------------------------------------------------------------- model

class LayerNorm(nn.Module):
    """LayerNorm over the last axis, written out so that it exports as elementary ONNX ops."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        d = x - mean
        var = d.pow(2).mean(-1, keepdim=True)
        return d / torch.sqrt(var + self.eps) * self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.q, self.k, self.v, self.proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):  # [N, T, d]; T and the head sizes are Python ints, so the export's
        split = (-1, T, self.heads, self.dh)  # Reshapes take constant shapes with a free batch axis
        q = self.q(x).reshape(split).transpose(1, 2)  # [N, heads, T, dh]
        k = self.k(x).reshape(split).transpose(1, 2)
        v = self.v(x).reshape(split).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(self.dh)), dim=-1)
        y = torch.matmul(a, v).transpose(1, 2).reshape(-1, T, self.heads * self.dh)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.ln1, self.attn = LayerNorm(d), Attention(d, heads)
        self.ln2, self.fc1, self.fc2 = LayerNorm(d), nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def conv(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class TextRecognizer(nn.Module):
    def __init__(self, classes=len(ALPHABET) + 1, d=128, heads=4, hidden=256, blocks=2):
        super().__init__()
        self.backbone = nn.Sequential(
            conv(1, 32, (2, 2)),     # 16 x 64
            conv(32, 64, (2, 2)),    # 8 x 32
            conv(64, 96, (2, 1)),    # 4 x 32
            conv(96, 96, 1),
            conv(96, d, (2, 1)),     # 2 x 32
            conv(d, d, (2, 1)))      # 1 x 32
        self.pos = nn.Parameter(torch.zeros(1, T, d))
        self.blocks = nn.Sequential(*(Block(d, heads, hidden) for _ in range(blocks)))
        self.norm = LayerNorm(d)
        self.head = nn.Linear(d, classes)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, image):  # [N, 1, 32, 128] -> logits [N, T, classes]
        f = self.backbone(image)                    # [N, d, 1, T]
        x = f.squeeze(2).transpose(1, 2) + self.pos  # [N, T, d]
        return self.head(self.norm(self.blocks(x)))


def encode(texts):
    targets = torch.tensor([ALPHABET.index(c) + 1 for t in texts for c in t], dtype=torch.long)
    return targets, torch.tensor([len(t) for t in texts], dtype=torch.long)


def greedy_decode(logits):
    """CTC greedy decoding of [N, T, classes] logits (numpy or torch): strings."""
    best = np.asarray(logits).argmax(-1)
    out = []
    for row in best:
        prev, s = 0, []
        for k in row:
            if k != prev and k != 0:
                s.append(ALPHABET[k - 1])
            prev = k
        out.append("".join(s))
    return out


def line_accuracy(model, x, texts, batch=200):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)])
    model.train()
    return float(np.mean([p == t for p, t in zip(greedy_decode(logits.numpy()), texts)]))


# ------------------------------------------------------------------------------------------ training

def train(model, renderer, minutes, seed, exclude, val, batch=32, lr=1.5e-3, warmup=200):
    rng = np.random.RandomState(seed + 1000)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    budget, start = 60 * minutes, time.time()
    step, next_report, avg = 0, 60, None
    model.train()
    while True:
        elapsed = time.time() - start
        if elapsed >= budget:
            break
        frac = elapsed / budget
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * frac))
        texts = []
        while len(texts) < batch:
            t = random_text(rng)
            if t not in exclude:
                texts.append(t)
        x = torch.from_numpy(np.stack([renderer.render(t, rng) for t in texts]))
        targets, lengths = encode(texts)
        logp = F.log_softmax(model(x), -1).transpose(0, 1)  # [T, N, classes]
        loss = ctc(logp, targets, torch.full((batch,), T, dtype=torch.long), lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if elapsed >= next_report:
            next_report += 60
            acc = line_accuracy(model, *val)
            print(f"  {elapsed / 60:4.1f} min  step {step:5d}  loss {avg:.3f}  held-out lines {100 * acc:5.1f}%",
                  flush=True)
    return step


# ---------------------------------------------------------------------------------------------- export

ORT_CHECK = r"""
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
np.save(sys.argv[3], s.run(["logits"], {"image": np.load(sys.argv[2])})[0])
"""


def onnxruntime_logits(path, x):
    try:
        import onnxruntime as ort
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["logits"], {"image": x})[0]
    except ImportError:
        with tempfile.TemporaryDirectory() as tmp:
            np.save(f"{tmp}/x.npy", x)
            subprocess.run([ORT_PYTHON, "-c", ORT_CHECK, str(path), f"{tmp}/x.npy", f"{tmp}/y.npy"], check=True)
            return np.load(f"{tmp}/y.npy")


def export(model, path, x):
    import onnx
    model.eval()
    torch.onnx.export(model, torch.from_numpy(x[:2]), str(path), opset_version=13, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    diff = float(np.abs(onnxruntime_logits(path, x) - ref).max())
    if diff > 1e-4:
        raise SystemExit(f"onnxruntime differs from torch by {diff:.2e} (> 1e-4)")
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return diff, ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget, wall clock (default 6)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    calib_x, calib_t = rendered_set(renderer, N_CALIB, a.seed + 1)
    eval_x, eval_t = rendered_set(renderer, N_EVAL, a.seed + 2, exclude=calib_t)
    held_out = set(calib_t) | set(eval_t)
    model = TextRecognizer()
    params = sum(p.numel() for p in model.parameters())
    print(f"text recognizer: {params:,} parameters, {len(renderer.fonts)} fonts, training {a.minutes:g} min "
          f"on 1 thread", flush=True)
    t0 = time.time()
    steps = train(model, renderer, a.minutes, a.seed, held_out, (eval_x[:300], eval_t[:300]))
    minutes = (time.time() - t0) / 60
    acc = line_accuracy(model, eval_x, eval_t)
    print(f"trained {steps} steps in {minutes:.1f} min; held-out lines (fp32, {N_EVAL}): {100 * acc:.1f}%")
    path = a.out / "text_recognizer.onnx"
    diff, ops = export(model, path, eval_x[:64])
    np.save(a.out / "text_recognizer_calib.npy", calib_x)
    np.save(a.out / "text_recognizer_eval.npy", eval_x)
    (a.out / "text_recognizer_eval_labels.json").write_text(json.dumps(eval_t) + "\n")
    (a.out / "text_recognizer_alphabet.txt").write_text(ALPHABET + "\n")
    print(f"wrote {path} (onnxruntime vs torch: max |diff| {diff:.1e}); ops: "
          + ", ".join(f"{k} {v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
