"""The pool's read path to a model's store: resolve its ref, open one version, verified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from model_store.base import ModelStore, VerifiedModel
from model_store.local import LocalStore
from model_store.stores import is_s3

# source ("s3://bucket/prefix" or a folder) → the store to read it with.
StoreFactory = Callable[[str], ModelStore]


def runtime_store(source: str) -> ModelStore:
    """The store for ``source``, with the runtime's S3 client settings (boto3 only then)."""
    if is_s3(source):
        from model_store.s3 import RUNTIME_CLIENT_CONFIG, S3Store

        return S3Store(source, config=RUNTIME_CLIENT_CONFIG)
    return LocalStore(Path(source))


def open_version(store: ModelStore, name: str, version: str, cache_root: Path
                 ) -> VerifiedModel:
    """``name`` v``version``, its bytes checked against the manifest's sha256 (from S3
    through the local cache, as a dedicated function reads it)."""
    open_cached = getattr(store, "open_cached", None)
    if open_cached is not None:
        return cast(VerifiedModel, open_cached(name, version, cache_root))
    return store.open(name, version)
