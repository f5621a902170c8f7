"""What every answer of a model handler must look like, whatever the event (the contract)."""

from __future__ import annotations

import json
import re
from typing import Any

# What must never reach a client: Python's internals (tracebacks, object reprs and
# addresses, exception class names, advice about interpreter settings) and file paths.
INTERNAL_DETAIL = re.compile(
    r"Traceback|File \"|object at 0x|0x[0-9a-fA-F]{6,}|<[A-Za-z_.]+ object|_io\.|BytesIO"
    r"|set_int_max_str_digits|sys\.|\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b|NoneType"
    r"|site-packages|\.py\b|/opt/|/tmp/|/work/|/home/|/usr/|/var/task")
CODE = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """Headers of a proxy answer, from ``headers`` or ALB multi-value mode's map."""
    if "multiValueHeaders" in response:
        multi = response["multiValueHeaders"]
        assert isinstance(multi, dict) and "headers" not in response
        assert all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                   for v in multi.values()), multi
        return {k: ",".join(v) for k, v in multi.items()}
    headers = response["headers"]
    assert isinstance(headers, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()), headers
    return headers


def check_answer(response: Any, *, method: str = "") -> dict[str, Any]:
    """Assert ``response`` is a well-formed answer; returns its JSON body ({} when empty)."""
    assert isinstance(response, dict), response
    status = response["statusCode"]
    assert isinstance(status, int) and 200 <= status <= 599, status
    assert response["isBase64Encoded"] is False
    headers = response_headers(response)
    body = response["body"]
    assert isinstance(body, str)
    assert not INTERNAL_DETAIL.search(body), body[:2000]
    if method == "HEAD" or status == 204:
        assert body == "", body[:200]
        return {}
    assert headers.get("Content-Type") == "application/json", headers
    payload = json.loads(body)
    if status >= 400:
        assert set(payload) == {"error"}, payload
        error = payload["error"]
        assert set(error) == {"code", "message", "request_id"}, error
        assert CODE.fullmatch(error["code"]), error
        assert isinstance(error["message"], str) and error["message"].strip(), error
        assert isinstance(error["request_id"], str), error
        body.encode("utf-8")  # no unpaired surrogate: the body is valid Unicode
    return payload  # type: ignore[no-any-return]
