"""The inference seam: a ``Predictor`` runs a batch; ``OnnxPredictor`` is the real one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeAlias

import numpy as np

# One array for a single-input graph, or the tensors of a graph with one input per feature.
Batch: TypeAlias = np.ndarray | Mapping[str, np.ndarray]


def batch_size(batch: Batch) -> int:
    return len(next(iter(batch.values()))) if isinstance(batch, Mapping) else len(batch)


class Predictor(Protocol):
    def predict(self, batch: Batch) -> np.ndarray: ...


class OnnxPredictor:
    """One ONNX Runtime session, created once at init and reused by every request."""

    def __init__(self, model_bytes: bytes, *, input_name: str, output_name: str,
                 threads: int = 1) -> None:
        import onnxruntime as ort  # imported here so tests with fake predictors stay light

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads burn billed CPU time between requests on Lambda's small vCPU share.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(model_bytes, sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._input_name = input_name
        self._output_names = [output_name]

    @property
    def session(self) -> Any:
        """The onnxruntime session (its inputs and outputs are checked against the manifest)."""
        return self._session

    def predict(self, batch: Batch) -> np.ndarray:
        feeds = batch if isinstance(batch, Mapping) else {self._input_name: batch}
        outputs = self._session.run(self._output_names, feeds)
        return np.asarray(outputs[0])
