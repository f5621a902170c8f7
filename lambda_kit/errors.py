"""The HTTP error family. Each error carries its status and a stable snake_case code.

    HttpError
    ├── BadRequest            400  malformed JSON, bad base64, bad query parameter
    ├── NotFound              404  unknown route or model
    ├── MethodNotAllowed      405
    ├── PayloadTooLarge       413  body, batch or image too large
    ├── UnsupportedMediaType  415  content type or image format
    ├── UnprocessableInstance 422  valid JSON, invalid instance
    ├── InternalError         500  never shows details to the client
    └── ServiceUnavailable    503  the model could not be loaded (details in the log)

Every function answers one of them with the same JSON envelope, built here only
(``error_document`` / ``error_body``)::

    {"error": {"code": "...", "message": "...", "request_id": "..."}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

# A message is shown to clients as JSON and written to logs: an unpaired surrogate (which
# a client can smuggle in through a JSON escape) is not valid Unicode in either.
_SURROGATES = re.compile("[\ud800-\udfff]")
MAX_MESSAGE_CHARS = 1000


def printable(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with unpaired surrogates replaced (U+FFFD) and cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _SURROGATES.sub("\ufffd", text)


class HttpError(Exception):
    status: int = 500
    code: str = "internal_error"
    # What a client sees in place of the message (a 5xx's details stay in the log); None:
    # the message itself.
    redacted_message: ClassVar[str | None] = None

    def __init__(self, message: str, *, code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        message = printable(message)
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def public_message(self) -> str:
        """What the client may see; 5xx details stay in the log."""
        return self.message if self.redacted_message is None else self.redacted_message


class BadRequest(HttpError):
    status = 400
    code = "bad_request"


class NotFound(HttpError):
    status = 404
    code = "not_found"


class MethodNotAllowed(HttpError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(HttpError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(HttpError):
    status = 415
    code = "unsupported_media_type"


class UnprocessableInstance(HttpError):
    status = 422
    code = "invalid_instance"


class InternalError(HttpError):
    status = 500
    code = "internal_error"
    redacted_message = "internal error; see the function's log for this request id"


class ServiceUnavailable(HttpError):
    status = 503
    code = "model_unavailable"
    redacted_message = "the model is not available right now; retry later (details in the log)"


def error_document(error: HttpError, request_id: str) -> dict[str, Any]:
    """The contract's error envelope for ``error`` (5xx details never leave the log)."""
    return {"error": {"code": error.code, "message": error.public_message,
                      "request_id": request_id}}


def error_body(error: HttpError, request_id: str) -> str:
    """``error_document`` as the compact JSON text a response carries."""
    return json.dumps(error_document(error, request_id), separators=(",", ":"))
