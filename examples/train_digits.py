# SPDX-License-Identifier: Apache-2.0
"""A PyTorch training script that compresses its model through qtool's Python package.

Trains a small CNN on scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, UCI), exports
it to ONNX in memory, and then, through `qtool` (ctypes over libqtool.so):
  1. int8 and int4 post-training quantization, calibrated from in-memory training batches;
  2. iterative magnitude pruning as TF-MOT / torch.nn.utils.prune users know it: prune 50% in qtool,
     read the masks back into the PyTorch model, fine-tune with the masks held, re-export, int8;
  3. binary weights (XNOR-Net: alpha * sign(w), alpha = mean |w| per output channel) with a short
     straight-through-estimator fine-tune; first and last layer int8, as XNOR-Net keeps them precise;
then prints the accuracy/size table and writes the files. Every file is evaluated in onnxruntime
and in qtool's executor, on the held-out part of the data set.

usage: python examples/train_digits.py [--fast] [--out DIR]
  --fast   fewer epochs (the CI test); the bars that hold at that setting are asserted
"""
import argparse
import copy
import io
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))  # the in-tree package when it is not pip-installed
import qtool  # noqa: E402


def to_torch(a):  # via lists: independent of the numpy ABI torch was built against
    return torch.tensor(a.tolist(), dtype=torch.float32 if a.dtype.kind == "f" else torch.int64)


def to_numpy(t):
    return np.array(t.detach().tolist(), dtype=np.float32)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 10)
        self.binary = set()  # names of layers whose weights the forward pass binarizes (STE)

    def w(self, name):
        layer = getattr(self, name)
        if name not in self.binary:
            return layer.weight
        w = layer.weight
        alpha = w.abs().flatten(1).mean(1).view(-1, *([1] * (w.dim() - 1)))
        return w + (alpha * torch.sign(w) - w).detach()  # straight-through estimator

    def forward(self, x):
        x = F.relu(F.conv2d(x, self.w("conv1"), self.conv1.bias, padding=1))
        x = F.max_pool2d(F.relu(F.conv2d(x, self.w("conv2"), self.conv2.bias, padding=1)), 2)
        x = F.relu(F.linear(x.flatten(1), self.w("fc1"), self.fc1.bias))
        return F.linear(x, self.w("fc2"), self.fc2.bias)


def train(net, x, y, epochs, lr, masks=None, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n = len(x)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
            if masks:  # pruned weights stay exactly zero
                with torch.no_grad():
                    for name, m in masks.items():
                        getattr(net, name).weight.mul_(m)


def export(net):
    buf = io.BytesIO()
    binary, net.binary = net.binary, set()  # export the latent float weights; qtool binarizes them
    torch.onnx.export(net, torch.zeros(1, 1, 8, 8), buf, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}}, opset_version=13)
    net.binary = binary
    return qtool.Model.from_bytes(buf.getvalue())


def ort_top1(model, x, y):
    s = ort.InferenceSession(model.to_bytes(), providers=["CPUExecutionProvider"])
    return float((s.run(None, {"image": x})[0].argmax(1) == y).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast", action="store_true", help="fewer epochs (CI)")
    ap.add_argument("--out", default=str(ROOT / "out" / "train_digits"))
    ap.add_argument("--check", action="store_true", help="exit 1 unless every accuracy bar holds")
    args = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs, ft = (12, 4) if args.fast else (25, 8)

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    xt, yt = to_torch(x_tr), to_torch(y_tr)

    torch.manual_seed(0)  # the initial weights too: the bars below are checked on one reproducible run
    net = Net()
    train(net, xt, yt, epochs, 2e-3)
    fp32_state = copy.deepcopy(net.state_dict())
    fp32 = export(net)

    # calibration from in-memory batches, as a DataLoader would hand them over
    calib = qtool.Data.create()
    for i in range(0, 512, 64):
        calib.add_batch({"image": x_tr[i:i + 64]})
    test = qtool.Data.from_arrays({"image": x_te})

    rows = [("fp32", fp32)]
    rows.append(("int8", fp32.quantize(calib=calib, bits=8)))
    rows.append(("int4 (GPTQ)", fp32.quantize(calib=calib, bits=4)))

    # prune 50% in qtool, masks back into PyTorch, fine-tune with the masks held, re-export, int8
    pruned = fp32.prune(sparsity=0.5)
    masks = {}
    for name in ("conv1", "conv2", "fc1", "fc2"):
        m = pruned.mask(f"{name}.weight")
        masks[name] = to_torch(m.astype(np.float32))
        with torch.no_grad():
            getattr(net, name).weight.copy_(to_torch(pruned.tensor(f"{name}.weight")))
    train(net, xt, yt, ft, 5e-4, masks=masks, seed=1)
    rows.append(("pruned 50% + ft + int8", export(net).quantize(calib=calib, bits=8)))

    # binary weights with a short straight-through fine-tune, from the trained fp32 weights
    # (conv2 and fc1 binary; first and last layer int8)
    bnet = Net()
    bnet.load_state_dict(fp32_state)
    bnet.binary = {"conv2", "fc1"}
    train(bnet, xt, yt, ft * 2, 1e-3, seed=2)
    rows.append(("binary + ft (first/last int8)", export(bnet).quantize(calib=calib, bits=1, keep_first_last=8)))

    print(f"\nqtool {qtool.version()} on scikit-learn digits ({len(x_tr)} train / {len(x_te)} held-out images)")
    print(f"{'model':32s} {'file bytes':>10s} {'ratio':>7s} {'bits/w':>7s} {'top-1 ORT':>10s} {'top-1 qtool':>12s}")
    base = fp32.size().file_bytes
    results = {}
    for name, m in rows:
        s = m.size()
        acc = ort_top1(m, x_te, y_te)
        ours = m.evaluate(test, labels=y_te).top1
        results[name] = acc
        fname = out / (name.split(" ")[0].replace("%", "") + ".onnx")
        m.save(fname)
        print(f"{name:32s} {s.file_bytes:10d} {100 * s.file_bytes / base:6.1f}% {s.bits_per_weight:7.2f} "
              f"{100 * acc:9.2f}% {100 * ours:11.2f}%")
    print(f"files in {out}; {time.time() - t0:.0f} s")
    f = results["fp32"]
    bars = [("fp32 >= 97%", f >= 0.97), ("int8 within 0.5 points", results["int8"] >= f - 0.005),
            ("int4 within 1.5 points", results["int4 (GPTQ)"] >= f - 0.015),
            ("pruned + ft + int8 within 1.0 point", results["pruned 50% + ft + int8"] >= f - 0.010),
            ("binary + ft >= 90%", results["binary + ft (first/last int8)"] >= 0.90)]
    for name, ok in bars:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if args.check and not all(ok for _, ok in bars):
        raise SystemExit(1)
    return results


if __name__ == "__main__":
    main()
