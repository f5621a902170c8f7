"""Copies of S3 versions on local disk, in the ``LocalStore`` layout, never half-written.

Used by ``S3Store.pull`` and by the handler's cache under ``/tmp``. A model is streamed
to a temporary file beside its final name, checked against the manifest's sha256, synced
and only then renamed into place; any failure removes the temporary file. The manifest is
written last, so a version folder without ``manifest.json`` is not a version yet.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from model_store.base import MANIFEST_FILE, VerifiedModel
from model_store.integrity import sha256_bytes, verify_bytes
from model_store.manifest import Manifest

PART_SUFFIX = ".part"
# A temporary file nobody has written to for this long was left by a killed process
# (a Lambda timeout during init, say): delete it before the next download.
STALE_PART_SECONDS = 60.0


def version_folder(root: Path, manifest: Manifest) -> Path:
    return root / manifest.name / manifest.version


def reuse_verified(path: Path, sha256: str) -> bytes | None:
    """The bytes at ``path`` if they hash to ``sha256``; None if missing or different."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if sha256_bytes(data) == sha256 else None


def write_verified(path: Path, chunks: Iterable[bytes], sha256: str, what: str) -> bytes:
    """Stream ``chunks`` to ``path`` via a synced temporary file, checked before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    try:
        data = bytearray()
        with os.fdopen(fd, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
                data += chunk
            verify_bytes(bytes(data), sha256, what)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return bytes(data)


def write_durably(path: Path, data: bytes) -> None:
    """Write a small file through a synced temporary file and a rename."""
    write_verified(path, [data], sha256_bytes(data), str(path))


def remove_stale_parts(folder: Path, older_than: float = STALE_PART_SECONDS) -> None:
    deadline = time.time() - older_than
    for part in folder.glob(f".*{PART_SUFFIX}"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < deadline:
                part.unlink()


def install_version(root: Path, manifest: Manifest, chunks: Iterable[bytes],
                    what: str) -> VerifiedModel:
    """Put ``manifest``'s version under ``root``, reusing a copy whose sha256 still matches.

    ``chunks`` is only iterated when the model has to be (re)written.
    """
    folder = version_folder(root, manifest)
    data = reuse_verified(folder / manifest.file, manifest.sha256)
    if data is None:
        data = write_verified(folder / manifest.file, chunks, manifest.sha256, what)
    manifest_json = manifest.to_json().encode()
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file() or manifest_path.read_bytes() != manifest_json:
        write_durably(manifest_path, manifest_json)
    return VerifiedModel(manifest=manifest, model_bytes=data)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
