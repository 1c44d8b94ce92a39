# SPDX-License-Identifier: Apache-2.0
"""Prints onnxruntime's top-1 for the fp32 and int8 files (the independent referee)."""
import sys

import numpy as np
import onnxruntime as ort

x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
for path in sys.argv[3:]:
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    pred = s.run(None, {s.get_inputs()[0].name: x})[0].argmax(1)
    print(f"  onnxruntime top-1 {100 * (pred == y).mean():6.2f}%  {path}")
