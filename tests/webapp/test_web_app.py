"""The web function end to end in process: real-shaped API Gateway events (REST v1, HTTP API
v2, from tests/events) through ``handlers/web.py``'s handler (serverless-wsgi + the werkzeug
app), on the project's store and on a store whose manifests carry markup."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from featherserve.support.events import load_event
from featherserve.support.processes import NODE_BIN, ROOT, last_json_document, run_cli, tool_env
from model_store import LocalStore
from model_store.base import PROJECT_STORE
from model_store.manifest import TabularSpec
from tests.support.hostile_store import (
    HOSTILE_CATEGORIES,
    HOSTILE_DESCRIPTION,
    HOSTILE_FEATURES,
    HOSTILE_LABELS,
    hostile_manifest,
    publish_hostile,
    with_hostile_categories,
)
from tests.support.web import (
    FORMATS,
    HTML,
    Answer,
    Context,
    Handler,
    instance_validator,
    proxied_web,
    request,
    send,
)
from webapp.lambda_entry import serve_web
from webapp.settings import WebSettings

MODELS = LocalStore(PROJECT_STORE).names()
def on_stage(url: str) -> str:
    """A link on a REST API page (under /dev) as the path its event carries."""
    assert url.startswith("/dev/"), url
    return url[len("/dev"):]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Handler:
    store = tmp_path_factory.mktemp("hostile") / "store"
    publish_hostile(store, hostile_manifest("hostile"))
    publish_hostile(store, with_hostile_categories(hostile_manifest("hostile_categories")))
    return serve_web(WebSettings(model_source=str(store)))


class Page(HTMLParser):
    """Every element (tag, attributes) and the text of a page, as a browser parses them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.script_text: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.script_text if self._in_script else self.text).append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements
                if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def assert_inert(self) -> None:
        """No inline script, no event-handler attribute, no element a payload could add."""
        assert "".join(self.script_text).strip() == ""
        for tag, attrs in self.elements:
            assert tag not in ("svg", "iframe", "object", "embed", "b"), (tag, attrs)
            assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
            if tag == "script":
                assert attrs.get("type") == "module" and attrs.get("src"), attrs


def tabular_spec(name: str) -> TabularSpec:
    spec = LocalStore(PROJECT_STORE).manifest(name).input
    assert isinstance(spec, TabularSpec)
    return spec


def csp_directives(answer: Answer) -> dict[str, list[str]]:
    policy = answer.headers["content-security-policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


# ------------------------------------------------------------------------- pages
@pytest.mark.parametrize("fmt", FORMATS)
def test_catalog_lists_every_model_in_the_store(web, fmt):
    answer = send(web, load_event(f"web_catalog_{fmt}"))
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    page = Page(answer.body)
    assert [a["data-model"] for a in page.find("article")] == MODELS
    # REST API (v1) pages live under the stage's path; an HTTP API's $default stage has none.
    prefix = "/dev" if fmt == "v1" else ""
    assert {a["href"] for a in page.find("a", **{"class": "button"})} == {
        f"{prefix}/demo/{name}" for name in MODELS}
    text = " ".join(page.text)
    for name in MODELS:
        manifest = LocalStore(PROJECT_STORE).manifest(name)
        assert f"v{manifest.version}" in text
        assert f"{(manifest.metrics.student_accuracy or 0) * 100:.2f}%" in text


def test_pages_send_a_strict_content_security_policy(web):
    for path in ("/", "/demo/digits", "/demo/breast_cancer", "/docs", "/no/such/page"):
        answer = send(web, request("GET", path))
        directives = csp_directives(answer)
        assert directives["default-src"] == ["'none'"], path
        assert directives["script-src"] == ["'self'", "'wasm-unsafe-eval'"], path
        for name in ("style-src", "connect-src"):
            assert directives[name] == ["'self'"], (path, name)
        for name in ("frame-ancestors", "object-src", "base-uri"):
            assert directives[name] == ["'none'"], (path, name)
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        Page(answer.body).assert_inert()


def test_deployed_pages_load_their_files_from_the_cdn_and_allow_only_it(tmp_path):
    cdn = "https://d111111abcdef8.cloudfront.net"
    deployed = serve_web(WebSettings(model_source=str(PROJECT_STORE), static_url=cdn + "/"))
    answer = send(deployed, request("GET", "/demo/digits"))
    assert csp_directives(answer)["script-src"] == ["'self'", cdn, "'wasm-unsafe-eval'"]
    page = Page(answer.body)
    (script,) = page.find("script")
    assert script["src"].startswith(f"{cdn}/app/")
    (demo,) = page.find("main", id="demo")
    assert demo["data-model-url"].startswith(f"{cdn}/models/digits/")
    assert demo["data-predict-url"] == "/dev/demo/digits/predict"  # the proxy stays here
    # Deployed, the function serves no static file: they are larger than a response may be.
    assert send(deployed, request("GET", script["src"][len(cdn):].replace(
        "/app/", "/static/app/"))).status == 404
    # Anything but an https origin is not a CDN: the app serves its files itself.
    local = serve_web(WebSettings(model_source=str(PROJECT_STORE), static_url="javascript:x"))
    assert csp_directives(send(local, request("GET", "/")))["script-src"][0] == "'self'"


def test_image_demo_page_offers_a_file_a_photo_a_drop_and_a_drawing_pad(web):
    page = Page(send(web, load_event("web_demo_v2")).body)
    (demo,) = page.find("main", id="demo")
    assert (demo["data-model"], demo["data-kind"]) == ("digits", "image")
    assert json.loads(demo["data-labels"]) == [str(d) for d in range(10)]
    assert page.find("input", id="file", type="file", accept="image/*")
    assert page.find("input", id="camera", capture="environment")
    assert page.find("div", id="drop") and page.find("canvas", id="pad")


def test_tabular_demo_page_is_a_form_from_the_manifest_prefilled_with_a_real_row(web):
    spec = tabular_spec("breast_cancer")
    page = Page(send(web, request("GET", "/demo/breast_cancer")).body)
    inputs = page.find("input", **{"data-kind": "number"})
    assert [i["name"] for i in inputs] == list(spec.feature_names)
    row = json.loads((ROOT / "examples" / "breast_cancer.json").read_text())["instances"][0]
    assert [float(i["value"]) for i in inputs] == [row[n] for n in spec.feature_names]
    first = spec.features[0]
    assert f"{first.min:g} to {first.max:g}" in "".join(page.text)


def test_static_files_are_served_locally_by_content_addressed_paths(web):
    page = Page(send(web, request("GET", "/demo/digits")).body)
    (script,) = page.find("script")
    answer = send(web, request("GET", on_stage(script["src"]), accept="*/*"))
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert "immutable" in answer.headers["cache-control"]
    assert answer.data == (ROOT / "webapp" / "static" / "demo.js").read_bytes()
    (demo,) = page.find("main", id="demo")
    model = send(web, request("GET", on_stage(demo["data-model-url"]), accept="*/*"))
    assert model.status == 200
    stored = LocalStore(PROJECT_STORE).model_path("digits", demo["data-version"])
    assert model.data == stored.read_bytes()
    stale = on_stage(script["src"]).replace("/app/", "/app/000000000000x")
    assert send(web, request("GET", stale, accept="*/*")).json()["error"]["code"] == "not_found"


# ------------------------------------------------------------------------- OpenAPI
def test_openapi_is_a_valid_openapi_3_1_document_of_every_route(openapi):
    validate_openapi(openapi)  # raises on any error
    assert openapi["openapi"] == "3.1.0"
    for name in MODELS:
        predict = openapi["paths"][f"/models/{name}/predict"]["post"]
        card = openapi["paths"][f"/models/{name}"]["get"]
        # The model API needs its key; the web routes do not.
        assert predict["security"] == card["security"] == [{"ApiKey": []}]
        assert {"200", "400", "404", "413", "415", "422", "500"} <= set(predict["responses"])
    web = ("/", "/demo/{name}", "/openapi.json", "/docs",
           *(f"/demo/{name}/predict" for name in MODELS))
    for path in web:
        (operation,) = openapi["paths"][path].values()
        assert operation["security"] == []
    error = openapi["components"]["schemas"]["Error"]
    jsonschema.validate({"error": {"code": "model_not_found", "message": "m",
                                   "request_id": "r"}}, error)


def test_openapi_describes_each_feature_by_name_kind_and_range(openapi):
    manifest = LocalStore(PROJECT_STORE).manifest("breast_cancer")
    spec = tabular_spec("breast_cancer")
    by_name, in_order = openapi["components"]["schemas"]["BreastCancerInstance"]["oneOf"]
    assert list(by_name["properties"]) == list(spec.feature_names)
    assert by_name["required"] == list(spec.feature_names)
    assert by_name["additionalProperties"] is False
    assert len(in_order["prefixItems"]) == in_order["minItems"] == in_order["maxItems"] == 30
    for feature in spec.features:
        schema = by_name["properties"][feature.name]
        assert schema["type"] == "number"
        assert f"{feature.min:g} to {feature.max:g}" in schema["description"]
    response = openapi["components"]["schemas"]["BreastCancerResponse"]
    labels = response["properties"]["predictions"]["items"]["properties"]["label"]["enum"]
    assert labels == list(manifest.labels)


def test_openapi_request_schemas_accept_real_requests_and_refuse_broken_ones(openapi):
    validator = instance_validator(openapi, "breast_cancer")
    body = json.loads((ROOT / "examples" / "breast_cancer.json").read_text())
    validator.validate(body)
    row = body["instances"][0]
    validator.validate({"instances": [list(row.values())]})
    broken = [{k: v for k, v in list(row.items())[1:]}, {**row, "extra": 1.0},
              {**row, "mean radius": "big"}, list(row.values())[:-1]]
    for instance in broken:
        assert not validator.is_valid({"instances": [instance]}), instance
    assert not validator.is_valid({"instances": []})
    digits = instance_validator(openapi, "digits")
    png = base64.b64encode((ROOT / "examples" / "digits.png").read_bytes()).decode()
    digits.validate({"instances": [{"b64": png}]})
    assert not digits.is_valid({"instances": [{"image": png}]})
    raw = openapi["paths"]["/models/digits/predict"]["post"]["requestBody"]["content"]
    assert {"image/png", "image/jpeg", "application/octet-stream"} <= set(raw)
    assert "28x28 L" in openapi["components"]["schemas"]["DigitsInstance"]["properties"][
        "b64"]["description"]


def test_openapi_lists_categories_and_missing_values(hostile):
    document = send(hostile, request("GET", "/openapi.json", accept="application/json")).json()
    validate_openapi(document)
    by_name, _ = document["components"]["schemas"]["HostileCategoriesInstance"]["oneOf"]
    category = by_name["properties"][HOSTILE_FEATURES[-1]]
    assert category["type"] == ["string", "null"]
    assert category["enum"] == [*HOSTILE_CATEGORIES, None]
    validator = instance_validator(document, "hostile_categories")
    row = dict(zip(HOSTILE_FEATURES, (1.0, 2.0, HOSTILE_CATEGORIES[0]), strict=True))
    validator.validate({"instances": [row, {**row, HOSTILE_FEATURES[-1]: None}]})
    assert not validator.is_valid({"instances": [{**row, HOSTILE_FEATURES[-1]: "other"}]})


# ------------------------------------------------------------------ hostile manifests
@pytest.mark.parametrize("path", ["/", "/demo/hostile", "/demo/hostile_categories", "/docs"])
def test_markup_in_names_labels_and_descriptions_is_shown_as_text(hostile, path):
    answer = send(hostile, request("GET", path))
    assert answer.status == 200
    page = Page(answer.body)
    page.assert_inert()
    text = "".join(page.text)
    if path == "/":
        assert text.count(HOSTILE_DESCRIPTION) == 2
    if path.startswith("/demo/"):
        assert HOSTILE_DESCRIPTION in text
        labels = [a.get("for") for a in page.find("label") if a.get("for", "").startswith("f")]
        assert len(labels) == 3
        for feature in HOSTILE_FEATURES:
            assert feature in text
        (demo,) = page.find("main", id="demo")
        # Data attributes carry the exact strings (the page's script sets them as text).
        assert json.loads(demo["data-labels"]) == list(HOSTILE_LABELS)
        assert json.loads(demo["data-features"]) == list(HOSTILE_FEATURES)
        assert [i["name"] for i in page.find("input", **{"data-kind": "number"})] \
            == list(HOSTILE_FEATURES[:3 if path == "/demo/hostile" else 2])
    if path == "/demo/hostile_categories":
        options = [a["value"] for a in page.find("option")]
        assert options == ["", *HOSTILE_CATEGORIES]
        assert all(c in text for c in HOSTILE_CATEGORIES)


def test_a_hostile_path_is_echoed_as_text_in_the_not_found_page(hostile):
    answer = send(hostile, request("GET", "/demo/<img src=x onerror=alert(1)>"))
    assert answer.status == 404
    page = Page(answer.body)
    page.assert_inert()
    assert "<img src=x onerror=alert(1)>" in "".join(page.text)


# ------------------------------------------------------------------------ errors
ERRORS = [
    # method, path, accept, body, content type → status, code
    ("GET", "/no/such/page", "application/json", None, None, 404, "not_found"),
    ("GET", "/no/such/page", "*/*", None, None, 404, "not_found"),
    ("GET", "/demo/no_such_model", "application/json", None, None, 404, "model_not_found"),
    ("POST", "/demo/no_such_model/predict", "*/*", b"{}", "application/json", 404,
     "model_not_found"),
    ("POST", "/openapi.json", "*/*", b"{}", "application/json", 405, "method_not_allowed"),
    ("GET", "/demo/digits/predict", HTML, None, None, 405, "method_not_allowed"),
    ("DELETE", "/", HTML, None, None, 405, "method_not_allowed"),
    ("POST", "/demo/digits/predict", "*/*", b"hello", "text/plain", 415,
     "unsupported_media_type"),
    ("POST", "/demo/digits/predict", "*/*", b"\x89PNG" + bytes(3_000_000), "image/png", 413,
     "payload_too_large"),
    ("GET", "/static/ort/1.30.0/ort.all.min.js", "*/*", None, None, 404, "not_found"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("method", "path", "accept", "body", "content_type", "status", "code"),
                         ERRORS, ids=[f"{e[0]} {e[1]} {e[5]}" for e in ERRORS])
def test_errors_have_the_contracts_json_shape(web, fmt, method, path, accept, body,
                                             content_type, status, code):
    event = request(method, path, fmt, accept=accept, body=body, content_type=content_type)
    answer = send(web, event)
    assert answer.status == status
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "request_id"} and error["code"] == code
    assert error["request_id"] == event["requestContext"]["requestId"]
    assert "Traceback" not in error["message"] and "webapp" not in error["message"]
    if status == 405:
        assert "use " in error["message"]


def test_a_browser_gets_a_not_found_page(web):
    answer = send(web, request("GET", "/no/such/page"))
    assert answer.status == 404 and answer.headers["content-type"].startswith("text/html")
    assert "nothing at /no/such/page" in Page(answer.body).text


def test_head_and_options(web):
    get, head = (send(web, request(m, "/demo/digits")) for m in ("GET", "HEAD"))
    assert head.status == 200 and head.data == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    options = send(web, request("OPTIONS", "/demo/digits/predict"))
    assert options.status == 204 and options.headers["allow"] == "OPTIONS, POST"
    assert options.headers["x-content-type-options"] == "nosniff"


def v1_event(**changes: Any) -> dict[str, Any]:
    event = load_event("web_catalog_v1")
    event.update(changes)
    return event


def v2_event(**changes: Any) -> dict[str, Any]:
    event = load_event("web_catalog_v2")
    event.update(changes)
    return event


BAD_EVENTS = {
    "not an object": ([], "unsupported_event"),
    "an SQS batch": ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
                     "unsupported_event"),
    "no method": ({"path": "/"}, "unsupported_event"),
    "method not text": (v1_event(httpMethod=7), "unsupported_event"),
    "path not text": (v1_event(path=["/"]), "unsupported_event"),
    "headers a list": (v1_event(headers=[["Host", "x"]], multiValueHeaders=None),
                       "unsupported_event"),
    "header value a number": (v1_event(headers={"Accept": 1}, multiValueHeaders=None),
                              "unsupported_event"),
    "query values not text": (v1_event(queryStringParameters={"a": {"b": 1}}),
                              "unsupported_event"),
    "requestContext text": (v1_event(requestContext="dev"), "unsupported_event"),
    "body a number": (v1_event(body=12), "bad_request"),
    "body not base64": (v1_event(body="%%%", isBase64Encoded=True), "invalid_base64"),
    "surrogate in the path": (v1_event(path="/demo/\ud800"), "bad_request"),
    "surrogate in the body": (v1_event(body="\udfff", httpMethod="POST"), "bad_request"),
    "v2 without rawPath": ({**load_event("web_catalog_v2"), "rawPath": None},
                           "unsupported_event"),
    "v2 surrogate in rawPath": (v2_event(rawPath="/\ud800"), "bad_request"),
    "v2 surrogate in the query": (v2_event(rawQueryString="a=\udc80"), "bad_request"),
    "v2 cookies text": (v2_event(cookies="a=b"), "unsupported_event"),
    "v2 body not base64": (v2_event(body="a", isBase64Encoded=True), "invalid_base64"),
}


@pytest.mark.parametrize(("event", "code"), BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
def test_a_malformed_event_gets_a_400_in_the_contracts_shape(web, event, code):
    answer = send(web, event)
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == code and error["request_id"] == Context.aws_request_id


ODD_VALUES: tuple[Any, ...] = (None, 0, -1, True, "", "\u0000", "é/../", [], {}, ["x"], {"a": None})


@pytest.mark.parametrize("name", ["web_catalog_v1", "web_catalog_v2", "web_demo_v2",
                                  "web_openapi_v1"])
def test_no_change_to_any_field_of_an_event_makes_a_500(web, name):
    """Every top-level and requestContext field of each event, set to each odd value."""
    original = load_event(name)
    seen = set()
    for where in ("top", "requestContext"):
        keys = original if where == "top" else original["requestContext"]
        for key in keys:
            for value in ODD_VALUES:
                event = copy.deepcopy(original)
                (event if where == "top" else event["requestContext"])[key] = value
                answer = send(web, event)
                assert answer.status < 500, (where, key, value, answer)
                if answer.status == 400:
                    assert set(answer.json()["error"]) == {"code", "message", "request_id"}
                seen.add(answer.status)
    assert 200 in seen and 400 in seen


# ------------------------------------------------------------------- demo proxy
class InProcessLambda:
    """Lambda Invoke stand-in that runs the real model handlers in this process."""

    def __init__(self) -> None:
        from model_runtime import Settings, serve_model

        self.calls: list[tuple[str, str]] = []
        self.handlers = {name: serve_model(name, settings=Settings(
            model_source=str(PROJECT_STORE))) for name in MODELS}

    def __call__(self, function: str, qualifier: str, payload: bytes) -> Mapping[str, Any]:
        self.calls.append((function, qualifier))
        name = function.removeprefix("featherserve-dev-")
        return self.handlers[name](json.loads(payload), Context())


@pytest.fixture(scope="module")
def proxied() -> tuple[Handler, InProcessLambda]:
    invoke = InProcessLambda()
    return proxied_web(invoke), invoke


@pytest.mark.parametrize("fmt", FORMATS)
def test_demo_predictions_go_to_the_models_live_alias(proxied, fmt):
    web, invoke = proxied
    png = (ROOT / "examples" / "digits.png").read_bytes()
    answer = send(web, request("POST", "/demo/digits/predict", fmt, accept="*/*", body=png,
                               content_type="image/png"))
    assert answer.status == 200, answer
    assert answer.json()["predictions"][0]["label"] == "7"
    assert float(answer.headers["x-invoke-ms"]) > 0
    row = (ROOT / "examples" / "breast_cancer.json").read_bytes()
    answer = send(web, request("POST", "/demo/breast_cancer/predict", fmt, accept="*/*",
                               body=row, content_type="application/json", query={"top_k": "1"}))
    (prediction,) = answer.json()["predictions"]
    assert prediction["label"] == "malignant" and len(prediction["top"]) == 1
    assert invoke.calls[-2:] == [("featherserve-dev-digits", "live"),
                                 ("featherserve-dev-breast_cancer", "live")]
    # The model's own contract errors come back as they are.
    bad = send(web, request("POST", "/demo/breast_cancer/predict", fmt, accept="*/*",
                            body=b'{"instances": [{}]}', content_type="application/json"))
    assert bad.status == 422 and bad.json()["error"]["code"]


def test_without_a_demo_backend_the_demo_route_says_so(web):
    answer = send(web, request("POST", "/demo/digits/predict", accept="*/*", body=b"{}",
                               content_type="application/json"))
    assert answer.status == 503
    assert answer.json()["error"]["code"] == "demo_unavailable"


# --------------------------------------------------------------- sls invoke local
@pytest.mark.e2e
def test_sls_invoke_local_serves_the_catalog_from_a_real_shaped_event():
    result = run_cli([str(NODE_BIN / "sls"), "invoke", "local", "-f", "web", "--path",
                      "tests/events/web_catalog_v1.json"], env=tool_env(), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    response = last_json_document(result.stdout)
    assert response["statusCode"] == 200
    page = Page(response["body"])
    assert [a["data-model"] for a in page.find("article")] == MODELS


def test_every_web_event_targets_a_web_route():
    from featherserve.codegen.web_files import WEB_ROUTES
    from featherserve.fidelity.model import HttpRoute
    from featherserve.fidelity.triggers import http_request_line

    routes = [HttpRoute("ANY", r) for r in WEB_ROUTES]
    names = sorted(p.stem for p in (ROOT / "tests" / "events").glob("web_*.json"))
    assert names == ["web_catalog_v1", "web_catalog_v2", "web_demo_v2", "web_openapi_v1"]
    for name in names:
        line = http_request_line(load_event(name))
        assert line is not None and any(r.matches(*line) for r in routes), name

