"""A model store in S3, with the same interface as ``LocalStore`` (layout: layout.py).

    store = S3Store("s3://my-models/prod")        # no AWS call, no boto3 import yet
    store.publish(manifest, Path("model.onnx"))    # the same bytes twice: the same version
    store.promote("iris", "3")                     # prod -> 3, the old target kept
    store.rollback("iris")                         # prod -> its previous version
    store.pull("iris", "prod", Path("build/models"))  # a LocalStore layout on disk

The boto3 client is made on first use (or passed in), so tests inside ``moto.mock_aws``
are intercepted. Every botocore error leaves as a ``ModelStoreError`` (see errors.py).

Reads are bounded as the local store's are: a manifest or an aliases file is refused once
it is larger than a manifest or an aliases file can be (its ContentLength first, then the
bytes actually read), and a model must be exactly the manifest's ``bytes`` long, checked
against ContentLength before a byte is read and while streaming (never more than bytes + 1
read), its sha256 computed as it streams.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from model_store.aliases import AliasTable, resolve_ref
from model_store.base import LATEST, ModelStore, VerifiedModel
from model_store.exceptions import (
    ManifestError,
    ModelNotFoundError,
    ModelStoreError,
    StoreUnavailableError,
    VersionNotFoundError,
)
from model_store.integrity import sha256_bytes
from model_store.local import MAX_ALIASES_BYTES, MAX_MANIFEST_BYTES, LocalStore
from model_store.manifest import NAME_PATTERN, VERSION_PATTERN, Manifest
from model_store.s3.cache import install_version, version_folder
from model_store.s3.client import S3Client, S3ClientConfig, make_s3_client
from model_store.s3.errors import is_missing_key, is_write_conflict, s3_errors
from model_store.s3.layout import S3Location
from model_store.s3.reads import bounded_body, checked_chunks

# Conditional writes lose to a concurrent writer at most this often before we give up.
WRITE_ATTEMPTS = 5
# A marker object holds one version number.
MAX_MARKER_BYTES = 64

# The handler's client: timeouts and retries stay well inside Lambda's 10 s init.
RUNTIME_CLIENT_CONFIG = S3ClientConfig()


class S3Store(ModelStore):
    """A versioned, content-addressed model store under ``s3://bucket/prefix``."""

    def __init__(self, location: S3Location | str, *, client: S3Client | None = None,
                 config: S3ClientConfig | None = None) -> None:
        if not isinstance(location, S3Location):
            location = S3Location.parse(location)
        self.location = location
        self.config = config or S3ClientConfig()
        self._client = client

    def __repr__(self) -> str:
        return f"S3Store({self.location.url!r})"

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            self._client = make_s3_client(self.config)
        return self._client

    # -- reading -------------------------------------------------------------------------
    def names(self) -> list[str]:
        found = self._subfolders(self.location.models_prefix(), "list models")
        return sorted(n for n in found if NAME_PATTERN.fullmatch(n))

    def versions(self, name: str) -> list[str]:
        if not NAME_PATTERN.fullmatch(name):
            return []
        found = self._subfolders(self.location.model_prefix(name), f"list versions of {name}")
        return sorted((v for v in found if VERSION_PATTERN.fullmatch(v)), key=int)

    def aliases(self, name: str) -> dict[str, str]:
        latest = self._versions_or_raise(name)[-1]
        return self._read_aliases(name)[0].with_latest(latest)

    def alias_table(self, name: str) -> AliasTable:
        """The stored aliases of ``name`` with their history (no ``latest``)."""
        self._versions_or_raise(name)
        return self._read_aliases(name)[0]

    def resolve(self, name: str, ref: str = LATEST) -> str:
        versions = self._versions_or_raise(name)
        return resolve_ref(name, ref, versions, lambda: self._read_aliases(name)[0])

    def manifest(self, name: str, ref: str = LATEST) -> Manifest:
        # A pinned version needs no listing: one GET (the listing only explains a miss).
        if not NAME_PATTERN.fullmatch(name):
            self._versions_or_raise(name)
        version = ref if VERSION_PATTERN.fullmatch(ref) else self.resolve(name, ref)
        key = self.location.manifest_key(name, version)
        raw = self._get(key, f"read manifest of {name} v{version}", MAX_MANIFEST_BYTES)
        if raw is None:
            self.resolve(name, version)  # raises ModelNotFoundError / VersionNotFoundError
            raise VersionNotFoundError(f"model {name!r} v{version}: manifest vanished from "
                                       f"{self.location.object_url(key)}")
        manifest = Manifest.from_json(raw)
        if manifest.name != name or manifest.version != version:
            raise ManifestError(f"{self.location.object_url(key)}: says {manifest.name} "
                                f"v{manifest.version}, expected {name} v{version}")
        return manifest

    def open(self, name: str, ref: str = LATEST) -> VerifiedModel:
        manifest = self.manifest(name, ref)
        data = b"".join(self.blob_chunks(manifest))  # size and sha256 checked as it streams
        return VerifiedModel(manifest=manifest, model_bytes=data)

    def blob_chunks(self, manifest: Manifest) -> Iterator[bytes]:
        """Stream the model bytes ``manifest`` names, checked against its size and sha256
        as they arrive (see ``reads.checked_chunks``)."""
        key = self.location.blob_key(manifest.sha256)
        what = self.location.object_url(key)
        action = f"download {manifest.name} v{manifest.version}"
        with s3_errors(self.location, action):
            try:
                response = self.client.get_object(Bucket=self.location.bucket, Key=key)
            except Exception as exc:
                if is_missing_key(exc):
                    raise ModelStoreError(
                        f"{what}: the model object listed in the manifest of {manifest.name} "
                        f"v{manifest.version} is missing; republish the model") from exc
                raise
            yield from checked_chunks(response, manifest, what)

    # -- local copies --------------------------------------------------------------------
    def open_cached(self, name: str, ref: str, cache_root: Path) -> VerifiedModel:
        """Open ``name`` at ``ref`` through a local copy under ``cache_root`` (kept for reuse)."""
        manifest = self.manifest(name, ref)
        what = self.location.object_url(self.location.blob_key(manifest.sha256))
        return install_version(Path(cache_root), manifest, self.blob_chunks(manifest), what)

    def pull(self, name: str, ref: str, dest_root: Path) -> Path:
        """Copy one version into ``dest_root`` as a ``LocalStore`` layout; returns its folder.

        The aliases naming that version come along, so ``LocalStore(dest_root)`` resolves
        ``ref`` the same way.
        """
        opened = self.open_cached(name, ref, Path(dest_root))
        version = opened.manifest.version
        local = LocalStore(dest_root)
        for alias, target in sorted(self.alias_table(name).targets.items()):
            if target == version:
                local.promote(name, version, alias)
        return version_folder(Path(dest_root), opened.manifest)

    # -- writing -------------------------------------------------------------------------
    def publish(self, manifest: Manifest, model_file: Path) -> Manifest:
        model_file = Path(model_file)
        data = model_file.read_bytes()
        digest = sha256_bytes(data)
        existing = self._published_with(manifest.name, digest)
        if existing is not None:
            return existing
        suffix = model_file.suffix if model_file.suffix in (".onnx", ".ort") else ".onnx"
        self._put(self.location.blob_key(digest), data, f"upload model {manifest.name}",
                  sha256=digest)
        for _ in range(WRITE_ATTEMPTS):
            versions = self.versions(manifest.name)
            version = str(int(versions[-1]) + 1) if versions else "1"
            published = manifest.published(version=version, sha256=digest, size=len(data))
            published = Manifest.from_dict({**published.to_dict(), "file": f"model{suffix}"})
            key = self.location.manifest_key(manifest.name, version)
            if self._put(key, published.to_json().encode(),
                         f"publish {manifest.name} v{version}", if_none_match=True):
                break
        else:
            raise StoreUnavailableError(
                f"publish {manifest.name} in {self.location.url}: other publishers kept taking "
                f"the next version number ({WRITE_ATTEMPTS} attempts); try again")
        self._put(self.location.marker_key(manifest.name, digest), version.encode(),
                  f"index {manifest.name} v{version}")
        return published

    # -- S3 calls ------------------------------------------------------------------------
    def _change_aliases(self, name: str, change: Callable[[AliasTable], AliasTable]
                        ) -> AliasTable:
        """Read, change and write aliases.json, retrying if someone else wrote it meanwhile."""
        key = self.location.aliases_key(name)
        for _ in range(WRITE_ATTEMPTS):
            table, etag = self._read_aliases(name)
            changed = change(table)
            if changed == table:
                return table
            if self._put(key, changed.to_json().encode(), f"update aliases of {name}",
                         if_match=etag, if_none_match=etag is None):
                return changed
        raise StoreUnavailableError(
            f"update aliases of {name} in {self.location.url}: aliases.json kept changing "
            f"under us ({WRITE_ATTEMPTS} attempts); try again")

    def _read_aliases(self, name: str) -> tuple[AliasTable, str | None]:
        key = self.location.aliases_key(name)
        found = self._get_with_etag(key, f"read aliases of {name}", MAX_ALIASES_BYTES)
        if found is None:
            return AliasTable(), None
        raw, etag = found
        return AliasTable.from_json(raw, self.location.object_url(key)), etag

    def _published_with(self, name: str, digest: str) -> Manifest | None:
        """The version of ``name`` holding exactly these bytes, found in O(1) by its marker."""
        marker = self._get(self.location.marker_key(name, digest), f"look up {name} by sha256",
                           MAX_MARKER_BYTES)
        if marker is None or not VERSION_PATTERN.fullmatch(marker.decode(errors="replace")):
            return None
        try:
            existing = self.manifest(name, marker.decode())
        except (ModelNotFoundError, VersionNotFoundError):
            return None
        return existing if existing.sha256 == digest else None

    def _versions_or_raise(self, name: str) -> list[str]:
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise ModelNotFoundError(
                f"no model named {name!r} in {self.location.url} (models here: {known})")
        return versions

    def _subfolders(self, prefix: str, action: str) -> list[str]:
        found: list[str] = []
        with s3_errors(self.location, action):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix, Delimiter="/")
            for page in pages:
                found.extend(entry["Prefix"][len(prefix):].rstrip("/")
                             for entry in page.get("CommonPrefixes", ()))
        return found

    def _get(self, key: str, action: str, limit: int) -> bytes | None:
        found = self._get_with_etag(key, action, limit)
        return None if found is None else found[0]

    def _get_with_etag(self, key: str, action: str, limit: int) -> tuple[bytes, str] | None:
        """A small object's bytes and ETag (None if missing); refused beyond ``limit``."""
        with s3_errors(self.location, action):
            try:
                response = self.client.get_object(Bucket=self.location.bucket, Key=key)
            except Exception as exc:
                if is_missing_key(exc):
                    return None
                raise
            data = bounded_body(response, limit,
                                f"{self.location.object_url(key)} (to {action})")
            return data, str(response.get("ETag", ""))

    def _put(self, key: str, data: bytes, action: str, *, sha256: str | None = None,
             if_match: str | None = None, if_none_match: bool = False) -> bool:
        """Write one object; False if a condition (If-Match / If-None-Match) failed."""
        extra: dict[str, Any] = {}
        if sha256 is not None:  # S3 refuses the upload unless the bytes arrive intact
            extra["ChecksumSHA256"] = _base64_digest(sha256)
        if if_match is not None:
            extra["IfMatch"] = if_match
        elif if_none_match:
            extra["IfNoneMatch"] = "*"
        with s3_errors(self.location, action):
            try:
                self.client.put_object(Bucket=self.location.bucket, Key=key, Body=data,
                                       **extra)
            except Exception as exc:
                if is_write_conflict(exc):
                    return False
                raise
        return True


def _base64_digest(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()
