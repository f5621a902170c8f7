"""Small real ONNX models built with onnx.helper, published to a throwaway store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_store import Feature, LocalStore, Manifest, OutputSpec, TabularSpec

TINY_FEATURES = ("alpha", "beta", "gamma")
TINY_LABELS = ("no", "yes")


def tiny_tabular_onnx(weights: np.ndarray | None = None) -> bytes:
    """probabilities = softmax(x @ W + b) for 3 features and 2 classes."""
    w = weights if weights is not None else np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 2.0]])
    inits = [numpy_helper.from_array(w.astype(np.float32), "W"),
             numpy_helper.from_array(np.array([0.1, -0.1], np.float32), "B")]
    nodes = [helper.make_node("MatMul", ["input", "W"], ["xw"]),
             helper.make_node("Add", ["xw", "B"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def tiny_tabular_manifest(name: str = "tiny") -> Manifest:
    return Manifest(
        name=name, task="tabular-classification",
        input=TabularSpec(features=tuple(Feature(n) for n in TINY_FEATURES)),
        output=OutputSpec("probabilities"), labels=TINY_LABELS, opset=17,
        description="three-feature linear test model")


def publish_tiny_tabular(store_root: Path, name: str = "tiny",
                         weights: np.ndarray | None = None) -> Manifest:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.onnx"
        path.write_bytes(tiny_tabular_onnx(weights))
        return LocalStore(store_root).publish(tiny_tabular_manifest(name), path)


def tiny_regression_onnx() -> bytes:
    """value = x @ [2, -1, 0.5] + 3 for the same three features, one value per row."""
    inits = [numpy_helper.from_array(np.array([[2.0], [-1.0], [0.5]], np.float32), "W"),
             numpy_helper.from_array(np.array([3.0], np.float32), "B")]
    nodes = [helper.make_node("MatMul", ["input", "W"], ["xw"]),
             helper.make_node("Add", ["xw", "B"], ["value"])]
    graph = helper.make_graph(
        nodes, "tiny_regression",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def publish_tiny_regression(store_root: Path, name: str = "tinyreg") -> Manifest:
    manifest = Manifest(
        name=name, task="tabular-regression",
        input=TabularSpec(features=tuple(Feature(n) for n in TINY_FEATURES)),
        output=OutputSpec("value", kind="values"), labels=(), opset=17,
        description="three-feature linear regression test model")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.onnx"
        path.write_bytes(tiny_regression_onnx())
        return LocalStore(store_root).publish(manifest, path)
