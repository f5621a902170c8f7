"""The WSGI app: routes, error mapping, security headers.

    GET  /                           catalog of every model in the store (and pool list)
    GET  /demo/<name>                the model's demo page
    POST /demo/<name>/predict        demo predictions, proxied to the live alias of the
                                     model's function (a pooled model's: the pool's)
    GET  /openapi.json               OpenAPI 3.1 of the whole service, from the manifests
    GET  /docs                       that document, rendered
    GET  /static/...                 JS, CSS, onnxruntime-web, model files (locally only;
                                     deployed, the CDN serves them)

HEAD works wherever GET does; OPTIONS answers with the allowed methods.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from model_store.exceptions import ModelStoreError
from model_store.stores import open_model
from webapp.catalog import Catalog
from webapp.demo_proxy import DemoProxy
from webapp.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    WebError,
    error_body,
)
from webapp.gateway import check_path, check_route
from webapp.html import Assets
from webapp.openapi import build_openapi
from webapp.pages import catalog_page, demo_page, docs_page, not_found_page
from webapp.security import security_headers
from webapp.settings import WebSettings
from webapp.static_files import (
    IMMUTABLE,
    ORT_WEB_VERSION,
    app_files,
    app_version,
    content_type,
    ort_file,
)

LOG = logging.getLogger("featherserve.web")
PAGE_CACHE = "public, max-age=60"

ROUTES = Map([
    Rule("/", endpoint="catalog", methods=["GET"]),
    Rule("/docs", endpoint="docs", methods=["GET"]),
    Rule("/openapi.json", endpoint="openapi", methods=["GET"]),
    Rule("/demo/<name>", endpoint="demo", methods=["GET"]),
    Rule("/demo/<name>/predict", endpoint="demo_predict", methods=["POST"]),
    Rule("/static/app/<version>/<path:file_name>", endpoint="static_app", methods=["GET"]),
    Rule("/static/ort/<version>/<file_name>", endpoint="static_ort", methods=["GET"]),
    Rule("/static/models/<name>/<sha256>.onnx", endpoint="static_model", methods=["GET"]),
    # No redirects (werkzeug's would build an absolute URL from the Host header): "/docs/"
    # is "/docs", and "//x" is simply not found.
], merge_slashes=False, strict_slashes=False)
JSON_ENDPOINTS = {"openapi", "demo_predict", "static_app", "static_ort", "static_model"}


class WebApp:
    def __init__(self, settings: WebSettings | None = None, *, catalog: Catalog | None = None,
                 proxy: DemoProxy | None = None) -> None:
        self.settings = settings or WebSettings.from_env()
        self.catalog = catalog or Catalog(self.settings)
        self.proxy = proxy or DemoProxy(self.settings)
        self.app_version = app_version()
        self._views: dict[str, Callable[..., Response]] = {
            "catalog": self.view_catalog, "docs": self.view_docs,
            "openapi": self.view_openapi, "demo": self.view_demo,
            "demo_predict": self.view_demo_predict, "static_app": self.view_static_app,
            "static_ort": self.view_static_ort, "static_model": self.view_static_model,
        }

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        response = self.dispatch(request)
        LOG.info(json.dumps({"method": request.method, "path": request.path,
                             "status": response.status_code,
                             "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                             "request_id": request_id(request)}))
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = ROUTES.bind_to_environ(request.environ)
        endpoint = None
        event = request.environ.get("serverless.event")
        event = event if isinstance(event, dict) else {}
        try:
            check_path(event)
            if request.method == "OPTIONS":
                response = self._options(adapter)
            else:
                endpoint, args = adapter.match()
                check_route(str(endpoint), event)
                response = self._views[str(endpoint)](request, **args)
        except HTTPException as exc:  # werkzeug's own 404/405/308
            response = self._http_exception(request, exc, endpoint)
        except WebError as error:
            response = self.error_response(request, error, endpoint)
        except Exception as exc:
            LOG.exception("unhandled error")
            response = self.error_response(request, InternalError(str(exc)), endpoint)
        https = request.scheme == "https"
        page = response.mimetype == "text/html"
        response.headers.update(security_headers(self.settings.static_url, https=https,
                                                 page=page))
        return response

    def _options(self, adapter: Any) -> Response:
        try:
            allowed = sorted(set(adapter.allowed_methods()) | {"OPTIONS"})
        except HTTPException:
            allowed = []
        if len(allowed) <= 1:
            raise NotFound("no such page")
        return Response(status=204, headers={"Allow": ", ".join(allowed)})

    def _http_exception(self, request: Request, exc: HTTPException,
                        endpoint: Any) -> Response:
        if exc.code in (301, 302, 307, 308):
            return exc.get_response(request.environ)
        if exc.code == 405:
            # RFC 9110: a 405 names the methods the resource answers (OPTIONS always).
            valid = getattr(exc, "valid_methods", None) or []
            allowed = sorted(set(valid) | {"OPTIONS"})
            error: WebError = MethodNotAllowed(
                f"{request.method} is not allowed here; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)})
        else:
            error = NotFound(f"nothing at {request.path}", code="not_found")
        return self.error_response(request, error, endpoint)

    def error_response(self, request: Request, error: WebError, endpoint: Any) -> Response:
        if error.status >= 500:
            LOG.error("request failed: %s %s", error.code, error.message)
        wants_json = endpoint in JSON_ENDPOINTS or (endpoint is None and (
            request.path.startswith("/static/") or request.path.endswith(("/predict", ".json"))))
        # A person's browser gets a page; an API client (or anything not asking for HTML)
        # gets the contract's JSON.
        if error.status == 404 and asks_for_html(request) and not wants_json \
                and request.method in ("GET", "HEAD"):
            return Response(not_found_page(self.assets(request), error.public_message),
                            status=404, mimetype="text/html")
        return Response(error_body(error, request_id(request)), status=error.status,
                        mimetype="application/json", headers=error.headers)

    # -- pages -----------------------------------------------------------------------------
    def assets(self, request: Request) -> Assets:
        root = request.script_root
        static = self.settings.static_url or f"{root}/static"
        return Assets(root=root, static=static, app_version=self.app_version,
                      ort_version=ORT_WEB_VERSION)

    def _page(self, text: str) -> Response:
        return Response(text, mimetype="text/html", headers={"Cache-Control": PAGE_CACHE})

    def view_catalog(self, request: Request) -> Response:
        return self._page(catalog_page(self.catalog.snapshot(), self.assets(request)))

    def view_demo(self, request: Request, name: str) -> Response:
        entry = self.catalog.entry(name)
        return self._page(demo_page(entry, self.assets(request),
                                    self.settings.demo_max_body_bytes))

    def view_docs(self, request: Request) -> Response:
        return self._page(docs_page(self.assets(request)))

    def view_openapi(self, request: Request) -> Response:
        document = build_openapi(self.catalog.snapshot().entries,
                                 server_url=f"{request.script_root}/")
        return Response(json.dumps(document, indent=1, allow_nan=False),
                        mimetype="application/json", headers={"Cache-Control": PAGE_CACHE})

    def view_demo_predict(self, request: Request, name: str) -> Response:
        # Only models in the catalog (404 before anything is invoked): a dedicated one's
        # own function, a pooled one's pool function, never an arbitrary function.
        entry = self.catalog.entry(name)
        limit = self.settings.demo_max_body_bytes
        body = request.stream.read(limit + 1)
        query = {k: v for k, v in request.args.items() if k == "top_k"}
        source_ip = request.remote_addr or ""
        answer = self.proxy.predict(name, body, request.mimetype, query, request_id(request),
                                    source_ip, pooled=entry.pooled)
        return Response(answer.body, status=answer.status, headers=answer.headers)

    # -- static files (local only) -----------------------------------------------------------
    def _static(self, data: bytes, name: str) -> Response:
        return Response(data, mimetype=None, headers={"Content-Type": content_type(name),
                                                      "Cache-Control": IMMUTABLE})

    def _serving_static(self) -> None:
        if not self.settings.serves_static:
            raise NotFound("static files are served by the static origin", code="not_found")

    def view_static_app(self, request: Request, version: str, file_name: str) -> Response:
        self._serving_static()
        path = app_files().get(file_name)
        if path is None or version != self.app_version:
            raise NotFound(f"no static file {file_name!r} in version {version!r}")
        return self._static(path.read_bytes(), file_name)

    def view_static_ort(self, request: Request, version: str, file_name: str) -> Response:
        self._serving_static()
        path = ort_file(self.settings.ort_dist, file_name)
        if path is None or version != ORT_WEB_VERSION:
            raise NotFound(f"no onnxruntime-web file {file_name!r} in version {version!r} "
                           "(run npm ci)")
        return self._static(path.read_bytes(), file_name)

    def view_static_model(self, request: Request, name: str, sha256: str) -> Response:
        self._serving_static()
        entry = self.catalog.entry(name)
        if entry.manifest.sha256 != sha256:
            raise NotFound(f"{name} has no file with sha256 {sha256[:12]}…")
        try:
            opened = open_model(self.settings.model_source, name, entry.manifest.version)
        except ModelStoreError as exc:
            LOG.exception("cannot read %s's model file", name)
            raise NotFound(f"{name}'s model file is not in this store") from exc
        return self._static(opened.model_bytes, f"{name}.onnx")


def asks_for_html(request: Request) -> bool:
    """The client names HTML in its Accept header (a browser does; curl's */* does not)."""
    return any(value in ("text/html", "application/xhtml+xml") and quality > 0
               for value, quality in request.accept_mimetypes)


def request_id(request: Request) -> str:
    cached = request.environ.get("featherserve.request_id")
    if cached:
        return str(cached)
    event = request.environ.get("serverless.event") or {}
    context = request.environ.get("serverless.context")
    found = ""
    if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
        found = str(event["requestContext"].get("requestId") or "")
    found = found or str(getattr(context, "aws_request_id", "") or "") or str(uuid.uuid4())
    request.environ["featherserve.request_id"] = found
    return found


def create_app(settings: WebSettings | None = None) -> WebApp:
    return WebApp(settings)


__all__ = ["WebApp", "create_app"]
