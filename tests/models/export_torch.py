# SPDX-License-Identifier: Apache-2.0
"""Exports real architectures from Debian's PyTorch/torchvision to ONNX for qtool's coverage tests.

Run with the PyTorch venv (.venv-torch, made by `bash .ci/setup --torch`):
    .venv-torch/bin/python tests/models/export_torch.py OUT_DIR [--opsets 17] [--only NAME,...]

Writes OUT_DIR/<name>-opset<k>.onnx plus OUT_DIR/<name>-opset<k>.npz (inputs keyed by input name,
a few samples for calibration and comparison) for each model below. Weights are torchvision's
random initialisation with a fixed seed (no weights can be downloaded here); the architectures
are the real ones. torch 1.13's exporter goes up to opset 17, which is then also "the exporter's
newest"; the list of opsets is a flag so a newer torch can add more.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)


class TextClassifier(nn.Module):
    """Embedding + nn.TransformerEncoder with a padding mask (Where, Equal, Expand, masked Softmax)."""

    def __init__(self, vocab=1000, d=64, heads=4, layers=2, classes=5):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=0)
        # a lambda activation keeps torch 1.13 off its fused fast path, which has no ONNX export
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=128, dropout=0.0, batch_first=True,
                                           activation=lambda x: torch.nn.functional.gelu(x))
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        pad = tokens == 0
        h = self.enc(self.emb(tokens), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return self.head(pooled)


class SeqModel(nn.Module):
    """A 2-layer bidirectional LSTM or GRU tagger over feature frames (speech/OCR style)."""

    def __init__(self, cell, feat=20, hidden=32, classes=7):
        super().__init__()
        self.rnn = getattr(nn, cell)(feat, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(y)


class LoopModel(nn.Module):
    """Data-dependent control flow; scripted (torch.jit.script), so the exporter writes Loop and If."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x, n: torch.Tensor):
        x = self.lin(x)
        for _ in range(int(n)):
            if bool(x.sum() > 0):
                x = torch.tanh(x) * 0.9
            else:
                x = torch.relu(x) + 0.1
        return x


def models():
    import torchvision.models as tvm
    import torchvision.models.detection as det
    rng = np.random.RandomState(0)
    img = lambda n, s: rng.rand(n, 3, s, s).astype(np.float32)  # noqa: E731
    toks = rng.randint(1, 1000, size=(4, 24)).astype(np.int64)
    toks[:, 18:] = 0  # padding
    yield "mobilenet_v3_small", tvm.mobilenet_v3_small(), {"input": img(4, 224)}, {"input": {0: "batch"}}
    yield "efficientnet_b0", tvm.efficientnet_b0(), {"input": img(4, 224)}, {"input": {0: "batch"}}
    yield ("deeplabv3_mobilenet_v3_large", _Seg(tvm.segmentation.deeplabv3_mobilenet_v3_large(weights=None,
           weights_backbone=None, num_classes=21)), {"input": img(2, 256)}, {"input": {0: "batch"}})
    yield ("ssdlite320_mobilenet_v3_large", _Det(det.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
           num_classes=91)), {"input": img(1, 320)}, None)
    yield "transformer_text", TextClassifier(), {"tokens": toks}, {"tokens": {0: "batch", 1: "seq"}}
    yield "lstm_tagger", SeqModel("LSTM"), {"x": rng.randn(4, 30, 20).astype(np.float32)}, {"x": {0: "batch", 1: "time"}}
    yield "gru_tagger", SeqModel("GRU"), {"x": rng.randn(4, 30, 20).astype(np.float32)}, {"x": {0: "batch", 1: "time"}}
    yield ("loop_if", torch.jit.script(LoopModel()), {"x": rng.randn(1, 16).astype(np.float32), "n": np.array(3, dtype=np.int64)}, None)


class _Seg(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


class _Det(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m.eval()

    def forward(self, x):
        out = self.m(list(x))[0]
        return out["boxes"], out["scores"], out["labels"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--opsets", default="17")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, args.only.split(",")))
    for name, model, inputs, dyn in models():
        if only and name not in only:
            continue
        model.eval()
        for opset in map(int, args.opsets.split(",")):
            path = out / f"{name}-opset{opset}.onnx"
            if path.exists():
                continue
            args_t = tuple(torch.from_numpy(v) for v in inputs.values())
            # (grad mode on: torch 1.13's fused attention fast path, which has no ONNX export, needs it off)
            if True:
                torch.onnx.export(model, args_t if len(args_t) > 1 else args_t[0], str(path), opset_version=opset,
                                  input_names=list(inputs), dynamic_axes=dyn, do_constant_folding=True)
            np.savez(out / f"{name}-opset{opset}.npz", **inputs)
            print(f"exported {path.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
