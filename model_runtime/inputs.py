"""Request bodies → a model batch: JSON ``{"instances": [...]}`` or, for images, a raw body.

The steps, in order: the body limit (413), the Content-Encoding (gzip/deflate decoded up to
the same limit), the Content-Type (one media type; repeated equal values are fine), then
the JSON reader (``model_runtime.json_input``) or the raw image reader. A request with
no Content-Type is read by what its body is: JSON when it starts like JSON, otherwise a
raw image for image models, and a 415 naming the missing header for anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from lambda_kit.content_encoding import decode_content_encoding
from lambda_kit.errors import (
    BadRequest,
    PayloadTooLarge,
    UnprocessableInstance,
    UnsupportedMediaType,
)
from lambda_kit.http import HttpRequest
from model_runtime.inference import Batch
from model_runtime.json_input import parse_json
from preprocessing.formats import sniff_format, sniff_text_mangled_image

JSON_TYPES = ("application/json",)
RAW_TYPES_PREFIX = "image/"
OCTET_STREAM = "application/octet-stream"
_JSON_START = (b"{", b"[")
_NO_CONTENT_TYPE = "the request has no Content-Type header"


class InputParser(Protocol):
    accepts_raw_body: bool

    def from_instances(self, instances: list[Any]) -> Batch: ...

    def from_raw_body(self, body: bytes, media_type: str) -> np.ndarray: ...


def is_json(media_type: str) -> bool:
    return media_type in JSON_TYPES or media_type.endswith("+json")


def is_raw_image(media_type: str) -> bool:
    return media_type.startswith(RAW_TYPES_PREFIX) or media_type == OCTET_STREAM


def parse_batch(request: HttpRequest, parser: InputParser, *, max_batch: int,
                max_body_bytes: int) -> Batch:
    """Validate the body against the contract and return the batch the model will run."""
    if len(request.body) > max_body_bytes:
        raise PayloadTooLarge(
            f"the body is {len(request.body)} bytes; the limit is {max_body_bytes}",
            code="body_too_large")
    body = decode_content_encoding(request.body, request.headers.get("content-encoding", ""),
                                   max_body_bytes)
    media_type = request.media_type
    accepted = "application/json" + (", image/* or application/octet-stream"
                                      if parser.accepts_raw_body else "")
    if not media_type:
        if body.lstrip()[:1] in _JSON_START or not body.strip():
            return _from_json(body, parser, max_batch,
                              hint=f"{_NO_CONTENT_TYPE}: send Content-Type: {accepted}")
        if parser.accepts_raw_body:
            return _from_raw(body, parser, media_type)
        raise UnsupportedMediaType(f"{_NO_CONTENT_TYPE} and the body is not JSON; send "
                                   f'{{"instances": [...]}} with Content-Type: {accepted}',
                                   code="unsupported_media_type")
    if is_json(media_type):
        # The image sniffing behind the hint runs only when the JSON is refused.
        return _from_json(body, parser, max_batch,
                          hint=lambda: _binary_hint(body, media_type))
    if is_raw_image(media_type) and parser.accepts_raw_body:
        return _from_raw(body, parser, media_type)
    raise UnsupportedMediaType(f"Content-Type {media_type!r} is not supported; send {accepted}",
                               code="unsupported_media_type")


def _from_json(body: bytes, parser: InputParser, max_batch: int,
               hint: str | Callable[[], str]) -> Batch:
    """``hint`` (or what it returns, asked only then) is added to a malformed-JSON error."""
    if isinstance(hint, str):
        instances = _instances(body, hint)
    else:
        try:
            instances = _instances(body)
        except BadRequest as error:
            text = hint() if error.code == "malformed_json" else ""
            if not text:
                raise
            raise BadRequest(f"{error.message}; {text}", code=error.code) from None
    if not instances:
        raise UnprocessableInstance("'instances' is empty; send 1 to "
                                    f"{max_batch} instances", code="empty_batch")
    if len(instances) > max_batch:
        raise PayloadTooLarge(f"{len(instances)} instances in one request; the limit is "
                              f"{max_batch}: split the batch", code="batch_too_large")
    return parser.from_instances(instances)


def _from_raw(body: bytes, parser: InputParser, media_type: str) -> Batch:
    if not body:
        raise UnprocessableInstance("the body is empty; send one image", code="empty_image")
    return parser.from_raw_body(body, media_type)


def _binary_hint(body: bytes, media_type: str) -> str:
    """What to say when a JSON body turns out to be an image (often: no or a default type)."""
    found = sniff_format(body[:32]) or sniff_text_mangled_image(body[:32])
    if found is None:
        return ""
    return (f"the body looks like a {found} file sent as {media_type}: send an image with "
            "Content-Type image/* or application/octet-stream")


def _instances(body: bytes, hint: str = "") -> list[Any]:
    if not body.strip():
        raise BadRequest('the body is empty; send {"instances": [...]}'
                         + (f"; {hint}" if hint else ""), code="malformed_json")
    payload = parse_json(body, hint=hint)
    if not isinstance(payload, Mapping) or "instances" not in payload:
        raise UnprocessableInstance('the body must be an object {"instances": [...]}',
                                    code="missing_instances")
    unknown = sorted(set(payload) - {"instances"})
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise UnprocessableInstance(f"unknown top-level field(s) {shown}; only 'instances'",
                                    code="unknown_field")
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise UnprocessableInstance("'instances' must be a list", code="missing_instances")
    return instances


def decode_json(data: bytes | str, what: str = "the body") -> Any:
    """The one JSON decoding of client input (request bodies and bulk JSON Lines rows)."""
    return parse_json(data, what)
