#!/usr/bin/env bash
# One command: installs everything (Debian packages incl. PyTorch from python3-torch, the Python
# venv, qtool and its Python package), then trains, compresses and evaluates the digits CNN
# (examples/train_digits.py) and prints the accuracy/size table.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s python3-torch >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi
bash .ci/setup
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" .venv/bin/python examples/train_digits.py --check "$@"
