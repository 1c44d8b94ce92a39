# SPDX-License-Identifier: Apache-2.0
"""Trains a small MLP on scikit-learn's bundled handwritten digits (real data, 1,797 8x8 images,
UCI ML hand-written digits) and exports it as an ONNX Gemm/Relu model, plus calibration and
evaluation data as .npy. Needs no network and no ../shared.

usage: python make_model.py OUTDIR
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    clf = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=300, random_state=0).fit(x_train, y_train)

    nodes, inits, prev = [], [], "image"
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        inits += [numpy_helper.from_array(w.T.astype(np.float32), f"fc{i}.weight"),
                  numpy_helper.from_array(b.astype(np.float32), f"fc{i}.bias")]
        last = i == len(clf.coefs_) - 1
        out_name = "logits" if last else f"fc{i}"
        nodes.append(helper.make_node("Gemm", [prev, f"fc{i}.weight", f"fc{i}.bias"], [out_name], name=f"fc{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [out_name], [f"relu{i}"], name=f"relu{i}"))
            out_name = f"relu{i}"
        prev = out_name
    graph = helper.make_graph(nodes, "digits_mlp",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qtool-example")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out / "digits_mlp.onnx")
    np.save(out / "calib.npy", x_train[:300])
    np.save(out / "test.npy", x_test)
    np.save(out / "test_labels.npy", y_test)
    print(f"trained MLP 64-256-128-10 on {len(x_train)} digits; sklearn test accuracy {clf.score(x_test, y_test):.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/digits"))
