"""The naive baselines: what serving the teacher straight from training would look like.

Each builder loads a teacher the obvious way (``joblib.load``; ``torch.load`` of the
state_dict into the module) and returns a Lambda-style handler that answers the same
API Gateway request as the featherserve handler, with the same response shape. Input
parsing is deliberately as plain as it gets, and images go through featherserve's own
``image_bytes_to_array``, so the difference measured is the model runtime, not the parsing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_store.manifest import Manifest

Handler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
# Where a pickled "teacher" may be a bare estimator or a dict holding one.
_ESTIMATOR_KEYS = ("model", "teacher", "estimator", "pipeline", "classifier")


def joblib_teacher_handler(teacher: str, manifest: str) -> Handler:
    """Unpickle a scikit-learn teacher with joblib; predict_proba per request."""
    import joblib

    spec = Manifest.from_json(Path(manifest).read_bytes())
    features = list(getattr(spec.input, "feature_names", ()))
    model = find_estimator(joblib.load(teacher))

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        rows = [[row[f] for f in features] if isinstance(row, dict) else row
                for row in _instances(event)]
        probabilities = model.predict_proba(np.asarray(rows, dtype=np.float64))
        return _response(spec, np.asarray(probabilities))

    return handler


def torch_teacher_handler(teacher: str, manifest: str) -> Handler:
    """Rebuild the PyTorch teacher from its state_dict checkpoint; run it eagerly per request."""
    import torch

    from model_store.manifest import ImageSpec
    from preprocessing.imaging import image_bytes_to_array
    from training.image.models import load_teacher_checkpoint

    spec = Manifest.from_json(Path(manifest).read_bytes())
    if not isinstance(spec.input, ImageSpec):
        raise TypeError(f"{manifest}: the torch baseline serves image models only")
    image_spec = spec.input
    model, _ = load_teacher_checkpoint(Path(teacher))

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        batch = np.stack([image_bytes_to_array(base64.b64decode(row["b64"]), image_spec)
                          for row in _instances(event)])
        with torch.inference_mode():
            probabilities = torch.softmax(model(torch.from_numpy(batch)), dim=1).numpy()
        return _response(spec, probabilities)

    return handler


def find_estimator(loaded: Any) -> Any:
    """The object with ``predict_proba`` in what ``joblib.load`` returned."""
    if hasattr(loaded, "predict_proba"):
        return loaded
    if isinstance(loaded, Mapping):
        for key in (*_ESTIMATOR_KEYS, *loaded):
            if hasattr(loaded.get(key), "predict_proba"):
                return loaded[key]
    raise TypeError(f"no estimator with predict_proba in the teacher ({type(loaded).__name__})")


def _instances(event: Mapping[str, Any]) -> Sequence[Any]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    instances: Sequence[Any] = json.loads(body)["instances"]
    return instances


def _response(spec: Manifest, probabilities: np.ndarray) -> dict[str, Any]:
    labels = spec.labels
    top_k = min(5, probabilities.shape[1])
    predictions = []
    for row in probabilities:
        order = np.argsort(row)[::-1][:top_k]
        predictions.append({
            "label": labels[int(order[0])], "index": int(order[0]), "score": float(row[order[0]]),
            "top": [{"label": labels[int(i)], "score": float(row[i])} for i in order]})
    body = {"model": spec.name, "version": spec.version, "predictions": predictions}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}
