"""Versioned model store, the part a Lambda function may import: manifests, local and S3
stores, versions and aliases, integrity (sha256). Shipped whole in the function zip.

Names are re-exported lazily (PEP 562): a handler importing ``model_store.base`` must not pay
for the store's write path (shutil, tempfile, aliases) at cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_store.base import LATEST, ModelStore, VerifiedModel
    from model_store.exceptions import (
        IntegrityError,
        ManifestError,
        ModelNotFoundError,
        ModelStoreError,
        StoreUnavailableError,
        VersionNotFoundError,
    )
    from model_store.local import LocalStore
    from model_store.manifest import (
        Feature,
        ImageSpec,
        Lineage,
        Manifest,
        Metrics,
        OutputSpec,
        Quantization,
        TabularSpec,
    )

_HOMES = {
    "model_store.base": ("LATEST", "ModelStore", "VerifiedModel"),
    "model_store.exceptions": ("IntegrityError", "ManifestError", "ModelNotFoundError",
                               "ModelStoreError", "StoreUnavailableError",
                               "VersionNotFoundError"),
    "model_store.local": ("LocalStore",),
    "model_store.manifest": ("Feature", "ImageSpec", "Lineage", "Manifest", "Metrics",
                             "OutputSpec", "Quantization", "TabularSpec"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'model_store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "LATEST",
    "Feature",
    "ImageSpec",
    "IntegrityError",
    "Lineage",
    "LocalStore",
    "Manifest",
    "ManifestError",
    "Metrics",
    "ModelNotFoundError",
    "ModelStore",
    "ModelStoreError",
    "OutputSpec",
    "Quantization",
    "StoreUnavailableError",
    "TabularSpec",
    "VerifiedModel",
    "VersionNotFoundError",
]
