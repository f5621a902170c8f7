"""`featherserve predict` (the bulk pipeline on this machine: files, folders, S3) and
`featherserve batch submit` (a deployed stage: upload, then wait for that upload's result,
with a thread playing Lambda's SQS poller against moto)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from featherserve.cli import main
from featherserve.support.processes import ROOT
from tests.support.bulk import (
    BULK_BUCKET,
    Bulk,
    csv_bytes,
    http_handler,
    manifest,
    valid_rows,
)
from tests.support.fake_s3 import fake_aws_environment

NAMES = manifest("breast_cancer").input.feature_names  # type: ignore[union-attr]
EXAMPLE = ROOT / "examples" / "breast_cancer_rows.csv"
IMAGES = Path(__file__).resolve().parents[1] / "images" / "rendered_digits"


def predict(*args: str) -> int:
    return main(["predict", *args])


def test_predict_a_folder_of_row_files_into_one_output(tmp_path, capsys):
    folder = tmp_path / "exports"
    (folder / "june").mkdir(parents=True)
    (folder / "a.csv").write_bytes(EXAMPLE.read_bytes())
    rows = [row.instance for row in valid_rows("breast_cancer", 3)]
    (folder / "june" / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden: not an input
    out = tmp_path / "scored.jsonl"
    assert predict("breast_cancer", "--input", str(folder), "--output", str(out),
                   "--progress", "never") == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["file"] for line in lines] == ["a.csv"] * 24 + ["june/b.jsonl"] * 3
    assert [line["row"] for line in lines] == [*range(1, 25), 1, 2, 3]
    report = json.loads(capsys.readouterr().out)
    assert (report["files"], report["refused"], report["rows"], report["errors"]) == (2, 0, 27, 1)


def test_a_refused_file_leaves_no_output_and_fails_the_command(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe" + "x,y\n".encode("utf-16-le"))
    out = tmp_path / "out.jsonl"
    assert predict("breast_cancer", "--input", str(bad), "--output", str(out)) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]  # no temporary file left
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "not_utf8"
    assert "refused:" in captured.err and "UTF-8" in captured.err


def test_in_a_folder_a_refused_file_is_reported_and_the_others_scored(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.csv").write_bytes(EXAMPLE.read_bytes())
    (tmp_path / "in" / "empty.csv").write_bytes(b"")
    out = tmp_path / "out.jsonl"
    assert predict("breast_cancer", "--input", str(tmp_path / "in"), "--output",
                   str(out), "--progress", "never") == 1
    assert {json.loads(line)["file"] for line in out.read_text().splitlines()} == {"good.csv"}
    report = json.loads(capsys.readouterr().out)
    codes = {s["input"]["uri"].rsplit("/", 1)[1]: s["error"] and s["error"]["code"]
             for s in report["summaries"]}
    assert codes == {"empty.csv": "empty_file", "good.csv": None}


def test_predict_a_folder_of_images_with_a_progress_bar(tmp_path, capsys):
    chosen = sorted(IMAGES.glob("d[27]_0064px_*.png"))
    assert len(chosen) == 2
    for image in chosen:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    out = tmp_path / "digits.jsonl"
    assert predict("digits", "--input", str(tmp_path), "--output", str(out),
                   "--progress", "always") == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["file"], line["prediction"]["label"]) for line in lines] == [
        (image.name, image.name[1]) for image in chosen]
    assert "100%" in capsys.readouterr().err


def test_predict_reads_and_writes_s3(monkeypatch, tmp_path, capsys):
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="featherserve-cli-test")
        s3.put_object(Bucket="featherserve-cli-test", Key="exports/day1.csv",
                      Body=EXAMPLE.read_bytes())
        s3.put_object(Bucket="featherserve-cli-test", Key="exports/day2.csv",
                      Body=csv_bytes(NAMES, list(valid_rows("breast_cancer", 5))))
        assert predict("breast_cancer", "--input", "s3://featherserve-cli-test/exports/",
                       "--output", "s3://featherserve-cli-test/scored/all.jsonl",
                       "--progress", "never") == 0
        body = s3.get_object(Bucket="featherserve-cli-test", Key="scored/all.jsonl")["Body"]
        lines = [json.loads(line) for line in body.read().decode().splitlines()]
        assert [line["file"] for line in lines] == ["day1.csv"] * 24 + ["day2.csv"] * 5
        assert predict("breast_cancer", "--input", "s3://featherserve-cli-test/missing/",
                       "--output", str(tmp_path / "x.jsonl")) == 1
    assert "no such object or prefix" in capsys.readouterr().err


# ------------------------------------------------------------------ featherserve batch submit
class Poller(threading.Thread):
    """Lambda's event source mapping, played against moto: receive, invoke, delete."""

    def __init__(self, bulk: Bulk, model: str) -> None:
        super().__init__(daemon=True)
        self.bulk, self.model = bulk, model
        self.handler = bulk.batch_handler(http_handler(model))
        self.stop = threading.Event()

    def run(self) -> None:
        url, _ = self.bulk.queues[self.model]
        while not self.stop.is_set():
            messages = self.bulk.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                     WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                self.stop.wait(0.02)
                continue
            answer = self.bulk.score(self.handler, self.model, messages)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.bulk.sqs.delete_message(QueueUrl=url,
                                                 ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def stage(monkeypatch, tmp_path):
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        bulk = Bulk.create(("breast_cancer",))
        # A deployed stage names its bucket in its stack's outputs.
        template = {"Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
                    "Outputs": {"BulkBucketName": {"Value": BULK_BUCKET}}}
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="featherserve-mock", TemplateBody=json.dumps(template))
        poller = Poller(bulk, "breast_cancer")
        poller.start()
        try:
            yield bulk
        finally:
            poller.stop.set()
            poller.join(timeout=10)


def printed_summary(out: str) -> dict:
    """The summary the command printed (the poller's handler logs to stdout too)."""
    decoder, found, index = json.JSONDecoder(), None, 0
    while (start := out.find("{", index)) != -1:
        try:
            document, index = decoder.raw_decode(out, start)
        except ValueError:
            index = start + 1
            continue
        if isinstance(document, dict) and {"status", "rows", "model"} <= set(document):
            found = document
    assert found is not None, out
    return found


def submit(*args: str) -> int:
    return main(["batch", "submit", *args, "--stage", "mock", "--region", "us-east-1",
                 "--poll", "0.05"])


def test_submit_uploads_waits_and_saves_the_predictions(stage, tmp_path, capsys):
    out = tmp_path / "scored.jsonl"
    assert submit("breast_cancer", str(EXAMPLE), "--key", "june/rows.csv",
                  "--output", str(out), "--timeout", "60") == 0
    summary = printed_summary(capsys.readouterr().out)
    assert (summary["status"], summary["rows"], summary["errors"]) == ("scored", 24, 1)
    assert summary["input"]["uri"] == f"s3://{BULK_BUCKET}/in/breast_cancer/june/rows.csv"
    assert out.read_text() == stage.text("breast_cancer", "june/rows.csv")

    # The same key again, with other rows: the result of this upload, not the last one.
    second = tmp_path / "rows.csv"
    second.write_bytes(csv_bytes(NAMES, list(valid_rows("breast_cancer", 4))))
    assert submit("breast_cancer", str(second), "--key", "june/rows.csv",
                  "--output", str(out), "--timeout", "60") == 0
    assert printed_summary(capsys.readouterr().out)["rows"] == 4
    assert len(out.read_text().splitlines()) == 4


def test_submit_reports_a_refused_file(stage, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert submit("breast_cancer", str(empty), "--timeout", "60") == 1
    captured = capsys.readouterr()
    assert printed_summary(captured.out)["error"]["code"] == "empty_file"
    assert not (tmp_path / "empty.csv.predictions.jsonl").exists()


def test_submit_gives_up_after_its_timeout(monkeypatch, tmp_path, capsys):
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        Bulk.create(("breast_cancer",))  # nothing polls the queue
        assert submit("breast_cancer", str(EXAMPLE), "--bucket", BULK_BUCKET,
                      "--timeout", "0.3") == 1
    assert "no result for" in capsys.readouterr().err


def test_submit_needs_a_deployed_stage(monkeypatch, tmp_path, capsys):
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        assert submit("breast_cancer", str(EXAMPLE)) == 1
    assert "no deployed stack featherserve-mock" in capsys.readouterr().err
