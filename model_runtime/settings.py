"""Settings, read once at init into a frozen value: explicit argument > environment > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_kit.settings import SettingsError, settings_values
from model_runtime import constants as c
from model_store.base import LATEST, LAYER_STORE, PROJECT_STORE


def default_model_source(env: Mapping[str, str] | None = None) -> str:
    """The model layers' folder on Lambda; the project's own store everywhere else."""
    env = os.environ if env is None else env
    layer_store = Path(env[c.OPT_DIR]) / "models" if env.get(c.OPT_DIR) else LAYER_STORE
    return str(layer_store) if layer_store.is_dir() else str(PROJECT_STORE)


@dataclass(frozen=True)
class Settings:
    model_source: str
    model_version: str = LATEST
    model_cache: str = c.DEFAULT_MODEL_CACHE
    max_batch: int = c.DEFAULT_MAX_BATCH
    max_body_bytes: int = c.DEFAULT_MAX_BODY_BYTES
    top_k: int = c.DEFAULT_TOP_K
    threads: int = c.DEFAULT_THREADS
    max_image_pixels: int = c.DEFAULT_MAX_IMAGE_PIXELS
    max_request_image_bytes: int = c.DEFAULT_MAX_REQUEST_IMAGE_BYTES
    cors_origin: str = ""
    warmup: int = c.DEFAULT_WARMUP
    metrics_namespace: str = c.DEFAULT_NAMESPACE
    service_name: str = c.DEFAULT_SERVICE

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_body_bytes", "top_k", "threads", "max_image_pixels",
                     "max_request_image_bytes"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise SettingsError(f"warmup must be 0 (off) or more, got {self.warmup}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        names = {
            "model_source": c.MODEL_SOURCE,
            "model_version": c.MODEL_VERSION,
            "model_cache": c.MODEL_CACHE,
            "max_batch": c.MAX_BATCH,
            "max_body_bytes": c.MAX_BODY_BYTES,
            "top_k": c.TOP_K,
            "threads": c.THREADS,
            "max_image_pixels": c.MAX_IMAGE_PIXELS,
            "max_request_image_bytes": c.MAX_REQUEST_IMAGE_BYTES,
            "cors_origin": c.CORS_ORIGIN,
            "warmup": c.WARMUP,
            "metrics_namespace": c.METRICS_NAMESPACE,
            "service_name": c.SERVICE_NAME,
        }
        values = settings_values(cls, names, env, overrides)
        values.setdefault("model_source", default_model_source(env))
        return cls(**values)
