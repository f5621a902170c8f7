"""Plain request/response values that every event adapter translates to and from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    query: Mapping[str, str]
    body: bytes
    request_id: str = ""

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


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
