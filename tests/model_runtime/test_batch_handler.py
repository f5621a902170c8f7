"""Bulk scoring in process: moto's S3 notifies moto's SQS, and the real SQS event goes to the
real batch handler (the shipped models, onnxruntime); every output line is checked against
what the HTTP handler answers for the same row."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from moto import mock_aws

from featherserve.support.archives import tar_of
from featherserve.support.sqs_events import LambdaContext
from tests.support.bulk import (
    BULK_BUCKET,
    Bulk,
    RowCase,
    assert_same_answer,
    bad_rows,
    csv_bytes,
    http_answer,
    http_image_answer,
    manifest,
    valid_rows,
)
from tests.support.fake_s3 import fake_aws_environment

IMAGES = Path(__file__).resolve().parents[1] / "images" / "rendered_digits"
NAMES = manifest("breast_cancer").input.feature_names  # type: ignore[union-attr]


def good_csv(count: int) -> bytes:
    """A CSV file of ``count`` valid breast_cancer rows, with its header."""
    return csv_bytes(NAMES, list(valid_rows("breast_cancer", count)))


def mixed_rows() -> list[RowCase]:
    """150 good rows with a bad one after every 15 (the last 15 good rows close the file)."""
    good = list(valid_rows("breast_cancer", 150))
    rows: list[RowCase] = []
    for index, bad in enumerate(bad_rows("breast_cancer")):
        rows += [*good[index * 15:(index + 1) * 15], bad]
    return rows + good[len(bad_rows("breast_cancer")) * 15:]


def test_csv_rows_come_back_in_order_as_the_http_handler_answers_each(bulk, tabular):
    rows = mixed_rows()
    messages = bulk.upload("breast_cancer", "2024/day 1.csv", csv_bytes(NAMES, rows))
    record = json.loads(messages[0]["Body"])["Records"][0]
    key = record["s3"]["object"]["key"]  # URL-encoded, "+" for a space, as S3 writes it
    assert "+" in key and unquote_plus(key) == "in/breast_cancer/2024/day 1.csv"
    assert bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages) == {
        "batchItemFailures": []}

    lines = bulk.lines("breast_cancer", "2024/day 1.csv")
    assert [line["row"] for line in lines] == list(range(1, len(rows) + 1))
    for line, row in zip(lines, rows, strict=True):
        status, body = http_answer(tabular, "breast_cancer", row.instance)
        # A row of the wrong length: the same code, worded for CSV columns.
        assert_same_answer(line, status, body, same_message=len(row.cells) == len(NAMES))
        if status != 200:
            assert line["error"]["request_id"] == messages[0]["MessageId"]
    errors = [line["error"]["code"] for line in lines if "error" in line]
    assert len(errors) == len(bad_rows("breast_cancer"))
    assert len(set(errors)) >= 3  # not a number, not finite, wrong length, ...

    summary = bulk.summary("breast_cancer", "2024/day 1.csv")
    card = manifest("breast_cancer")
    assert summary["status"] == "scored" and summary["error"] is None
    assert (summary["rows"], summary["errors"]) == (len(rows), len(errors))
    assert summary["predicted"] == len(rows) - len(errors)
    assert sum(summary["error_codes"].values()) == len(errors)
    assert summary["model"] == {"name": "breast_cancer", "version": card.version,
                                "sha256": card.sha256}
    assert summary["input"]["uri"] == f"s3://{BULK_BUCKET}/in/breast_cancer/2024/day 1.csv"
    assert summary["output"] == (f"s3://{BULK_BUCKET}/out/breast_cancer/2024/day 1.csv"
                                 ".predictions.jsonl")
    assert set(summary["timings_ms"]) == {"read", "predict", "write", "total"}
    assert summary["request_id"] == messages[0]["MessageId"]


def test_json_lines_rows_and_row_errors_beside_good_rows(bulk, tabular):
    good = [row.instance for row in valid_rows("breast_cancer", 6, seed=3)]
    listed = list(good[1].values())
    lines_in = [json.dumps(good[0]), "{not json", json.dumps(listed),
                json.dumps({k: v for k, v in good[2].items() if k != NAMES[4]}),
                json.dumps(listed[:3]), "", json.dumps("a string"), json.dumps(good[3]),
                json.dumps({**good[4], "extra": 1.0})]
    body = ("\ufeff" + "\n".join(lines_in) + "\n").encode()
    messages = bulk.upload("breast_cancer", "rows.jsonl", body)
    assert bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages) == {
        "batchItemFailures": []}
    lines = bulk.lines("breast_cancer", "rows.jsonl")
    sent = [text for text in lines_in if text]  # blank lines are not rows
    assert len(lines) == len(sent)
    for line, text in zip(lines, sent, strict=True):
        if text == "{not json":
            assert line["error"]["code"] == "malformed_json"
            assert line["error"]["message"].startswith(f"row {line['row']} is not valid JSON")
            continue
        sent_value = json.loads(text)
        if isinstance(sent_value, dict) and "extra" in sent_value:
            # A key that is not a feature passes through; the features are the instance.
            assert line["keep"] == {"extra": 1.0}
            sent_value.pop("extra")
        status, answer = http_answer(tabular, "breast_cancer", sent_value)
        assert_same_answer(line, status, answer)
    assert sum("prediction" in line for line in lines) == 4


@pytest.mark.parametrize("image", ["d7_0040px_light_on_dark_stroke.png",
                                   "d3_0128px_light_on_dark_font.jpg"])
def test_an_image_object_is_scored_as_the_same_upload_over_http(bulk, images, image):
    data = (IMAGES / image).read_bytes()
    messages = bulk.upload("digits", f"scans/{image}", data)
    assert bulk.score(bulk.batch_handler(images), "digits", messages) == {
        "batchItemFailures": []}
    (line,) = bulk.lines("digits", f"scans/{image}")
    content_type = "image/png" if image.endswith(".png") else "image/jpeg"
    status, body = http_image_answer(images, data, content_type)
    assert status == 200
    assert_same_answer(line, status, body)
    assert line["prediction"]["label"] == image[1]
    assert bulk.summary("digits", f"scans/{image}")["rows"] == 1


def test_an_image_that_is_not_one_gets_the_http_error_on_its_line(bulk, images):
    data = b"name,value\n1,2\n"
    messages = bulk.upload("digits", "not-an-image.png", data)
    bulk.score(bulk.batch_handler(images), "digits", messages)
    (line,) = bulk.lines("digits", "not-an-image.png")
    status, body = http_image_answer(images, data, "image/png")
    assert 400 <= status < 500
    assert_same_answer(line, status, body)
    assert bulk.summary("digits", "not-an-image.png")["errors"] == 1


def refused(bulk: Bulk, model: str, name: str) -> dict:
    summary = bulk.summary(model, name)
    assert summary["status"] == "refused" and summary["output"] is None
    assert summary["rows"] == summary["predicted"] == 0
    assert f"out/{model}/{name}.predictions.jsonl" not in bulk.out_keys()
    error = summary["error"]
    assert set(error) == {"code", "message", "request_id"}
    return error  # type: ignore[no-any-return]


def test_an_empty_file_is_refused_with_a_summary(bulk, tabular):
    messages = bulk.upload("breast_cancer", "empty.csv", b"")
    assert bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages) == {
        "batchItemFailures": []}  # done: retrying cannot help
    assert refused(bulk, "breast_cancer", "empty.csv")["code"] == "empty_file"


@pytest.mark.parametrize(("header", "mentions"), [
    (NAMES[:-1], repr(NAMES[-1])),  # a feature missing
    ([*NAMES[1:], "patient id"], "'patient id'"),  # a feature missing, another column
    ([*NAMES[:-1], NAMES[0]], repr(NAMES[0])),  # a column twice
    (["1.5"] * len(NAMES), "looks like data"),  # no header at all
])
def test_a_broken_header_is_refused(bulk, tabular, header, mentions):
    rows = list(valid_rows("breast_cancer", 3))
    messages = bulk.upload("breast_cancer", "broken.csv", csv_bytes(header, rows))
    bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages)
    error = refused(bulk, "breast_cancer", "broken.csv")
    assert error["code"] == "invalid_header"
    assert mentions in error["message"]


@pytest.mark.parametrize("encode", [
    lambda text: text.replace("\n", "\n", 1).encode("utf-16"),
    lambda text: text.encode() + "1.0,caf\u00e9\n".encode("latin-1"),
], ids=["utf-16", "latin-1 after good rows"])
def test_a_file_that_is_not_utf8_is_refused(bulk, tabular, encode):
    text = good_csv(20).decode()
    messages = bulk.upload("breast_cancer", "legacy.csv", encode(text))
    bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages)
    error = refused(bulk, "breast_cancer", "legacy.csv")
    assert error["code"] == "not_utf8" and "UTF-8" in error["message"]


def test_a_file_of_another_format_is_refused(bulk, tabular):
    messages = bulk.upload("breast_cancer", "report.xlsx", b"PK\x03\x04 not rows")
    bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages)
    error = refused(bulk, "breast_cancer", "report.xlsx")
    assert error["code"] == "unsupported_file_type" and ".csv" in error["message"]


def test_a_message_for_a_missing_object_fails_alone(bulk, tabular):
    gone = bulk.upload("breast_cancer", "gone.csv", good_csv(3))
    bulk.s3.delete_object(Bucket=BULK_BUCKET, Key="in/breast_cancer/gone.csv")
    kept = bulk.upload("breast_cancer", "kept.csv", good_csv(3))
    answer = bulk.score(bulk.batch_handler(tabular), "breast_cancer", [*gone, *kept])
    # Only that message returns to the queue (and, after a few tries, the dead-letter queue).
    assert answer == {"batchItemFailures": [{"itemIdentifier": gone[0]["MessageId"]}]}
    assert len(bulk.lines("breast_cancer", "kept.csv")) == 3
    assert not [k for k in bulk.out_keys() if "gone.csv" in k]


def test_unreadable_and_foreign_messages(bulk, tabular):
    handler = bulk.batch_handler(tabular)
    url, _ = bulk.queues["breast_cancer"]
    bulk.sqs.send_message(QueueUrl=url, MessageBody="not json at all")
    bulk.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BULK_BUCKET}))
    # A notification for another model's prefix (a misrouted queue): never acted on.
    bulk.s3.put_object(Bucket=BULK_BUCKET, Key="in/digits/x.png", Body=b"x")
    foreign = bulk.receive("digits", expect=1)[0]
    bulk.sqs.send_message(QueueUrl=url, MessageBody=foreign["Body"])
    unreadable, test_event, misrouted = bulk.receive("breast_cancer", expect=3)
    answer = bulk.score(handler, "breast_cancer", [unreadable, test_event, misrouted])
    assert answer == {"batchItemFailures": [{"itemIdentifier": unreadable["MessageId"]}]}
    assert bulk.out_keys() == []


def test_output_under_out_never_notifies(bulk, tabular):
    messages = bulk.upload("breast_cancer", "a.csv", good_csv(2))
    bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages)
    assert len(bulk.out_keys()) == 2
    assert bulk.receive("breast_cancer") == [] and bulk.receive("digits") == []


def test_a_redelivered_message_rewrites_the_same_result(bulk, tabular):
    rows = mixed_rows()[:60]
    messages = bulk.upload("breast_cancer", "again.csv", csv_bytes(NAMES, rows))
    handler = bulk.batch_handler(tabular)
    bulk.score(handler, "breast_cancer", messages)
    first, first_summary = (bulk.text("breast_cancer", "again.csv"),
                            bulk.summary("breast_cancer", "again.csv"))
    # SQS hands the same message again (a retry, or at-least-once delivery).
    event = bulk.event("breast_cancer", messages, receive_count=2)
    assert handler(event, LambdaContext("c0ffee00-0000-4000-8000-000000000002")) == {
        "batchItemFailures": []}
    assert bulk.text("breast_cancer", "again.csv") == first
    second = bulk.summary("breast_cancer", "again.csv")
    assert second["function_request_id"] != first_summary["function_request_id"]
    for moving in ("timings_ms", "rows_per_second", "function_request_id"):
        second.pop(moving), first_summary.pop(moving)
    assert second == first_summary


def test_a_notification_for_a_replaced_object_is_skipped(bulk, tabular):
    old = bulk.upload("breast_cancer", "v.csv", good_csv(2))
    new = bulk.upload("breast_cancer", "v.csv", good_csv(5))
    handler = bulk.batch_handler(tabular)
    bulk.score(handler, "breast_cancer", new)
    bulk.score(handler, "breast_cancer", old)  # late: its bytes are gone
    assert len(bulk.lines("breast_cancer", "v.csv")) == 5


def test_a_file_over_the_size_limit_is_refused_and_says_what_to_use(bulk, tabular):
    body = good_csv(50)
    messages = bulk.upload("breast_cancer", "big.csv", body)
    handler = bulk.batch_handler(tabular, max_object_bytes=len(body) - 1)
    assert bulk.score(handler, "breast_cancer", messages) == {"batchItemFailures": []}
    error = refused(bulk, "breast_cancer", "big.csv")
    assert error["code"] == "file_too_large"
    assert f"{len(body):,} bytes" in error["message"]
    assert "Distributed Map" in error["message"]


def test_a_file_that_outlasts_a_whole_invocation_is_refused_not_half_written(bulk, tabular):
    body = good_csv(400)
    messages = bulk.upload("breast_cancer", "slow.csv", body)
    # The file starts with the whole invocation ahead (900 s) and, after two chunks, less
    # than the 15 s safety margin is left.
    handler = bulk.batch_handler(tabular, chunk_rows=50)
    answer = bulk.score(handler, "breast_cancer", messages, _Clock([900, 900, 900, 900, 5]))
    assert answer == {"batchItemFailures": []}
    error = refused(bulk, "breast_cancer", "slow.csv")
    assert error["code"] == "file_too_large" and "Distributed Map" in error["message"]
    assert bulk.s3.list_multipart_uploads(Bucket=BULK_BUCKET).get("Uploads", []) == []


def test_a_file_started_late_in_an_invocation_is_retried_not_refused(bulk, tabular):
    first = bulk.upload("breast_cancer", "first.csv", good_csv(3))
    late = bulk.upload("breast_cancer", "late.csv", good_csv(3))
    handler = bulk.batch_handler(tabular)
    # Time left as the handler reads it: the invocation's start, the first file's start
    # check, its start, its one chunk; then the late file starts with 100 s of 900 left,
    # and runs out after its first chunk.
    clock = _Clock([900, 900, 900, 900, 100, 100, 5])
    answer = bulk.score(handler, "breast_cancer", [*first, *late], clock)
    assert answer == {"batchItemFailures": [{"itemIdentifier": late[0]["MessageId"]}]}
    assert len(bulk.lines("breast_cancer", "first.csv")) == 3
    assert not [k for k in bulk.out_keys() if "late.csv" in k]
    assert bulk.s3.list_multipart_uploads(Bucket=BULK_BUCKET).get("Uploads", []) == []


class _Clock(LambdaContext):
    """A context answering the given seconds left, one per call (the last one after)."""

    def __init__(self, seconds_left: list[float]) -> None:
        super().__init__()
        self._left = list(seconds_left)

    def get_remaining_time_in_millis(self) -> int:
        seconds = self._left.pop(0) if len(self._left) > 1 else self._left[0]
        return int(seconds * 1000)


def test_a_non_sqs_event_gets_an_error_answer(bulk, tabular):
    answer = bulk.batch_handler(tabular)({"httpMethod": "GET", "path": "/"}, LambdaContext())
    assert answer["batchItemFailures"] == []
    assert answer["error"]["code"] == "unsupported_event"


def test_the_batch_handler_shares_the_http_handlers_model(monkeypatch, tmp_path):
    from model_runtime import Settings, serve_model
    from model_runtime.batch import serve_batch
    from model_runtime.model_loading import load_model

    loads = []

    def counting(name, settings):
        loads.append(name)
        return load_model(name, settings)

    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        bulk = Bulk.create(("breast_cancer",))
        from tests.support.bulk import MODELS_DIR

        http = serve_model("breast_cancer", settings=Settings(model_source=str(MODELS_DIR),
                                                              warmup=0), loader=counting)
        batch = serve_batch(http, s3=bulk.s3)
        messages = bulk.upload("breast_cancer", "shared.csv", good_csv(2))
        assert bulk.score(batch, "breast_cancer", messages) == {"batchItemFailures": []}
    assert loads == ["breast_cancer"]


class _Watching:
    """The S3 client, checking that the output is invisible while its parts go up; it can
    also fail the multipart completion, as a throttled or killed call would."""

    def __init__(self, client, *, fail_completion: bool) -> None:
        self._client = client
        self.fail_completion = fail_completion
        self.parts = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def upload_part(self, **request):
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError):
            self._client.head_object(Bucket=request["Bucket"], Key=request["Key"])
        self.parts += 1
        return self._client.upload_part(**request)

    def complete_multipart_upload(self, **request):
        from botocore.exceptions import ClientError

        if self.fail_completion:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}},
                              "CompleteMultipartUpload")
        return self._client.complete_multipart_upload(**request)


def test_a_large_output_appears_whole_or_not_at_all(bulk, tabular):
    from model_runtime.batch import serve_batch
    from model_runtime.batch.settings import BatchSettings

    rows = list(valid_rows("breast_cancer", 40_000, seed=7))  # ~7 MB of lines
    messages = bulk.upload("breast_cancer", "large.csv", csv_bytes(NAMES, rows))
    parts = BatchSettings(part_bytes=5 * 1024 * 1024)  # S3's smallest part
    failing = _Watching(bulk.s3, fail_completion=True)
    answer = serve_batch(tabular, s3=failing, batch_settings=parts)(
        bulk.event("breast_cancer", messages), LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert failing.parts >= 1
    assert bulk.out_keys() == []  # no predictions, and no summary claiming any
    assert bulk.s3.list_multipart_uploads(Bucket=BULK_BUCKET).get("Uploads", []) == []

    working = _Watching(bulk.s3, fail_completion=False)
    answer = serve_batch(tabular, s3=working, batch_settings=parts)(
        bulk.event("breast_cancer", messages, receive_count=2), LambdaContext())
    assert answer == {"batchItemFailures": []}
    assert working.parts >= 2
    lines = bulk.lines("breast_cancer", "large.csv")
    assert len(lines) == len(rows) and lines[-1]["row"] == len(rows)
    assert bulk.summary("breast_cancer", "large.csv")["predicted"] == len(rows)


def test_a_tar_of_images_is_one_file_with_a_line_per_image(bulk, images):
    chosen = sorted(IMAGES.glob("d[058]_0064px_*.png"))
    files = {f"photos/{p.name}": p.read_bytes() for p in chosen}
    files["photos/._resource_fork"] = b"\0\0"  # hidden: not an image of the folder
    files["photos/notes.txt"] = b"not an image"
    messages = bulk.upload("digits", "june/photos.tar.gz", tar_of(files, gzip=True))
    assert bulk.score(bulk.batch_handler(images), "digits", messages) == {
        "batchItemFailures": []}
    lines = bulk.lines("digits", "june/photos.tar.gz")
    assert [line["member"] for line in lines] == [f"photos/{p.name}" for p in chosen] + [
        "photos/notes.txt"]
    for line in lines:
        data = files[line["member"]]
        assert_same_answer(line, *http_image_answer(images, data, "image/png"),
                           same_message=False)
    assert [line["prediction"]["label"] for line in lines[:-1]] == [p.name[1] for p in chosen]
    assert bulk.summary("digits", "june/photos.tar.gz")["errors"] == 1


def test_json_lines_of_b64_images_are_scored_as_json_requests(bulk, images):
    import base64

    chosen = sorted(IMAGES.glob("d[46]_0040px_*.png"))
    instances = [{"b64": base64.b64encode(p.read_bytes()).decode()} for p in chosen]
    instances.append({"b64": "not base64!"})
    body = "\n".join(json.dumps(i) for i in instances).encode()
    messages = bulk.upload("digits", "batch.jsonl", body)
    bulk.score(bulk.batch_handler(images), "digits", messages)
    lines = bulk.lines("digits", "batch.jsonl")
    assert len(lines) == len(instances)
    for line, instance in zip(lines, instances, strict=True):
        status, answer = http_answer(images, "digits", instance)
        assert_same_answer(line, status, answer)


def test_a_broken_archive_is_refused(bulk, images):
    messages = bulk.upload("digits", "broken.tar", b"this is not a tar archive" * 40)
    bulk.score(bulk.batch_handler(images), "digits", messages)
    assert refused(bulk, "digits", "broken.tar")["code"] == "malformed_archive"


def test_a_line_longer_than_any_request_is_refused_without_reading_it_whole(bulk, tabular):
    header = ",".join(NAMES).encode() + b"\n"
    endless = b"1.0," * 1_300_000  # ~5 MB and no newline: more than a request body may be
    messages = bulk.upload("breast_cancer", "endless.csv", header + endless)
    bulk.score(bulk.batch_handler(tabular), "breast_cancer", messages)
    error = refused(bulk, "breast_cancer", "endless.csv")
    assert error["code"] == "malformed_csv" and "line 2" in error["message"]
