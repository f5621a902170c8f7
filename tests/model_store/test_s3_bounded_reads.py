"""The S3 store reads no more than a store object can be, as the local store does.

Against moto with a real boto3 client (wrapped only to count the bytes the store takes
from each response body): a manifest or aliases file padded past its cap is refused, a
model object whose size is not the manifest's ``bytes`` is refused before a byte of it is
read, and a body longer than its ContentLength promised is cut at bytes + 1.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from model_store import IntegrityError, ModelStoreError
from model_store.local import MAX_ALIASES_BYTES, MAX_MANIFEST_BYTES
from model_store.manifest import Manifest
from model_store.s3 import S3Store
from model_store.s3.client import S3ClientConfig, make_s3_client
from model_store.s3.reads import CHUNK_BYTES, bounded_body, checked_chunks
from tests.support.fake_s3 import BUCKET, REGION, publish_tiny
from tests.support.tiny_models import tiny_tabular_manifest

PREFIX = "bounded"


class CountingBody:
    """A response body that counts what is read from it."""

    def __init__(self, inner: Any, counter: CountingClient) -> None:
        self.inner, self.counter = inner, counter

    def read(self, amt: int | None = None) -> bytes:
        data: bytes = self.inner.read(amt)
        self.counter.read_bytes += len(data)
        return data

    def iter_chunks(self, chunk_size: int = 1024) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    def close(self) -> None:
        self.inner.close()


class CountingClient:
    """A real boto3 S3 client whose get_object bodies count the bytes taken from them."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.read_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.get_object(**kwargs)
        response["Body"] = CountingBody(response["Body"], self)
        return response


@pytest.fixture
def counted(aws) -> tuple[S3Store, CountingClient]:
    client = CountingClient(make_s3_client(S3ClientConfig(max_attempts=1)))
    return S3Store(f"s3://{BUCKET}/{PREFIX}", client=client), client


def s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def test_a_manifest_padded_past_its_cap_is_refused_unread(counted):
    store, client = counted
    publish_tiny(store)
    key = f"{PREFIX}/models/tiny/1/manifest.json"
    text = s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3().put_object(Bucket=BUCKET, Key=key, Body=text + b" " * MAX_MANIFEST_BYTES)  # valid JSON
    client.read_bytes = 0
    with pytest.raises(ModelStoreError, match=f"at most {MAX_MANIFEST_BYTES} are read"):
        store.manifest("tiny", "1")
    assert client.read_bytes == 0  # its ContentLength was enough


def test_an_aliases_file_padded_past_its_cap_is_refused(counted):
    store, client = counted
    publish_tiny(store)
    store.promote("tiny", "1")
    key = f"{PREFIX}/models/tiny/aliases.json"
    text = s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3().put_object(Bucket=BUCKET, Key=key, Body=text + b"\n" * MAX_ALIASES_BYTES)
    with pytest.raises(ModelStoreError, match=f"at most {MAX_ALIASES_BYTES} are read"):
        store.resolve("tiny", "prod")
    assert client.read_bytes <= MAX_ALIASES_BYTES + 1


@pytest.mark.parametrize("extra", [1, 3 * CHUNK_BYTES])
def test_a_model_object_longer_than_the_manifest_says_is_refused_unread(counted, tmp_path,
                                                                        extra):
    store, client = counted
    published = publish_tiny(store)
    key = f"{PREFIX}/blobs/sha256/{published.sha256}"
    data = s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3().put_object(Bucket=BUCKET, Key=key, Body=data + b"\0" * extra)
    client.read_bytes = 0
    with pytest.raises(IntegrityError, match=f"the manifest records {published.bytes}"):
        store.open("tiny")
    with pytest.raises(IntegrityError):
        store.pull("tiny", "1", tmp_path / "pulled")
    assert not [p for p in (tmp_path / "pulled").rglob("*") if p.is_file()]
    # The manifest was read (twice: open, pull); of the model object, not a byte.
    assert client.read_bytes == 2 * len(published.to_json().encode())


# -- a body that does not keep the promise of its ContentLength ----------------------------


class Body(io.BytesIO):
    reads: list[int]

    def read(self, amt: int | None = -1) -> bytes:  # type: ignore[override]
        data = super().read(amt)
        self.reads = [*getattr(self, "reads", []), len(data)]
        return data


def manifest_for(data: bytes) -> Manifest:
    return tiny_tabular_manifest("tiny").published(
        version="1", sha256=hashlib.sha256(data).hexdigest(), size=len(data))


MODEL = bytes(range(256)) * ((2 * CHUNK_BYTES + 1000) // 256)


@pytest.mark.parametrize(("sent", "declared", "error"), [
    (MODEL, len(MODEL), None),
    (MODEL + b"tail" * CHUNK_BYTES, len(MODEL), "more than"),  # ContentLength lies
    (MODEL + b"tail", None, "more than"),                      # no ContentLength at all
    (MODEL[:-1], len(MODEL) - 1, "is .* bytes, the manifest records"),
    (MODEL[:-1], None, "only"),
    (MODEL[:-1] + b"?", len(MODEL), "sha256 is"),             # same size, other bytes
], ids=["intact", "longer-than-declared", "longer-undeclared", "declared-short",
        "short-undeclared", "other-bytes"])
def test_the_model_stream_stops_at_bytes_plus_one_and_is_hashed_as_it_goes(sent, declared,
                                                                          error):
    manifest = manifest_for(MODEL)
    body = Body(sent)
    response = {"Body": body} if declared is None else {"Body": body, "ContentLength": declared}
    received: list[bytes] = []
    if error is None:
        received.extend(checked_chunks(response, manifest, "s3://b/k"))
        assert b"".join(received) == MODEL
        return
    with pytest.raises(IntegrityError, match=error):
        received.extend(checked_chunks(response, manifest, "s3://b/k"))
    assert sum(getattr(body, "reads", [])) <= len(MODEL) + 1
    assert len(b"".join(received)) < len(MODEL)  # the last chunk is held back on failure


@pytest.mark.parametrize(("size", "declared"), [(10, None), (11, None), (11, 11), (11, 5),
                                                (10, 10)])
def test_small_objects_are_read_to_their_cap_and_no_further(size, declared):
    body = Body(b"x" * size)
    response: dict[str, Any] = {"Body": body}
    if declared is not None:
        response["ContentLength"] = declared
    if size <= 10 and (declared or 0) <= 10:
        assert bounded_body(response, 10, "s3://b/manifest.json") == b"x" * size
        return
    with pytest.raises(ModelStoreError, match="at most 10 are read"):
        bounded_body(response, 10, "s3://b/manifest.json")
    assert sum(getattr(body, "reads", [])) <= 11

