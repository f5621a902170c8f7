"""``open_store(location)``: the one place a location string becomes a model store."""

from __future__ import annotations

from pathlib import Path

from model_store.base import ModelStore
from model_store.local import LocalStore
from model_store.s3_layout import S3_SCHEME


def open_store(location: str | Path) -> ModelStore:
    """``s3://bucket/prefix`` is an ``S3Store`` (no AWS call yet); anything else a folder."""
    text = str(location)
    if text.startswith(S3_SCHEME):
        from model_store.s3 import S3Store

        return S3Store(text)
    return LocalStore(Path(text).expanduser())
