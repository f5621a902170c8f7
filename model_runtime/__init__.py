"""The model runtime: what serves a model over HTTP (``serve_model``) and in bulk
(``batch.serve_batch``); the entry files in ``handlers/`` only name their model.

It stands on ``lambda_kit`` (events, errors, HTTP values, settings resolution), beside the
web app, which never imports it. The exports load on first use (PEP 562), so importing a
light module of this package never pays for numpy and onnxruntime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_kit.context import LambdaHandler
    from model_runtime.lambda_entry import serve_model
    from model_runtime.settings import Settings

__all__ = ["LambdaHandler", "Settings", "serve_model"]
_HOMES = {"LambdaHandler": "lambda_kit.context",
          "serve_model": "model_runtime.lambda_entry",
          "Settings": "model_runtime.settings"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'model_runtime' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
