# SPDX-License-Identifier: Apache-2.0
"""The `qtool` console script of the wheel: runs the native qtool binary shipped inside the package
(qtool/bin/qtool, the same C++ program `cmake --install` puts on PATH) with the same arguments, so
the CLI needs no Python at run time beyond this exec. Exit codes are the binary's (0 ok, 1 qtool's own
failure, 2 bad input); a wheel without the binary (a source checkout on sys.path) exits 1 with a
message naming where it looked."""
import os
import sys
from pathlib import Path


def binary() -> Path:
    return Path(__file__).resolve().parent / "bin" / "qtool"


def main() -> None:
    exe = binary()
    if not os.access(exe, os.X_OK):
        sys.stderr.write(f"qtool: error: the native binary {exe} is missing: install the wheel "
                         "(pip install qtool-onnx, or pip install . in a checkout)\n")
        sys.exit(1)
    os.execv(exe, ["qtool"] + sys.argv[1:])


if __name__ == "__main__":
    main()
