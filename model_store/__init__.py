"""Versioned model store: manifests, local and S3 stores, integrity, layer packaging."""

from model_store.base import LATEST, ModelStore, OpenedModel
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
    "OpenedModel",
    "OutputSpec",
    "Quantization",
    "StoreUnavailableError",
    "TabularSpec",
    "VersionNotFoundError",
]
