# SPDX-License-Identifier: Apache-2.0
"""onnxruntime's quantize_static on a model and a calibration .npy, as bench/bench_quantize.py runs it.

usage: python bench/ort_quantize.py MODEL CALIB.npy OUT.onnx TMPDIR METHOD [--chunk 16] [--progress FILE]

- The model is prepared the way onnxruntime's examples do: initializers dropped from graph.input and
  the opset converted to 13 (per-channel QDQ needs >= 13); this runs inside the timed process.
- QDQ, per-channel int8 weights, uint8 activations, METHOD in MinMax | Entropy | Percentile
  (CalibPercentile 99.999, qtool's default).
- Samples are fed in batches of 16 when the model's batch extent is symbolic, else one by one.
- --chunk K (default 16; 0 = off): quantize_static's calibrator is handed the data K samples at a
  time (collect_data is documented as callable many times; MinMax merges ranges, Entropy/Percentile
  merge histograms), so activations of only K samples are held at once. Unchunked,
  quantize_static keeps every intermediate activation of every sample until the end (calibrate.py,
  HistogramCalibrater.collect_data), which at 1,000 ResNet-50 samples is ~100 GB. Chunking is the
  lowest-memory way to run it and does not change its results beyond histogram-merge order.
- --progress FILE: the number of samples read so far is written there (for a run stopped at a
  memory cap).
"""
import argparse
import itertools
import sys
import time

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

ortq = sys.modules["onnxruntime.quantization.quantize"]  # the package's `quantize` name is a function


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("calib")
    ap.add_argument("out")
    ap.add_argument("tmp")
    ap.add_argument("method", choices=["MinMax", "Entropy", "Percentile"])
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--progress")
    a = ap.parse_args()

    m = onnx.load(a.model)
    inits = {t.name for t in m.graph.initializer}
    for i in [i for i in m.graph.input if i.name in inits]:
        m.graph.input.remove(i)
    if m.opset_import[0].version < 13:
        m = version_converter.convert_version(m, 13)
    tmp_model = f"{a.tmp}/ort_input.onnx"
    onnx.save(m, tmp_model, save_as_external_data=m.ByteSize() > 2**31 - 2**20)
    inp = [i for i in m.graph.input][0]
    dim0 = inp.type.tensor_type.shape.dim[0]
    batch = 16 if dim0.dim_param or dim0.dim_value <= 0 else 1
    x = np.load(a.calib, mmap_mode="r")
    progress = open(a.progress, "w") if a.progress else None

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.i = 0

        def get_next(self):
            if self.i >= len(x):
                return None
            b = np.ascontiguousarray(x[self.i:self.i + batch])
            self.i += len(b)
            if progress:
                progress.seek(0)
                progress.write(f"{self.i} {time.time()}\n")
                progress.flush()
            return {inp.name: b}

    if a.chunk > 0:
        make = ortq.create_calibrator

        def chunked_calibrator(*args, **kw):
            cal = make(*args, **kw)
            whole = cal.collect_data

            class Chunk(CalibrationDataReader):
                def __init__(self, items):
                    self.items = iter(items)

                def get_next(self):
                    return next(self.items, None)

            def collect(reader):
                per = max(1, a.chunk // batch)
                while True:
                    items = list(itertools.takewhile(lambda d: d is not None, (reader.get_next() for _ in range(per))))
                    if not items:
                        break
                    whole(Chunk(items))

            cal.collect_data = collect
            return cal

        ortq.create_calibrator = chunked_calibrator

    extra = {"CalibPercentile": 99.999} if a.method == "Percentile" else {}
    quantize_static(tmp_model, a.out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=getattr(CalibrationMethod, a.method), extra_options=extra,
                    use_external_data_format=m.ByteSize() > 2**31 - 2**20)


if __name__ == "__main__":
    main()
