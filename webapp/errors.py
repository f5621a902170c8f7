"""The web app's HTTP errors: the model API's own error family (one contract, one shape).

    HttpError (lambda_kit.errors)   400 BadRequest, 404 NotFound, 405 MethodNotAllowed,
    │                                     413 PayloadTooLarge, 415 UnsupportedMediaType, 500
    └── DemoUnavailable       503  the model's function could not be invoked (details logged)

The family and its one JSON envelope (``error_body``) live in ``lambda_kit``, below both
the model runtime and this app.
"""

from __future__ import annotations

from lambda_kit.errors import (
    BadRequest,
    HttpError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_body,
)

# The app's name for the family's root.
WebError = HttpError

__all__ = ["BadRequest", "DemoUnavailable", "InternalError", "MethodNotAllowed", "NotFound",
           "PayloadTooLarge", "UnsupportedMediaType", "WebError", "error_body"]


class DemoUnavailable(HttpError):
    status = 503
    code = "demo_unavailable"
    redacted_message = "the model's function could not be reached; try again in a moment"
