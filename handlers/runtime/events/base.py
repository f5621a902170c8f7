"""What an event adapter does: recognise its event shape, and translate both ways."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Protocol

from handlers.runtime.errors import BadRequest
from handlers.runtime.http import HttpRequest, HttpResponse

LambdaEvent = Mapping[str, Any]


class EventAdapter(Protocol):
    name: str

    def matches(self, event: LambdaEvent) -> bool: ...

    def to_request(self, event: LambdaEvent) -> HttpRequest: ...

    def to_response(self, response: HttpResponse) -> dict[str, Any]: ...


def decode_body(event: LambdaEvent) -> bytes:
    """The body as bytes, undoing API Gateway's base64 for binary payloads."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadRequest("the event body must be a string", code="invalid_event")
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("the body is marked base64-encoded but is not valid base64",
                         code="invalid_base64") from None


def lower_keys(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (values or {}).items()}


def plain_keys(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def proxy_response(response: HttpResponse) -> dict[str, Any]:
    """The proxy-integration response shape that REST, HTTP API and Function URLs all accept."""
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": response.body,
        "isBase64Encoded": False,
    }
