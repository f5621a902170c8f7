"""The web app's HTTP errors: the same JSON shape as the model API's contract.

    WebError
    ├── BadRequest            400  malformed event or body
    ├── NotFound              404  unknown page, model or file
    ├── MethodNotAllowed      405
    ├── PayloadTooLarge       413  demo upload over the limit
    ├── UnsupportedMediaType  415
    └── DemoUnavailable       503  the model's function could not be invoked (details logged)

Kept apart from ``handlers.runtime.errors`` on purpose: importing that package would load
numpy and onnxruntime into a function that never runs a model.
"""

from __future__ import annotations

import json


class WebError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def public_message(self) -> str:
        return self.message

    def body(self, request_id: str) -> str:
        return json.dumps({"error": {"code": self.code, "message": self.public_message,
                                     "request_id": request_id}}, separators=(",", ":"))


class BadRequest(WebError):
    status = 400
    code = "bad_request"


class NotFound(WebError):
    status = 404
    code = "not_found"


class MethodNotAllowed(WebError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(WebError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(WebError):
    status = 415
    code = "unsupported_media_type"


class InternalError(WebError):
    status = 500
    code = "internal_error"

    @property
    def public_message(self) -> str:
        return "internal error; see the function's log for this request id"


class DemoUnavailable(WebError):
    status = 503
    code = "demo_unavailable"

    @property
    def public_message(self) -> str:
        return "the model's function could not be reached; try again in a moment"
