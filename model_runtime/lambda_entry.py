"""``serve_model(name)``: the whole of a model's Lambda handler, built once at init.

The handler never raises: whatever an event holds, Lambda gets an HTTP answer in the
contract's shape. Client mistakes are 4xx from the runtime's error family; anything
unforeseen is caught twice, by the service (500, details logged) and, as a last resort,
around the whole handler (500 in the shape every proxy integration accepts).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import weakref
from collections.abc import Callable
from typing import Any

from lambda_kit.context import LambdaContext, LambdaHandler
from lambda_kit.errors import BadRequest, HttpError, InternalError, ServiceUnavailable, error_body
from lambda_kit.events import adapter_for
from lambda_kit.events.base import EventAdapter, proxy_response
from lambda_kit.http import HttpRequest, HttpResponse
from model_runtime.cors import CorsPolicy
from model_runtime.model_loading import load_model
from model_runtime.observability import Logger, Metrics, MetricUnit, build_logger, build_metrics
from model_runtime.routes import PREFLIGHT, find_route
from model_runtime.service import ModelLoader, ModelService
from model_runtime.settings import Settings
from model_runtime.snapstart import is_snap_start, register_snapshot_hooks
from model_runtime.warmup import warm_up

# Each handler's service, so that ``serve_batch(handler)`` (model_runtime.batch) serves
# files with the model this handler already loaded: one session per process, not two.
_SERVICES: weakref.WeakKeyDictionary[Callable[..., Any], ModelService] = (
    weakref.WeakKeyDictionary())


def service_of(handler: Callable[..., Any]) -> ModelService | None:
    """The service behind a handler ``serve_model`` returned (None for any other callable)."""
    return _SERVICES.get(handler)


def serve_model(name: str, *, settings: Settings | None = None,
                loader: ModelLoader = load_model) -> LambdaHandler:
    """Load ``name`` now (Lambda init), and return the handler that serves it."""
    settings = settings or Settings.from_env()
    logger = build_logger(settings, name)
    metrics = build_metrics(settings, name)
    service = ModelService(name, settings, logger, metrics, loader)
    # A failed load is logged; each request then retries and answers 503 until it works.
    with contextlib.suppress(ServiceUnavailable):
        service.ensure_loaded()
    cold = {"start": True}
    cors = CorsPolicy(settings.cors_origin)

    def route(request: HttpRequest) -> HttpResponse:
        if request.method == PREFLIGHT:
            return _preflight(request, cors, service)
        return service.handle(request)

    handler = http_function(logger=logger, metrics=metrics, cors=cors, cold=cold,
                            route=route, refuse=service.error_response)
    _SERVICES[handler] = service
    if settings.warmup:
        # The first request's lazy work (plugins, first session run) is done here, at init.
        warm_up(handler, service, settings.warmup)
        cold["start"] = True
    if is_snap_start():
        register_snapshot_hooks(handler, service, on_restore=lambda: cold.update(start=True))
    return handler


def _preflight(request: HttpRequest, cors: CorsPolicy, service: ModelService) -> HttpResponse:
    try:
        return cors.preflight(find_route(request.method, request.path, service.name))
    except HttpError as error:
        return service.error_response(error, request.request_id)


def _respond(adapter: EventAdapter | None, response: HttpResponse, event: Any
             ) -> dict[str, Any]:
    if adapter is None:
        return proxy_response(response)
    return adapter.to_response(response, event)


def _context_request_id(context: LambdaContext | None) -> str:
    value = getattr(context, "aws_request_id", None)
    return value if isinstance(value, str) else ""


def _last_resort(logger: Logger, context: LambdaContext | None) -> dict[str, Any]:
    request_id = ""
    with contextlib.suppress(Exception):
        request_id = _context_request_id(context)
        logger.exception("unhandled error escaped the handler")
    body = error_body(InternalError("unhandled error escaped the handler"), request_id)
    return {"statusCode": 500, "headers": {"Content-Type": "application/json"}, "body": body,
            "isBase64Encoded": False}


def _access_log(request: HttpRequest, status: int, elapsed_ms: float) -> dict[str, Any]:
    return {"method": request.method, "path": request.path, "status": status,
            "request_id": request.request_id, "latency_ms": round(elapsed_ms, 3),
            "body_bytes": len(request.body)}


AccessExtra = Callable[[], dict[str, Any]]


def http_function(*, logger: Logger, metrics: Metrics, cors: CorsPolicy,
                  cold: dict[str, bool], route: Callable[[HttpRequest], HttpResponse],
                  refuse: Callable[[HttpError, str], HttpResponse],
                  access_extra: AccessExtra = dict) -> LambdaHandler:
    """The Lambda handler around ``route``, shared by a dedicated model function and a pool:
    event → request (or ``refuse`` for an event it cannot read), CORS headers, HEAD without
    a body, the cold-start, latency and server-error metrics, one access-log line, and the
    last resort.
    ``cold["start"]`` is the cold-start flag warm-up and SnapStart set again."""

    def answer(event: Any, context: LambdaContext | None) -> dict[str, Any]:
        started = time.perf_counter()
        is_cold, cold["start"] = cold["start"], False
        context_id = _context_request_id(context)
        logger.append_keys(cold_start=is_cold, function_request_id=context_id or None)
        if is_cold:
            metrics.add_metric(name="ColdStart", unit=MetricUnit.Count, value=1)
        adapter = adapter_for(event)
        try:
            if adapter is None:
                raise BadRequest("this function answers HTTP events only: API Gateway (REST or "
                                 "HTTP API), Function URLs and Application Load Balancers",
                                 code="unsupported_event")
            request = adapter.to_request(event)
        except HttpError as error:
            response = refuse(error, context_id)
            response.headers.update(cors.answer_headers)
            return _respond(adapter, response, event)
        if not request.request_id:  # ALB and hand-written events carry none
            request = dataclasses.replace(request, request_id=context_id)
        response = route(request)
        response.headers.update(cors.answer_headers)
        if request.method == "HEAD":  # the GET answer's status and headers, no body
            response = dataclasses.replace(response, body="")
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        # 1 for an answer the stage got wrong (5xx), 0 otherwise: its SUM per `model` is the
        # count of 5xx answers, its AVG their rate (the pool's per-model alarms query it).
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count,
                           value=1 if response.status >= 500 else 0)
        access = _access_log(request, response.status, elapsed_ms)
        access.update(cold_start=is_cold, function_request_id=context_id,
                      model_version=response.headers.get("X-Model-Version", ""),
                      **access_extra())
        # One line per request: the EMF metrics line carries the access log as metadata
        # (searchable in Logs Insights); the Logger's own copy is DEBUG. Two JSON lines per
        # request cost twice the time of one. ``metadata_set`` is the dict ``add_metadata``
        # fills (str keys, as here): one update instead of nine calls that each format a
        # debug message, about 10 µs a request.
        metrics.metadata_set.update(access)
        logger.debug("request", extra=access)
        metrics.flush_metrics()
        return adapter.to_response(response, event)

    def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        try:
            return answer(event, context)
        except Exception:  # the last resort: Lambda must never see an exception escape
            return _last_resort(logger, context)

    return handler
