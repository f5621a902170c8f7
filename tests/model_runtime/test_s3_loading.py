"""A handler serving from S3: cache in /tmp, every failure a clean 503 that heals on fix."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody

import model_store.s3 as s3_store_module
import model_store.s3.store
from featherserve.support.events import load_event, response_json, with_body, with_route
from featherserve.support.processes import ROOT, VENV, free_port, running, tool_env, wait_for_port
from model_runtime import Settings, serve_model
from model_store.local import MAX_MANIFEST_BYTES
from model_store.s3 import S3Store
from model_store.s3.client import S3ClientConfig, make_s3_client
from tests.support.fake_s3 import (
    BUCKET,
    REGION,
    closed_endpoint,
    fake_aws_environment,
    publish_tiny,
    remove_credentials,
    restore_credentials,
    silent_endpoint,
    throttling_endpoint,
)
from tests.support.tiny_models import publish_tiny_tabular

SOURCE = f"s3://{BUCKET}/serving"
GOOD = {"alpha": 1.0, "beta": 2.0, "gamma": 3.0}


def predict_event(fmt: str = "v2") -> dict[str, Any]:
    event = with_route(load_event(f"breast_cancer_predict_{fmt}"), "POST", "/models/tiny/predict")
    return with_body(event, json.dumps({"instances": [GOOD]}), content_type="application/json")


def settings(version: str = "latest") -> Settings:
    # A service name of its own, so Powertools binds its log handler to this test's stdout.
    # The cache root comes from FEATHERSERVE_MODEL_CACHE, set by the ``cache`` fixture.
    return Settings.from_env(model_source=SOURCE, model_version=version,
                             service_name=f"test-{uuid.uuid4().hex[:8]}")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The handler's cache root, and a client that never retries or waits long."""
    root = tmp_path / "cache"
    monkeypatch.setenv("FEATHERSERVE_MODEL_CACHE", str(root))
    monkeypatch.setattr(s3_store_module, "RUNTIME_CLIENT_CONFIG",
                        S3ClientConfig(max_attempts=1, connect_timeout=1.0, read_timeout=0.5))
    return root


@pytest.fixture
def store(aws) -> S3Store:
    return S3Store(SOURCE)


# -- serving --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_serves_a_model_from_s3_through_the_cache(store, cache, fmt):
    published = publish_tiny(store)
    handler = serve_model("tiny", settings=settings())
    response = handler(predict_event(fmt), None)
    assert response["statusCode"] == 200, response["body"]
    assert response_json(response)["version"] == "1"
    assert files_under(cache) == ["tiny/1/manifest.json", "tiny/1/model.onnx"]
    card = handler(with_route(load_event(f"breast_cancer_card_{fmt}"), "GET", "/models/tiny"),
                   None)
    assert response_json(card)["sha256"] == published.sha256


def test_an_alias_is_resolved_in_s3_at_every_init(store, cache):
    publish_tiny(store)
    publish_tiny(store, scale=2.0)
    store.promote("tiny", "1")

    def version_served_after_init() -> str:
        handler = serve_model("tiny", settings=settings("prod"))
        return str(response_json(handler(predict_event(), None))["version"])

    assert version_served_after_init() == "1"
    store.promote("tiny", "2")
    assert version_served_after_init() == "2"
    store.rollback("tiny")
    assert version_served_after_init() == "1"
    assert files_under(cache) == ["tiny/1/manifest.json", "tiny/1/model.onnx",
                                  "tiny/2/manifest.json", "tiny/2/model.onnx"]


def test_a_reinit_reuses_the_cached_model(store, cache):
    published = publish_tiny(store)
    serve_model("tiny", settings=settings("1"))
    cached = cache / "tiny" / "1" / "model.onnx"
    before = cached.stat()
    # Without the blob in S3, only the cached copy can answer.
    boto3.client("s3").delete_object(Bucket=BUCKET,
                                     Key=f"serving/blobs/sha256/{published.sha256}")
    handler = serve_model("tiny", settings=settings("1"))
    assert handler(predict_event(), None)["statusCode"] == 200
    assert (cached.stat().st_ino, cached.stat().st_mtime_ns) == (before.st_ino,
                                                                 before.st_mtime_ns)


def test_a_corrupt_cached_copy_is_downloaded_again(store, cache):
    publish_tiny(store)
    serve_model("tiny", settings=settings())
    cached = cache / "tiny" / "1" / "model.onnx"
    cached.write_bytes(b"bit rot")
    handler = serve_model("tiny", settings=settings())
    assert handler(predict_event(), None)["statusCode"] == 200
    assert cached.read_bytes() != b"bit rot"


def test_leftovers_of_a_killed_download_are_swept(store, cache):
    publish_tiny(store)
    folder = cache / "tiny" / "1"
    folder.mkdir(parents=True)
    leftover = folder / ".model.onnx.killed.part"
    leftover.write_bytes(b"half a model")
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    assert serve_model("tiny", settings=settings())(predict_event(), None)["statusCode"] == 200
    assert files_under(cache) == ["tiny/1/manifest.json", "tiny/1/model.onnx"]


# -- failures: 503, the cause in the log, nothing partial in the cache, healed on fix -------


@dataclass
class Scene:
    store: S3Store
    monkeypatch: pytest.MonkeyPatch
    endpoints: contextlib.ExitStack
    saved: dict[str, Any] = field(default_factory=dict)

    def blob_key(self) -> str:
        return f"serving/blobs/sha256/{self.store.manifest('tiny', '1').sha256}"

    def use_endpoint(self, endpoint: str) -> None:
        self.monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


def _delete_bucket(scene: Scene) -> None:
    s3 = boto3.client("s3")
    for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", ()):
        s3.delete_object(Bucket=BUCKET, Key=entry["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def _recreate_bucket(scene: Scene) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    publish_tiny(scene.store)


def _delete_model(scene: Scene) -> None:
    s3 = boto3.client("s3")
    for entry in s3.list_objects_v2(Bucket=BUCKET, Prefix="serving/models/").get("Contents", ()):
        s3.delete_object(Bucket=BUCKET, Key=entry["Key"])


def _replace_blob(scene: Scene) -> None:
    s3, key = boto3.client("s3"), scene.blob_key()
    scene.saved["blob"] = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not the model that was published")


def _swap_blob_bytes(scene: Scene) -> None:
    """The same length as the published model, other bytes: only the sha256 can tell."""
    s3, key = boto3.client("s3"), scene.blob_key()
    scene.saved["blob"] = data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(b ^ 0xFF for b in data))


def _grow_blob(scene: Scene) -> None:
    """The published model with 8 MiB appended: refused by its size before it is read."""
    s3, key = boto3.client("s3"), scene.blob_key()
    scene.saved["blob"] = data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=data + b"\0" * (8 << 20))


def _pad_manifest(scene: Scene) -> None:
    """The manifest, still valid JSON, padded past the manifest cap with spaces."""
    s3, key = boto3.client("s3"), "serving/models/tiny/1/manifest.json"
    scene.saved["manifest"] = data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=data + b" " * MAX_MANIFEST_BYTES)


def _restore_manifest(scene: Scene) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key="serving/models/tiny/1/manifest.json",
                                  Body=scene.saved["manifest"])


def _restore_blob(scene: Scene) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=scene.blob_key(), Body=scene.saved["blob"])


def _truncate_downloads(scene: Scene) -> None:
    """The connection drops halfway through the model: botocore sees a short body."""
    real = make_s3_client

    def truncating_client(config: S3ClientConfig) -> Any:
        client = real(config)

        def cut(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            body = parsed.get("Body")
            if body is not None and parsed.get("ContentLength", 0) > 100:
                data = body.read()
                parsed["Body"] = StreamingBody(io.BytesIO(data[: len(data) // 2]), len(data))

        client.meta.events.register("after-call.s3.GetObject", cut)
        return client

    scene.monkeypatch.setattr(model_store.s3.store, "make_s3_client", truncating_client)


def _whole_downloads(scene: Scene) -> None:
    scene.monkeypatch.setattr(model_store.s3.store, "make_s3_client", make_s3_client)


def _nothing(scene: Scene) -> None:
    pass


Step = Callable[[Scene], object]
FAILURES: list[tuple[str, str, Step, Step, str]] = [
    # (id, version asked for, break, fix, the cause the log must show)
    ("missing-bucket", "latest", _delete_bucket, _recreate_bucket,
     "bucket 'featherserve-models' does not exist"),
    ("missing-model", "latest", _delete_model, lambda s: publish_tiny(s.store),
     "no model named 'tiny'"),
    ("missing-version", "2", _nothing, lambda s: publish_tiny(s.store, scale=2.0),
     "no version 2; versions: 1"),
    ("missing-alias", "prod", _nothing, lambda s: s.store.promote("tiny", "1"),
     "no alias 'prod'; aliases: latest"),
    ("no-credentials", "latest", lambda s: remove_credentials(s.monkeypatch),
     lambda s: restore_credentials(s.monkeypatch), "no usable AWS credentials"),
    ("throttling", "latest",
     lambda s: s.use_endpoint(s.endpoints.enter_context(throttling_endpoint())),
     lambda s: s.monkeypatch.delenv("AWS_ENDPOINT_URL"), "throttling or unavailable.*SlowDown"),
    ("read-timeout", "latest",
     lambda s: s.use_endpoint(s.endpoints.enter_context(silent_endpoint())),
     lambda s: s.monkeypatch.delenv("AWS_ENDPOINT_URL"), "did not answer in time"),
    ("unreachable", "latest", lambda s: s.use_endpoint(closed_endpoint()),
     lambda s: s.monkeypatch.delenv("AWS_ENDPOINT_URL"), "cannot reach S3"),
    ("size-mismatch", "latest", _replace_blob, _restore_blob,
     r"is 32 bytes, the manifest records \d+"),
    ("checksum-mismatch", "latest", _swap_blob_bytes, _restore_blob,
     "sha256 is .* the manifest records"),
    ("oversized-blob", "latest", _grow_blob, _restore_blob,
     r"is \d{7,} bytes, the manifest records \d+"),
    ("oversized-manifest", "1", _pad_manifest, _restore_manifest,
     f"at most {MAX_MANIFEST_BYTES} are read"),
    ("truncated-download", "1", _truncate_downloads, _whole_downloads,
     "IncompleteReadError"),
]


@pytest.mark.parametrize(("version", "break_it", "fix_it", "cause"),
                         [row[1:] for row in FAILURES], ids=[row[0] for row in FAILURES])
def test_a_failure_is_a_503_that_heals(store, cache, monkeypatch, capsys,
                                       version, break_it, fix_it, cause):
    publish_tiny(store)
    with contextlib.ExitStack() as endpoints:
        scene = Scene(store, monkeypatch, endpoints)
        break_it(scene)
        handler = serve_model("tiny", settings=settings(version))
        for _ in range(2):  # init failed; the next request retries and fails the same way
            response = handler(predict_event(), None)
            assert response["statusCode"] == 503
            assert response_json(response)["error"]["code"] == "model_unavailable"
            assert BUCKET not in response["body"]
        assert files_under(cache) == []  # no partial model, no temporary file
    log = capsys.readouterr().out
    failures = [json.loads(line) for line in log.splitlines()
                if '"model load failed"' in line]
    assert failures and all(f["source"] == SOURCE for f in failures)
    assert any(re.search(cause, f.get("exception", "")) for f in failures), log
    fix_it(scene)
    response = handler(predict_event(), None)
    assert response["statusCode"] == 200, response["body"]
    assert any(name.endswith("model.onnx") for name in files_under(cache))


# -- a real moto_server on 127.0.0.1: the HTTP path boto3 really takes ----------------------


def test_serves_from_a_moto_server(tmp_path, monkeypatch, cache):
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    monkeypatch.setattr(s3_store_module, "RUNTIME_CLIENT_CONFIG", S3ClientConfig(max_attempts=1))
    command = [str(VENV / "bin" / "python"), "-m", "moto.server", "-H", "127.0.0.1",
               "-p", str(port)]
    log_path = tmp_path / "moto_server.log"
    with running(command, env=tool_env(), log_path=log_path) as server:
        wait_for_port(port, server, log_path, timeout=60)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        store = S3Store(SOURCE)
        published = publish_tiny(store)
        assert publish_tiny(store) == published
        handler = serve_model("tiny", settings=settings("prod"))
        assert handler(predict_event(), None)["statusCode"] == 503  # no "prod" yet
        store.promote("tiny", "1")
        response = handler(predict_event("v1"), None)
        assert response["statusCode"] == 200, response["body"]
        assert response_json(response)["version"] == "1"
    assert files_under(cache) == ["tiny/1/manifest.json", "tiny/1/model.onnx"]
    assert "POST" in log_path.read_text() or "PUT" in log_path.read_text()  # it was used


# -- a handler serving from a folder never imports boto3 ------------------------------------

LIGHT_CHECK = """
import json, sys
import model_store, model_store.s3, model_store.stores
from model_runtime import Settings, serve_model
handler = serve_model("tiny", settings=Settings(model_source=sys.argv[1]))
event = json.loads(sys.argv[2])
status = handler(event, None)["statusCode"]
aws = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "s3transfer"))
print(json.dumps({"status": status, "aws": aws}))
"""


def test_serving_from_a_folder_never_imports_boto3(tmp_path):
    publish_tiny_tabular(tmp_path / "store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_CHECK, str(tmp_path / "store"),
         json.dumps(predict_event())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # Powertools imports the bare ``botocore`` package (a few stdlib imports) to register its
    # user-agent hook; no SDK module (session, client, boto3, s3transfer) may follow.
    assert outcome == {"status": 200, "aws": ["botocore"]}
