"""One model behind the HTTP contract: route, parse, predict, shape, and map errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambda_kit.errors import HttpError, InternalError, ServiceUnavailable, error_body
from lambda_kit.http import HttpRequest, HttpResponse
from model_runtime.cards import card_json
from model_runtime.inference import batch_size
from model_runtime.inputs import InputParser, parse_batch
from model_runtime.model_loading import LoadedModel, load_model
from model_runtime.observability import Logger, Metrics, MetricUnit
from model_runtime.predictions import results_for
from model_runtime.query import top_k_param
from model_runtime.routes import match_route
from model_runtime.settings import Settings
from model_store.manifest import ImageSpec, Manifest

ModelLoader = Callable[[str, Settings], LoadedModel]


def input_parser_for(manifest: Manifest, settings: Settings) -> InputParser:
    if isinstance(manifest.input, ImageSpec):
        from model_runtime.image_inputs import ImageInputs  # Pillow only for image models

        return ImageInputs(manifest.input, settings)
    from model_runtime.tabular import TabularInputs

    return TabularInputs(manifest.input, manifest.name, manifest.input_name)


def model_card(manifest: Manifest) -> dict[str, Any]:
    card = manifest.to_dict()
    card["metrics"]["accuracy_retention"] = manifest.metrics.accuracy_retention
    if manifest.task == "tabular-regression":
        card["metrics"]["r2_retention"] = manifest.metrics.r2_retention
    return card


class ModelEndpoint:
    """The model's HTTP side (input parser, result shaper, card), built once at load."""

    def __init__(self, loaded: LoadedModel, settings: Settings) -> None:
        self.manifest = loaded.manifest
        self.predictor = loaded.predictor
        self.parser = input_parser_for(self.manifest, settings)
        self.results = results_for(self.manifest)
        self.card_body = card_json(model_card(self.manifest))
        self.version_header = {"X-Model-Version": self.manifest.version}


class ModelService:
    def __init__(self, name: str, settings: Settings, logger: Logger, metrics: Metrics,
                 loader: ModelLoader = load_model) -> None:
        self.name = name
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self._loader = loader
        self._endpoint: ModelEndpoint | None = None

    def ensure_loaded(self) -> ModelEndpoint:
        """Load at init; if that failed, try again on the next request (S3 may recover)."""
        if self._endpoint is None:
            started = time.perf_counter()
            try:
                loaded = self._loader(self.name, self.settings)
                self._endpoint = ModelEndpoint(loaded, self.settings)
            except Exception as exc:
                self.logger.exception("model load failed", extra={
                    "source": self.settings.model_source, "ref": self.settings.model_version})
                raise ServiceUnavailable(f"could not load {self.name}: {exc}") from exc
            manifest = self._endpoint.manifest
            self.logger.append_keys(model_version=manifest.version)
            self.logger.info("model loaded", extra={
                "source": self.settings.model_source, "bytes": manifest.bytes,
                "load_ms": round((time.perf_counter() - started) * 1000, 2)})
        return self._endpoint

    def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            route = match_route(request.method, request.path, self.name)
            endpoint = self.ensure_loaded()
            if route.action == "card":
                return HttpResponse.raw_json(200, endpoint.card_body, endpoint.version_header)
            return self._predict(request, endpoint)
        except HttpError as error:
            return self.error_response(error, request.request_id)
        except Exception as exc:  # anything unexpected is a 500 with no details leaked
            self.logger.exception("unhandled error")
            return self.error_response(InternalError(str(exc)), request.request_id)

    def _predict(self, request: HttpRequest, endpoint: ModelEndpoint) -> HttpResponse:
        top_k = self._top_k(request, endpoint.results.max_top_k)
        parsing = time.perf_counter()
        batch = parse_batch(request, endpoint.parser, max_batch=self.settings.max_batch,
                            max_body_bytes=self.settings.max_body_bytes)
        started = time.perf_counter()
        outputs = endpoint.predictor.predict(batch)
        done = time.perf_counter()
        self.metrics.add_metric(name="InferenceLatency", unit=MetricUnit.Milliseconds,
                                value=(done - started) * 1000)
        self.metrics.add_metric(name="Instances", unit=MetricUnit.Count,
                                value=batch_size(batch))
        body = {"model": self.name, "version": endpoint.manifest.version,
                "predictions": endpoint.results.to_predictions(outputs, top_k)}
        # Server-Timing (W3C): the demo page shows the server's own time beside the round trip.
        timing = (f"preprocess;dur={(started - parsing) * 1000:.3f}, "
                  f"inference;dur={(done - started) * 1000:.3f}")
        return HttpResponse.json(200, body, {**endpoint.version_header, "Server-Timing": timing})

    def _top_k(self, request: HttpRequest, classes: int) -> int:
        return top_k_param(request.query, classes, self.settings.top_k)

    def error_response(self, error: HttpError, request_id: str) -> HttpResponse:
        if error.status >= 500:
            self.logger.error("request failed", extra={"code": error.code,
                                                       "detail": error.message})
        else:
            self.logger.info("request rejected", extra={"status": error.status,
                                                        "code": error.code,
                                                        "detail": error.message})
        return HttpResponse.raw_json(error.status, error_body(error, request_id),
                                     error.headers)
