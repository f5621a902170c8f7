"""Errors raised by the model store.

    ModelStoreError
    ├── ManifestError        a manifest is malformed or inconsistent
    ├── ModelNotFoundError   no such model name
    ├── VersionNotFoundError no such version or alias for a model
    ├── IntegrityError       the bytes on disk (or in S3) do not match the recorded sha256
    └── StoreUnavailableError the store itself cannot be reached (missing bucket, credentials)
"""

from __future__ import annotations


class ModelStoreError(Exception):
    """Base class for every error the model store raises."""


class ManifestError(ModelStoreError):
    """A manifest is malformed, incomplete or inconsistent."""


class ModelNotFoundError(ModelStoreError):
    """The store holds no model of that name."""


class VersionNotFoundError(ModelStoreError):
    """The model exists, but not the version or alias asked for."""


class IntegrityError(ModelStoreError):
    """Stored bytes do not match the sha256 the manifest records."""


class StoreUnavailableError(ModelStoreError):
    """The store cannot be reached or used (missing bucket, no credentials, throttled)."""
