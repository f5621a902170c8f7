"""Where things live in an S3 store, ``s3://<bucket>/<prefix>/``::

    blobs/sha256/<hex>                       model bytes, content-addressed, immutable
    models/<name>/<version>/manifest.json    the manifest (file name, sha256, bytes, ...)
    models/<name>/by-sha256/<hex>            dedup marker: body is the version holding <hex>
    models/<name>/aliases.json               aliases and their history (see aliases.py)

A version exists once its manifest does: publishing writes the blob, then the manifest
(only if absent, so two publishers cannot take the same number), then the marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model_store.base import ALIASES_FILE, MANIFEST_FILE, S3_SCHEME
from model_store.exceptions import ModelStoreError

__all__ = ["BUCKET_PATTERN", "S3_SCHEME", "S3Location"]
# S3's rules for new buckets are 3-63 lower-case letters, digits, dots and hyphens; old
# us-east-1 buckets may also hold capitals and underscores, so those are let through.
BUCKET_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]\Z")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (``""`` or ending in ``/``) that hold one store."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith(S3_SCHEME):
            raise ModelStoreError(f"{url!r} is not an S3 location; expected s3://bucket/prefix")
        bucket, _, prefix = url[len(S3_SCHEME):].partition("/")
        if not BUCKET_PATTERN.fullmatch(bucket):
            raise ModelStoreError(
                f"{url!r}: {bucket!r} is not a valid bucket name (3-63 characters: lower-case "
                "letters, digits, '.' and '-', starting and ending with a letter or digit)")
        parts = [part for part in prefix.split("/") if part]
        if any(part in (".", "..") for part in parts):
            raise ModelStoreError(f"{url!r}: the prefix may not contain '.' or '..'")
        return cls(bucket=bucket, prefix="".join(f"{part}/" for part in parts))

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")

    def __str__(self) -> str:
        return self.url

    def object_url(self, key: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{key}"

    # -- keys ---------------------------------------------------------------------------
    def blob_key(self, sha256: str) -> str:
        return f"{self.prefix}blobs/sha256/{sha256}"

    def models_prefix(self) -> str:
        return f"{self.prefix}models/"

    def model_prefix(self, name: str) -> str:
        return f"{self.prefix}models/{name}/"

    def manifest_key(self, name: str, version: str) -> str:
        return f"{self.prefix}models/{name}/{version}/{MANIFEST_FILE}"

    def marker_key(self, name: str, sha256: str) -> str:
        return f"{self.prefix}models/{name}/by-sha256/{sha256}"

    def aliases_key(self, name: str) -> str:
        return f"{self.prefix}models/{name}/{ALIASES_FILE}"
