"""The interface every model store offers (local folder, S3), and the value it hands out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from model_store.manifest import Manifest

if TYPE_CHECKING:
    from model_store.aliases import AliasTable

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


class ModelStore(ABC):
    """Publish, list, alias and open versioned models.

    A store says how to read and write (a folder, S3); what an alias change means
    (``set_alias``, ``promote``, ``rollback``) is written once, here.
    """

    @abstractmethod
    def publish(self, manifest: Manifest, model_file: Path) -> Manifest:
        """Store a model; the same bytes published twice return the existing version."""

    @abstractmethod
    def names(self) -> list[str]: ...

    @abstractmethod
    def versions(self, name: str) -> list[str]: ...

    @abstractmethod
    def aliases(self, name: str) -> dict[str, str]: ...

    @abstractmethod
    def alias_table(self, name: str) -> AliasTable:
        """The stored aliases of ``name`` with their history (no ``latest``)."""

    @abstractmethod
    def resolve(self, name: str, ref: str = LATEST) -> str:
        """The version that ``ref`` (a version number or an alias) names."""

    @abstractmethod
    def manifest(self, name: str, ref: str = LATEST) -> Manifest: ...

    @abstractmethod
    def open(self, name: str, ref: str = LATEST) -> VerifiedModel: ...

    @abstractmethod
    def _versions_or_raise(self, name: str) -> list[str]:
        """``versions(name)``, or ``ModelNotFoundError`` naming the models there are."""

    @abstractmethod
    def _change_aliases(self, name: str, change: Callable[[AliasTable], AliasTable]
                        ) -> AliasTable:
        """Read ``name``'s aliases, apply ``change``, write the result if it differs (as one
        step: a concurrent writer is not lost); returns the table now stored."""

    # -- what an alias change means, the same in every store --------------------------------
    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``; its previous target is kept in its history."""
        self.promote(name, version, alias)

    def promote(self, name: str, version: str, alias: str = PROD) -> str:
        """Point ``alias`` at ``version`` (a number or another alias); returns the version."""
        from model_store.aliases import check_alias_name

        check_alias_name(alias)
        resolved = self.resolve(name, version)
        self._change_aliases(name, lambda table: table.moved(alias, resolved))
        return resolved

    def rollback(self, name: str, alias: str = PROD) -> str:
        """Point ``alias`` back at the version it named before (error if it has none);
        returns that version."""
        self._versions_or_raise(name)
        table = self._change_aliases(name, lambda table: table.rolled_back(name, alias))
        return table.targets[alias]


# The project's own store: where `featherserve train ...` publishes and where a handler
# looks when it runs outside Lambda (no /opt/models) and no setting says otherwise.
PROJECT_STORE = Path(__file__).resolve().parents[1] / "models"
# Where model layers unpack on Lambda.
LAYER_STORE = Path("/opt/models")
