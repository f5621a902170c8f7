"""Real-shaped API Gateway events from tests/events/, and small edits of them."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from featherserve.project import project_root

EVENTS = project_root() / "tests" / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())  # type: ignore[no-any-return]


def with_body(event: dict[str, Any], body: bytes | str | None, *, content_type: str | None,
              base64_encoded: bool | None = None) -> dict[str, Any]:
    """A copy of ``event`` carrying ``body`` with the given Content-Type (None: no header).

    Binary bodies are base64-encoded as API Gateway does, unless told otherwise.
    """
    if base64_encoded is None:
        base64_encoded = isinstance(body, bytes) and not _is_utf8(body)
    event = copy.deepcopy(event)
    headers = {k: v for k, v in (event.get("headers") or {}).items()
               if k.lower() not in ("content-type", "content-length")}
    if content_type is not None:
        headers["content-type"] = content_type
    event["headers"] = headers
    event.pop("multiValueHeaders", None)
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if base64_encoded else body.decode("utf-8")
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return event


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def with_route(event: dict[str, Any], method: str, path: str,
               query: dict[str, str] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if event.get("version") == "2.0":
        event["rawPath"] = path
        event["requestContext"]["http"].update(method=method, path=path)
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    else:
        event["httpMethod"] = method
        event["path"] = path
        event["queryStringParameters"] = query
    return event


def response_json(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])  # type: ignore[no-any-return]
