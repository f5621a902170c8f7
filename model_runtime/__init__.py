"""The model runtime: what serves a model over HTTP (``serve_model``) and in bulk
(``batch.serve_batch``); the entry files in ``handlers/`` only name their model.

It stands on ``lambda_kit`` (events, errors, HTTP values, settings resolution), beside the
web app, which never imports it. The exports load on first use (PEP 562), so importing a
light module of this package never pays for numpy and onnxruntime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from lambda_kit.context import LambdaHandler
    from model_runtime.lambda_entry import serve_model
    from model_runtime.settings import Settings

__all__ = ["LambdaHandler", "Settings", "serve_model"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``, whose ``__init__`` only
    re-exports: ``homes`` maps each exported name to the module defining it, imported the
    first time the name is asked for. The package imports the same names under
    ``TYPE_CHECKING`` for mypy and IDEs. Defined here, not in a module of its own, so that
    this package and its subpackages (``model_runtime.pool``) pay no import for it."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(home), name)

    return __getattr__


__getattr__ = lazy_exports(__name__, {"LambdaHandler": "lambda_kit.context",
                                      "serve_model": "model_runtime.lambda_entry",
                                      "Settings": "model_runtime.settings"})
