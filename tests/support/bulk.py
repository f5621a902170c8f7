"""The bulk path in process: a moto bucket whose in/<model>/ prefixes notify SQS queues, the
shipped models behind their real HTTP and batch handlers, and the HTTP answer for a row.
The fixtures ``bulk``, ``tabular`` and ``images`` are visible to every test under
tests/model_runtime (its conftest.py)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from featherserve.support.events import load_event, response_json, with_body
from featherserve.support.processes import ROOT
from featherserve.support.sqs_events import LambdaContext, sqs_event
from model_runtime import Settings, serve_model
from model_runtime.batch import serve_batch
from model_runtime.batch.settings import BatchSettings
from model_store import LocalStore
from model_store.base import LATEST
from model_store.manifest import Manifest
from tests.support.fake_s3 import fake_aws_environment

BULK_BUCKET = "featherserve-test-bulk"
REGION = "us-east-1"
MODELS_DIR = ROOT / "models"
BULK_MODELS = ("breast_cancer", "digits")


def manifest(model: str) -> Manifest:
    """The shipped model's latest manifest: what the handlers serve by default."""
    return LocalStore(MODELS_DIR).manifest(model, LATEST)


def http_handler(model: str) -> Any:
    return serve_model(model, settings=Settings(model_source=str(MODELS_DIR)))


@dataclass
class Bulk:
    """One bucket, one queue per model (notified for in/<model>/ only), real handlers."""

    s3: Any
    sqs: Any
    queues: dict[str, tuple[str, str]] = field(default_factory=dict)  # model → (url, arn)

    @classmethod
    def create(cls, models: Sequence[str] = BULK_MODELS) -> Bulk:
        bulk = cls(boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION))
        bulk.s3.create_bucket(Bucket=BULK_BUCKET)
        rules = []
        for model in models:
            url = bulk.sqs.create_queue(QueueName=f"featherserve-test-{model}-bulk")["QueueUrl"]
            arn = bulk.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            bulk.queues[model] = (url, arn)
            rules.append({"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                          "Filter": {"Key": {"FilterRules": [
                              {"Name": "prefix", "Value": f"in/{model}/"}]}}})
        bulk.s3.put_bucket_notification_configuration(
            Bucket=BULK_BUCKET, NotificationConfiguration={"QueueConfigurations": rules})
        for model in models:  # S3's s3:TestEvent, sent when notifications are configured
            assert [json.loads(m["Body"])["Event"] for m in bulk.receive(model)] == [
                "s3:TestEvent"]
        return bulk

    def receive(self, model: str, *, expect: int | None = None) -> list[dict[str, Any]]:
        url = self.queues[model][0]
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", []):
            messages += batch
        if expect is not None:
            assert len(messages) == expect, messages
        return messages

    def event(self, model: str, messages: list[dict[str, Any]], *,
              receive_count: int = 1) -> dict[str, Any]:
        return sqs_event(messages, self.queues[model][1], receive_count=receive_count)

    def upload(self, model: str, name: str, body: bytes) -> list[dict[str, Any]]:
        """Put a file under in/<model>/ and return the notification S3 queued for it."""
        self.s3.put_object(Bucket=BULK_BUCKET, Key=f"in/{model}/{name}", Body=body)
        return self.receive(model, expect=1)

    def batch_handler(self, http: Any, **settings: Any) -> Any:
        return serve_batch(http, s3=self.s3, batch_settings=BatchSettings(**settings))

    def score(self, handler: Any, model: str, messages: list[dict[str, Any]],
              context: LambdaContext | None = None) -> dict[str, Any]:
        return handler(self.event(model, messages), context or LambdaContext())  # type: ignore

    def lines(self, model: str, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text(model, name).splitlines()]

    def text(self, model: str, name: str) -> str:
        key = f"out/{model}/{name}.predictions.jsonl"
        body: bytes = self.s3.get_object(Bucket=BULK_BUCKET, Key=key)["Body"].read()
        return body.decode()

    def summary(self, model: str, name: str) -> dict[str, Any]:
        key = f"out/{model}/{name}.summary.json"
        document: dict[str, Any] = json.loads(
            self.s3.get_object(Bucket=BULK_BUCKET, Key=key)["Body"].read())
        return document

    def out_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BULK_BUCKET, Prefix="out/")
        return sorted(o["Key"] for o in listed.get("Contents", []))


# ----------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class RowCase:
    """A CSV row and what a JSON client would send for it (NaN and inf as JSON's tokens)."""

    cells: list[str]
    instance: Any  # a dict keyed by feature, or a list when the row's length is wrong


def valid_rows(model: str, count: int, seed: int = 0) -> Iterator[RowCase]:
    rng = np.random.default_rng(seed)
    features = manifest(model).input.features  # type: ignore[union-attr]
    for _ in range(count):
        values = [float(f"{rng.uniform(f.min, f.max):.5g}") for f in features]
        yield RowCase([repr(v) for v in values], {f.name: v for f, v in zip(features, values,
                                                                            strict=True)})


def with_cell(case: RowCase, column: int, cell: str, value: Any, name: str) -> RowCase:
    cells = list(case.cells)
    cells[column] = cell
    return RowCase(cells, {**case.instance, name: value})


def bad_rows(model: str) -> list[RowCase]:
    """Rows the contract refuses, each beside good ones: text, inf, overflow, Python-only
    number spellings, rows of the wrong length, and missing cells (empty, and ``nan`` as
    pandas reads it: null, which this model was not trained to take)."""
    names = manifest(model).input.feature_names  # type: ignore[union-attr]
    base = list(valid_rows(model, 9, seed=1))
    return [
        with_cell(base[0], 2, "abc", "abc", names[2]),
        with_cell(base[1], 0, "", None, names[0]),
        with_cell(base[2], 5, "nan", None, names[5]),
        with_cell(base[3], 7, "-inf", -math.inf, names[7]),
        with_cell(base[4], 1, "1e400", math.inf, names[1]),
        with_cell(base[5], 3, "1_000", "1_000", names[3]),
        with_cell(base[6], 4, "١٢", "١٢", names[4]),
        RowCase(base[7].cells[:5], list(base[7].instance.values())[:5]),
        RowCase([*base[8].cells, "7"], [*base[8].instance.values(), 7.0]),
    ]


def csv_bytes(header: Sequence[str], rows: Sequence[RowCase]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row.cells)
    return out.getvalue().encode()


def http_answer(handler: Any, model: str, instance: Any) -> tuple[int, dict[str, Any]]:
    """What POST /models/<model>/predict answers for one instance."""
    event = with_body(load_event("breast_cancer_predict_v1"),
                      json.dumps({"instances": [instance]}), content_type="application/json")
    event["path"] = f"/models/{model}/predict"
    response = handler(event, LambdaContext())
    return response["statusCode"], response_json(response)


def http_image_answer(handler: Any, data: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    event = with_body(load_event("digits_raw_v1"), data, content_type=content_type)
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None  # top_k
    response = handler(event, LambdaContext())
    return response["statusCode"], response_json(response)


def assert_same_answer(line: dict[str, Any], status: int, body: dict[str, Any], *,
                       same_message: bool = True) -> None:
    """A bulk output line against the HTTP answer for the same row (or image)."""
    if status == 200:
        assert line["prediction"] == body["predictions"][0], (line, body)
        assert "error" not in line
        return
    assert "prediction" not in line, (line, body)
    assert line["error"]["code"] == body["error"]["code"], (line, body)
    if same_message:
        expected = body["error"]["message"].replace("instances[0]", f"row {line['row']}")
        assert line["error"]["message"] == expected


@pytest.fixture(scope="module")
def tabular() -> Any:
    """breast_cancer's HTTP handler on the shipped models."""
    return http_handler("breast_cancer")


@pytest.fixture(scope="module")
def images() -> Any:
    """digits' HTTP handler on the shipped models."""
    return http_handler("digits")


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bulk]:
    """The bulk path for the shipped models in a fresh mocked account."""
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        yield Bulk.create()
