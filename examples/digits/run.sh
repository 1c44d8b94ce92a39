#!/usr/bin/env bash
# The main job on a real model with real data, no ../shared needed: train an MLP on
# scikit-learn's bundled digits, quantize it to int8 with calibration, and print the tradeoff.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash .ci/setup
OUT=out/digits
.venv/bin/python examples/digits/make_model.py "$OUT"
build/qtool quantize "$OUT/digits_mlp.onnx" --bits 8 --calib "$OUT/calib.npy"
echo
echo "== accuracy (qtool executor, int8 vs fp32) =="
build/qtool eval "$OUT/digits_mlp.int8.onnx" --data "$OUT/test.npy" --labels "$OUT/test_labels.npy" --ref "$OUT/digits_mlp.onnx"
echo
echo "== accuracy (onnxruntime) =="
.venv/bin/python examples/digits/ort_check.py "$OUT/test.npy" "$OUT/test_labels.npy" "$OUT/digits_mlp.onnx" "$OUT/digits_mlp.int8.onnx"
