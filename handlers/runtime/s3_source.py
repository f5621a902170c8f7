"""Open a model from ``s3://bucket/prefix`` through a cache in ``/tmp`` (the S3 path only).

This module, and boto3 with it, is imported only when the model source is S3. The alias
(or version) and the manifest are always read from S3; the model bytes are downloaded only
when the cache has no copy with the manifest's sha256, so a re-init in the same execution
environment skips the download. Whatever fails, the cache keeps no partial file, and the
service retries loading on the next request.
"""

from __future__ import annotations

from pathlib import Path

from handlers.runtime.settings import Settings
from model_store.base import OpenedModel
from model_store.s3 import S3Store
from model_store.s3_client import S3ClientConfig

# Used when no ``store`` is passed. Timeouts and retries stay well inside Lambda's 10 s init.
CLIENT_CONFIG = S3ClientConfig()


def open_from_s3(name: str, settings: Settings, *, cache_root: Path | None = None,
                 store: S3Store | None = None) -> OpenedModel:
    """Open ``name`` at ``settings.model_version`` from ``settings.model_source`` (checked)."""
    root = Path(cache_root) if cache_root is not None else Path(settings.model_cache)
    # A new store (and client) per attempt, so fixed credentials or endpoints are picked up.
    store = store or S3Store(settings.model_source, config=CLIENT_CONFIG)
    return store.open_cached(name, settings.model_version, root)
