"""The pool over an S3 model store (moto): models under s3://bucket/prefix, sha256-checked
through the /tmp cache, promote seen after the TTL, a corrupted object 503 for its model
alone; and the pool's bulk handler, one queue for every model, the model from the key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from featherserve.support.events import response_json
from featherserve.support.sqs_events import LambdaContext, sqs_event
from model_runtime import Settings, serve_model
from model_runtime.batch.settings import BatchSettings
from model_runtime.pool import PoolList, PoolSettings, serve_pool, serve_pool_batch
from model_runtime.pool.batch import key_model
from model_runtime.pool.entry import pool_of
from model_runtime.pool.stores import runtime_store
from model_store.s3 import S3Store
from tests.support.fake_s3 import BUCKET, REGION, fake_aws_environment, publish_tiny
from tests.support.pool import ManualClock, card_event, predict_event, row

# Powertools keeps one metrics buffer per process: the dedicated handlers these tests build
# beside a pool set their own "model" default dimension, which the pool's overrides.
pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

SOURCE = f"s3://{BUCKET}/pooled"
NAMES = ("alpha_model", "beta_model", "gamma_model", "delta_model")
BULK_BUCKET = "featherserve-test-pool-bulk"
TTL = 60
ROWS = [[1.0, 2.0, 3.0], [-4.0, 0.5, 2.5], [0.0, 0.0, 0.0]]


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Store]:
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        store = S3Store(SOURCE)
        for i, name in enumerate(NAMES):
            publish_tiny(store, name, scale=1.0 + i)
        publish_tiny(store, NAMES[0], scale=-3.0)  # alpha_model v2
        yield store


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(model_source=SOURCE, model_cache=str(tmp_path / "cache"), warmup=0,
                    service_name=f"test-{uuid.uuid4().hex[:8]}", **overrides)


def pool(tmp_path: Path, *, ref: str | None = None, clock: ManualClock | None = None,
         models: tuple[str, ...] = NAMES, store_for: Any = runtime_store) -> Any:
    document: dict[str, Any] = {"source": SOURCE, "kind": "tabular", "models": list(models)}
    if ref:
        document["ref"] = ref
    return serve_pool("tabular", settings=settings(tmp_path),
                      models=PoolList.from_document(document, "test"),
                      pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30,
                                                 alias_ttl_s=TTL),
                      clock=clock or ManualClock(), store_for=store_for)


@pytest.mark.parametrize("form", ["v1", "v2"])
def test_pooled_models_from_s3_answer_as_dedicated_ones(aws, tmp_path, form):
    handler = pool(tmp_path)
    for name in NAMES:
        dedicated = serve_model(name, settings=settings(tmp_path))
        for event in (predict_event(name, [row(r) for r in ROWS], form), card_event(name, form),
                      card_event(name, form, "HEAD")):
            pooled, alone = handler(event, None), dedicated(event, None)
            pooled["headers"].pop("Server-Timing", None)
            alone["headers"].pop("Server-Timing", None)
            assert pooled == alone
            assert pooled["statusCode"] == 200
        card = response_json(handler(card_event(name, form), None))
        assert card["sha256"] == aws.manifest(name).sha256
    # Loaded through the cache, verified: one file per model version under the cache root.
    assert len(list((tmp_path / "cache").rglob("*.onnx"))) == len(NAMES)


def test_a_corrupted_object_is_503_for_its_model_alone(aws, tmp_path):
    manifest = aws.manifest("beta_model")
    s3 = boto3.client("s3", region_name=REGION)
    key = aws.location.blob_key(manifest.sha256)
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    clock = ManualClock()
    handler = pool(tmp_path, clock=clock)
    for _ in range(2):
        broken = handler(predict_event("beta_model", [ROWS[0]]), None)
        assert broken["statusCode"] == 503
        assert response_json(broken)["error"]["code"] == "model_unavailable"
        for neighbour in ("alpha_model", "gamma_model"):
            assert handler(predict_event(neighbour, [ROWS[0]]), None)["statusCode"] == 200
    assert not list((tmp_path / "cache").rglob(f"*{manifest.sha256}*"))  # nothing cached
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data[: len(data) // 2]) + bytes(
        [data[len(data) // 2] ^ 0xFF]) + bytes(data[len(data) // 2 + 1:]))  # repaired
    clock.advance(TTL)
    assert handler(predict_event("beta_model", [ROWS[0]]), None)["statusCode"] == 200


def test_a_promote_in_s3_is_served_after_the_ttl(aws, tmp_path):
    aws.promote("alpha_model", "1", "prod")
    clock = ManualClock()
    handler = pool(tmp_path, ref="prod", clock=clock)

    def version() -> str:
        return str(response_json(handler(predict_event("alpha_model", [ROWS[0]]), None))[
            "version"])

    assert version() == "1"
    aws.promote("alpha_model", "2", "prod")
    assert version() == "1"
    clock.advance(TTL)
    assert version() == "2"
    aws.rollback("alpha_model", "prod")
    clock.advance(TTL)
    assert version() == "1"


def test_an_unknown_name_reads_nothing_from_s3(aws, tmp_path):
    opened: list[str] = []

    def store_for(source: str) -> Any:
        opened.append(source)
        return runtime_store(source)

    handler = pool(tmp_path, store_for=store_for)
    for event in (predict_event("nobody", [ROWS[0]]), card_event("nobody", "v2")):
        assert handler(event, None)["statusCode"] == 404
    assert opened == [] and pool_of(handler).loaded_names == []
    assert handler(card_event("alpha_model", "v2"), None)["statusCode"] == 200
    assert opened == [SOURCE]


# ------------------------------------------------------------------------------ bulk
def bulk_queue(s3: Any, sqs: Any) -> tuple[str, str]:
    """One queue for every pooled model: notified for in/ as a whole."""
    s3.create_bucket(Bucket=BULK_BUCKET)
    url = sqs.create_queue(QueueName="featherserve-test-pool-bulk")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=BULK_BUCKET, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {
            "Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}]})
    drain(sqs, url)  # S3's s3:TestEvent
    return url, arn


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", []):
        messages += batch
    return messages


def csv_of(rows: list[list[float]]) -> bytes:
    return ("alpha,beta,gamma\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)).encode()


def test_one_queue_scores_files_for_two_models_and_refuses_an_unknown_one(aws, tmp_path):
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    url, arn = bulk_queue(s3, sqs)
    handler = pool(tmp_path)
    for key in ("in/alpha_model/a.csv", "in/gamma_model/deep/g.csv", "in/nobody/n.csv"):
        s3.put_object(Bucket=BULK_BUCKET, Key=key, Body=csv_of(ROWS))
    messages = drain(sqs, url)
    assert len(messages) == 3
    batch = serve_pool_batch(handler, s3=s3, batch_settings=BatchSettings(bucket=BULK_BUCKET))
    answer = batch(sqs_event(messages, arn), LambdaContext())
    assert answer == {"batchItemFailures": []}  # the unknown model is refused, not retried
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BULK_BUCKET, Prefix="out/")
                    .get("Contents", []))
    assert listed == ["out/alpha_model/a.csv.predictions.jsonl",
                      "out/alpha_model/a.csv.summary.json",
                      "out/gamma_model/deep/g.csv.predictions.jsonl",
                      "out/gamma_model/deep/g.csv.summary.json"]
    for name, key in (("alpha_model", "a.csv"), ("gamma_model", "deep/g.csv")):
        text = s3.get_object(Bucket=BULK_BUCKET, Key=f"out/{name}/{key}.predictions.jsonl")[
            "Body"].read().decode()
        lines = [json.loads(line) for line in text.splitlines()]
        http = response_json(handler(predict_event(name, ROWS), None))
        assert [line["prediction"] for line in lines] == http["predictions"]
        summary = json.loads(s3.get_object(
            Bucket=BULK_BUCKET, Key=f"out/{name}/{key}.summary.json")["Body"].read())
        assert summary["status"] == "scored" and summary["model"]["name"] == name
        assert summary["model"]["version"] == http["version"]
    # Built from a kind instead of a handler: its own pool, the same answers.
    own = serve_pool_batch("tabular", s3=s3, batch_settings=BatchSettings(),
                           settings=settings(tmp_path),
                           models=PoolList.from_document(
                               {"source": SOURCE, "kind": "tabular", "models": ["beta_model"]},
                               "test"),
                           pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30))
    s3.put_object(Bucket=BULK_BUCKET, Key="in/beta_model/b.csv", Body=csv_of(ROWS))
    s3.put_object(Bucket=BULK_BUCKET, Key="in/alpha_model/x.csv", Body=csv_of(ROWS))
    assert own(sqs_event(drain(sqs, url), arn), LambdaContext()) == {"batchItemFailures": []}
    assert s3.list_objects_v2(Bucket=BULK_BUCKET, Prefix="out/beta_model/")["KeyCount"] == 2
    assert s3.list_objects_v2(Bucket=BULK_BUCKET, Prefix="out/alpha_model/x")["KeyCount"] == 0


def test_a_broken_pooled_model_fails_its_message_for_a_retry(aws, tmp_path):
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    url, arn = bulk_queue(s3, sqs)
    manifest = aws.manifest("delta_model")
    s3.delete_object(Bucket=BUCKET, Key=aws.location.blob_key(manifest.sha256))
    handler = pool(tmp_path)
    s3.put_object(Bucket=BULK_BUCKET, Key="in/delta_model/d.csv", Body=csv_of(ROWS))
    s3.put_object(Bucket=BULK_BUCKET, Key="in/alpha_model/a.csv", Body=csv_of(ROWS))
    messages = drain(sqs, url)
    batch = serve_pool_batch(handler, s3=s3, batch_settings=BatchSettings())
    answer = batch(sqs_event(messages, arn), LambdaContext())
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    delta = [m["MessageId"] for m in messages if "delta_model" in m["Body"]]
    assert failed == set(delta)


@pytest.mark.parametrize("key,model", [
    ("in/alpha_model/a.csv", "alpha_model"), ("in/alpha_model/x/y.csv", "alpha_model"),
    ("in/alpha_model/", None), ("in//a.csv", None), ("out/alpha_model/a.csv", None),
    ("in/alpha_model", None), ("alpha_model/a.csv", None)])
def test_the_model_comes_from_the_key(key, model):
    assert key_model(key) == model
