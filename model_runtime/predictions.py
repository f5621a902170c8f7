"""Model outputs → the contract's prediction objects."""

from __future__ import annotations

from typing import Any

import numpy as np

from lambda_kit.errors import UnprocessableInstance
from model_store.manifest import Manifest


class ClassificationResults:
    """``{"label", "index", "score", "top": [{"label", "score"}, ...]}`` per instance."""

    def __init__(self, manifest: Manifest) -> None:
        self.labels = manifest.labels
        self._needs_softmax = manifest.output.kind == "logits"

    @property
    def max_top_k(self) -> int:
        return len(self.labels)

    def to_predictions(self, outputs: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        scores = _softmax(outputs) if self._needs_softmax else outputs.astype(np.float64)
        _require_finite(scores)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        labels = self.labels
        predictions = []
        # Plain Python floats and ints (tolist) for the per-value work: indexing numpy
        # arrays one scalar at a time costs more than the model run on a small batch.
        for row, ranked in zip(scores.tolist(), order.tolist(), strict=True):
            top = [{"label": labels[i], "score": round(row[i], 6)} for i in ranked]
            best = ranked[0]
            predictions.append({"label": labels[best], "index": best,
                                "score": top[0]["score"], "top": top})
        return predictions


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


class RegressionResults:
    """``{"value": float}`` per instance; ``top_k`` does not apply."""

    max_top_k = 0

    def __init__(self, manifest: Manifest) -> None:
        self.name = manifest.name

    def to_predictions(self, outputs: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        values = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)[:, 0]
        _require_finite(values)
        return [{"value": float(value)} for value in values]


def _require_finite(values: np.ndarray) -> None:
    """A finite input can still overflow inside the graph (3e38 through a scaler): that
    instance gets a 422, not a NaN that JSON cannot carry."""
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.argmin(finite.reshape(len(values), -1).all(axis=1)))
        raise UnprocessableInstance(
            f"instances[{row}]: the model's output is not a finite number for this instance; "
            "its values are likely far outside the range the model was trained on (GET the "
            "model's card for each feature's min and max)", code="non_finite_output")


def results_for(manifest: Manifest) -> ClassificationResults | RegressionResults:
    """The result shaper for the manifest's task."""
    if manifest.task == "tabular-regression":
        return RegressionResults(manifest)
    return ClassificationResults(manifest)
