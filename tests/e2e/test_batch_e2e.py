"""`sls invoke local` on a model's batch function with a real SQS event (tests/events/), the
S3 it reads and writes being a moto_server started for the test; and `featherserve predict`
writing the same lines from the same file on this machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest

from featherserve.cli import main
from featherserve.support.events import load_event
from featherserve.support.processes import ROOT, last_json_document, run_cli
from tests.support.deploy import MotoServer, fake_credentials_env, moto_server
from tests.support.stack import SLS

pytestmark = pytest.mark.e2e
EXAMPLE = ROOT / "examples" / "breast_cancer_rows.csv"


@pytest.fixture(scope="module")
def moto(tmp_path_factory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


def without_request_ids(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        if "error" in line:
            line["error"].pop("request_id")
    return lines


def test_sls_invoke_local_scores_the_object_an_sqs_event_names(moto, tmp_path):
    event = load_event("breast_cancer_batch_sqs")
    (record,) = json.loads(event["Records"][0]["body"])["Records"]
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    # The event's ETag is this file's: the function reads only that upload (If-Match).
    s3.put_object(Bucket=bucket, Key=key, Body=EXAMPLE.read_bytes())

    env = fake_credentials_env(moto.endpoint, tmp_path / "home")
    result = run_cli([SLS, "invoke", "local", "-f", "breast_cancer-batch", "--path",
                      "tests/events/breast_cancer_batch_sqs.json"], env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert last_json_document(result.stdout) == {"batchItemFailures": []}, result.stdout

    out = key.replace("in/", "out/", 1)
    text = s3.get_object(Bucket=bucket, Key=f"{out}.predictions.jsonl")["Body"].read().decode()
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"{out}.summary.json")["Body"].read())
    assert (summary["status"], summary["rows"], summary["errors"]) == ("scored", 24, 1)
    assert summary["request_id"] == event["Records"][0]["messageId"]
    lines = without_request_ids(text)
    assert lines[6]["error"]["code"] == "invalid_feature_value"  # the example's "n/a"
    assert lines[0]["prediction"]["label"] == "malignant"  # the dataset's first row

    # The same file scored on this machine: the same lines, in the same order.
    local = tmp_path / "local.jsonl"
    assert main(["predict", "breast_cancer", "--input", str(EXAMPLE), "--output",
                 str(local), "--progress", "never"]) == 0
    assert without_request_ids(local.read_text()) == lines


def test_sls_invoke_local_answers_s3s_test_event(moto, tmp_path):
    env = fake_credentials_env(moto.endpoint, tmp_path / "home")
    result = run_cli([SLS, "invoke", "local", "-f", "digits-batch", "--path",
                      "tests/events/digits_batch_sqs_test_event.json"], env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert last_json_document(result.stdout) == {"batchItemFailures": []}
