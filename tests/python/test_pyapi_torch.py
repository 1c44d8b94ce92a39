# SPDX-License-Identifier: Apache-2.0
"""The Python API with PyTorch (issue 13, items 8 and 9): a real torch.utils.data.DataLoader as
calibration data (streamed, with transform_fn), and prune -> masks -> fine-tune for a CNN with
BatchNorm, whose export folds BN and renames the weights (onnx::Conv_NN).

Needs PyTorch: run with the .venv-torch interpreter (test_torch_suite in this file does that from
the main venv); skips cleanly where torch is absent."""
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH_PY = ROOT / ".venv-torch/bin/python"

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed in this interpreter")


def test_torch_suite():
    """From an interpreter without torch: run this file under .venv-torch (Debian's PyTorch)."""
    if torch is not None:
        pytest.skip("torch is importable here: the tests below run directly")
    if not TORCH_PY.exists():
        pytest.skip("no .venv-torch (PyTorch from Debian's python3-torch): `bash .ci/setup --torch` makes it")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    r = subprocess.run([str(TORCH_PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                       capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    print(r.stdout[-3000:])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    assert "3 passed, 1 skipped" in r.stdout, r.stdout[-500:]  # only test_torch_suite itself skips there


if torch is not None:
    sys.path.insert(0, str(ROOT / "python"))
    import onnxruntime as ort
    from sklearn.datasets import load_digits

    import qtool

    class BNNet(nn.Module):
        """Conv-BN-ReLU x2 + two Linear layers on 8x8 digits."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(32)
            self.fc1 = nn.Linear(32 * 4 * 4, 64)
            self.fc2 = nn.Linear(64, 10)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
            return self.fc2(F.relu(self.fc1(x.flatten(1))))

    def digits_tensors():
        d = load_digits()
        x = torch.tensor((d.images / 16.0).tolist(), dtype=torch.float32)[:, None]
        y = torch.tensor(d.target.tolist(), dtype=torch.int64)
        g = torch.Generator().manual_seed(0)
        perm = torch.randperm(len(x), generator=g)
        return x[perm[:1200]], y[perm[:1200]], x[perm[1200:]], y[perm[1200:]]

    def train(net, x, y, epochs, lr, masks=None, seed=0):
        torch.manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        params = dict(net.named_parameters())
        net.train()
        for _ in range(epochs):
            perm = torch.randperm(len(x))
            for i in range(0, len(x), 64):
                idx = perm[i:i + 64]
                opt.zero_grad()
                F.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
                if masks:  # pruned weights stay exactly zero
                    with torch.no_grad():
                        for name, m in masks.items():
                            params[name].mul_(m)
        net.eval()

    def export(net, **kw):
        buf = io.BytesIO()
        torch.onnx.export(net.eval(), torch.zeros(1, 1, 8, 8), buf, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}}, opset_version=13, **kw)
        return qtool.Model.from_bytes(buf.getvalue())

    def top1(net, x, y):
        with torch.no_grad():
            return float((net(x).argmax(1) == y).float().mean())

    @pytest.fixture(scope="module")
    def trained():
        xtr, ytr, xte, yte = digits_tensors()
        net = BNNet()
        train(net, xtr, ytr, 6, 3e-3)
        return net, xtr, ytr, xte, yte


@needs_torch
def test_dataloader_streamed_as_calibration(trained):
    net, xtr, ytr, xte, yte = trained
    model = export(net)
    ds = torch.utils.data.TensorDataset(xtr[:256], ytr[:256])
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=False)
    q = qtool.quantize(model, loader, transform_fn=lambda batch: batch[0])  # (images, labels) batches
    ref = qtool.quantize(model, {"image": xtr[:256].numpy()})
    assert q.to_bytes() == ref.to_bytes()  # streamed batch by batch = the same samples in memory
    # a DataLoader without transform_fn gets a clear hint, not an AttributeError
    with pytest.raises(qtool.QtError, match="transform_fn"):
        qtool.quantize(model, loader)
    # torch tensors as evaluation data and labels; shuffled loaders calibrate too
    r = q.evaluate(torch.utils.data.DataLoader(xte, batch_size=100), labels=yte, ref=model)
    assert r.top1 > 0.85 and r.agreement > 0.95
    shuffled = torch.utils.data.DataLoader(ds, batch_size=50, shuffle=True, drop_last=True)
    qs = qtool.quantize(model, shuffled, transform_fn=lambda b: b[0], bits=4)
    assert qs.evaluate(xte.numpy(), labels=yte.numpy()).top1 > 0.8
    q.save(Path(os.environ.get("TMPDIR", "/tmp")) / "qtool_torch_loader.int8.onnx")
    out = ort.InferenceSession(q.to_bytes()).run(None, {"image": xte.numpy()})[0]
    assert abs(float((out.argmax(1) == yte.numpy()).mean()) - r.top1) < 0.01


@needs_torch
def test_bn_model_prune_masks_finetune(trained):
    net, xtr, ytr, xte, yte = trained
    base = top1(net, xte, yte)
    model = export(net)  # default export: BN folded, weights renamed
    pruned = model.prune(sparsity=0.5)
    assert any(n.startswith("onnx::") for n in pruned.mask_names())  # the problem: names PyTorch does not have
    masks = qtool.masks_for_torch(pruned, net)
    assert set(masks) == {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}
    params = dict(net.named_parameters())
    for name, m in masks.items():
        assert m.shape == tuple(params[name].shape) and abs(m.mean() - 0.5) < 0.01
    # the mask of a folded conv is the one qtool computed on the folded weight, mapped unchanged
    folded = [n for n in pruned.mask_names() if pruned.tensor(n).shape == tuple(params["conv2.weight"].shape)][0]
    assert np.array_equal(masks["conv2.weight"], pruned.mask(folded))
    # fine-tune with the masks held, re-export (BN folded again), quantize
    tmasks = {n: torch.tensor(m.astype(np.float32).tolist()) for n, m in masks.items()}
    with torch.no_grad():
        for n, m in tmasks.items():
            params[n].mul_(m)
    after_prune = top1(net, xte, yte)
    train(net, xtr, ytr, 3, 1e-3, masks=tmasks, seed=1)
    tuned = top1(net, xte, yte)
    assert tuned >= after_prune - 0.005 and tuned > base - 0.03, (base, after_prune, tuned)
    for n, m in tmasks.items():
        assert torch.all(params[n][m == 0] == 0)  # held through fine-tuning
    re = export(net)
    again = qtool.masks_for_torch(re.prune(sparsity=0.5), net)  # same sparsity: the same zeros are chosen first
    for n in masks:
        assert np.array_equal(again[n] | masks[n], masks[n]), n  # nothing pruned is revived
    q = re.quantize(xtr[:256], bits=8)
    r = q.evaluate(xte, labels=yte, ref=re)
    assert r.top1 > tuned - 0.02
    out = ort.InferenceSession(q.to_bytes()).run(None, {"image": xte.numpy()})[0]
    assert abs(float((out.argmax(1) == yte.numpy()).mean()) - r.top1) < 0.01


@needs_torch
def test_export_flags_that_keep_names(trained):
    net = trained[0]
    kept = export(net, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    pruned = kept.prune(sparsity=0.5)
    assert set(pruned.mask_names()) == {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}
    assert qtool.masks_for_torch(pruned, net).keys() == set(pruned.mask_names())
    x = trained[3][:64].numpy()
    np.testing.assert_allclose(kept.run(x)["logits"], export(net).run(x)["logits"], rtol=1e-3, atol=1e-4)
