# SPDX-License-Identifier: Apache-2.0
"""Pruning masks keyed by PyTorch parameter names, for prune -> masks -> fine-tune loops.

torch.onnx.export in eval mode folds BatchNormalization into the preceding Conv (W' = W * gamma /
sqrt(var + eps) per output channel) and names the folded weights "onnx::Conv_62", so the names of
qtool's masks do not exist in the PyTorch model. masks_for_torch maps every mask back:
  1. by name, when the ONNX weight kept the parameter's name (no folding), else
  2. by shape and value: the PyTorch parameter whose values equal the ONNX weight's kept values up
     to one factor per output channel (1 without folding, gamma/sqrt(var+eps) with BN folded;
     a zero factor - a channel whose BN gamma is 0 - matches any weight), also transposed for
     MatMul weights exported as [in, out].
The parameters must still hold the values that were exported (map before fine-tuning).

Names can also be kept at export time, with BatchNormalization left as its own node:
    torch.onnx.export(model.eval(), x, f, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
(TrainingMode.TRAINING keeps the names too, but exports BatchNormalization in training mode,
which normalizes with batch statistics and is not the inference model.)"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import _arrays
from ._lib import QtError


def _channel_factor_fit(onnx_w: np.ndarray, torch_w: np.ndarray, keep: np.ndarray, rtol: float) -> Optional[float]:
    """Worst relative misfit of onnx_w == s[c] * torch_w over kept entries (None: shapes differ)."""
    if onnx_w.shape != torch_w.shape:
        return None
    a = onnx_w.reshape(onnx_w.shape[0], -1).astype(np.float64)
    b = torch_w.reshape(torch_w.shape[0], -1).astype(np.float64)
    k = keep.reshape(keep.shape[0], -1).astype(bool)
    worst = 0.0
    for c in range(a.shape[0]):
        kc = k[c] & (np.abs(b[c]) > 1e-30)
        if not kc.any():
            continue
        if np.all(a[c][k[c]] == 0):  # channel scaled to zero (gamma = 0): any weight folds to it
            continue
        s = np.median(a[c][kc] / b[c][kc])
        if s == 0:
            return np.inf
        err = np.max(np.abs(a[c][kc] - s * b[c][kc]) / (np.abs(s * b[c][kc]) + 1e-30))
        worst = max(worst, float(err))
        if worst > rtol:
            return worst
    return worst


def masks_for_torch(pruned: Any, module: Any, rtol: float = 1e-4) -> Dict[str, np.ndarray]:
    """{PyTorch parameter name: uint8 mask of that parameter's shape (1 = kept)} for every mask of
    `pruned` (a qtool.Model from prune / quantize with sparsity), `module` a torch.nn.Module whose
    parameters hold the exported values. Raises QtError (status 3) naming the masks it cannot map."""
    params = {n: _arrays.to_numpy(p) for n, p in module.named_parameters()}
    taken = set()
    out: Dict[str, np.ndarray] = {}
    unmatched = []
    for name in pruned.mask_names():
        mask = pruned.mask(name)
        if name in params and params[name].shape == mask.shape:
            out[name] = mask
            taken.add(name)
            continue
        w = pruned.tensor(name)
        best: Tuple[float, Optional[str], bool] = (np.inf, None, False)
        for pname, pv in params.items():
            if pname in taken or pv.size != w.size:
                continue
            for transposed in (False, True):
                if transposed and pv.ndim != 2:
                    continue
                cand = pv.T if transposed else pv
                fit = _channel_factor_fit(w, cand, mask, rtol)
                if fit is not None and fit <= rtol and fit < best[0]:
                    best = (fit, pname, transposed)
        if best[1] is None:
            unmatched.append(name)
            continue
        taken.add(best[1])
        out[best[1]] = np.ascontiguousarray(mask.T) if best[2] else mask
    if unmatched:
        raise QtError(3, f"no PyTorch parameter matches the pruned weight(s) {unmatched} by name, shape and value "
                         "(map the masks before fine-tuning, from the module that was exported)")
    return out
