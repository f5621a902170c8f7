"""Bounded reads of S3 objects: what the local store's ``read_bounded`` is for files.

A store's objects can be replaced by anyone who can write the bucket, so nothing read
from it is trusted to be the size it should be. Small objects (manifests, aliases files,
markers) are refused beyond a cap, by their ContentLength before a byte is read and by the
bytes actually read (never more than cap + 1). A model must be exactly the manifest's
``bytes`` long: ContentLength is compared first, the stream stops at bytes + 1, and the
sha256 is computed while it streams.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from model_store.exceptions import IntegrityError, ModelStoreError
from model_store.integrity import new_sha256
from model_store.manifest import Manifest

CHUNK_BYTES = 1 << 20
_REPUBLISH = "the object was replaced or corrupted — republish the model"


def bounded_body(response: Mapping[str, Any], limit: int, what: str) -> bytes:
    """A get_object answer's body, refused (``ModelStoreError``) beyond ``limit`` bytes."""
    body = response["Body"]
    declared = _declared_length(response)
    data = bytearray()
    try:
        # Read to the end (an empty read), so botocore checks the length it was promised.
        while (declared is None or declared <= limit) and len(data) <= limit:
            chunk = body.read(limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        body.close()
    if (declared is not None and declared > limit) or len(data) > limit:
        size = declared if declared is not None else f"more than {limit}"
        raise ModelStoreError(f"{what}: the object is {size} bytes, at most {limit} are read "
                              "(it is not what the store wrote there)")
    return bytes(data)


def checked_chunks(response: Mapping[str, Any], manifest: Manifest, what: str
                   ) -> Iterator[bytes]:
    """A model object's bytes in chunks, checked against the manifest's size and sha256.

    The last chunk is held back until the whole object is hashed: a consumer that received
    every chunk received exactly the bytes the manifest names; otherwise IntegrityError.
    """
    body = response["Body"]
    try:
        expected = manifest.bytes
        declared = _declared_length(response)
        if declared is not None and declared != expected:
            raise IntegrityError(f"{what}: is {declared} bytes, the manifest records "
                                 f"{expected}; {_REPUBLISH}")
        digest = new_sha256(expected)
        held = b""
        read = 0
        while read <= expected:
            chunk = body.read(min(CHUNK_BYTES, expected + 1 - read))
            if not chunk:
                break
            read += len(chunk)
            digest.update(chunk)
            if held:
                yield held
            held = chunk
        if read != expected:
            sent = "more than" if read > expected else f"only {read} of"
            raise IntegrityError(f"{what}: sent {sent} the {expected} bytes the manifest "
                                 f"records; {_REPUBLISH}")
        actual = str(digest.hexdigest())
        if actual != manifest.sha256:
            raise IntegrityError(f"{what}: sha256 is {actual[:12]}…, the manifest records "
                                 f"{manifest.sha256[:12]}…; {_REPUBLISH}")
        yield held
    finally:
        body.close()


def _declared_length(response: Mapping[str, Any]) -> int | None:
    declared = response.get("ContentLength")
    try:
        return None if declared is None else int(declared)
    except (TypeError, ValueError):
        return None
