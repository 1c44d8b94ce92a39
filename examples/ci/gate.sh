#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI gate example: build qtool, compress a model, and fail the job when the compressed model is
# too big or lost too much accuracy. The model is an MLP trained on scikit-learn's bundled digits
# (examples/digits/make_model.py), so this runs anywhere without downloads.
#
# usage: bash examples/ci/gate.sh [MAX_SIZE] [MAX_DROP]     (defaults: 64KiB and 1.0 point)
# exit:  0 gate passed, 1 a rule failed (one line per rule), 2 bad input
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX_SIZE="${1:-64KiB}"
MAX_DROP="${2:-1.0}"
[ -x build/qtool ] && [ -x .venv/bin/python ] || bash .ci/setup
OUT=out/ci-gate
.venv/bin/python examples/digits/make_model.py "$OUT" >/dev/null
build/qtool -q quantize "$OUT/digits_mlp.onnx" --bits 8 --calib "$OUT/calib.npy" -o "$OUT/model.int8.onnx" >/dev/null
build/qtool gate "$OUT/model.int8.onnx" --max-size "$MAX_SIZE" \
  --max-drop "$MAX_DROP" --ref "$OUT/digits_mlp.onnx" --data "$OUT/test.npy" --labels "$OUT/test_labels.npy"
