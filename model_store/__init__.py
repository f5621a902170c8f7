"""Versioned model store, the part a Lambda function may import: manifests, local and S3
stores, versions and aliases, integrity (sha256). Shipped whole in the function zip."""

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
