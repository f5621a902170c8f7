"""Is the packaged answer the in-process answer? Everything compared but an explicit few
fields that differ between any two runs."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from featherserve.fidelity.execution import Invocation

# Per-request timing, measured by the handler (Server-Timing: preprocess;dur=...).
IGNORED_HEADERS = frozenset({"server-timing"})
# The invocation's request id, which an error body quotes when the event carries none.
IGNORED_KEYS = frozenset({"request_id"})


def comparable(invocation: Invocation) -> Any:
    """The answer as compared: a JSON body parsed, header names lower-cased, ignored fields
    dropped; a failed invocation as Lambda's error type and message (no stack trace)."""
    if not invocation.ok:
        payload = invocation.payload if isinstance(invocation.payload, Mapping) else {}
        return {"errorType": invocation.error_type or payload.get("errorType", ""),
                "errorMessage": payload.get("errorMessage", "")}
    answer = invocation.payload
    if isinstance(answer, Mapping) and "statusCode" in answer:
        answer = dict(answer)
        for key in ("headers", "multiValueHeaders"):
            if isinstance(answer.get(key), Mapping):
                answer[key] = {k.lower(): v for k, v in answer[key].items()
                               if k.lower() not in IGNORED_HEADERS}
        answer["isBase64Encoded"] = bool(answer.get("isBase64Encoded", False))
        if isinstance(answer.get("body"), str) and not answer["isBase64Encoded"]:
            answer["body"] = _parsed(answer["body"])
    return _without_ignored(answer)


def _parsed(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def _without_ignored(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_ignored(v) for k, v in value.items() if k not in IGNORED_KEYS}
    if isinstance(value, list):
        return [_without_ignored(v) for v in value]
    return value


def difference(packaged: Invocation, reference: Invocation, limit: int = 40) -> str:
    """A unified diff (in-process → packaged) of the compared answers; "" when equal."""
    expected, actual = comparable(reference), comparable(packaged)
    if expected == actual:
        return ""
    lines = list(difflib.unified_diff(
        _render(expected), _render(actual), "in process", "packaged", lineterm="", n=2))
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


def _render(value: Any) -> list[str]:
    text = json.dumps(value, indent=1, sort_keys=True, default=repr)
    return [line[:200] for line in text.splitlines()]
