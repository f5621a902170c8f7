"""The web app's HTTP errors: the model API's own error family (one contract, one shape).

    HttpError (lambda_kit.errors)   400 BadRequest, 404 NotFound, 405 MethodNotAllowed,
    │                                     413 PayloadTooLarge, 415 UnsupportedMediaType, 500
    └── DemoUnavailable       503  the model's function could not be invoked (details logged)

``model_runtime`` loads its exports lazily, so importing its errors module costs the
web function nothing of numpy or onnxruntime.
"""

from __future__ import annotations

import json

from lambda_kit.errors import (
    BadRequest,
    HttpError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

# The app's name for the family's root.
WebError = HttpError

__all__ = ["BadRequest", "DemoUnavailable", "InternalError", "MethodNotAllowed", "NotFound",
           "PayloadTooLarge", "UnsupportedMediaType", "WebError", "error_body"]


class DemoUnavailable(HttpError):
    status = 503
    code = "demo_unavailable"

    @property
    def public_message(self) -> str:
        return "the model's function could not be reached; try again in a moment"


def error_body(error: HttpError, request_id: str) -> str:
    """The contract's error JSON for ``error``."""
    return json.dumps({"error": {"code": error.code, "message": error.public_message,
                                 "request_id": request_id}}, separators=(",", ":"))
