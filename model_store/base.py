"""The interface every model store offers (local folder, S3), and the value it hands out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from model_store.manifest import Manifest

LATEST = "latest"
# The alias a release is promoted to unless another is named.
PROD = "prod"
# What starts an S3 store's location (its layout lives in model_store.s3.layout, imported
# only then).
S3_SCHEME = "s3://"
ALIASES_FILE = "aliases.json"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class VerifiedModel:
    """A model whose bytes were checked against its manifest's sha256."""

    manifest: Manifest
    model_bytes: bytes


class ModelStore(Protocol):
    """Publish, list, alias and open versioned models."""

    def publish(self, manifest: Manifest, model_file: Path) -> Manifest:
        """Store a model; the same bytes published twice return the existing version."""
        ...

    def names(self) -> list[str]: ...

    def versions(self, name: str) -> list[str]: ...

    def aliases(self, name: str) -> dict[str, str]: ...

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``; its previous target is kept in its history."""
        ...

    def promote(self, name: str, version: str, alias: str = "prod") -> str:
        """``set_alias`` with the release's argument order; returns the version now aliased."""
        ...

    def rollback(self, name: str, alias: str = "prod") -> str:
        """Move ``alias`` back to its previous version (error if it has none); returns it."""
        ...

    def resolve(self, name: str, ref: str = LATEST) -> str:
        """The version that ``ref`` (a version number or an alias) names."""
        ...

    def manifest(self, name: str, ref: str = LATEST) -> Manifest: ...

    def open(self, name: str, ref: str = LATEST) -> VerifiedModel: ...

# The project's own store: where `featherserve train ...` publishes and where a handler
# looks when it runs outside Lambda (no /opt/models) and no setting says otherwise.
PROJECT_STORE = Path(__file__).resolve().parents[1] / "models"
# Where model layers unpack on Lambda.
LAYER_STORE = Path("/opt/models")
