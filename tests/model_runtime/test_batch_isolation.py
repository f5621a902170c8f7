"""One file that crashes the batch function (the runtime dies: out of memory, a native crash,
the timeout) must not take innocent files with it. Powertools' partial batch response
(ReportBatchItemFailures) isolates a file whose scoring raises, but a crash returns no
response: Lambda hands the whole batch back to the queue, and every file in it is retried
and, after ``batchMaxReceiveCount`` attempts, dead-lettered. So the stage's ``batchSize``
(serverless.yml) decides it.

Lambda's event source mapping is played here against moto's SQS, with the stage's own
batch size and receive count and a real dead-letter queue; the batch handler is the real
one. ``-s`` prints the measurement the README quotes (a batch size of 1 against 4).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import pytest
import yaml
from moto import mock_aws

from featherserve.support.processes import ROOT
from featherserve.support.sqs_events import LambdaContext, sqs_event
from model_runtime.batch import serve_batch
from model_runtime.batch.settings import BatchSettings
from tests.support.bulk import Bulk, csv_bytes, http_handler, manifest, valid_rows
from tests.support.fake_s3 import fake_aws_environment

MODEL = "breast_cancer"
NAMES = manifest(MODEL).input.feature_names  # type: ignore[union-attr]
PARAMS = yaml.safe_load((ROOT / "serverless.yml").read_text())["params"]["default"]
POISON = "2-poison.csv"
FILES = ["1-a.csv", POISON, *(f"{n}-{c}.csv" for n, c in zip(range(3, 9), "bcdefg",
                                                                  strict=True))]


class Crash(BaseException):
    """The runtime dying under the handler: nothing catches it, no response is returned."""


class Raised(Exception):
    """An error the handler raises: Powertools' batch processor reports its message alone."""


class _PoisonedS3:
    """The moto client; reading the poison file raises ``fault``."""

    def __init__(self, client: Any, fault: type[BaseException]) -> None:
        self._client = client
        self._fault = fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **request: Any) -> Any:
        if request["Key"].endswith(POISON):
            raise self._fault("out of memory")
        return self._client.get_object(**request)


@dataclass
class Run:
    invocations: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)
    dead: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def innocent_retries(self) -> int:
        return sum(n - 1 for f, n in self.deliveries.items() if f != POISON)


@pytest.fixture(scope="module")
def tabular():
    return http_handler(MODEL)


@pytest.fixture
def aws(monkeypatch, tmp_path):
    fake_aws_environment(monkeypatch, tmp_path / "aws")


def _file(message: dict[str, Any]) -> str:
    key = json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"]
    return unquote_plus(key).rsplit("/", 1)[1]


def event_source_mapping(tabular: Any, batch_size: int, max_receive_count: int, *,
                         poison: bool = True, fault: type[BaseException] = Crash) -> Run:
    """Drop the files in a fresh mocked account, then do what Lambda's SQS event source
    mapping does: receive up to ``batch_size`` messages, invoke; a crash returns every
    message of the batch, a partial response only the failed ones; SQS dead-letters a
    message received too often."""
    with mock_aws():
        return _run(tabular, batch_size, max_receive_count, poison, fault)


def _run(tabular: Any, batch_size: int, max_receive_count: int, poison: bool,
         fault: type[BaseException]) -> Run:
    bulk = Bulk.create((MODEL,))
    url, arn = bulk.queues[MODEL]
    dlq = bulk.sqs.create_queue(QueueName="featherserve-test-bulk-dlq")["QueueUrl"]
    dlq_arn = bulk.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    bulk.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})})
    rows = csv_bytes(NAMES, list(valid_rows(MODEL, 20)))
    for name in FILES if poison else [f for f in FILES if f != POISON]:
        bulk.s3.put_object(Bucket="featherserve-test-bulk", Key=f"in/{MODEL}/{name}", Body=rows)
    handler = serve_batch(tabular, s3=_PoisonedS3(bulk.s3, fault),
                          batch_settings=BatchSettings())
    run = Run()
    started = time.perf_counter()
    for _ in range(100):  # a bound, in case the queue never drains
        messages = bulk.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size,
                                            WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        run.invocations += 1
        run.deliveries.update(_file(m) for m in messages)
        try:
            answer = handler(sqs_event(messages, arn), LambdaContext())
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        except Crash:
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:  # visible again (after the visibility timeout)
                bulk.sqs.change_message_visibility(QueueUrl=url, VisibilityTimeout=0,
                                                   ReceiptHandle=message["ReceiptHandle"])
            else:
                bulk.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    run.seconds = time.perf_counter() - started
    run.dead = {_file(m) for m in _drain(bulk, dlq)}
    scored = {k.rsplit("/", 1)[1].removesuffix(".summary.json") for k in bulk.out_keys()
              if k.endswith(".summary.json")}
    # Every innocent file out of the dead-letter queue is scored (one in it may be too: it
    # was scored before the crash, and its message went back with the batch's).
    assert scored >= {f for f in FILES if f != POISON} - run.dead
    assert POISON not in scored
    return run


def _drain(bulk: Bulk, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := bulk.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=0).get("Messages", []):
        messages += batch
    return messages


def test_the_stages_batch_size_keeps_a_crash_to_its_own_file(aws, tabular):
    run = event_source_mapping(tabular, int(PARAMS["batchSize"]),
                               int(PARAMS["batchMaxReceiveCount"]))
    assert run.dead == {POISON}  # the crashing file, after every attempt, and nothing else
    assert run.deliveries[POISON] == int(PARAMS["batchMaxReceiveCount"])
    assert run.innocent_retries == 0
    assert all(run.deliveries[f] == 1 for f in FILES if f != POISON)


def test_a_raised_error_stays_with_its_file_at_any_batch_size(aws, tabular):
    """What the partial batch response does cover: an exception fails its message only."""
    run = event_source_mapping(tabular, 4, int(PARAMS["batchMaxReceiveCount"]), fault=Raised)
    assert run.dead == {POISON} and run.innocent_retries == 0


def test_measure_batch_sizes(aws, tabular, capsys):
    """The README's numbers: 8 files, one of which crashes the function."""
    rows = []
    for size in (1, 4):
        run = event_source_mapping(tabular, size, int(PARAMS["batchMaxReceiveCount"]))
        clean = event_source_mapping(tabular, size, 3, poison=False)
        rows.append((size, run, clean))
    with capsys.disabled():
        print("\nbatchSize | invocations | innocent files retried | innocent files "
              "dead-lettered | ms per file, no crash (in process)")
        for size, run, clean in rows:
            dead = len(run.dead - {POISON})
            print(f"{size} | {run.invocations} | {run.innocent_retries} | {dead} | "
                  f"{clean.seconds / (len(FILES) - 1) * 1000:.1f}")
    by_size = {size: run for size, run, _ in rows}
    assert by_size[1].innocent_retries == 0 and by_size[1].dead == {POISON}
    assert by_size[4].dead > {POISON}  # batches of 4: innocent files share the crash
