"""Where a location string becomes a store: the one place that tells ``s3://`` from a folder.

``open_store`` is for the tooling (publish, promote, list); ``open_model`` is the runtime's
read path: a folder is read in place, S3 through a sha256-checked cache (boto3 is imported
only on that path).
"""

from __future__ import annotations

from pathlib import Path

from model_store.base import LATEST, S3_SCHEME, ModelStore, VerifiedModel
from model_store.local import LocalStore


def is_s3(location: str | Path) -> bool:
    return str(location).startswith(S3_SCHEME)


def open_store(location: str | Path) -> ModelStore:
    """``s3://bucket/prefix`` is an ``S3Store`` (no AWS call yet); anything else a folder."""
    if is_s3(location):
        from model_store.s3 import S3Store

        return S3Store(str(location))
    return LocalStore(Path(str(location)).expanduser())


def open_model(location: str | Path, name: str, ref: str = LATEST, *,
               cache_root: Path | None = None) -> VerifiedModel:
    """``name`` at ``ref`` from ``location``, its bytes checked against the manifest's sha256.

    From S3 the model goes through ``cache_root`` (Lambda: /tmp), so a re-init in the same
    execution environment downloads nothing when the cache already holds that sha256.
    """
    if is_s3(location):
        from model_store.s3 import RUNTIME_CLIENT_CONFIG, S3Store

        if cache_root is None:
            raise ValueError("a model from S3 needs a cache folder")
        store = S3Store(str(location), config=RUNTIME_CLIENT_CONFIG)
        return store.open_cached(name, ref, cache_root)
    return LocalStore(Path(str(location))).open(name, ref)
