"""The S3 store against moto with real boto3 clients: layout, dedup, pull, and every failure."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from model_store import (
    IntegrityError,
    LocalStore,
    ModelNotFoundError,
    ModelStoreError,
    StoreUnavailableError,
    VersionNotFoundError,
)
from model_store.s3 import S3Store
from model_store.s3.client import S3ClientConfig, make_s3_client
from model_store.s3.layout import S3Location
from model_store.stores import open_store
from tests.support.fake_s3 import (
    BUCKET,
    REGION,
    SLOW_DOWN,
    closed_endpoint,
    publish_tiny,
    remove_credentials,
    silent_endpoint,
)

NO_RETRY = S3ClientConfig(max_attempts=1, connect_timeout=1.0, read_timeout=0.5)


@pytest.fixture
def store(aws) -> S3Store:
    return S3Store(f"s3://{BUCKET}/team/models", config=NO_RETRY)


def keys(prefix: str = "") -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET,
                                                                      Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", ()))


# -- locations ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "bucket", "prefix"), [
    ("s3://models", "models", ""),
    ("s3://models/", "models", ""),
    ("s3://models/team", "models", "team/"),
    ("s3://my.models-1/a//b/", "my.models-1", "a/b/"),
])
def test_locations_parse(url, bucket, prefix):
    location = S3Location.parse(url)
    assert (location.bucket, location.prefix) == (bucket, prefix)
    assert S3Location.parse(location.url) == location


@pytest.mark.parametrize("url", ["models", "s3://", "s3://bad_/x", "s3://a/x", "s3://b/../x",
                                 "s3://models/a/../x", "https://models/x"])
def test_bad_locations_are_refused(url):
    with pytest.raises(ModelStoreError, match=r"s3://|S3 location"):
        S3Location.parse(url)


def test_open_store_picks_the_store_by_location(tmp_path):
    assert isinstance(open_store(f"s3://{BUCKET}/x"), S3Store)
    assert isinstance(open_store(tmp_path), LocalStore)
    assert isinstance(open_store(str(tmp_path)), LocalStore)


def test_the_client_is_made_on_first_use_with_short_timeouts(aws):
    store = S3Store(f"s3://{BUCKET}", config=S3ClientConfig(max_attempts=2, read_timeout=3))
    assert store._client is None  # nothing made at construction
    config = store.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 3)
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}
    assert store.client is store.client


def test_a_client_can_be_passed_in(aws):
    client = boto3.client("s3", region_name=REGION)
    assert S3Store(f"s3://{BUCKET}", client=client).client is client


# -- publishing and reading -----------------------------------------------------------------


def test_publish_lays_out_content_addressed_blobs(store):
    first = publish_tiny(store)
    second = publish_tiny(store, scale=2.0)
    assert (first.version, second.version) == ("1", "2")
    assert keys() == sorted([
        f"team/models/blobs/sha256/{first.sha256}",
        f"team/models/blobs/sha256/{second.sha256}",
        "team/models/models/tiny/1/manifest.json",
        "team/models/models/tiny/2/manifest.json",
        f"team/models/models/tiny/by-sha256/{first.sha256}",
        f"team/models/models/tiny/by-sha256/{second.sha256}",
    ])
    stored = boto3.client("s3").get_object(Bucket=BUCKET,
                                           Key="team/models/models/tiny/1/manifest.json")
    manifest = json.loads(stored["Body"].read())
    assert (manifest["file"], manifest["sha256"], manifest["version"]) == (
        "model.onnx", first.sha256, "1")


def test_publishing_the_same_bytes_again_returns_the_existing_version(store):
    first = publish_tiny(store)
    publish_tiny(store, scale=2.0)
    again = publish_tiny(store)
    assert again == first
    assert store.versions("tiny") == ["1", "2"]
    # Another model with the same bytes gets its own version, sharing the blob.
    other = publish_tiny(store, name="other")
    assert other.version == "1" and other.sha256 == first.sha256
    assert len(keys("team/models/blobs/")) == 2


def test_names_versions_resolve_manifest_open(store):
    publish_tiny(store)
    publish_tiny(store, scale=2.0)
    publish_tiny(store, name="beta")
    assert store.names() == ["beta", "tiny"]
    assert store.versions("tiny") == ["1", "2"]
    assert store.versions("nope") == [] and store.versions("../x") == []
    assert store.resolve("tiny") == "2"
    assert store.manifest("tiny", "1").version == "1"
    opened = store.open("tiny")
    assert opened.manifest.version == "2" and len(opened.model_bytes) == opened.manifest.bytes


def test_an_empty_store_lists_nothing(store):
    assert store.names() == []


def test_pull_materialises_a_local_store(store, tmp_path):
    publish_tiny(store)
    second = publish_tiny(store, scale=2.0)
    store.promote("tiny", "2")
    store.promote("tiny", "2", alias="staging")
    folder = store.pull("tiny", "prod", tmp_path / "pulled")
    assert folder == tmp_path / "pulled" / "tiny" / "2"
    local = LocalStore(tmp_path / "pulled")
    assert local.versions("tiny") == ["2"]
    assert local.aliases("tiny") == {"latest": "2", "prod": "2", "staging": "2"}
    assert local.open("tiny", "prod").manifest == second
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.onnx"]
    # Pulling again reuses the verified copy; a corrupt copy is replaced.
    (folder / "model.onnx").write_bytes(b"garbage")
    store.pull("tiny", "2", tmp_path / "pulled")
    assert local.open("tiny", "2").manifest == second


# -- conditional writes: concurrent publishers and alias editors ----------------------------


class RacingClient:
    """A real client; just before the first write to ``racing_key`` someone else writes it."""

    def __init__(self, racing_key: str, competitor_body: bytes) -> None:
        self.real = boto3.client("s3", region_name=REGION)
        self.racing_key = racing_key
        self.competitor_body = competitor_body
        self.raced = False

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"] == self.racing_key and not self.raced:
            self.raced = True
            self.real.put_object(Bucket=BUCKET, Key=self.racing_key, Body=self.competitor_body)
        return self.real.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_concurrent_publishers_never_share_a_version(store):
    publish_tiny(store)
    competitor = store.manifest("tiny", "1").published(version="2", sha256="a" * 64, size=1)
    racing = RacingClient("team/models/models/tiny/2/manifest.json",
                          competitor.to_json().encode())
    mine = publish_tiny(S3Store(store.location, client=racing), scale=2.0)
    assert racing.raced and mine.version == "3"
    assert store.manifest("tiny", "2").sha256 == "a" * 64


def test_concurrent_alias_edits_are_not_lost(store):
    publish_tiny(store)
    publish_tiny(store, scale=2.0)
    store.promote("tiny", "1", alias="staging")
    theirs = json.dumps({"aliases": {"staging": "1", "canary": "2"}}).encode()
    racing = RacingClient("team/models/models/tiny/aliases.json", theirs)
    S3Store(store.location, client=racing).promote("tiny", "2")
    assert racing.raced
    assert store.aliases("tiny") == {"latest": "2", "staging": "1", "canary": "2", "prod": "2"}


# -- failures -------------------------------------------------------------------------------


def test_missing_bucket_names_the_bucket(aws):
    store = S3Store("s3://no-such-bucket/models", config=NO_RETRY)
    for call in (store.names, lambda: store.open("tiny"), lambda: store.manifest("tiny", "1"),
                 lambda: publish_tiny(store)):
        with pytest.raises(StoreUnavailableError, match=r"bucket 'no-such-bucket' does not exist"):
            call()


def test_missing_model_lists_the_models(store):
    publish_tiny(store, name="alpha")
    publish_tiny(store, name="beta")
    for ref in ("latest", "1", "prod"):
        with pytest.raises(ModelNotFoundError,
                           match=r"no model named 'tiny' in s3://.*models here: alpha, beta"):
            store.open("tiny", ref)


def test_missing_version_or_alias_lists_what_exists(store):
    publish_tiny(store)
    publish_tiny(store, scale=2.0)
    with pytest.raises(VersionNotFoundError, match=r"no version 5; versions: 1, 2"):
        store.open("tiny", "5")
    with pytest.raises(VersionNotFoundError, match=r"no alias 'prod'; aliases: latest"):
        store.open("tiny", "prod")


def test_no_credentials_says_how_to_provide_them(store, monkeypatch):
    remove_credentials(monkeypatch)
    fresh = S3Store(store.location, config=NO_RETRY)  # credentials are read with the client
    with pytest.raises(StoreUnavailableError, match=r"no usable AWS credentials.*AWS_PROFILE"):
        fresh.names()


def slow_down(request: Any, **_: Any) -> AWSResponse:
    """A ``before-send`` hook: S3's own 503 SlowDown answer, parsed by botocore as usual."""
    return AWSResponse(request.url, 503, {"Content-Type": "application/xml"},
                       _Raw(SLOW_DOWN))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def test_throttling_is_store_unavailable(aws):
    client = make_s3_client(NO_RETRY)
    calls: list[str] = []
    client.meta.events.register("before-send.s3", lambda request, **kw: calls.append("x"))
    client.meta.events.register("before-send.s3", slow_down)
    store = S3Store(f"s3://{BUCKET}", client=client)
    with pytest.raises(StoreUnavailableError, match=r"throttling or unavailable.*SlowDown"):
        store.open("tiny")
    assert len(calls) == 1  # max_attempts=1: no retry, no sleep


def test_read_timeout_is_store_unavailable(aws):
    with silent_endpoint() as endpoint:
        config = S3ClientConfig(endpoint_url=endpoint, read_timeout=0.3, max_attempts=1)
        with pytest.raises(StoreUnavailableError, match=r"did not answer in time"):
            S3Store(f"s3://{BUCKET}", config=config).open("tiny")


def test_unreachable_endpoint_is_store_unavailable(aws):
    config = S3ClientConfig(endpoint_url=closed_endpoint(), max_attempts=1)
    with pytest.raises(StoreUnavailableError, match=r"cannot reach S3"):
        S3Store(f"s3://{BUCKET}", config=config).names()


def test_access_denied_says_which_permissions(aws):
    client = make_s3_client(NO_RETRY)

    def denied(request: Any, **_: Any) -> AWSResponse:
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        return AWSResponse(request.url, 403, {}, _Raw(body))

    client.meta.events.register("before-send.s3", denied)
    with pytest.raises(StoreUnavailableError, match=r"access denied.*s3:ListBucket"):
        S3Store(f"s3://{BUCKET}", client=client).names()


def test_checksum_mismatch_is_an_integrity_error(store, tmp_path):
    published = publish_tiny(store)
    blob = f"team/models/blobs/sha256/{published.sha256}"
    s3 = boto3.client("s3")
    data = s3.get_object(Bucket=BUCKET, Key=blob)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=blob, Body=bytes(b ^ 1 for b in data))  # same length
    with pytest.raises(IntegrityError, match=r"sha256 is .* the manifest records"):
        store.open("tiny")
    with pytest.raises(IntegrityError):
        store.pull("tiny", "1", tmp_path / "pulled")
    assert [p for p in (tmp_path / "pulled").rglob("*") if p.is_file()] == []


def test_missing_blob_is_named(store):
    published = publish_tiny(store)
    boto3.client("s3").delete_object(Bucket=BUCKET,
                                     Key=f"team/models/blobs/sha256/{published.sha256}")
    with pytest.raises(ModelStoreError, match=r"model object .* is missing; republish"):
        store.open("tiny")


def test_a_manifest_in_the_wrong_place_is_refused(store):
    publish_tiny(store)
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=BUCKET, Key="team/models/models/tiny/1/manifest.json")["Body"]
    s3.put_object(Bucket=BUCKET, Key="team/models/models/tiny/2/manifest.json", Body=body.read())
    with pytest.raises(ModelStoreError, match=r"says tiny v1, expected tiny v2"):
        store.open("tiny")
