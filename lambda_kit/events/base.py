"""What an event adapter does, and the tolerant readers every adapter shares.

An event comes from a gateway, a load balancer, a test console or a hand-written file, so
nothing in it is trusted: a map of the wrong JSON type, a header value that is a list, an
unpaired surrogate in a string are answered with the contract's 400, never an exception
escaping to Lambda. Repeated headers and query parameters (``multiValue*`` maps, which REST
APIs fill beside the single-value ones and ALB's multi-value mode fills alone) are joined
with "," as HTTP APIs do, so every shape reads the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote_plus

from lambda_kit.base64_text import InvalidBase64, decode_base64
from lambda_kit.errors import BadRequest
from lambda_kit.http import HttpRequest, HttpResponse

LambdaEvent = Mapping[str, Any]
_SURROGATES = re.compile("[\ud800-\udfff]")
_SCALARS = (str, int, float, bool)


class EventAdapter(Protocol):
    name: str

    def matches(self, event: LambdaEvent) -> bool: ...

    def to_request(self, event: LambdaEvent) -> HttpRequest: ...

    def to_response(self, response: HttpResponse, event: LambdaEvent) -> dict[str, Any]: ...


def invalid_event(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_event")


def clean(text: str) -> str:
    """``text`` with unpaired surrogates (only a JSON escape can make one) as U+FFFD."""
    if text.isascii():  # nearly every header and query value: no surrogate possible
        return text
    return _SURROGATES.sub("\ufffd", text)


def scalar_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _SCALARS):
        return clean(str(value))
    raise invalid_event(f"the event's {where} must be a string")


def mapping(event: LambdaEvent, key: str) -> Mapping[str, Any]:
    """``event[key]`` as an object; absent or null is empty, any other type is a 400."""
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid_event(f"the event's {key!r} must be an object, not {_json_type(value)}")
    return value


def joined_map(event: LambdaEvent, single: str, multi: str | None, *, lower: bool,
               url_encoded: bool = False) -> dict[str, str]:
    """One value per name from a single-value map and its multi-value twin (which wins).

    ``url_encoded``: ALB passes query strings as the client sent them, percent-encoded.
    """
    out: dict[str, str] = {}
    for key, value in mapping(event, single).items():
        # The common case inline (ASCII str name and value: nothing to clean or decode);
        # this runs for every header of every request.
        if not url_encoded and type(key) is str and type(value) is str \
                and key.isascii() and value.isascii():
            out[key.lower() if lower else key] = value
        elif value is not None:
            out[_name(key, lower, url_encoded)] = _value(value, f"{single}[{key!r}]",
                                                          url_encoded)
    if multi is None:
        return out
    grouped: dict[str, list[str]] = {}
    for key, values in mapping(event, multi).items():
        if values is None:
            continue
        if not url_encoded and type(key) is str and type(values) is list \
                and len(values) == 1 and type(only := values[0]) is str \
                and key.isascii() and only.isascii():
            grouped.setdefault(key.lower() if lower else key, []).append(only)
            continue
        items = values if isinstance(values, list) else [values]
        where = f"{multi}[{key!r}]"
        grouped.setdefault(_name(key, lower, url_encoded), []).extend(
            _value(item, where, url_encoded) for item in items if item is not None)
    out.update({name: ",".join(parts) for name, parts in grouped.items() if parts})
    return out


def query_from_raw(raw: Any) -> dict[str, str]:
    """A query map from a raw query string (hand-written events may carry only that)."""
    if not isinstance(raw, str) or not raw:
        return {}
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(clean(raw), keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in grouped.items()}


def text_field(container: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = container.get(key)
    if value is None or value == "":
        return default
    return scalar_text(value, where)


def decode_body(event: LambdaEvent) -> bytes:
    """The body as bytes, undoing the gateway's base64 for binary payloads.

    A hand-written event (``sls invoke local``) may give the body as a JSON object or list,
    which is read as that JSON.
    """
    body = event.get("body")
    if body is None:
        return b""
    if isinstance(body, dict | list):
        try:
            return json.dumps(body).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):  # an int of 4,301+ digits; nesting ~1,000 deep
            raise invalid_event("the event's 'body' object is too deeply nested or holds a "
                                "number too long to read; send the body as a JSON string"
                                ) from None
    if not isinstance(body, str):
        raise invalid_event(f"the event's 'body' must be a string, not {_json_type(body)}")
    if not is_true(event.get("isBase64Encoded")):
        # An unpaired surrogate survives as bytes that are not UTF-8: the JSON reader's 400.
        return body.encode("utf-8", "surrogatepass")
    try:
        return decode_base64(body)
    except InvalidBase64 as error:
        raise BadRequest(f"the body is marked base64-encoded but is not valid base64: {error}",
                         code="invalid_base64") from None


def is_true(flag: Any) -> bool:
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def proxy_response(response: HttpResponse) -> dict[str, Any]:
    """The proxy-integration response shape that REST, HTTP API and Function URLs all accept."""
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": response.body,
        "isBase64Encoded": False,
    }


def _name(key: Any, lower: bool, url_encoded: bool) -> str:
    name = clean(unquote_plus(key) if url_encoded else str(key))
    return name.lower() if lower else name


def _value(value: Any, where: str, url_encoded: bool) -> str:
    text = scalar_text(value, where)
    return clean(unquote_plus(text)) if url_encoded else text


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), "an unexpected value")
