# SPDX-License-Identifier: Apache-2.0
"""Seed inputs of the libFuzzer targets (fuzz/), written at run time from real files (.ci/fuzz).

Usage: make_seeds.py OUT_DIR SHARED_DATA REPO
Writes OUT_DIR/<target>/seeds/ for fuzz_model, fuzz_npy, fuzz_npz and fuzz_image:
  fuzz_model  .onnx files up to 256 KiB from SHARED_DATA and the onnx wheel's backend test data
  fuzz_npy    MNIST test images / labels (SHARED_DATA/mnist idx files) and CIFAR-10 exact pixels
              (SHARED_DATA/cifar10 CSV) as .npy in several dtypes and shapes
  fuzz_npz    the same arrays as .npz (stored and deflated, one and several members)
  fuzz_image  CIFAR-10 / UltraFace JPEGs up to 64 KiB, the same pixels as PNG / BMP / PPM (written
              here), and the WebP / JPEG 2000 files embedded in tests/unit/kernels/test_image.cpp
Nothing here is copied into git: the seeds live next to the corpus under out/fuzz/.
Missing SHARED_DATA gives fewer seeds, never an error (the corpus from earlier runs remains)."""
import csv
import gzip
import io
import os
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np


def clean(d: Path) -> Path:
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def model_seeds(out: Path, shared: Path):
    import onnx
    roots = [shared, Path(onnx.__file__).parent / "backend" / "test" / "data"]
    n = 0
    for root in roots:
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*.onnx")):
            if p.stat().st_size <= 256 * 1024:
                n += 1
                shutil.copyfile(p, out / f"{n:04d}_{p.parent.name}_{p.name}")
    return n


def mnist(shared: Path):
    f = shared / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not f.is_file():
        return None, None
    raw = gzip.open(f).read()
    imgs = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:8]
    labels = np.frombuffer(gzip.open(shared / "mnist" / "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)[:8]
    return imgs, labels


def cifar(shared: Path):
    f = shared / "cifar10" / "eran_cifar10_test.csv"
    if not f.is_file():
        return None
    rows = []
    with open(f) as fh:
        for r in csv.reader(fh):
            rows.append([int(float(v)) for v in r[1:]])
            if len(rows) == 4:
                break
    return np.array(rows, np.uint8).reshape(-1, 32, 32, 3)


def arrays(shared: Path):
    imgs, labels = mnist(shared)
    c = cifar(shared)
    out = {}
    if imgs is not None:
        x = imgs.astype(np.float32)[:, None] / 255.0
        out["mnist_f32"] = x
        out["mnist_f16"] = x.astype(np.float16)
        out["mnist_u8"] = imgs
        out["mnist_row_f64"] = x[0, 0, 0].astype(np.float64)
        out["labels_i64"] = labels.astype(np.int64)
        out["labels_i32_col"] = labels.astype(np.int32)[:, None]
        out["mask_bool"] = imgs[:2] > 127
    if c is not None:
        out["cifar_nchw"] = (c.astype(np.float32) / 255.0).transpose(0, 3, 1, 2).copy()
        out["cifar_nhwc_i8"] = (c.astype(np.int16) - 128).astype(np.int8)
    out["scalar"] = np.array(3.5, np.float32)
    out["empty"] = np.zeros((0, 4), np.float32)
    return out


def npy_seeds(out: Path, arrs):
    for k, a in arrs.items():
        np.save(out / f"{k}.npy", a)
    if "mnist_f32" in arrs:  # format version 2.0 header and a big-endian one (refused)
        with open(out / "v2.npy", "wb") as fh:
            np.lib.format.write_array(fh, arrs["mnist_f32"][:1], version=(2, 0))
        np.save(out / "big_endian.npy", arrs["mnist_f32"][:1].astype(">f4"))
        np.save(out / "fortran.npy", np.asfortranarray(arrs["mnist_f32"][0, 0]))
    return len(list(out.iterdir()))


def npz_seeds(out: Path, arrs):
    n = 0
    for k, a in arrs.items():
        np.savez(out / f"{k}.npz", **{k: a})
        n += 1
    keys = [k for k in arrs if k.startswith("mnist") or k.startswith("labels")]
    if keys:
        np.savez(out / "several.npz", **{k: arrs[k] for k in keys})
        np.savez_compressed(out / "several_deflated.npz", **{k: arrs[k] for k in keys})
        np.savez_compressed(out / "input_deflated.npz", **{"Input3": arrs["mnist_f32"]})
        n += 3
    return n


def png_bytes(px: np.ndarray) -> bytes:
    h, w = px.shape[:2]
    color = 2 if px.ndim == 3 else 0

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + px[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def bmp_bytes(px: np.ndarray) -> bytes:
    h, w = px.shape[:2]
    row = (w * 3 + 3) & ~3
    data = b"".join(px[y, :, ::-1].tobytes().ljust(row, b"\0") for y in range(h - 1, -1, -1))
    return (b"BM" + struct.pack("<IHHI", 54 + len(data), 0, 0, 54) +
            struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0) + data)


def embedded_arrays(src: Path):
    """(name, bytes) of every `const std::vector<uint8_t> kName = {0x..};` in a test file."""
    if not src.is_file():
        return []
    text = src.read_text()
    out = []
    for m in re.finditer(r"const std::vector<uint8_t> (k\w+) = \{([^}]*)\};", text):
        vals = re.findall(r"0x[0-9a-fA-F]{2}", m.group(2))
        if vals:
            out.append((m.group(1), bytes(int(v, 16) for v in vals)))
    return out


def image_seeds(out: Path, shared: Path, repo: Path, arrs):
    n = 0
    jpgs = sorted((shared / "cifar10").rglob("*.jpg"))[:12] + sorted((shared / "ultraface").rglob("*.jpg"))
    for p in jpgs:
        if p.stat().st_size <= 64 * 1024:
            shutil.copyfile(p, out / f"{p.parent.name}_{p.name}")
            n += 1
    if "cifar_nchw" in arrs:
        c = (arrs["cifar_nchw"] * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
        for i, px in enumerate(c[:2]):
            (out / f"cifar{i}.png").write_bytes(png_bytes(px))
            (out / f"cifar{i}.bmp").write_bytes(bmp_bytes(px))
            (out / f"cifar{i}.ppm").write_bytes(b"P6\n32 32\n255\n" + px.tobytes())
            n += 3
    if "mnist_u8" in arrs:
        (out / "mnist_gray.png").write_bytes(png_bytes(arrs["mnist_u8"][0]))
        n += 1
    for name, data in embedded_arrays(repo / "tests" / "unit" / "kernels" / "test_image.cpp"):
        (out / f"test_image_{name}").write_bytes(data)
        n += 1
    return n


def main():
    out, shared, repo = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    arrs = arrays(shared)
    counts = {
        "fuzz_model": model_seeds(clean(out / "fuzz_model" / "seeds"), shared),
        "fuzz_npy": npy_seeds(clean(out / "fuzz_npy" / "seeds"), arrs),
        "fuzz_npz": npz_seeds(clean(out / "fuzz_npz" / "seeds"), arrs),
        "fuzz_image": image_seeds(clean(out / "fuzz_image" / "seeds"), shared, repo, arrs),
    }
    for t, n in counts.items():
        print(f"fuzz: {t}: {n} seed files")
    # the tiny model's input for the calibration table seeds (.ci/fuzz runs qtool calibrate)
    rng = np.random.default_rng(0)
    np.save(out / "tiny_calib.npy", rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
    if "mnist_f32" in arrs:
        np.save(out / "mnist_calib.npy", arrs["mnist_f32"][:, :, :, :])


if __name__ == "__main__":
    main()
