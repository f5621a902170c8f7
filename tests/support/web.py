"""The web function in process, as the tests under tests/webapp send it events: one of
tests/events/web_catalog_*.json re-aimed at any method and path (REST v1 or HTTP API v2),
its answer read back, and the function serving the project's store (``web``) with its
OpenAPI document (``openapi``); tests/webapp/conftest.py makes the fixtures visible there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest

from featherserve.support.events import load_event
from model_store.base import PROJECT_STORE
from webapp.app import WebApp
from webapp.demo_proxy import DemoProxy, Invoker
from webapp.lambda_entry import serve_web
from webapp.settings import WebSettings

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORMATS = ("v1", "v2")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    data: bytes

    @property
    def body(self) -> str:
        return self.data.decode("utf-8")

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json", self
        return json.loads(self.body)


def template_resource(path: str) -> str:
    """The template's route (generated/functions.yml) API Gateway matches ``path`` to."""
    parts = path.split("/")
    if path.startswith("/static/"):
        return "/static/{proxy+}"
    if len(parts) == 3 and parts[1] == "demo":
        return "/demo/{name}"
    if len(parts) == 4 and parts[1] == "demo" and parts[3] == "predict":
        return "/demo/{name}/predict"
    return path


def request(method: str, path: str, fmt: str = "v1", *, accept: str = HTML,
            body: bytes | None = None, content_type: str | None = None,
            query: dict[str, str] | None = None) -> dict[str, Any]:
    """One of tests/events/web_catalog_*.json, sent to another method and path."""
    event = load_event(f"web_catalog_{fmt}")
    extra = {"Content-Type": content_type} if content_type else {}
    encoded = body is not None and content_type != "application/json"
    text = None if body is None else (base64.b64encode(body).decode() if encoded
                                      else body.decode())
    if fmt == "v1":
        headers = {**event["headers"], "Accept": accept, **extra}
        event.update(path=path, resource=template_resource(path), httpMethod=method,
                     headers=headers, body=text,
                     multiValueHeaders={k: [v] for k, v in headers.items()},
                     isBase64Encoded=encoded, queryStringParameters=query,
                     multiValueQueryStringParameters={k: [v] for k, v in query.items()}
                     if query else None)
        event["requestContext"].update(path=f"/dev{path}", httpMethod=method)
    else:
        event["headers"].update({"accept": accept, **{k.lower(): v for k, v in extra.items()}})
        event.update(rawPath=path, routeKey=f"ANY {template_resource(path)}", body=text,
                     isBase64Encoded=encoded,
                     rawQueryString="&".join(f"{k}={v}" for k, v in (query or {}).items()))
        event["requestContext"]["http"].update(method=method, path=path)
    return event


def answer_of(result: Mapping[str, Any]) -> Answer:
    if "multiValueHeaders" in result:
        headers = {k.lower(): v[-1] for k, v in result["multiValueHeaders"].items()}
    else:
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return Answer(int(result["statusCode"]), headers, data)


Handler = Callable[[Any, Any], dict[str, Any]]


class Context:
    aws_request_id = "5b1e3c9a-0000-4000-8000-00000000abcd"


def send(handler: Handler, event: Any) -> Answer:
    return answer_of(handler(event, Context()))


def proxied_web(invoker: Invoker) -> Handler:
    """The web function on the project's store whose demo proxy calls ``invoker`` (a Lambda
    Invoke stand-in) for the functions featherserve-dev-<model>."""
    settings = WebSettings(model_source=str(PROJECT_STORE),
                           demo_function_prefix="featherserve-dev-")
    return serve_web(settings, app=WebApp(settings, proxy=DemoProxy(settings, invoker=invoker)))


@pytest.fixture(scope="module")
def web() -> Handler:
    return serve_web(WebSettings(model_source=str(PROJECT_STORE)))


@pytest.fixture(scope="module")
def openapi(web) -> dict[str, Any]:
    document: dict[str, Any] = send(web, load_event("web_openapi_v1")).json()
    return document


def instance_validator(document: dict[str, Any], model: str) -> jsonschema.Draft202012Validator:
    """The model's request-body schema, its $refs resolved within the document."""
    body = document["paths"][f"/models/{model}/predict"]["post"]["requestBody"]
    schema = {**body["content"]["application/json"]["schema"],
              "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)
