"""A model store in a local folder: ``<root>/<name>/<version>/{model.onnx,manifest.json}``.

The same layout is what a model layer unpacks to under ``/opt/models`` on Lambda, so the
handler opens a layer with this class too. Writes go to a temporary folder that is renamed
into place, so a crash never leaves a half-published version behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from model_store.base import ALIASES_FILE, LATEST, MANIFEST_FILE, OpenedModel
from model_store.exceptions import (
    ManifestError,
    ModelNotFoundError,
    ModelStoreError,
    VersionNotFoundError,
)
from model_store.integrity import sha256_file, verify_bytes
from model_store.manifest import NAME_PATTERN, VERSION_PATTERN, Manifest

ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(self._no_model_message(name))
        path = self.root / name / ALIASES_FILE
        stored: dict[str, str] = {}
        if path.is_file():
            try:
                stored = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
            except (ValueError, AttributeError) as exc:
                raise ModelStoreError(f"{path}: aliases file is not a JSON object") from exc
        # "latest" is derived, never stale: the highest published version.
        return {**stored, LATEST: versions[-1]}

    def resolve(self, name: str, ref: str = LATEST) -> str:
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(self._no_model_message(name))
        if VERSION_PATTERN.match(ref):
            if ref not in versions:
                raise VersionNotFoundError(
                    f"model {name!r} has no version {ref}; versions: {', '.join(versions)}")
            return ref
        aliases = self.aliases(name)
        if ref not in aliases:
            raise VersionNotFoundError(
                f"model {name!r} has no alias {ref!r}; aliases: {', '.join(sorted(aliases))}")
        return aliases[ref]

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

    def open(self, name: str, ref: str = LATEST) -> OpenedModel:
        manifest = self.manifest(name, ref)
        path = self.root / name / manifest.version / manifest.file
        if not path.is_file():
            raise ModelStoreError(f"{path}: model file listed in the manifest is missing")
        data = path.read_bytes()
        verify_bytes(data, manifest.sha256, str(path))
        return OpenedModel(manifest=manifest, model_bytes=data)

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
        folder = self.root / manifest.name
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".staging-{version}-"))
        try:
            shutil.copyfile(model_file, staging / published.file)
            (staging / MANIFEST_FILE).write_text(published.to_json())
            staging.rename(folder / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return published

    def set_alias(self, name: str, alias: str, version: str) -> None:
        if alias == LATEST:
            raise ModelStoreError("'latest' always names the newest version; it cannot be moved")
        if not ALIAS_PATTERN.match(alias) or VERSION_PATTERN.match(alias):
            raise ModelStoreError(f"alias {alias!r} must be a lower-case word, not a number")
        resolved = self.resolve(name, version)
        aliases = {k: v for k, v in self.aliases(name).items() if k != LATEST}
        aliases[alias] = resolved
        payload = json.dumps(aliases, indent=2, sort_keys=True) + "\n"
        write_atomically(self.root / name / ALIASES_FILE, payload.encode())

    def _no_model_message(self, name: str) -> str:
        known = ", ".join(self.names()) or "none"
        return f"no model named {name!r} in {self.root} (models here: {known})"
