"""Hypothesis strategies for Lambda events of every HTTP shape the handlers accept, and worse.

An event is built from a request (method, path, query, headers, body) and a shape: REST API
v1 (single- and multi-value maps), HTTP API v2, Function URL, ALB in single- and
multi-value mode, a hand-written `sls invoke local` event, or a malformed one (maps and
values of the wrong JSON type, surrogates, junk). Bodies are drawn for both input kinds:
tabular rows (valid, almost valid, hostile JSON) and images (valid small files of many
formats, corrupted ones, base64 in every spelling clients use).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from typing import Any

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from tests.support.contract import INTERNAL_DETAIL
from tests.support.json_text import (
    EDGES,
    KEYS,
    NUMBERS,
    ODD_STRINGS,
    VALUES,
    arr,
    dumps,
    obj,
    strings,
)

SHAPES = ("rest_v1", "http_api_v2", "function_url", "alb_single", "alb_multi", "sls_local",
          "malformed")
METHODS = ("GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "get", "TRACE")
CONTENT_TYPES = (None, "application/json", "application/json; charset=utf-8", "image/png",
                 "image/jpeg", "application/octet-stream", "text/plain", "text/csv",
                 "application/json,application/json", "application/json, text/csv",
                 "multipart/form-data; boundary=\"a,b\"", "application/x-www-form-urlencoded",
                 "application/vnd.api+json", "", ";", "image/*")
ENCODINGS = (None, "gzip", "x-gzip", "deflate", "br", "gzip, gzip", "identity", "zstd")
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
SAFE_TEXT = st.text(max_size=40).filter(lambda t: not INTERNAL_DETAIL.search(t))


def _image_pool() -> list[bytes]:
    """Small real files: the formats, modes and depths clients send."""
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 255, (40, 40), dtype=np.uint8)
    grey[10:30, 18:22] = 255
    base = Image.fromarray(grey)
    pool = []
    for mode, fmt, options in [("L", "PNG", {}), ("RGBA", "PNG", {}), ("P", "PNG", {}),
                               ("1", "PNG", {}), ("RGB", "JPEG", {}),
                               ("RGB", "JPEG", {"progressive": True}), ("L", "JPEG", {}),
                               ("CMYK", "JPEG", {}), ("RGB", "WEBP", {}),
                               ("RGBA", "WEBP", {"lossless": True}), ("RGB", "BMP", {}),
                               ("P", "GIF", {}), ("L", "TIFF", {})]:
        buffer = io.BytesIO()
        base.convert(mode).save(buffer, format=fmt, **options)
        pool.append(buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray(grey.astype(np.uint16) * 16).save(buffer, format="PNG")  # 12-bit in 16
    pool.append(buffer.getvalue())
    return pool


IMAGES = _image_pool()


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(IMAGES))
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "junk", "empty"]))
    if damage == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    if damage == "flip":
        index = draw(st.integers(0, len(data) - 1))
        return data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1:]
    if damage == "junk":
        return draw(st.binary(max_size=200))
    return b"" if damage == "empty" else data


@st.composite
def base64_text(draw: st.DrawFn, data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    style = draw(st.sampled_from(["plain", "wrapped", "unpadded", "urlsafe", "data_url",
                                  "spaces", "garbage"]))
    if style == "wrapped":
        return base64.encodebytes(data).decode()
    if style == "unpadded":
        return encoded.rstrip("=")
    if style == "urlsafe":
        return base64.urlsafe_b64encode(data).decode()
    if style == "data_url":
        return "data:image/png;base64," + encoded
    if style == "spaces":
        return " ".join(encoded[i:i + 7] for i in range(0, len(encoded), 7))
    if style == "garbage":
        return encoded[:draw(st.integers(0, len(encoded)))] + draw(st.text(max_size=5))
    return encoded


POSITIONS = ("feature_value", "feature_value", "feature_value", "feature_value", "instance",
             "instance_key", "instances", "top_level_key", "top_level")


@st.composite
def hostile_at(draw: st.DrawFn, where: str, instances: list[str],
               members: list[tuple[str, str]] | None = None) -> str:
    """A body ``{"instances": [...]}`` with a drawn JSON value at ``where``: the instances
    list, one instance, a key of the top-level object (duplicates too), or the whole body.

    ``members``: one instance's (key, value) texts, for a hostile key beside them.
    """
    index = draw(st.integers(0, max(len(instances) - 1, 0)))
    if where == "instance" and instances:
        instances[index] = draw(VALUES)
    elif where == "instance_key" and members is not None and instances:
        extra = (draw(st.one_of(KEYS, st.sampled_from([key for key, _ in members]))),
                 draw(VALUES))
        members.insert(draw(st.integers(0, len(members))), extra)
        instances[index] = obj(members)
    listed = draw(VALUES) if where == "instances" else arr(instances)
    top = [('"instances"', listed)]
    if where == "top_level_key":
        top.insert(draw(st.integers(0, 1)), (draw(KEYS), draw(VALUES)))
    return draw(VALUES) if where == "top_level" else obj(top)


@st.composite
def tabular_body(draw: st.DrawFn, features: tuple[str, ...]) -> bytes:
    numbers = st.one_of(st.floats(-1e6, 1e6), st.integers(-1000, 1000)).map(dumps)
    rows = [[draw(numbers) for _ in features] for _ in range(draw(st.integers(1, 3)))]
    as_object = [draw(st.booleans()) for _ in rows]
    kind = draw(st.sampled_from(["valid", "positioned", "positioned", "positioned",
                                 "positioned", "hostile", "text"]))
    if kind in ("valid", "positioned"):
        where = draw(st.sampled_from(POSITIONS)) if kind == "positioned" else ""
        row = draw(st.integers(0, len(rows) - 1))
        if where == "feature_value":
            rows[row][draw(st.integers(0, len(features) - 1))] = draw(
                (EDGES, EDGES, NUMBERS, VALUES)[draw(st.integers(0, 3))])
        members = [(dumps(name), value) for name, value in zip(features, rows[row],
                                                                strict=True)]
        if where == "instance_key":
            as_object[row] = True
        instances = [obj(list(zip(map(dumps, features), r, strict=True))) if is_object
                     else arr(r) for r, is_object in zip(rows, as_object, strict=True)]
        instances.insert(0, instances.pop(row))  # the instance with the value goes first
        members_at = members if where == "instance_key" else None
        return draw(hostile_at(where, instances, members_at)).encode("utf-8", "surrogatepass")
    if kind == "hostile":
        return draw(st.sampled_from([
            b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            b'{"instances": [[1' + b"0" * 400 + b"]]}",
            b'{"instances": [[' + b"9" * 5000 + b"]]}",
            b'{"instances": [[NaN, Infinity, -Infinity]]}',
            b'{"instances": [{"\\ud800": 1}]}',
            b'{"instances": [["\xed\xa0\x80"]]}',
            b'\xef\xbb\xbf{"instances": []}',
            b'{"instances": [[]' + b",[]" * 300_000 + b"]}",
        ]))
    return draw(st.binary(max_size=300)) if draw(st.booleans()) else draw(
        st.text(max_size=100)).encode("utf-8", "surrogatepass")


@st.composite
def image_body(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """(body, a Content-Type that fits it) for an image model."""
    kind = draw(st.sampled_from(["raw", "json", "json", "positioned", "positioned", "other"]))
    if kind == "raw":
        return draw(image_bytes()), draw(st.sampled_from(
            ["image/png", "application/octet-stream", None, "image/jpeg"]))
    if kind == "json":
        items = draw(st.lists(image_bytes(), min_size=0, max_size=3))
        instances: list[Any] = [{"b64": draw(base64_text(i))} for i in items]
        if draw(st.booleans()):
            instances.append(draw(ANY_JSON))
        return json.dumps({"instances": instances}).encode(), "application/json"
    if kind == "positioned":
        where = draw(st.sampled_from(["b64_value", "b64_value", "instance", "instance_key",
                                      "instances", "top_level_key", "top_level"]))
        images = [dumps(draw(base64_text(draw(st.sampled_from(IMAGES)))))
                  for _ in range(draw(st.integers(1, 2)))]
        if where == "b64_value":
            images[0] = draw(st.one_of(VALUES, strings()))
        members = [('"b64"', images[0])]
        instances = [obj([('"b64"', image)]) for image in images]
        body = draw(hostile_at(where, instances, members if where == "instance_key" else None))
        return body.encode("utf-8", "surrogatepass"), "application/json"
    return draw(st.binary(max_size=200)), draw(st.sampled_from(CONTENT_TYPES))


HEADER_NAMES = ("content-length", "Content-Length", "Content-Type", "Content-Encoding",
                "x-forwarded-for", "accept", "x-amzn-trace-id", "origin", "x-api-key",
                "transfer-encoding", "expect", "x-\u00e9", "")


@st.composite
def header_values(draw: st.DrawFn) -> Any:
    """A header or query value: mostly text (numbers at their edges, odd strings), and, as
    hand-written events may carry them, any JSON value."""
    return draw(st.one_of(NUMBERS, NUMBERS, st.text(max_size=12),
                          st.sampled_from(ODD_STRINGS), ANY_JSON))


@st.composite
def requests(draw: st.DrawFn, model: str, features: tuple[str, ...] | None
             ) -> dict[str, Any]:
    """A request to a model: tabular when ``features`` is given, otherwise an image model."""
    # Mostly the predict route with POST, so that bodies are what gets exercised.
    predict = f"/models/{model}/predict"
    route = draw(st.sampled_from([predict] * 24 + [
        f"/models/{model}", f"/models/{model}/predict/", "/models/other/predict",
        f"/dev/models/{model}/predict", "/", "/models"]))
    path = route if draw(st.integers(0, 9)) else "/" + draw(SAFE_TEXT)
    method = "POST" if draw(st.integers(0, 4)) else draw(st.sampled_from(METHODS))
    if features is not None:
        body = draw(tabular_body(features))
        content_type = draw(st.sampled_from(CONTENT_TYPES)) if draw(
            st.integers(0, 3)) == 0 else "application/json"
    else:
        body, content_type = draw(image_body())
    headers: dict[str, Any] = {}
    if content_type is not None:
        headers["content-type"] = content_type
    encoding = draw(st.sampled_from(ENCODINGS)) if draw(st.integers(0, 3)) == 0 else None
    if encoding is not None:
        headers["content-encoding"] = encoding
        if encoding in ("gzip", "x-gzip") and draw(st.booleans()):
            body = gzip.compress(body)
        elif encoding == "deflate" and draw(st.booleans()):
            body = zlib.compress(body)
    if draw(st.integers(0, 2)) == 0:  # headers (Content-Length too) at every value kind
        headers.update(draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_values(),
                                            min_size=1, max_size=3)))
    query: dict[str, Any] = {}
    if draw(st.booleans()):
        query["top_k"] = draw(st.one_of(
            st.sampled_from(["1", "2", "3", "0", "-1", "²", "٣", "1,2", " 2", "", "9" * 4301]),
            NUMBERS, st.text(max_size=8)))
    if draw(st.integers(0, 3)) == 0:
        query[draw(st.one_of(st.sampled_from(["max_batch", "top_k ", "TOP_K", "b64"]),
                             st.text(max_size=6)))] = draw(header_values())
    return {"method": method, "path": path, "headers": headers,
            "query": query, "body": body}


# -- events of every shape around any request (used by the pool's fuzz test) ------------------
ELB = {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                                 "targetgroup/fuzz/0123456789abcdef"}}
WRONG_TYPES = st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2),
                        st.integers(), st.floats(), st.booleans(),
                        st.dictionaries(st.text(max_size=3), ANY_JSON, max_size=2))
MALFORMED_KEYS = ("headers", "multiValueHeaders", "queryStringParameters",
                  "multiValueQueryStringParameters", "requestContext", "httpMethod", "path",
                  "body", "isBase64Encoded", "rawPath", "version")


@st.composite
def http_events(draw: st.DrawFn, shape: str, request: st.SearchStrategy[dict[str, Any]]
                ) -> tuple[dict[str, Any], str]:
    """(event, the request's method): a request drawn from ``request`` (as ``requests``
    draws them) in the event ``shape`` (one of ``SHAPES``) carries it, as
    ``tests/lambda_kit/test_fuzz_events.py`` builds them for one model."""
    r = draw(request)
    encode = draw(st.booleans()) or shape == "alb_multi"
    text = r["body"].decode("utf-8", "surrogateescape")  # odd bytes become lone surrogates
    body = base64.b64encode(r["body"]).decode() if encode else text
    headers, query = r["headers"], r["query"]
    multi_headers = {k: [v] for k, v in headers.items()}
    multi_query = {k: [v] for k, v in query.items()}
    method, path = r["method"], r["path"]
    event: dict[str, Any]
    if shape == "rest_v1":
        event = {
            "resource": path, "path": path, "httpMethod": method, "headers": headers or None,
            "multiValueHeaders": multi_headers if draw(st.booleans()) else None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "requestContext": {"requestId": "fuzz-v1", "stage": "prod", "path": "/prod" + path},
            "body": body, "isBase64Encoded": encode}
    elif shape in ("http_api_v2", "function_url"):
        context: dict[str, Any] = {"http": {"method": method, "path": path},
                                   "requestId": "fuzz-v2", "stage": "$default"}
        if shape == "function_url":
            context["domainName"] = "abc.lambda-url.eu-west-1.on.aws"
        event = {"version": "2.0", "routeKey": "$default", "rawPath": path,
                 "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
                 "headers": headers, "requestContext": context, "body": body,
                 "isBase64Encoded": encode}
        if query:
            event["queryStringParameters"] = query
    elif shape == "alb_single":
        event = {"requestContext": ELB, "httpMethod": method, "path": path,
                 "queryStringParameters": query, "headers": headers, "body": body,
                 "isBase64Encoded": encode}
    elif shape == "alb_multi":
        event = {"requestContext": ELB, "httpMethod": method, "path": path,
                 "multiValueQueryStringParameters": multi_query,
                 "multiValueHeaders": multi_headers, "body": body, "isBase64Encoded": encode}
    elif shape == "sls_local":
        event = {"httpMethod": method, "path": path}
        if r["body"]:
            event["body"] = draw(st.sampled_from([text, draw(ANY_JSON)]))
    else:  # malformed: a real shape with one part of the wrong JSON type
        event, method = draw(http_events(draw(st.sampled_from(SHAPES[:-1])), st.just(r)))
        event[draw(st.sampled_from(MALFORMED_KEYS))] = draw(WRONG_TYPES)
    return event, method


@st.composite
def valid_requests(draw: st.DrawFn, model: str, features: tuple[str, ...] | None
                   ) -> dict[str, Any]:
    """A request to ``model`` as a well-behaved client sends it: rows of in-range numbers
    (as objects or lists) for a tabular model; ``{"b64": ...}`` instances or a raw body of
    the undamaged ``IMAGES`` for an image model (a format the model does not take is
    still refused); sometimes with ``top_k``; sometimes a tabular body padded past 256 KiB
    with whitespace (what a tabular function's own body limit refuses)."""
    if features is not None:
        numbers = st.one_of(st.floats(-1e3, 1e3), st.integers(-100, 100))
        rows = [[draw(numbers) for _ in features] for _ in range(draw(st.integers(1, 3)))]
        instances = [dict(zip(features, r, strict=True)) if draw(st.booleans()) else r
                     for r in rows]
        body = json.dumps({"instances": instances}).encode()
        if draw(st.integers(0, 5)) == 0:
            body += b" " * 270_000
        headers = {"content-type": "application/json"}
    elif draw(st.booleans()):
        images = draw(st.lists(st.sampled_from(IMAGES), min_size=1, max_size=2))
        body = json.dumps({"instances": [{"b64": base64.b64encode(i).decode()}
                                         for i in images]}).encode()
        headers = {"content-type": "application/json"}
    else:
        body = draw(st.sampled_from(IMAGES))
        headers = {"content-type": draw(st.sampled_from(["image/png",
                                                         "application/octet-stream"]))}
    query = {"top_k": str(draw(st.integers(1, 3)))} if draw(st.booleans()) else {}
    return {"method": "POST", "path": f"/models/{model}/predict", "headers": headers,
            "query": query, "body": body}
