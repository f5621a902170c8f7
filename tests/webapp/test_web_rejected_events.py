"""The web function's own answers to events it rejects carry the security headers every
answer of the app carries (nosniff, no referrer, HSTS...), whatever was wrong with the event.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featherserve.support.events import load_event
from model_store.base import PROJECT_STORE
from webapp.lambda_entry import serve_web
from webapp.settings import WebSettings

Handler = Callable[[Any, Any], dict[str, Any]]
# The headers webapp/security.py puts on every non-page answer served over HTTPS.
SECURITY = ("x-content-type-options", "referrer-policy", "cross-origin-opener-policy",
            "cross-origin-resource-policy", "permissions-policy",
            "strict-transport-security")
EVENTS = ("web_catalog_v1", "web_catalog_v2", "web_demo_v2", "web_openapi_v1")


class Context:
    aws_request_id = "5b1e3c9a-0000-4000-8000-00000000abcd"


def headers_of(result: Mapping[str, Any]) -> dict[str, str]:
    if "multiValueHeaders" in result:
        return {k.lower(): v[-1] for k, v in result["multiValueHeaders"].items()}
    return {k.lower(): v for k, v in (result.get("headers") or {}).items()}


@pytest.fixture(scope="module")
def web() -> Handler:
    return serve_web(WebSettings(model_source=str(PROJECT_STORE)))


@pytest.fixture(scope="module")
def served_headers(web) -> dict[str, str]:
    """The security headers of the app's own JSON answer over HTTPS (GET /openapi.json)."""
    event = load_event("web_openapi_v1")
    event["headers"] = {**(event.get("headers") or {}), "X-Forwarded-Proto": "https"}
    event["multiValueHeaders"] = None
    result = web(event, Context())
    assert result["statusCode"] == 200
    headers = headers_of(result)
    assert set(SECURITY) <= set(headers), headers
    return {name: headers[name] for name in SECURITY}


NAMED = {
    "not an object": [],
    "no method": {"path": "/"},
    "method not text": {**load_event("web_catalog_v1"), "httpMethod": 7},
    "body not base64": {**load_event("web_catalog_v1"), "body": "%%%", "isBase64Encoded": True},
    "surrogate in the path": {**load_event("web_catalog_v1"), "path": "/demo/\ud800"},
    "v2 without rawPath": {**load_event("web_catalog_v2"), "rawPath": None},
}


@pytest.mark.parametrize("event", NAMED.values(), ids=NAMED.keys())
def test_a_rejected_event_carries_the_security_headers(web, served_headers, event):
    result = web(event, Context())
    assert result["statusCode"] == 400
    headers = headers_of(result)
    assert headers["content-type"] == "application/json"
    assert {name: headers.get(name) for name in SECURITY} == served_headers


ODD = st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=8),
                st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                     st.integers(), max_size=2),
                st.just("\ud800"))


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(EVENTS), data=st.data())
def test_every_answer_to_a_mangled_event_carries_the_security_headers(web, served_headers,
                                                                      name, data):
    event = copy.deepcopy(load_event(name))
    where = data.draw(st.sampled_from(["top", "requestContext"]))
    target = event if where == "top" else event["requestContext"]
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(ODD)
    result = web(event, Context())
    assert result["statusCode"] < 500
    if result["statusCode"] == 400:
        headers = headers_of(result)
        assert {n: headers.get(n) for n in SECURITY if n != "strict-transport-security"} == \
            {n: v for n, v in served_headers.items() if n != "strict-transport-security"}
