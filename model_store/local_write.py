"""The local store's write path (publish, aliases): kept out of the handler's cold start.

``LocalStore`` imports this module only when it writes, so a function reading a model layer
never loads ``shutil``, ``tempfile`` or the alias-editing code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from model_store.base import MANIFEST_FILE
from model_store.manifest import Manifest

__all__ = ["stage_version", "write_atomically"]


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


def stage_version(folder: Path, version: str, manifest: Manifest, model_file: Path) -> None:
    """Copy the model and its manifest into ``folder/version`` through a staging rename,
    so a crash never leaves a half-published version behind."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".staging-{version}-"))
    try:
        shutil.copyfile(model_file, staging / manifest.file)
        (staging / MANIFEST_FILE).write_text(manifest.to_json())
        staging.rename(folder / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
