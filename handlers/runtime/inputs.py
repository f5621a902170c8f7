"""Request bodies → a model batch: JSON ``{"instances": [...]}`` or, for images, a raw body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from handlers.runtime.errors import (
    BadRequest,
    PayloadTooLarge,
    UnprocessableInstance,
    UnsupportedMediaType,
)
from handlers.runtime.http import HttpRequest
from handlers.runtime.inference import Batch

JSON_TYPES = ("application/json", "")  # a missing Content-Type is read as JSON
RAW_TYPES_PREFIX = "image/"
OCTET_STREAM = "application/octet-stream"


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
    media_type = request.media_type
    if is_json(media_type):
        instances = _instances(request.body)
        if not instances:
            raise UnprocessableInstance("'instances' is empty; send 1 to "
                                        f"{max_batch} instances", code="empty_batch")
        if len(instances) > max_batch:
            raise PayloadTooLarge(f"{len(instances)} instances in one request; the limit is "
                                  f"{max_batch}: split the batch", code="batch_too_large")
        return parser.from_instances(instances)
    if is_raw_image(media_type) and parser.accepts_raw_body:
        if not request.body:
            raise UnprocessableInstance("the body is empty; send one image", code="empty_image")
        return parser.from_raw_body(request.body, media_type)
    accepted = "application/json" + (", image/* or application/octet-stream"
                                      if parser.accepts_raw_body else "")
    raise UnsupportedMediaType(f"Content-Type {media_type!r} is not supported; send {accepted}",
                               code="unsupported_media_type")


def _instances(body: bytes) -> list[Any]:
    if not body.strip():
        raise BadRequest('the body is empty; send {"instances": [...]}', code="malformed_json")
    payload = decode_json(body)
    if not isinstance(payload, Mapping) or "instances" not in payload:
        raise UnprocessableInstance('the body must be an object {"instances": [...]}',
                                    code="missing_instances")
    unknown = sorted(set(payload) - {"instances"})
    if unknown:
        raise UnprocessableInstance(f"unknown top-level field(s) {unknown}; only 'instances'",
                                    code="unknown_field")
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise UnprocessableInstance("'instances' must be a list", code="missing_instances")
    return instances


def decode_json(data: bytes | str, what: str = "the body") -> Any:
    """The one JSON decoding of client input (request bodies and bulk JSON Lines rows)."""
    try:
        return json.loads(data, parse_constant=_non_standard_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}", code="malformed_json") from None


def _non_standard_constant(token: str) -> float:
    # NaN and ±Infinity are not JSON, but clients send them; parse so the instance
    # validator can answer 422 naming the feature, rather than a vague 400.
    return float(token.replace("Infinity", "inf"))
