#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that every source file in the repository carries the licence's SPDX header
(`SPDX-License-Identifier: Apache-2.0`, see LICENSE) in its first lines; `--fix` adds it.

Sources are the files git tracks (every file under the repository outside build/output folders when
git or .git is absent, e.g. in an unpacked source archive) with these kinds: C/C++ (.c .cpp .h .hpp .in), CMake
(CMakeLists.txt, .cmake), Python (.py), shell (.sh and extension-less scripts with a shell
shebang), TOML, YAML, Dockerfiles and pip requirements files. Data (models, arrays, JSON, Markdown,
the version table .ci/debian-versions) and markers (py.typed) are not sources; neither is vendored
code under third_party/, which keeps its own licence files (e.g. third_party/indicators/LICENSE).
The header goes on line 1, or line 2 after a shebang, in the file's comment syntax:
  // ...  (C++ and C files whose first line is a // comment or code), /* ... */ (C files that
  start with a /* comment), # ... (everything else).
Usage: python3 .ci/spdx.py [--fix]     exit 0 all present, 1 some missing (listed one per line).
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAG = "SPDX-License-Identifier: Apache-2.0"
C_LIKE = {".c", ".cpp", ".h", ".hpp", ".cc"}
HASH = {".py", ".sh", ".cmake", ".toml", ".yml", ".yaml"}


def comment_style(path: Path, first_line: str):
    """'//', '/*' or '#' for a source file, None for a file that is not a source."""
    name = path.name
    if name in ("py.typed", "debian-versions") or path.relative_to(ROOT).parts[0] == "third_party":
        return None
    suffix = path.suffix
    if name.endswith(".in"):  # configured templates: judge by the name without .in
        suffix = Path(name[:-3]).suffix
        if name.endswith(".pc.in"):
            return "#"
    if suffix in C_LIKE:
        return "/*" if suffix in (".c", ".h") and first_line.startswith("/*") else "//"
    if suffix in HASH or name in ("CMakeLists.txt", "Dockerfile") or name.endswith("requirements.txt") \
            or name.startswith("requirements-"):
        return "#"
    if suffix == "" and first_line.startswith("#!") and ("sh" in first_line or "python" in first_line):
        return "#"
    return None


def header(style: str) -> str:
    return f"/* {TAG} */\n" if style == "/*" else f"{style} {TAG}\n"


SKIP_DIRS = {".git", "out", "dist", "__pycache__"}


def source_files():
    try:
        r = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
        if r.returncode == 0:
            return r.stdout.decode().split("\0")
    except FileNotFoundError:
        pass
    files = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP_DIRS or p.startswith((".venv", "build")) for p in parts[:-1]):
            continue
        files.append(str(path.relative_to(ROOT)))
    return files


def main() -> int:
    fix = "--fix" in sys.argv[1:]
    files = source_files()
    missing = []
    for rel in filter(None, files):
        path = ROOT / rel
        if not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary data
        lines = text.splitlines(keepends=True)
        style = comment_style(path, lines[0] if lines else "")
        if style is None or any(TAG in line for line in lines[:5]):
            continue
        missing.append(rel)
        if fix:
            at = 1 if lines and lines[0].startswith("#!") else 0
            lines.insert(at, header(style))
            path.write_text("".join(lines))
    for rel in missing:
        print(("added SPDX header: " if fix else "no SPDX header: ") + rel)
    return 1 if missing and not fix else 0


if __name__ == "__main__":
    sys.exit(main())
