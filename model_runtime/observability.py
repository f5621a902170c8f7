"""Powertools Logger (structured JSON) and Metrics (EMF), configured once per function."""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from model_runtime.settings import Settings

__all__ = ["Logger", "MetricUnit", "Metrics", "build_logger", "build_metrics"]


def build_logger(settings: Settings, model_name: str) -> Logger:
    logger = Logger(service=settings.service_name)
    logger.append_keys(model=model_name)
    return logger


def build_metrics(settings: Settings, model_name: str) -> Metrics:
    metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
    metrics.set_default_dimensions(model=model_name)
    return metrics
