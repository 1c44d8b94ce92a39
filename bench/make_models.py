# SPDX-License-Identifier: Apache-2.0
"""Models and calibration data for bench/bench_quantize.py, written to a cache folder (not the repo).

Models
- resnet50.onnx, densenet121.onnx: the ONNX Model Zoo architectures that ship in the onnx wheel
  (onnx/backend/test/data/light/, opset 9). Their weights are ConstantOfShape(0.02) nodes; here every
  such node becomes a real initializer with seeded values so both quantizers see ordinary weights:
  Conv/Gemm weights He-normal (std sqrt(2/fan_in)), biases N(0, 0.01), BatchNorm scale U(0.5, 1.0)
  (U(0.1, 0.3) on the last BN of a ResNet residual branch, "branch2c", so residual sums do not grow
  2x per block), bias N(0, 0.1), mean N(0, 0.1), var U(0.5, 1.5); DenseNet's Unsqueeze'd Mul/Add
  constants U(0.5, 1.5) / N(0, 0.1). Two-input Sum nodes become Add (the same function; qtool's
  executor has no Sum kernel yet). ResNet-50: 25.6M parameters, DenseNet-121: 8.1M.
- matmul_100m.onnx: 24 x (MatMul 2048x2048 + bias Add + Relu) on input [N, 2048], 100.7M parameters
  (403 MB, one file).
- matmul_2_5g.onnx + .data: 38 x (MatMul 4096x4096 + Add + Relu) on [N, 4096], 637.7M parameters,
  2.55 GB of external data (onnx's external-data format, one .data file).
Data (float32 .npy, [N, C, H, W])
- cifar224_N.npy: the first N CIFAR-10 test JPEGs (sorted by path; ResNet normalisation) resized to
  224x224 bilinearly (numpy), for ResNet-50 / DenseNet-121.
- ultraface_N.npy: the 8 UltraFace photos, sample i a seeded random crop (60-100% of each side) and
  horizontal flip of photo i % 8, resized to 320x240, (x - 127) / 128.
- cifar_vit_N.npy / cifar_resnet_N.npy: the first N CIFAR JPEGs at 32x32 (ViT / resnet_4b normalisation).
- matmul2048_N.npy / matmul4096_N.npy: seeded N(0, 1) rows.

usage: python bench/make_models.py CACHE [--samples 1000]   (prints nothing when everything exists)
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import harness as h  # noqa: E402
import shared_data as sd  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"


def materialize_light(name, out: Path):
    if out.exists():
        return out
    m = onnx.load(str(LIGHT / f"light_{name}.onnx"))
    rng = np.random.RandomState(0)
    inits = {t.name: t for t in m.graph.initializer}
    consumers = {}
    for n in m.graph.node:
        for k, i in enumerate(n.input):
            consumers.setdefault(i, []).append((n, k))
    keep = []
    new_inits = []
    for n in m.graph.node:
        if n.op_type == "Sum" and len(n.input) == 2:  # same result; qtool's executor has no Sum yet
            n.op_type = "Add"
        if n.op_type != "ConstantOfShape":
            keep.append(n)
            continue
        shape = [int(v) for v in numpy_helper.to_array(inits[n.input[0]])]
        user, k = consumers[n.output[0]][0]
        if user.op_type == "Unsqueeze":
            user, k = consumers[user.output[0]][0]
            k = 1 if user.op_type == "Mul" else 2
            role = "scale" if user.op_type == "Mul" else "shift"
        elif user.op_type in ("Conv", "Gemm"):
            role = "weight" if k == 1 else "bias"
        elif user.op_type == "BatchNormalization":
            role = {1: "scale", 2: "shift", 3: "mean", 4: "var"}[k]
        else:
            raise SystemExit(f"{name}: ConstantOfShape feeding {user.op_type} input {k}")
        if role == "weight":
            fan_in = int(np.prod(shape[1:])) if user.op_type == "Conv" else shape[0]
            v = rng.randn(*shape) * np.sqrt(2.0 / fan_in)
        elif role == "bias":
            v = rng.randn(*shape) * 0.01
        elif role == "scale":
            last = "branch2c" in n.output[0]
            v = rng.uniform(0.1, 0.3, shape) if last else rng.uniform(0.5, 1.0, shape)
        elif role in ("shift", "mean"):
            v = rng.randn(*shape) * 0.1
        else:
            v = rng.uniform(0.5, 1.5, shape)
        new_inits.append(numpy_helper.from_array(v.astype(np.float32), n.output[0]))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    used = {i for n in keep for i in n.input}
    old = [t for t in m.graph.initializer if t.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(old + new_inits)
    real = [i for i in m.graph.input if i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(real)
    m.ir_version = max(m.ir_version, 4)  # initializers need not be listed as inputs
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return out


def matmul_stack(out: Path, width, layers, external):
    """layers x (MatMul [width, width] + Add bias + Relu); input x [N, width], output y."""
    if out.exists():
        return out
    rng = np.random.RandomState(1)
    nodes, inits = [], []
    cur = "x"
    for i in range(layers):
        w = (rng.randn(width, width) * np.sqrt(2.0 / width)).astype(np.float32)
        b = (rng.randn(width) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nxt = "y" if i == layers - 1 else f"r{i}"
        nodes += [helper.make_node("MatMul", [cur, f"w{i}"], [f"m{i}"], name=f"matmul{i}"),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}" if i < layers - 1 else "y"], name=f"add{i}")]
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [f"a{i}"], [nxt], name=f"relu{i}"))
        cur = nxt
    g = helper.make_graph(nodes, out.stem, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", width])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    if external:
        onnx.save_model(m, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=out.name + ".data", size_threshold=1024)
    else:
        onnx.save(m, str(out))
    return out


def resize_bilinear_batch(x, ow, oh):
    """[N, C, H, W] -> [N, C, oh, ow], half-pixel bilinear (cv2 INTER_LINEAR)."""
    _, _, hh, ww = x.shape

    def coords(n_out, n_in):
        f = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        i0 = np.floor(f).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (f - i0).astype(np.float32)

    y0, y1, dy = coords(oh, hh)
    x0, x1, dx = coords(ow, ww)
    top = x[:, :, y0][:, :, :, x0] * (1 - dx) + x[:, :, y0][:, :, :, x1] * dx
    bot = x[:, :, y1][:, :, :, x0] * (1 - dx) + x[:, :, y1][:, :, :, x1] * dx
    return (top * (1 - dy[:, None]) + bot * dy[:, None]).astype(np.float32)


def cifar224(cache: Path, n):
    out = cache / f"cifar224_{n}.npy"
    if not out.exists():
        x = h.cifar_jpg_array(sd.RESNET_STD)[:n]
        arr = np.lib.format.open_memmap(out, "w+", np.float32, (len(x), 3, 224, 224))
        for i in range(0, len(x), 50):
            arr[i:i + 50] = resize_bilinear_batch(x[i:i + 50], 224, 224)
        arr.flush()
    return out


def cifar32(cache: Path, n, std, tag):
    out = cache / f"cifar_{tag}_{n}.npy"
    if not out.exists():
        x = h.cifar_jpg_array(std)
        reps = -(-n // len(x))
        np.save(out, np.concatenate([x] * reps)[:n])
    return out


def ultraface(cache: Path, n):
    out = cache / f"ultraface_{n}.npy"
    if out.exists():
        return out
    import simplejpeg
    photos = [simplejpeg.decode_jpeg(p.read_bytes(), colorspace="RGB", fastupsample=True, fastdct=False).astype(np.float64)
              for p in sorted((sd.SHARED / "ultraface" / "imgs").glob("*.jpg"))]
    rng = np.random.RandomState(2)
    arr = np.lib.format.open_memmap(out, "w+", np.float32, (n, 3, 240, 320))
    for i in range(n):
        img = photos[i % len(photos)]
        hh, ww, _ = img.shape
        if i >= len(photos):
            ch, cw = int(hh * rng.uniform(0.6, 1.0)), int(ww * rng.uniform(0.6, 1.0))
            y, x = rng.randint(0, hh - ch + 1), rng.randint(0, ww - cw + 1)
            img = img[y:y + ch, x:x + cw]
            if rng.rand() < 0.5:
                img = img[:, ::-1]
        arr[i] = ((h.resize_bilinear(img, 320, 240) - 127.0) / 128.0).transpose(2, 0, 1)
    arr.flush()
    return out


def gaussian(cache: Path, n, width):
    out = cache / f"matmul{width}_{n}.npy"
    if not out.exists():
        np.save(out, np.random.RandomState(3).randn(n, width).astype(np.float32))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache", type=Path)
    ap.add_argument("--samples", type=int, default=1000)
    a = ap.parse_args()
    a.cache.mkdir(parents=True, exist_ok=True)
    materialize_light("resnet50", a.cache / "resnet50.onnx")
    materialize_light("densenet121", a.cache / "densenet121.onnx")
    matmul_stack(a.cache / "matmul_100m.onnx", 2048, 24, external=False)
    matmul_stack(a.cache / "matmul_2_5g.onnx", 4096, 38, external=True)
    cifar224(a.cache, a.samples)
    ultraface(a.cache, a.samples)
    cifar32(a.cache, a.samples, sd.VIT_STD, "vit")
    cifar32(a.cache, a.samples, sd.RESNET_STD, "resnet")


if __name__ == "__main__":
    main()
