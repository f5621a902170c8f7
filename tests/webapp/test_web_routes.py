"""The web function dispatches only what API Gateway routed to it (issue 17, defect 2), and
its 405s name the methods a route answers (defect 16), in process, on real-shaped REST (v1)
and HTTP API (v2) events through handlers/web.py's handler."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_store.base import PROJECT_STORE
from tests.support.web import FORMATS, Handler, proxied_web, request, send
from webapp.demo_proxy import DemoProxy
from webapp.settings import WebSettings

OK_ANSWER = {"statusCode": 200, "headers": {"Content-Type": "application/json"},
             "body": json.dumps({"model": "digits", "version": "1", "predictions": []})}


class CountingLambda:
    """A Lambda Invoke stand-in that only counts: any call here went through the proxy."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, function: str, qualifier: str, payload: bytes) -> Mapping[str, Any]:
        self.calls += 1
        return OK_ANSWER


@pytest.fixture(scope="module")
def proxied() -> tuple[Handler, CountingLambda]:
    counter = CountingLambda()
    return proxied_web(counter), counter


def smuggled(fmt: str, raw_segment: str, decoded_segment: str) -> dict[str, Any]:
    """POST /demo/<segment> as the gateway passes it on: matched to /demo/{name} (no demo
    throttle), the raw path as sent, the name parameter decoded once."""
    event = request("POST", "/demo/digits", fmt, accept="*/*", body=b'{"instances": [[0]]}',
                    content_type="application/json")
    path = f"/demo/{raw_segment}"
    if fmt == "v1":
        event.update(path=path, resource="/demo/{name}",
                     pathParameters={"name": decoded_segment})
    else:
        event.update(rawPath=path, routeKey="ANY /demo/{name}",
                     pathParameters={"name": decoded_segment})
        event["requestContext"]["http"]["path"] = path
    return event


def assert_refused(answer: Any, counter: CountingLambda, calls_before: int) -> None:
    assert answer.status in (400, 404), answer
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert error["code"] in ("encoded_separator", "not_found"), error
    assert counter.calls == calls_before, "the request reached the demo proxy"


# (raw path segment, the name API Gateway decodes it to)
SMUGGLED = [
    ("digits%2Fpredict", "digits/predict"),
    ("digits%2fpredict", "digits/predict"),
    ("digits%5Cpredict", "digits\\predict"),
    ("digits%252Fpredict", "digits%2Fpredict"),  # an HTTP API passes %25 on decoded once
    ("digits%25252fpredict", "digits%252fpredict"),
    ("digits%255Cpredict", "digits%5Cpredict"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("raw", "decoded"), SMUGGLED, ids=[s[0] for s in SMUGGLED])
def test_an_encoded_separator_never_reaches_the_demo_proxy(proxied, fmt, raw, decoded):
    web, counter = proxied
    before = counter.calls
    answer = send(web, smuggled(fmt, raw, decoded))
    assert_refused(answer, counter, before)
    assert answer.json()["error"]["code"] == "encoded_separator"
    assert answer.status == 400


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_decoded_path_on_another_resource_is_not_dispatched(proxied, fmt):
    """A gateway that decodes the path itself: /demo/digits/predict, matched to
    /demo/{name}, is not the demo's predict route."""
    web, counter = proxied
    before = counter.calls
    event = smuggled(fmt, "digits/predict", "digits")
    answer = send(web, event)
    assert_refused(answer, counter, before)
    assert answer.status == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_demo_route_itself_still_reaches_the_proxy(proxied, fmt):
    web, counter = proxied
    before = counter.calls
    answer = send(web, request("POST", "/demo/digits/predict", fmt, accept="*/*",
                               body=b'{"instances": [[0]]}', content_type="application/json"))
    assert answer.status == 200, answer
    assert counter.calls == before + 1


SEPARATOR_ENCODINGS = st.sampled_from(["/", "\\"]).flatmap(
    lambda sep: st.integers(1, 4).map(lambda times: _encode(sep, times)))


def _encode(text: str, times: int) -> str:
    for _ in range(times):
        text = quote(text, safe="")
    return text


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(FORMATS),
       before=st.text(st.characters(whitelist_categories=("Ll", "Nd")), max_size=8),
       separator=SEPARATOR_ENCODINGS,
       after=st.sampled_from(["predict", "x", "", "predict/extra"]),
       upper=st.booleans())
def test_any_encoding_of_a_separator_in_a_segment_is_refused(proxied, fmt, before, separator,
                                                             after, upper):
    web, counter = proxied
    calls = counter.calls
    encoded = separator.upper() if upper else separator.lower()
    raw = f"{quote(before, safe='')}{encoded}{after}"
    answer = send(web, smuggled(fmt, raw, raw.replace("%25", "%")))
    assert_refused(answer, counter, calls)


# ------------------------------------------------------------------ 405: Allow
ROUTES_405 = [
    ("/", {"GET", "HEAD", "OPTIONS"}),
    ("/docs", {"GET", "HEAD", "OPTIONS"}),
    ("/openapi.json", {"GET", "HEAD", "OPTIONS"}),
    ("/demo/digits", {"GET", "HEAD", "OPTIONS"}),
    ("/demo/digits/predict", {"POST", "OPTIONS"}),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", ["TRACE", "DELETE", "PUT", "PATCH"])
@pytest.mark.parametrize(("path", "allowed"), ROUTES_405, ids=[r[0] for r in ROUTES_405])
def test_a_405_names_the_allowed_methods(proxied, fmt, method, path, allowed):
    web, _ = proxied
    if method in allowed:
        pytest.skip("allowed here")
    answer = send(web, request(method, path, fmt, accept="*/*"))
    assert answer.status == 405, answer
    assert answer.json()["error"]["code"] == "method_not_allowed"
    listed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert listed == allowed
    # The list agrees with what OPTIONS says.
    options = send(web, request("OPTIONS", path, fmt, accept="*/*"))
    assert {m.strip() for m in options.headers["allow"].split(",")} == allowed


# ------------------------------------------------- under serverless-offline, never AWS
def test_under_serverless_offline_the_proxy_never_calls_aws_without_a_local_endpoint():
    from webapp.errors import DemoUnavailable

    env = {"IS_OFFLINE": "true", "FEATHERSERVE_DEMO_FUNCTION_PREFIX": "featherserve-dev-",
           "FEATHERSERVE_MODEL_SOURCE": str(PROJECT_STORE)}
    offline = WebSettings.from_env(env)
    assert offline.offline and not offline.demo_lambda_endpoint
    proxy = DemoProxy(offline)
    with pytest.raises(DemoUnavailable):
        proxy.predict("digits", b'{"instances": [[0]]}', "application/json", {}, "r")
    assert proxy._invoker is None  # no Lambda client was ever made
    local = WebSettings.from_env({**env, "FEATHERSERVE_DEMO_LAMBDA_ENDPOINT":
                                  "http://127.0.0.1:3002"})
    assert local.offline and local.demo_lambda_endpoint == "http://127.0.0.1:3002"
    assert not WebSettings.from_env({k: v for k, v in env.items() if k != "IS_OFFLINE"}).offline
