# SPDX-License-Identifier: Apache-2.0
"""Every operator of the ONNX default domain, at every opset from 7 to 28, has a definition in
qtool's op registry for the version the spec has in force at that opset (from the pinned onnx
package's schema history). Deprecated versions and string-only operators are listed explicitly."""
import json

import onnx.defs
import pytest

from harness import qtool

# qtool has no string tensors; these ops only take or produce strings.
STRING_OPS = {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch"}


def registry():
    out = {}
    for e in json.loads(qtool("ops", "--json").stdout):
        out[(e["domain"], e["op_type"])] = sorted(e["since_versions"])
    return out


def spec_versions():
    hist = {}
    for s in onnx.defs.get_all_schemas_with_history():
        if s.domain in ("", "ai.onnx"):
            hist.setdefault(s.name, {})[s.since_version] = s.deprecated
    return hist


def in_force(versions, opset):
    below = [v for v in versions if v <= opset]
    return max(below) if below else None


def test_every_default_domain_op_and_version_is_registered():
    reg = registry()
    missing, ops = [], set()
    for op, versions in sorted(spec_versions().items()):
        if op in STRING_OPS:
            continue
        for opset in range(7, 29):
            v = in_force(versions, opset)
            if v is None or versions[v]:  # not defined yet at this opset, or deprecated
                continue
            ours = in_force(reg.get(("", op), []), opset)
            if ours != v:
                missing.append(f"{op} at opset {opset} (spec version {v}, qtool {ours})")
                ops.add(op)
    assert not missing, (f"{len(missing)} (op, opset) pairs without the spec's version, ops: {', '.join(sorted(ops))}\n"
                         + "\n".join(missing[:40]))


def test_string_ops_are_refused_by_name():
    reg = registry()
    for op in STRING_OPS:
        assert ("", op) not in reg
