"""Property-based fuzzing of the real handlers (Hypothesis): events of every shape, both kinds.

For each event shape (REST v1, HTTP API v2, Function URL, ALB single- and multi-value,
hand-written `sls invoke local`, malformed) and each input kind (the tabular and the image
model, real ONNX sessions), Hypothesis draws requests and asserts that the handler never
raises, never answers a client's input with a 5xx, always answers in the contract's shape,
and never shows an internal detail. Derandomized (seeded by the test's name) and bounded
by ``EXAMPLES`` per class, so a run is repeatable and takes well under a minute.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as count_as
from hypothesis import strategies as st

from handlers.runtime import Settings, serve_model
from model_store import LocalStore
from tests.support.contract import check_answer
from tests.support.event_strategies import ANY_JSON, SHAPES, requests

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 64  # per (shape, kind): 7 shapes × 2 kinds × 64 = 896 events
KINDS = {"tabular": "breast_cancer", "image": "digits"}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
ELB = {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                                 "targetgroup/fuzz/0123456789abcdef"}}
WRONG_TYPES = st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2),
                        st.integers(), st.floats(), st.booleans(),
                        st.dictionaries(st.text(max_size=3), ANY_JSON, max_size=2))


class LambdaContext:
    aws_request_id = "a1b2c3d4-0000-4000-8000-00000000f022"


@pytest.fixture(scope="module")
def handlers() -> dict[str, Any]:
    models = str(ROOT / "models")
    limits = {"tabular": 262_144, "image": 4_500_000}  # as deployed
    return {kind: serve_model(name, settings=Settings(model_source=models, warmup=0,
                                                      max_body_bytes=limits[kind]))
            for kind, name in KINDS.items()}


@pytest.fixture(scope="module")
def features() -> tuple[str, ...]:
    manifest = LocalStore(ROOT / "models").manifest(KINDS["tabular"])
    return tuple(f.name for f in manifest.input.features)  # type: ignore[union-attr]


@st.composite
def events(draw: st.DrawFn, shape: str, model: str, features: tuple[str, ...] | None
           ) -> tuple[dict[str, Any], str]:
    """(event, the request's method) for ``shape``."""
    r = draw(requests(model, features))
    encode = draw(st.booleans()) or shape in ("alb_multi",)
    text = r["body"].decode("utf-8", "surrogateescape")  # odd bytes become lone surrogates
    body = base64.b64encode(r["body"]).decode() if encode else text
    headers, query = r["headers"], r["query"]
    multi_headers = {k: [v] for k, v in headers.items()}
    multi_query = {k: [v] for k, v in query.items()}
    method, path = r["method"], r["path"]
    if shape == "rest_v1":
        event: dict[str, Any] = {
            "resource": path, "path": path, "httpMethod": method, "headers": headers or None,
            "multiValueHeaders": multi_headers if draw(st.booleans()) else None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "requestContext": {"requestId": "fuzz-v1", "stage": "prod", "path": "/prod" + path},
            "body": body, "isBase64Encoded": encode}
    elif shape in ("http_api_v2", "function_url"):
        context = {"http": {"method": method, "path": path}, "requestId": "fuzz-v2",
                   "stage": "$default"}
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
        event, method = draw(events(draw(st.sampled_from(SHAPES[:-1])), model, features))
        key = draw(st.sampled_from(["headers", "multiValueHeaders", "queryStringParameters",
                                    "multiValueQueryStringParameters", "requestContext",
                                    "httpMethod", "path", "body", "isBase64Encoded",
                                    "rawPath", "version"]))
        event[key] = draw(WRONG_TYPES)
    return event, method


def check(handler: Any, event: dict[str, Any], method: str) -> None:
    response = handler(event, LambdaContext())
    # HEAD answers carry no body; a HEAD the adapter could not read is answered in full.
    head = method.upper() == "HEAD" and response.get("body") == ""
    answer = check_answer(response, method="HEAD" if head else "")
    assert response["statusCode"] < 500, (response["statusCode"], answer)
    count_as(f"status {response['statusCode']}")  # --hypothesis-show-statistics shows the mix
    if "multiValueHeaders" in event and "elb" in str(event.get("requestContext")):
        assert "multiValueHeaders" in response


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("shape", SHAPES)
@FUZZ
@given(data=st.data())
def test_no_event_makes_a_handler_raise_5xx_or_leak(handlers, features, shape, kind, data):
    model = KINDS[kind]
    drawn = data.draw(events(shape, model, features if kind == "tabular" else None))
    check(handlers[kind], *drawn)
