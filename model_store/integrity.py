"""sha256 helpers: the store is content-addressed and every open is checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_store.exceptions import IntegrityError

_CHUNK = 1 << 20
# Below this size CPython's own sha256 is as fast as OpenSSL's, and importing ``hashlib``
# (which loads libcrypto) costs a few ms of cold start; above it, OpenSSL's SHA-NI wins.
_BUILTIN_LIMIT = 4 << 20


def _builtin_sha256() -> Any:
    try:
        from _sha2 import sha256  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # CPython 3.11
        except ImportError:  # another interpreter: OpenSSL's, through hashlib
            from hashlib import sha256
    return sha256


def _sha256(size: int) -> Any:
    if size <= _BUILTIN_LIMIT:
        return _builtin_sha256()()
    import hashlib

    return hashlib.sha256()


def new_sha256(size: int) -> Any:
    """A sha256 to feed ``size`` bytes to as they stream (the fastest one for that size)."""
    return _sha256(size)


def sha256_bytes(data: bytes) -> str:
    digest = _sha256(len(data))
    digest.update(data)
    return str(digest.hexdigest())


def sha256_file(path: Path) -> str:
    digest = _sha256(path.stat().st_size)
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return str(digest.hexdigest())


def verify_bytes(data: bytes, expected_sha256: str, what: str) -> None:
    """Raise ``IntegrityError`` unless ``data`` hashes to ``expected_sha256``."""
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise IntegrityError(
            f"{what}: sha256 is {actual[:12]}…, the manifest records {expected_sha256[:12]}…; "
            "the file is corrupt or was replaced — republish the model"
        )
