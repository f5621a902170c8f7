"""``POST /demo/{name}/predict``: the demo page's predictions, without an API key in the page.

The web function invokes the model's function directly (Lambda Invoke, its ``live``
alias: the version the API serves, and the only one its role may invoke) with the same
API Gateway event the API would have sent, and returns the model's answer as it is. The
model API keeps its key; the public demo route has its own, lower throttle (see
serverless.yml) and a smaller body cap. Locally the same code calls serverless-offline's
Lambda endpoint, so ``make serve`` exercises the deployed path, boto3 included.

A pooled model has no function of its own: its predictions go to the stage's pool function
(``<prefix>pool``, same qualifier) with the event API Gateway sends through the pool's
``/models/{name}/predict`` route, which names the model in the path and the path parameter.

boto3 is imported on the first demo prediction only: page views never pay for it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from webapp.constants import DEMO_LAMBDA_ENDPOINT, POOL_FUNCTION
from webapp.errors import DemoUnavailable, PayloadTooLarge, UnsupportedMediaType
from webapp.settings import WebSettings

LOG = logging.getLogger("featherserve.web")
JSON_TYPES = ("application/json",)
BINARY_TYPES = ("application/octet-stream", "image/png", "image/jpeg", "image/webp",
                "image/gif", "image/bmp")
# Headers of the model's answer the page may see.
PASSED_HEADERS = ("Content-Type", "Server-Timing", "X-Model-Version")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

Invoker = Callable[[str, str, bytes], Mapping[str, Any]]


@dataclass(frozen=True)
class ProxiedAnswer:
    status: int
    body: str
    headers: dict[str, str]


POOL_RESOURCE = "/models/{name}/predict"


def model_event(name: str, body: bytes, media_type: str, query: Mapping[str, str],
                request_id: str, source_ip: str, *, pooled: bool = False) -> dict[str, Any]:
    """The REST API (payload 1.0) event the API would send for this request: a dedicated
    model's literal route, or (``pooled``) the pool's ``/models/{name}/predict`` route."""
    binary = media_type not in JSON_TYPES
    path = f"/models/{name}/predict"
    resource = POOL_RESOURCE if pooled else path
    return {
        "resource": resource, "path": path, "httpMethod": "POST",
        "headers": {"Content-Type": media_type},
        "multiValueHeaders": {"Content-Type": [media_type]},
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": {"name": name} if pooled else None, "stageVariables": None,
        "requestContext": {"requestId": request_id, "httpMethod": "POST", "path": path,
                           "resourcePath": resource, "stage": "demo",
                           "identity": {"sourceIp": source_ip}},
        "body": base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8"),
        "isBase64Encoded": binary,
    }


class DemoProxy:
    def __init__(self, settings: WebSettings, invoker: Invoker | None = None) -> None:
        self.settings = settings
        self._invoker = invoker
        self._lock = threading.Lock()

    def check(self, body: bytes, media_type: str) -> None:
        """Refuse what the model function would refuse anyway, before invoking it."""
        if len(body) > self.settings.demo_max_body_bytes:
            raise PayloadTooLarge(
                f"the demo takes bodies up to {self.settings.demo_max_body_bytes} bytes, got "
                f"{len(body)}; the page shrinks larger photos before sending them")
        if media_type not in JSON_TYPES + BINARY_TYPES:
            raise UnsupportedMediaType(
                f"send application/json or an image (image/* or application/octet-stream), "
                f"not {media_type or 'no Content-Type'}")

    def function_for(self, name: str, *, pooled: bool = False) -> str:
        """The function serving ``name``: its own, or (pooled) the stage's pool function."""
        return f"{self.settings.demo_function_prefix}{POOL_FUNCTION if pooled else name}"

    def predict(self, name: str, body: bytes, media_type: str, query: Mapping[str, str],
                request_id: str, source_ip: str = "", *, pooled: bool = False
                ) -> ProxiedAnswer:
        self.check(body, media_type)
        if not self.settings.demo_enabled:
            LOG.error("demo predictions are off: FEATHERSERVE_DEMO_FUNCTION_PREFIX is not set")
            raise DemoUnavailable("no demo backend configured")
        if self.settings.offline and not self.settings.demo_lambda_endpoint:
            LOG.error("running under serverless-offline (IS_OFFLINE) with no %s: demo "
                      "predictions never go to AWS from here", DEMO_LAMBDA_ENDPOINT)
            raise DemoUnavailable("no local Lambda endpoint under serverless-offline")
        event = model_event(name, body, media_type, query, request_id, source_ip,
                            pooled=pooled)
        function = self.function_for(name, pooled=pooled)
        started = time.perf_counter()
        try:
            payload = self._invoke(function, json.dumps(event).encode())
        except DemoUnavailable:
            raise
        except Exception as exc:  # boto3/botocore raise many types; details go to the log
            LOG.exception("invoking %s:%s failed", function, self.settings.demo_qualifier)
            raise DemoUnavailable(f"invoke failed: {type(exc).__name__}") from exc
        answer = _answer_from(payload, function)
        answer.headers["X-Invoke-Ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return answer

    def _invoke(self, function: str, payload: bytes) -> Mapping[str, Any]:
        with self._lock:
            if self._invoker is None:
                self._invoker = lambda_invoker(self.settings)
        return self._invoker(function, self.settings.demo_qualifier, payload)


def _answer_from(payload: Mapping[str, Any], function: str) -> ProxiedAnswer:
    status, body = payload.get("statusCode"), payload.get("body")
    if not isinstance(status, int) or not isinstance(body, str):
        LOG.error("%s answered something that is not an API Gateway response: %.300s",
                  function, json.dumps(payload, default=str))
        raise DemoUnavailable("unexpected answer from the model function")
    if payload.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    headers = payload.get("headers") or {}
    passed = {k: str(v) for k, v in headers.items() if k in PASSED_HEADERS} \
        if isinstance(headers, dict) else {}
    passed.setdefault("Content-Type", "application/json")
    return ProxiedAnswer(status, body, passed)


class LambdaClient(Protocol):
    """The one Lambda call the demo makes (boto3's client offers it)."""

    def invoke(self, **kwargs: Any) -> dict[str, Any]: ...


def lambda_invoker(settings: WebSettings) -> Invoker:
    """boto3's Lambda client (imported now, not at init), as an ``Invoker``."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 1})
    kwargs: dict[str, Any] = {"config": config}
    endpoint = settings.demo_lambda_endpoint
    if endpoint:
        kwargs["endpoint_url"] = endpoint
        if urlsplit(endpoint).hostname in LOOPBACK_HOSTS:
            # serverless-offline does not check signatures: never sign with real keys there.
            kwargs.update(aws_access_key_id="offline", aws_secret_access_key="offline",
                          region_name="us-east-1")
    client: LambdaClient = boto3.client("lambda", **kwargs)

    def invoke(function: str, qualifier: str, payload: bytes) -> Mapping[str, Any]:
        response = client.invoke(FunctionName=function, Qualifier=qualifier,
                                 InvocationType="RequestResponse", Payload=payload)
        raw = response["Payload"].read()
        if response.get("FunctionError"):
            LOG.error("%s:%s raised %s: %.500s", function, qualifier,
                      response["FunctionError"], raw)
            raise DemoUnavailable("the model function failed")
        parsed = json.loads(raw or b"null")
        if not isinstance(parsed, dict):
            raise DemoUnavailable("unexpected answer from the model function")
        return parsed

    return invoke
