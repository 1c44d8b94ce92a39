# SPDX-License-Identifier: Apache-2.0
"""Turns the real data sets in ../shared/data into the inputs qtool reads (.npy + labels).

Everything is written to a cache folder (not the repository). Preprocessing follows each
folder's SOURCE.md.
"""
import gzip
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("QTOOL_SHARED", ROOT.parent / "shared" / "data"))
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
RESNET_STD = (0.2471, 0.2435, 0.2616)
VIT_STD = (0.2023, 0.1994, 0.2010)
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def available():
    return (SHARED / "mnist" / "mnist-12.onnx").exists()


def mnist(cache: Path):
    """MNIST test set: images/255 as [N,1,28,28] and [N,784,1] float32, labels int64."""
    cache.mkdir(parents=True, exist_ok=True)
    out = {"nchw": cache / "mnist_nchw.npy", "flat": cache / "mnist_flat.npy", "labels": cache / "mnist_labels.npy",
           "calib_nchw": cache / "mnist_calib_nchw.npy", "calib_flat": cache / "mnist_calib_flat.npy"}
    if all(p.exists() for p in out.values()):
        return out
    with gzip.open(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        img = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype(np.float32) / 255.0
    with gzip.open(SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz") as f:
        lab = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    np.save(out["nchw"], img[:, None])
    np.save(out["flat"], img.reshape(-1, 784, 1))
    np.save(out["labels"], lab)
    np.save(out["calib_nchw"], img[:500, None])
    np.save(out["calib_flat"], img[:500].reshape(-1, 784, 1))
    return out


def cifar_csv(cache: Path, std):
    """The 100 pixel-exact CIFAR images (HWC in the CSV) normalised to NCHW float32."""
    cache.mkdir(parents=True, exist_ok=True)
    tag = "vit" if std == VIT_STD else "resnet"
    path = cache / f"cifar_csv_{tag}.npy"
    if not path.exists():
        rows = np.loadtxt(SHARED / "cifar10" / "eran_cifar10_test.csv", delimiter=",", dtype=np.float32)
        x = rows[:, 1:].reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2) / 255.0
        x = (x - np.array(CIFAR_MEAN, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
        np.save(path, x.astype(np.float32))
    return path


def cifar_jpg_labels(cache: Path):
    """Labels of test-jpg/<class>/NNNN.jpg in sorted relative-path order (qtool's image order)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "cifar_jpg_labels.npy"
    root = SHARED / "cifar10" / "test-jpg"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg"))
    np.save(path, np.array([CLASSES.index(f.split("/")[0]) for f in files], np.int64))
    return path


def cifar_jpg_files():
    root = SHARED / "cifar10" / "test-jpg"
    return sorted(root.rglob("*.jpg"), key=lambda p: str(p.relative_to(root)))


def cifar_image_args(std):
    return ["--mean", ",".join(map(str, CIFAR_MEAN)), "--std", ",".join(map(str, std))]


ULTRAFACE_ARGS = ["--size", "320x240", "--scale", "1", "--mean", "127", "--std", "128"]
