"""``serve_batch``: a model's bulk handler, beside its HTTP handler in the same module.

    handler = serve_model("digits")
    batch_handler = serve_batch(handler)   # the same loaded model, not a second one

Both functions of a model import that module, so the HTTP function must not pay for the
bulk path: given a handler, the bulk machinery is imported on the first batch only. Given
a model name, it is built (and the model loaded) now, at init.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_kit.context import LambdaContext, LambdaHandler

# The bulk handler's type: a Lambda handler like the HTTP one (kept under this name).
BatchHandler = LambdaHandler


def serve_batch(model: str | Callable[..., Any], **options: Any) -> BatchHandler:
    """The bulk handler for ``model`` (a name, or the handler ``serve_model`` returned);
    ``options`` go to ``entry.build_batch_handler`` (settings, batch_settings, loader, s3)."""
    if isinstance(model, str):
        from model_runtime.batch.entry import build_batch_handler

        return build_batch_handler(model, **options)
    if not callable(model):
        raise TypeError("serve_batch takes a model name or a handler from serve_model")
    built: list[BatchHandler] = []

    def batch_handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        if not built:
            from model_runtime.batch.entry import build_batch_handler

            built.append(build_batch_handler(model, **options))
        return built[0](event, context)

    return batch_handler
