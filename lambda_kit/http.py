"""Plain request/response values that every event adapter translates to and from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_kit.errors import UnsupportedMediaType


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ","
    query: Mapping[str, str]  # repeated parameters joined with ","
    body: bytes
    request_id: str = ""

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased ("" when absent)."""
        return media_type_of(self.headers.get("content-type", ""))


def media_type_of(header: str) -> str:
    """The one media type a Content-Type header names, without parameters.

    HTTP APIs join a repeated header with commas ("application/json,application/json");
    the same type twice is that type, two different ones are refused (415).
    """
    # A part without a "/" is the tail of a quoted parameter (boundary="a,b"), not a type.
    found = {kind for part in header.split(",")
             if "/" in (kind := part.split(";", 1)[0].strip().lower())}
    if len(found) > 1:
        shown = ", ".join(sorted(found))
        raise UnsupportedMediaType(f"the request has conflicting Content-Type values ({shown}); "
                                   "send exactly one", code="unsupported_media_type")
    if found:
        return found.pop()
    return header.split(";", 1)[0].strip().lower()  # "" when absent; a bare word is refused


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
             ) -> HttpResponse:
        return cls.raw_json(status, json.dumps(payload, separators=(",", ":"), allow_nan=False),
                            headers)

    @classmethod
    def raw_json(cls, status: int, body: str, headers: Mapping[str, str] | None = None
                 ) -> HttpResponse:
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})
