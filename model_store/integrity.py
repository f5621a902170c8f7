"""sha256 helpers: the store is content-addressed and every open is checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

from model_store.exceptions import IntegrityError

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bytes(data: bytes, expected_sha256: str, what: str) -> None:
    """Raise ``IntegrityError`` unless ``data`` hashes to ``expected_sha256``."""
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise IntegrityError(
            f"{what}: sha256 is {actual[:12]}…, the manifest records {expected_sha256[:12]}…; "
            "the file is corrupt or was replaced — republish the model"
        )
