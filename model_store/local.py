"""A model store in a local folder: ``<root>/<name>/<version>/{model.onnx,manifest.json}``.

The same layout is what a model layer unpacks to under ``/opt/models`` on Lambda, so the
handler opens a layer with this class too. Writes go to a temporary folder that is renamed
into place, so a crash never leaves a half-published version behind; the write path lives
in ``local_write`` and is imported only when writing (a handler only reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_store.base import ALIASES_FILE, LATEST, MANIFEST_FILE, PROD, VerifiedModel
from model_store.exceptions import ManifestError, ModelNotFoundError, ModelStoreError
from model_store.integrity import sha256_file, verify_bytes
from model_store.manifest import NAME_PATTERN, VERSION_PATTERN, Manifest

if TYPE_CHECKING:
    from model_store.aliases import AliasTable

__all__ = ["LocalStore"]


def __getattr__(name: str) -> Any:
    # Kept importable from here; loaded only by the code that writes.
    if name == "write_atomically":
        from model_store.local_write import write_atomically

        return write_atomically
    if name == "ALIAS_PATTERN":
        from model_store.aliases import ALIAS_PATTERN

        return ALIAS_PATTERN
    raise AttributeError(f"module 'model_store.local' has no attribute {name!r}")


class LocalStore:
    """A versioned, content-addressed model store in a folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- reading -------------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and NAME_PATTERN.match(p.name) and self.versions(p.name))

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir()
                 if VERSION_PATTERN.match(p.name) and (p / MANIFEST_FILE).is_file()]
        return sorted(found, key=int)

    def aliases(self, name: str) -> dict[str, str]:
        # "latest" is derived, never stale: the highest published version.
        latest = self._versions_or_raise(name)[-1]
        return self._read_aliases(name).with_latest(latest)

    def alias_table(self, name: str) -> AliasTable:
        """The stored aliases of ``name`` with their history (no ``latest``)."""
        self._versions_or_raise(name)
        return self._read_aliases(name)

    def resolve(self, name: str, ref: str = LATEST) -> str:
        versions = self._versions_or_raise(name)
        if ref == LATEST:  # derived, never stored: no aliases file to read
            return versions[-1]
        from model_store.aliases import resolve_ref

        return resolve_ref(name, ref, versions, lambda: self._read_aliases(name))

    def manifest(self, name: str, ref: str = LATEST) -> Manifest:
        version = self.resolve(name, ref)
        path = self.root / name / version / MANIFEST_FILE
        manifest = Manifest.from_json(path.read_bytes())
        if manifest.name != name or manifest.version != version:
            raise ManifestError(
                f"{path}: says {manifest.name} v{manifest.version}, expected {name} v{version}")
        return manifest

    def model_path(self, name: str, ref: str = LATEST) -> Path:
        manifest = self.manifest(name, ref)
        return self.root / name / manifest.version / manifest.file

    def open(self, name: str, ref: str = LATEST) -> VerifiedModel:
        manifest = self.manifest(name, ref)
        path = self.root / name / manifest.version / manifest.file
        if not path.is_file():
            raise ModelStoreError(f"{path}: model file listed in the manifest is missing")
        data = path.read_bytes()
        verify_bytes(data, manifest.sha256, str(path))
        return VerifiedModel(manifest=manifest, model_bytes=data)

    # -- writing -------------------------------------------------------------------------
    def publish(self, manifest: Manifest, model_file: Path) -> Manifest:
        model_file = Path(model_file)
        digest = sha256_file(model_file)
        for version in self.versions(manifest.name):
            existing = self.manifest(manifest.name, version)
            if existing.sha256 == digest:
                return existing
        versions = self.versions(manifest.name)
        version = str(int(versions[-1]) + 1) if versions else "1"
        suffix = model_file.suffix if model_file.suffix in (".onnx", ".ort") else ".onnx"
        published = manifest.published(version=version, sha256=digest,
                                       size=model_file.stat().st_size)
        published = Manifest.from_dict({**published.to_dict(), "file": f"model{suffix}"})
        from model_store.local_write import stage_version

        stage_version(self.root / manifest.name, version, published, model_file)
        return published

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.promote(name, version, alias)

    def promote(self, name: str, version: str, alias: str = PROD) -> str:
        """Point ``alias`` at ``version`` (a number or another alias); returns the version."""
        from model_store.aliases import check_alias_name

        check_alias_name(alias)
        resolved = self.resolve(name, version)
        table = self.alias_table(name)
        self._write_aliases(name, table, table.moved(alias, resolved))
        return resolved

    def rollback(self, name: str, alias: str = PROD) -> str:
        """Point ``alias`` back at the version it named before; returns that version."""
        table = self.alias_table(name)
        changed = table.rolled_back(name, alias)
        self._write_aliases(name, table, changed)
        return changed.targets[alias]

    def _read_aliases(self, name: str) -> AliasTable:
        from model_store.aliases import AliasTable

        path = self.root / name / ALIASES_FILE
        if not path.is_file():
            return AliasTable()
        return AliasTable.from_json(path.read_bytes(), str(path))

    def _write_aliases(self, name: str, old: AliasTable, new: AliasTable) -> None:
        if new != old:
            from model_store.local_write import write_atomically

            write_atomically(self.root / name / ALIASES_FILE, new.to_json().encode())

    def _versions_or_raise(self, name: str) -> list[str]:
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(self._no_model_message(name))
        return versions

    def _no_model_message(self, name: str) -> str:
        known = ", ".join(self.names()) or "none"
        return f"no model named {name!r} in {self.root} (models here: {known})"
