"""``serve_model(name)``: the whole of a model's Lambda handler, built once at init."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable
from typing import Any

from handlers.runtime.errors import BadRequest, HttpError, ServiceUnavailable
from handlers.runtime.events import ApiGatewayV1, adapter_for
from handlers.runtime.http import HttpRequest
from handlers.runtime.model_loading import load_model
from handlers.runtime.observability import MetricUnit, build_logger, build_metrics
from handlers.runtime.service import ModelLoader, ModelService
from handlers.runtime.settings import Settings

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
# Each handler's service, so that ``serve_batch(handler)`` (handlers.runtime.batch) serves
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
    cors = ({"Access-Control-Allow-Origin": settings.cors_origin, "Vary": "Origin"}
            if settings.cors_origin else {})

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        is_cold, cold["start"] = cold["start"], False
        logger.append_keys(cold_start=is_cold,
                           function_request_id=getattr(context, "aws_request_id", None))
        if is_cold:
            metrics.add_metric(name="ColdStart", unit=MetricUnit.Count, value=1)
        adapter = adapter_for(event)
        try:
            if adapter is None:
                raise BadRequest("this function answers API Gateway (REST or HTTP API) and "
                                 "Function URL events only", code="unsupported_event")
            request = adapter.to_request(event)
        except HttpError as error:
            request_id = getattr(context, "aws_request_id", "") or ""
            response = service.error_response(error, request_id)
            response.headers.update(cors)
            return (adapter or ApiGatewayV1()).to_response(response)
        response = service.handle(request)
        response.headers.update(cors)
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        logger.info("request", extra=_access_log(request, response.status, elapsed_ms))
        metrics.flush_metrics()
        return adapter.to_response(response)

    _SERVICES[handler] = service
    return handler


def _access_log(request: HttpRequest, status: int, elapsed_ms: float) -> dict[str, Any]:
    return {"method": request.method, "path": request.path, "status": status,
            "request_id": request.request_id, "latency_ms": round(elapsed_ms, 3),
            "body_bytes": len(request.body)}
