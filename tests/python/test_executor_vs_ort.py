# SPDX-License-Identifier: Apache-2.0
"""qtool's executor matches onnxruntime (1e-4 relative or 1e-5 absolute) on every shared model,
on real inputs."""
import numpy as np
import pytest

import harness as h
import shared_data as sd


def cases(cache):
    m = sd.mnist(cache)
    resnet = sd.cifar_csv(cache, sd.RESNET_STD)
    vit = sd.cifar_csv(cache, sd.VIT_STD)
    S = sd.SHARED
    return {
        "mnist-8": (S / "mnist/mnist-8.onnx", m["calib_nchw"], []),
        "mnist-12": (S / "mnist/mnist-12.onnx", m["calib_nchw"], []),
        "mnist-net_256x2": (S / "mnist-mlp-vnncomp/mnist-net_256x2.onnx", m["calib_flat"], []),
        "resnet_4b": (S / "cifar10-resnet-vnncomp/resnet_4b.onnx", resnet, []),
        "pgd_2_3_16": (S / "cifar10-vit-vnncomp/pgd_2_3_16.onnx", vit, []),
        "ibp_3_3_8": (S / "cifar10-vit-vnncomp/ibp_3_3_8.onnx", vit, []),
        "RFB-320": (S / "ultraface/version-RFB-320.onnx", S / "ultraface/imgs", sd.ULTRAFACE_ARGS),
        "slim-320": (S / "ultraface/version-slim-320.onnx", S / "ultraface/imgs", sd.ULTRAFACE_ARGS),
    }


@pytest.mark.parametrize("name", ["mnist-8", "mnist-12", "mnist-net_256x2", "resnet_4b", "pgd_2_3_16", "ibp_3_3_8",
                                  "RFB-320", "slim-320"])
def test_outputs_match_onnxruntime(name, shared, cache, tmp_path):
    model, data, extra = cases(cache)[name]
    if "320" in name:  # the same decoded images for both runtimes
        data, extra = tmp_path / "ultraface.npy", []
        np.save(data, h.ultraface_array(cache))
    out = tmp_path / "out.npz"
    h.qtool("run", model, "--data", data, "-o", out, *extra)
    ours = np.load(out)
    x = np.load(data)
    if name.startswith("mnist"):
        x = x[:200]
        ours = {k: v[:200] for k, v in ours.items()}
    s = h.session(model)
    ref = h.ort_run_all(model, x)
    for o, r in zip(s.get_outputs(), ref):
        np.testing.assert_allclose(ours[o.name][: len(r)], r, rtol=1e-4, atol=1e-5, err_msg=f"{name}:{o.name}")
