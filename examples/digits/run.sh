#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job on a real model with real data, no ../shared needed: train an MLP on
# scikit-learn's bundled digits, quantize it to int8 with calibration, check it in onnxruntime,
# and sweep bit widths and sparsity into the accuracy/size report (out/digits/sweep/report.html).
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
echo
echo "== the accuracy/size tradeoff: every bit width, with and without 50% pruning (qtool sweep) =="
build/qtool -q sweep "$OUT/digits_mlp.onnx" --calib "$OUT/calib.npy" --data "$OUT/test.npy" \
  --labels "$OUT/test_labels.npy" --bits 8,4,2,1 --sparsity 0,0.5 --out-dir "$OUT/sweep"
