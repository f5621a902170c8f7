"""Layers as plain data, and the one step that turns a ``LayerSpec`` into a reproducible zip.

The Serverless Framework hashes a layer's zip to decide whether to publish a new layer
version, so the same content must give byte-identical zips: entries are sorted, every
timestamp is 1980-01-01 00:00, permissions are 0644 (0755 for executables), the host
system field is fixed, and the compression level is fixed.
"""

from __future__ import annotations

import itertools
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from featherserve.layers.exceptions import LayerBuildError
from model_store.integrity import sha256_file
from model_store.manifest import Manifest

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESSION = zipfile.ZIP_DEFLATED
# zlib's default: level 9 saves ~0.5% on the runtime layer and takes twice as long.
ZIP_LEVEL = 6
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
_UNIX = 3


@dataclass(frozen=True)
class LayerEntry:
    """One file of a layer: its path inside the zip, and either its bytes or a source file."""

    arcname: str
    data: bytes | None = None
    source: Path | None = None
    executable: bool = False

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.source is None:
            raise LayerBuildError(f"layer entry {self.arcname!r} has neither data nor a source")
        return self.source.read_bytes()


@dataclass(frozen=True)
class LayerSpec:
    """What a layer contains and where its zip goes."""

    name: str
    zip_path: Path
    entries: tuple[LayerEntry, ...]
    description: str = ""
    # The model a model layer holds (None for other layers).
    manifest: Manifest | None = None


@dataclass(frozen=True)
class BuiltLayer:
    """A layer zip on disk. ``unzipped_bytes`` is what counts against Lambda's 250 MB."""

    name: str
    zip_path: Path
    unzipped_bytes: int
    zipped_bytes: int
    files: tuple[str, ...]
    sha256: str
    # False when an identical zip was already there and was left untouched.
    changed: bool = True

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "zip_path": str(self.zip_path),
                "unzipped_bytes": self.unzipped_bytes, "zipped_bytes": self.zipped_bytes,
                "files": len(self.files), "sha256": self.sha256, "changed": self.changed}


def entries_from_tree(root: Path, prefix: str) -> tuple[LayerEntry, ...]:
    """Every file under ``root``, as entries under ``prefix/`` (symlinks are followed)."""
    entries = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for file_name in sorted(files):
            path = Path(folder) / file_name
            relative = path.relative_to(root).as_posix()
            mode = path.stat().st_mode
            entries.append(LayerEntry(
                arcname=f"{prefix}/{relative}" if prefix else relative,
                source=path,
                executable=bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)),
            ))
    return tuple(entries)


def _zip_info(entry: LayerEntry) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.arcname, date_time=ZIP_EPOCH)
    info.create_system = _UNIX
    mode = EXECUTABLE_MODE if entry.executable else FILE_MODE
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = ZIP_COMPRESSION
    return info


def _check_arcnames(spec: LayerSpec) -> list[LayerEntry]:
    ordered = sorted(spec.entries, key=lambda e: e.arcname)
    for previous, current in itertools.pairwise(ordered):
        if previous.arcname == current.arcname:
            raise LayerBuildError(f"layer {spec.name!r}: two entries named {current.arcname!r}")
    for entry in ordered:
        parts = entry.arcname.split("/")
        if entry.arcname.startswith("/") or ".." in parts or "" in parts:
            raise LayerBuildError(f"layer {spec.name!r}: unsafe path {entry.arcname!r}")
    return ordered


def write_layer_zip(spec: LayerSpec) -> BuiltLayer:
    """Write ``spec`` as a reproducible zip; an identical existing zip is left untouched."""
    ordered = _check_arcnames(spec)
    spec.zip_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=spec.zip_path.parent, prefix=f".{spec.zip_path.name}.",
                                    suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as stream, zipfile.ZipFile(stream, "w") as archive:
            for entry in ordered:
                archive.writestr(_zip_info(entry), entry.read(), compresslevel=ZIP_LEVEL)
        digest = sha256_file(tmp)
        changed = not (spec.zip_path.is_file() and sha256_file(spec.zip_path) == digest)
        if changed:
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, spec.zip_path)
    finally:
        tmp.unlink(missing_ok=True)
    return replace(describe_layer_zip(spec.name, spec.zip_path, sha256=digest), changed=changed)


def describe_layer_zip(name: str, zip_path: Path, sha256: str | None = None) -> BuiltLayer:
    """Sizes and file list of an existing layer zip, read from its central directory."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise LayerBuildError(f"{zip_path}: not a readable zip ({exc})") from exc
    return BuiltLayer(
        name=name,
        zip_path=zip_path,
        unzipped_bytes=sum(i.file_size for i in infos),
        zipped_bytes=zip_path.stat().st_size,
        files=tuple(i.filename for i in infos),
        sha256=sha256 or sha256_file(zip_path),
        changed=False,
    )


def tree_bytes(paths: Iterable[Path]) -> tuple[int, int]:
    """(files, bytes) of regular files under ``paths`` (files or folders)."""
    count = total = 0
    for path in paths:
        if path.is_file() and not path.is_symlink():
            count, total = count + 1, total + path.stat().st_size
            continue
        for folder, _dirs, files in os.walk(path):
            for file_name in files:
                file_path = Path(folder) / file_name
                if file_path.is_file() and not file_path.is_symlink():
                    count, total = count + 1, total + file_path.stat().st_size
    return count, total
