"""A model store in a local folder: ``<root>/<name>/<version>/{model.onnx,manifest.json}``.

The same layout is what a model layer unpacks to under ``/opt/models`` on Lambda, so the
handler opens a layer with this class too. Writes go to a temporary folder that is renamed
into place, so a crash never leaves a half-published version behind; the write path lives
in ``local_write`` and is imported only when writing (a handler only reads).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_store.base import ALIASES_FILE, LATEST, MANIFEST_FILE, ModelStore, VerifiedModel
from model_store.exceptions import ManifestError, ModelNotFoundError, ModelStoreError
from model_store.integrity import sha256_file, verify_bytes
from model_store.manifest import NAME_PATTERN, VERSION_PATTERN, Manifest

if TYPE_CHECKING:
    from model_store.aliases import AliasTable

__all__ = ["LocalStore", "read_bounded"]

# A manifest is a page of JSON (a few KB; a few hundred KB with many categories). Anything
# far larger is not a manifest, and would otherwise be read whole, then served as the card.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_ALIASES_BYTES = 1024 * 1024


def read_bounded(path: Path, root: Path, *, limit: int, exact: int | None = None) -> bytes:
    """Read a regular file inside ``root`` without ever reading more than ``limit`` bytes.

    Symlinks are followed only while they stay inside ``root`` (a layer or a store may link
    within itself; a link to /dev/zero or another tree is refused). With ``exact``, the file
    must be exactly that long (the manifest records every model file's size), checked
    before a byte of it is read.
    """
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        raise ModelStoreError(f"{path}: links outside the store (to {real}); refusing to read it")
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise ModelStoreError(f"{path}: cannot be read ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelStoreError(f"{path}: is not a regular file")
        expected = f"exactly {exact}" if exact is not None else f"at most {limit}"
        if info.st_size > limit or (exact is not None and info.st_size != exact):
            raise ModelStoreError(f"{path}: is {info.st_size} bytes; expected {expected} "
                                  "(the manifest's size): the file was replaced or corrupted")
        data = stream.read(limit + 1)
    if len(data) > limit or (exact is not None and len(data) != exact):
        raise ModelStoreError(f"{path}: changed size while it was read; expected {expected}")
    return data


def __getattr__(name: str) -> Any:
    # Kept importable from here; loaded only by the code that writes.
    if name == "write_atomically":
        from model_store.local_write import write_atomically

        return write_atomically
    if name == "ALIAS_PATTERN":
        from model_store.aliases import ALIAS_PATTERN

        return ALIAS_PATTERN
    raise AttributeError(f"module 'model_store.local' has no attribute {name!r}")


class LocalStore(ModelStore):
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
                      if p.is_dir() and NAME_PATTERN.fullmatch(p.name) and self.versions(p.name))

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir()
                 if VERSION_PATTERN.fullmatch(p.name) and (p / MANIFEST_FILE).is_file()]
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
        manifest = Manifest.from_json(read_bounded(path, self.root, limit=MAX_MANIFEST_BYTES))
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
        if not path.exists() and not path.is_symlink():
            raise ModelStoreError(f"{path}: model file listed in the manifest is missing")
        data = read_bounded(path, self.root, limit=manifest.bytes, exact=manifest.bytes)
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

    def _read_aliases(self, name: str) -> AliasTable:
        from model_store.aliases import AliasTable

        path = self.root / name / ALIASES_FILE
        if not path.is_file():
            return AliasTable()
        return AliasTable.from_json(read_bounded(path, self.root, limit=MAX_ALIASES_BYTES),
                                    str(path))

    def _change_aliases(self, name: str, change: Callable[[AliasTable], AliasTable]
                        ) -> AliasTable:
        table = self._read_aliases(name)
        changed = change(table)
        if changed != table:
            from model_store.local_write import write_atomically

            write_atomically(self.root / name / ALIASES_FILE, changed.to_json().encode())
        return changed

    def _versions_or_raise(self, name: str) -> list[str]:
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(self._no_model_message(name))
        return versions

    def _no_model_message(self, name: str) -> str:
        known = ", ".join(self.names()) or "none"
        return f"no model named {name!r} in {self.root} (models here: {known})"
