"""``serve_web()``: the web function's Lambda handler, API Gateway events → WSGI.

``serverless_wsgi.handle_request`` (the library function; not the plugin's
``wsgi_handler``, which runs commands found in events) turns REST API (1.0) and HTTP API
(2.0) events into WSGI calls. Events are read first by the readers every function shares
(``lambda_kit.events``: maps of the right JSON type, the body and its base64), then held to
what serverless-wsgi needs on top (text where it reads text, valid Unicode, objects where
it calls ``.get``), so a malformed event gets the contract's 400 instead of an exception
escaping the handler, and a hand-written ``{"httpMethod": "GET", "path": "/"}`` works.
"""

from __future__ import annotations

import base64
import logging
import sys
from typing import Any

import serverless_wsgi

from lambda_kit.context import LambdaContext, LambdaHandler
from lambda_kit.errors import BadRequest, HttpError, InternalError, error_body
from lambda_kit.events import adapter_for
from lambda_kit.events.base import is_true
from webapp.app import WebApp
from webapp.security import security_headers
from webapp.settings import WebSettings

LOG = logging.getLogger("featherserve.web")


class EventError(BadRequest):
    """The event is not an HTTP request this function can read (400)."""

    def __init__(self, message: str, code: str = "unsupported_event") -> None:
        super().__init__(message, code=code)


def _text_map(value: Any, where: str, *, multi: bool = False) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(f"{where} must be an object")
    out: dict[str, Any] = {}
    for key, item in value.items():
        items = item if multi and isinstance(item, list) else [item]
        if not all(isinstance(v, str) for v in items) or not isinstance(key, str):
            raise EventError(f"{where} must map names to text")
        for text in (key, *items):
            _check_text(text, where)
        out[key] = list(items) if multi else items[0]
    return out


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise EventError(f"{where} holds text that is not valid Unicode",
                         code="bad_request") from None


def normalise_event(raw: Any) -> dict[str, Any]:
    """A copy of ``raw`` that serverless-wsgi can read, or ``EventError``."""
    adapter = adapter_for(raw)
    if adapter is None or not isinstance(raw, dict) or not (
            raw.get("version") == "2.0" or isinstance(raw.get("httpMethod"), str)):
        raise EventError("this function answers API Gateway (REST or HTTP API) events only")
    if not isinstance(raw.get("body"), str | None):
        raise EventError("body must be text", code="bad_request")
    try:
        request = adapter.to_request(raw)  # the shared readers: maps, body, base64
    except HttpError as error:
        code = "unsupported_event" if error.code == "invalid_event" else error.code
        raise EventError(error.message, code=code) from None
    event: dict[str, Any] = {str(key): value for key, value in raw.items()}
    if event.get("version") == "2.0":
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, dict) else None
        if not isinstance(http, dict) or not isinstance(http.get("method"), str) \
                or not isinstance(event.get("rawPath"), str):
            raise EventError("an HTTP API event needs requestContext.http.method and rawPath")
        event["requestContext"] = _objects(context, "requestContext", ("http", "authorizer"))
        event["headers"] = _text_map(event.get("headers"), "headers")
        cookies = event.get("cookies") or []
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise EventError("cookies must be a list of text")
        if not isinstance(event.get("rawQueryString", ""), str):
            raise EventError("rawQueryString must be text")
        for text in (http["method"], event["rawPath"], event.get("rawQueryString", "")):
            _check_text(text, "the request line")
        _stage_apart_v2(event, event["requestContext"])
    else:
        if not isinstance(event.get("path", "/"), str):
            raise EventError("path must be text")
        event.setdefault("path", "/")
        for text in (event["httpMethod"], event["path"]):
            _check_text(text, "the request line")
        event["headers"] = _text_map(event.get("headers"), "headers")
        event["multiValueHeaders"] = _text_map(event.get("multiValueHeaders"),
                                               "multiValueHeaders", multi=True) or None
        for name in ("queryStringParameters", "multiValueQueryStringParameters"):
            event[name] = _text_map(event.get(name), name, multi=name.startswith("multi")) \
                or None
        event["requestContext"] = _objects(event.get("requestContext"), "requestContext",
                                           ("identity", "authorizer"))
    _body_for_wsgi(event, request.body)
    return event


def _objects(value: Any, where: str, inner: tuple[str, ...]) -> dict[str, Any]:
    """``value`` and its ``inner`` fields as objects (null: empty), for serverless-wsgi,
    which reads them with ``.get`` unchecked."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise EventError(f"{where} must be an object")
    checked = dict(value)
    for key, item in checked.items():  # serverless-wsgi encodes some of them (the stage)
        if isinstance(item, str):
            _check_text(item, f"{where}.{key}")
    for name in inner:
        if checked.get(name) is None:
            checked[name] = {}
        elif not isinstance(checked[name], dict):
            raise EventError(f"{where}.{name} must be an object")
    return checked


def _stage_apart_v2(event: dict[str, Any], context: dict[str, Any]) -> None:
    """An HTTP API's stage as serverless-wsgi should see it: "$default" is no path prefix
    (serverless-wsgi would make it one, and every link /$default/...), and a named stage's
    prefix is in rawPath, so it moves to the script name instead of reaching the routes."""
    stage = context.get("stage")
    if not isinstance(stage, str) or stage in ("", "$default"):
        event["requestContext"] = {**context, "stage": ""}
        return
    prefix = f"/{stage}"
    path = event["rawPath"]
    if path == prefix or path.startswith(prefix + "/"):
        event["rawPath"] = path[len(prefix):] or "/"


def _body_for_wsgi(event: dict[str, Any], body: bytes) -> None:
    """The body as serverless-wsgi reads it: text, valid Unicode, and, when the gateway
    encoded it, the bytes the shared reader decoded in canonical base64 (the reader also
    takes URL-safe, unpadded or wrapped base64, which ``b64decode`` alone would not)."""
    if is_true(event.get("isBase64Encoded")):
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
        return
    event["body"] = event.get("body") or ""
    event["isBase64Encoded"] = False
    _check_text(event["body"], "body")


def error_answer(error: HttpError, request_id: str, static_origin: str = "") -> dict[str, Any]:
    """The contract's error, with the security headers the app's own answers carry (API
    Gateway serves only HTTPS, so HSTS too)."""
    headers = {"Content-Type": "application/json",
               **security_headers(static_origin, https=True, page=False)}
    return {"statusCode": error.status, "headers": headers,
            "body": error_body(error, request_id), "isBase64Encoded": False}


def _configure_logging() -> None:
    LOG.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not LOG.handlers:  # outside Lambda
        LOG.addHandler(logging.StreamHandler(sys.stderr))


def serve_web(settings: WebSettings | None = None, *, app: WebApp | None = None
              ) -> LambdaHandler:
    """Build the app now (Lambda init) and return the handler that serves it (``app``: one
    built already, e.g. with another demo backend)."""
    _configure_logging()
    app = app or WebApp(settings)

    def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
        request_id = str(getattr(context, "aws_request_id", "") or "")
        try:
            checked = normalise_event(event)
        except EventError as exc:
            LOG.info("event rejected: %s", exc)
            return error_answer(exc, request_id, app.settings.static_url)
        try:
            return serverless_wsgi.handle_request(app, checked, context)  # type: ignore[no-any-return]
        except Exception:
            LOG.exception("unhandled error")
            return error_answer(InternalError("unhandled error"), request_id,
                                app.settings.static_url)

    return handler
