"""``serve_pool()``: one function that serves every pooled model of the stage, of any kind.

Clients cannot tell it from a dedicated function: the same routes, HEAD, OPTIONS, cards,
predictions and error family, answered by the same ``ModelService`` code per model. What
differs happens before it: the model named in the path must be in the pool list (else 404,
before any store is read), and is loaded on first use (see ``pool.ModelPool``). Each model is
answered according to its own entry's kind (and its manifest): a tabular model takes JSON
rows, an image model JSON base64 or a raw image body, in the same function.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import Metrics

from lambda_kit.context import LambdaHandler
from lambda_kit.errors import HttpError, InternalError, NotFound, error_body
from lambda_kit.http import HttpRequest, HttpResponse
from model_runtime.cors import CorsPolicy
from model_runtime.lambda_entry import http_function
from model_runtime.model_loading import PredictorFactory, onnx_predictor
from model_runtime.observability import Logger, build_logger
from model_runtime.pool.pool import Clock, ModelPool
from model_runtime.pool.pool_list import PoolList, check_kind
from model_runtime.pool.settings import PoolSettings
from model_runtime.pool.stores import StoreFactory, runtime_store
from model_runtime.routes import PREFLIGHT, find_route, match_route, requested_model
from model_runtime.settings import Settings
from model_runtime.snapstart import is_snap_start

# Each pool handler's pool, so ``serve_pool_batch(handler)`` shares its loaded models.
_POOLS: weakref.WeakKeyDictionary[Callable[..., Any], ModelPool] = weakref.WeakKeyDictionary()


def pool_of(handler: Callable[..., Any]) -> ModelPool | None:
    """The pool behind a handler ``serve_pool`` returned (None for any other callable)."""
    return _POOLS.get(handler)


def build_pool(kind: str | None = None, *, settings: Settings | None = None,
               pool_settings: PoolSettings | None = None, models: PoolList | None = None,
               store_for: StoreFactory = runtime_store,
               predictor_factory: PredictorFactory = onnx_predictor,
               clock: Clock = time.monotonic) -> ModelPool:
    """The pool of the models the pool list names (nothing loaded yet); ``kind`` ("tabular"
    or "image") keeps that kind's entries only."""
    if kind is not None:
        check_kind(kind)
    settings = settings or Settings.from_env()
    pool_settings = pool_settings or PoolSettings.from_env()
    if models is None:
        models = PoolList.read(Path(pool_settings.models_file), settings.model_source)
    # Each request's metrics carry its model as their ``model`` dimension, as a dedicated
    # function's do (one alarm per dimension value, or metric math over them all).
    metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
    listed = models if kind is None else models.of_kind(kind)
    return ModelPool(listed, settings, pool_settings,
                     build_logger(settings, f"{kind}_pool" if kind else "pool"), metrics,
                     store_for=store_for,
                     predictor_factory=predictor_factory, clock=clock)


def serve_pool(kind: str | None = None, *, settings: Settings | None = None,
               pool_settings: PoolSettings | None = None, models: PoolList | None = None,
               store_for: StoreFactory = runtime_store,
               predictor_factory: PredictorFactory = onnx_predictor,
               clock: Clock = time.monotonic) -> LambdaHandler:
    """The pool function's handler: every model of the pool list (of ``kind`` only, when
    given: "tabular" or "image"); loads only the warm set now."""
    pool = build_pool(kind, settings=settings, pool_settings=pool_settings, models=models,
                      store_for=store_for, predictor_factory=predictor_factory, clock=clock)
    logger, metrics = pool.logger, pool.metrics
    cors = CorsPolicy(pool.settings.cors_origin)
    cold = {"start": True}

    handler = http_function(
        logger=logger, metrics=metrics, cors=cors, cold=cold,
        route=lambda request: _route(pool, cors, request),
        refuse=lambda error, request_id: _error_response(logger, error, request_id),
        access_extra=lambda: {"pool_loaded": len(pool.loaded_names)})
    _POOLS[handler] = pool
    for name in pool.pool_settings.warm_names:  # a failure is logged; requests retry it
        with contextlib.suppress(HttpError):
            pool.service(name)
    if is_snap_start():
        from model_runtime.pool.snapstart import register_pool_hooks

        register_pool_hooks(pool, on_restore=lambda: cold.update(start=True))
    return handler


def _route(pool: ModelPool, cors: CorsPolicy, request: HttpRequest) -> HttpResponse:
    """The model's own service answers; the pool only finds (and loads) it first."""
    name = requested_model(request.path)
    pool.logger.append_keys(model=name or "")
    try:
        if name is None:
            raise NotFound(f"no route {request.method} {request.path}; try POST "
                           "/models/{name}/predict or GET /models/{name}",
                           code="route_not_found")
        pool.entry(name)  # 404 before anything is read
        pool.metrics.add_dimension("model", name)
        if request.method == PREFLIGHT:
            return cors.preflight(find_route(request.method, request.path, name))
        match_route(request.method, request.path, name)  # 405 before loading
        service = pool.service(name)
    except HttpError as error:
        return _error_response(pool.logger, error, request.request_id)
    except Exception as exc:  # the pool's own bug: a 500 with no details, the log has them
        pool.logger.exception("pool: unhandled error")
        return _error_response(pool.logger, InternalError(str(exc)), request.request_id)
    return service.handle(request)


def _error_response(logger: Logger, error: HttpError, request_id: str) -> HttpResponse:
    if error.status >= 500:
        logger.error("request failed", extra={"code": error.code, "detail": error.message})
    else:
        logger.info("request rejected", extra={"status": error.status, "code": error.code,
                                               "detail": error.message})
    return HttpResponse.raw_json(error.status, error_body(error, request_id), error.headers)
