#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One command: installs everything (Debian packages incl. PyTorch from python3-torch, the Python
# venvs, qtool and its Python package), then trains, compresses and evaluates the digits CNN
# (examples/train_digits.py) and prints the accuracy/size table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup --torch
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" .venv-torch/bin/python examples/train_digits.py --check "$@"
