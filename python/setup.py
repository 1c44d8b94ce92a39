# SPDX-License-Identifier: Apache-2.0
"""Builds libqtool.so with CMake from the repository this folder sits in and ships it inside the
package (pip install ./python). Needs the build dependencies of qtool (bash .ci/setup installs them)."""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent


class BuildWithCMake(build_py):
    def run(self):
        super().run()
        # QTOOL_BUILD_DIR: reuse an existing CMake build folder (CI builds once for everything)
        build = Path(os.environ.get("QTOOL_BUILD_DIR", ROOT / "build-python"))
        if not (build / "CMakeCache.txt").exists():
            subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                            "-DQTOOL_BUILD_TESTS=OFF"] + (["-G", "Ninja"] if shutil.which("ninja") else []), check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "qtool_shared", "--parallel",
                        str(os.cpu_count() or 2)], check=True)
        target = Path(self.build_lib) / "qtool"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build / "libqtool.so", target / "libqtool.so")


setup(cmdclass={"build_py": BuildWithCMake})
