"""The bulk path's limits on hostile files, through the real batch handler (moto's S3 and SQS,
the shipped models): a chunk is bounded by bytes as well as rows, a CSV record by characters
however many lines its quoted fields span, a key too long for its outputs is refused before
scoring, every tar member (skipped or not) counts against the file's size and the time left,
and only the stage's own bucket is served. Hostile files are generated here, small, against
small limits set through the settings."""

from __future__ import annotations

import csv
import io
import json
import math
import tarfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featherserve.support.processes import ROOT
from featherserve.support.sqs_events import LambdaContext
from lambda_kit.errors import HttpError, PayloadTooLarge, UnprocessableInstance
from model_runtime import Settings, serve_model
from model_runtime.batch import serve_batch
from model_runtime.batch.image_rows import tar_rows
from model_runtime.batch.job import score_file
from model_runtime.batch.metering import FileBudget, MeteredStream
from model_runtime.batch.rows import _bounded_records
from model_runtime.batch.scoring import ScoringModel
from model_runtime.batch.settings import BatchSettings
from model_runtime.lambda_entry import service_of
from tests.support.bulk import (
    BULK_BUCKET,
    MODELS_DIR,
    Bulk,
    csv_bytes,
    manifest,
    valid_rows,
)

IMAGES = Path(__file__).resolve().parents[1] / "images" / "rendered_digits"
NAMES = manifest("breast_cancer").input.feature_names  # type: ignore[union-attr]
MODEL = "breast_cancer"


def refused(bulk: Bulk, model: str, name: str) -> dict[str, Any]:
    summary = bulk.summary(model, name)
    assert summary["status"] == "refused" and summary["output"] is None, summary
    assert f"out/{model}/{name}.predictions.jsonl" not in bulk.out_keys()
    assert bulk.s3.list_multipart_uploads(Bucket=BULK_BUCKET).get("Uploads", []) == []
    return summary["error"]  # type: ignore[no-any-return]


# ------------------------------------------------------------ 5. chunks and records
def wide_json_lines(count: int, digits: int) -> tuple[bytes, list[dict[str, Any]]]:
    """Valid rows whose numbers are written with ``digits`` decimals: long lines, same values."""
    instances = [row.instance for row in valid_rows(MODEL, count, seed=5)]
    lines = ["{" + ",".join(f'"{k}":{v:.{digits}f}' for k, v in i.items()) + "}"
             for i in instances]
    return ("\n".join(lines) + "\n").encode(), instances


def test_a_chunk_ends_by_bytes_as_well_as_rows(bulk, tabular, monkeypatch):
    body, instances = wide_json_lines(40, digits=250)  # ~8 KB a row
    row_bytes = len(body) / len(instances)
    seen: list[int] = []
    parse = ScoringModel.parse

    def watched(self, rows):
        seen.append(len(rows))
        return parse(self, rows)

    monkeypatch.setattr(ScoringModel, "parse", watched)
    messages = bulk.upload(MODEL, "wide.jsonl", body)
    handler = bulk.batch_handler(tabular, chunk_bytes=32 * 1024)  # chunk_rows: 1,024
    assert bulk.score(handler, MODEL, messages) == {"batchItemFailures": []}
    assert sum(seen) == len(instances)
    assert max(seen) <= math.ceil(32 * 1024 / row_bytes) + 1, seen
    lines = bulk.lines(MODEL, "wide.jsonl")
    assert [line["row"] for line in lines] == list(range(1, len(instances) + 1))
    assert all("prediction" in line for line in lines)

    seen.clear()  # the same rows in one chunk: the same answers
    again = bulk.upload(MODEL, "wide-again.jsonl", body)
    assert bulk.score(bulk.batch_handler(tabular), MODEL, again) == {"batchItemFailures": []}
    assert seen == [len(instances)]
    assert [line["prediction"] for line in bulk.lines(MODEL, "wide-again.jsonl")] == [
        line["prediction"] for line in lines]


def test_the_chunk_byte_limit_is_a_setting(monkeypatch):
    env = {"FEATHERSERVE_BATCH_CHUNK_BYTES": "65536"}
    assert BatchSettings.from_env(env).chunk_bytes == 65536
    assert BatchSettings.from_env(env, chunk_bytes=4096).chunk_bytes == 4096
    assert BatchSettings.from_env({}).chunk_bytes == 4 * 1024 * 1024
    with pytest.raises(ValueError, match="chunk_bytes"):
        BatchSettings(chunk_bytes=0)


class _Memory:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        self.data.clear()


def test_memory_follows_the_chunks_bytes_not_its_rows(tabular):
    """The issue's file scaled down: lines of 16 KiB that each parse to 4,096 floats (the
    wrong length: every row is an error, but only once parsed). 160 of them in one chunk of
    rows hold ~20 MiB of floats at once; a 64 KiB chunk holds four or five."""
    line = ("[" + ",".join(["0.5"] * 4096) + "]\n").encode()
    body = line * 160
    model = ScoringModel.of(service_of(tabular))  # type: ignore[arg-type]
    out = _Memory()
    tracemalloc.start()
    try:
        outcome = score_file("wide.jsonl", io.BytesIO(body), len(body), model, out,
                             settings=BatchSettings(chunk_bytes=64 * 1024), request_id="r")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not outcome.refused and outcome.tally.rows == 160 == outcome.tally.errors
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def csv_handler(bulk: Bulk, max_body_bytes: int) -> Any:
    http = serve_model(MODEL, settings=Settings(model_source=str(MODELS_DIR),
                                                max_body_bytes=max_body_bytes, warmup=0))
    return serve_batch(http, s3=bulk.s3, batch_settings=BatchSettings())


@pytest.mark.parametrize("fields", [1, 60], ids=["one long field", "many short fields"])
def test_a_quoted_field_that_never_closes_refuses_the_file_not_memory(bulk, fields):
    good = list(valid_rows(MODEL, 3))
    header = csv_bytes(NAMES, good[:1])
    # A stray quote opens a field that takes in every line after it (each field below
    # csv's own 128 KiB field limit: only the record grows).
    runaway = ",".join('"' + "note\n" * (40_000 // 5 // fields) + '"'
                       for _ in range(fields)).encode()
    body = header + runaway + b"\n" + csv_bytes(NAMES, good[1:]).split(b"\n", 1)[1]
    messages = bulk.upload(MODEL, "runaway.csv", body)
    assert bulk.score(csv_handler(bulk, 16_384), MODEL, messages) == {"batchItemFailures": []}
    error = refused(bulk, MODEL, "runaway.csv")
    assert error["code"] == "malformed_csv"
    for said in ("starts on line 3", "16,384 characters", "quoted field",
                 "FEATHERSERVE_MAX_BODY_BYTES"):
        assert said in error["message"], error["message"]


def test_a_json_line_past_the_limit_is_its_rows_error_and_the_next_rows_are_scored(bulk):
    body, instances = wide_json_lines(4, digits=250)  # ~8 KB a line
    lines = body.split(b"\n")
    short = [json.dumps(i).encode() for i in instances]
    mixed = b"\n".join([short[0], lines[1], short[2]]) + b"\n"  # a long line between two
    messages = bulk.upload(MODEL, "mixed.jsonl", mixed)
    assert bulk.score(csv_handler(bulk, 4096), MODEL, messages) == {"batchItemFailures": []}
    first, long, last = bulk.lines(MODEL, "mixed.jsonl")
    assert "prediction" in first and "prediction" in last and long["row"] == 2
    assert long["error"]["code"] == "row_too_large"
    assert "4,096 bytes" in long["error"]["message"]
    assert "FEATHERSERVE_MAX_BODY_BYTES" in long["error"]["message"]


def _record_size(record: list[str]) -> int:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(record)
    text = out.getvalue()
    return len(text) - text.count("\n")


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(st.lists(st.text(alphabet='ab ,"\n', max_size=30), max_size=6),
                        max_size=8),
       limit=st.integers(1, 120))
def test_csv_records_are_read_as_csv_reads_them_or_refused_past_the_limit(records, limit):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    text = out.getvalue()
    expected = list(csv.reader(io.StringIO(text, newline="")))
    longest = max((_record_size(r) for r in records), default=0)
    reading = _bounded_records(io.StringIO(text, newline=""), limit, ",")
    if longest <= limit:
        assert list(reading) == expected
    else:
        with pytest.raises(UnprocessableInstance, match=f"{limit:,} characters"):
            list(reading)


# ------------------------------------------------------------ 6. keys past S3's limit
class _S3KeyLimit:
    """The moto client with S3's own refusal of keys over 1,024 bytes (moto takes any key),
    counting the objects read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.reads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**request: Any) -> Any:
            from botocore.exceptions import ClientError

            key = request.get("Key", "")
            if len(key.encode()) > 1024:
                raise ClientError({"Error": {"Code": "KeyTooLongError",
                                             "Message": "Your key is too long"}}, name)
            if name == "get_object":
                self.reads.append(key)
            return method(**request)

        return call


@pytest.mark.parametrize(("name", "outcome"), [
    ("é" * 492 + ".csv", "scored"),  # in/ key 1,005 bytes: its predictions' key is 1,024
    ("a" + "é" * 492 + ".csv", "refused"),  # 1,006: the summary's key still fits
    ("a" + "é" * 501 + ".csv", "refused elsewhere"),  # 1,024: neither output key fits
])
def test_a_key_too_long_for_its_outputs_is_refused_before_scoring(bulk, tabular, name,
                                                                   outcome):
    key = f"in/{MODEL}/{name}"
    messages = bulk.upload(MODEL, name, csv_bytes(NAMES, list(valid_rows(MODEL, 5))))
    s3 = _S3KeyLimit(bulk.s3)
    handler = serve_batch(tabular, s3=s3, batch_settings=BatchSettings())
    # Done at the first delivery: retrying cannot shorten the key.
    assert bulk.score(handler, MODEL, messages) == {"batchItemFailures": []}
    if outcome == "scored":
        assert len(bulk.lines(MODEL, name)) == 5
        return
    assert s3.reads == []  # refused before the file is read, let alone scored
    if outcome == "refused":
        summary = bulk.summary(MODEL, name)
    else:
        from model_runtime.batch.settings import long_key_summary_key

        where = long_key_summary_key(MODEL, key)
        assert bulk.out_keys() == [where]
        summary = json.loads(bulk.s3.get_object(Bucket=BULK_BUCKET, Key=where)["Body"].read())
    assert summary["status"] == "refused" and summary["output"] is None
    assert summary["input"]["uri"] == f"s3://{BULK_BUCKET}/{key}"
    assert summary["error"]["code"] == "key_too_long"
    assert "1,024 bytes" in summary["error"]["message"]
    assert "at most 1,005 bytes" in summary["error"]["message"]
    assert not [k for k in bulk.out_keys() if k.endswith(".predictions.jsonl")]


# ------------------------------------------------------------ 7. tar members' budget
def tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return out.getvalue()


def links(count: int) -> list[tarfile.TarInfo | tuple[str, bytes]]:
    flood: list[tarfile.TarInfo | tuple[str, bytes]] = []
    for index in range(count):
        link = tarfile.TarInfo(f"links/{index}")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        flood.append(link)
    return flood


class _Clock(LambdaContext):
    """A context answering the given seconds left, one per call (the last one after)."""

    def __init__(self, seconds_left: list[float]) -> None:
        super().__init__()
        self._left = list(seconds_left)
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        seconds = self._left.pop(0) if len(self._left) > 1 else self._left[0]
        return int(seconds * 1000)


def test_a_flood_of_skipped_links_runs_out_of_time_like_a_large_file(bulk, images):
    image = (IMAGES / "d7_0040px_light_on_dark_stroke.png").read_bytes()
    body = tar_bytes([*links(3000), ("last.png", image)])
    messages = bulk.upload("digits", "flood.tar", body)
    # The invocation's start, the file's start check, its start; then 5 s are left, less
    # than the 15 s margin, while the links (no row among them) are still being skipped.
    clock = _Clock([900, 900, 900, 5])
    answer = bulk.score(bulk.batch_handler(images), "digits", messages, clock)
    assert answer == {"batchItemFailures": []}
    error = refused(bulk, "digits", "flood.tar")
    assert error["code"] == "file_too_large" and "Distributed Map" in error["message"]
    assert clock.calls < 50  # it stopped at the first check, not after the whole archive


@pytest.mark.parametrize("hidden", [True, False], ids=["hidden member", "oversized image"])
def test_a_member_of_zeros_counts_unpacked_against_the_file_limit(bulk, images, hidden):
    image = (IMAGES / "d7_0040px_light_on_dark_stroke.png").read_bytes()
    zeros = b"\0" * (6 * 1024 * 1024)  # ~6 KB once gzipped; past the image limit too
    name = "photos/._zeros" if hidden else "photos/zeros.png"
    body = tar_bytes([(name, zeros), ("photos/7.png", image)], mode="w:gz")
    assert len(body) < 64 * 1024
    messages = bulk.upload("digits", "zeros.tar.gz", body)
    handler = bulk.batch_handler(images, max_object_bytes=1024 * 1024)
    assert bulk.score(handler, "digits", messages) == {"batchItemFailures": []}
    error = refused(bulk, "digits", "zeros.tar.gz")
    assert error["code"] == "file_too_large"
    assert "unpacked" in error["message"] and "1,048,576 bytes" in error["message"]


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(members=st.lists(st.tuples(st.sampled_from(["file", "hidden", "link", "dir"]),
                                  st.integers(0, 20_000)), max_size=12),
       budget=st.integers(1_024, 120_000), compress=st.booleans())
def test_every_member_counts_against_the_unpacked_budget(members, budget, compress):
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = []
    for index, (kind, size) in enumerate(members):
        if kind in ("file", "hidden"):
            entries.append((f"{'.' if kind == 'hidden' else ''}m{index}", b"\0" * size))
        else:
            info = tarfile.TarInfo(f"m{index}")
            info.type = tarfile.SYMTYPE if kind == "link" else tarfile.DIRTYPE
            info.linkname = "elsewhere" if kind == "link" else ""
            entries.append(info)
    plain = tar_bytes(entries)
    body = tar_bytes(entries, mode="w:gz") if compress else plain
    # Headers and data, each rounded to 512-byte blocks, and the closing blocks.
    least = sum(512 + 512 * math.ceil(size / 512) if kind in ("file", "hidden") else 512
                for kind, size in members)
    stream = MeteredStream(io.BytesIO(body), budget=FileBudget(budget))
    try:
        rows = list(tar_rows(stream.as_io(), max_bytes=10_000))
    except PayloadTooLarge as error:
        assert error.code == "file_too_large"
        assert len(plain) > budget  # no more is ever unpacked than the archive holds
        return
    assert least <= budget  # every header and every byte of data, skipped or not, counted
    files = [size for kind, size in members if kind == "file"]
    assert len(rows) == len(files)
    for row, size in zip(rows, files, strict=True):
        if size > 10_000:
            assert isinstance(row.error, HttpError) and row.error.code == "image_too_large"
        else:
            assert row.error is None and row.instance == b"\0" * size


# ------------------------------------------------------------ 9. the stage's own bucket
def test_the_batch_functions_environment_stays_resolvable_by_invoke_local():
    """FEATHERSERVE_BATCH_BUCKET (the stage's bucket) is set by serverless_plugins/bulk.js in
    the compiled template (template/test_queues, test_deploy_mock check it): a Ref in
    generated/functions.yml would stop `sls invoke local` on the batch functions."""
    functions = yaml.safe_load((ROOT / "generated" / "functions.yml").read_text())
    batch = {name: f for name, f in functions.items() if name.endswith("-batch")}
    assert set(batch) == {f"{m}-batch" for m in ("breast_cancer", "digits")}
    for function in batch.values():
        assert all(isinstance(v, str) for v in function["environment"].values())
    plugin = (ROOT / "serverless_plugins" / "bulk.js").read_text()
    assert "FEATHERSERVE_BATCH_BUCKET" in plugin


def test_a_message_naming_another_bucket_is_refused(bulk, tabular, monkeypatch):
    # Another bucket whose in/breast_cancer/ also notifies this model's queue (a misrouted
    # notification, or anyone allowed to send to the queue).
    other = "someone-elses-bucket"
    bulk.s3.create_bucket(Bucket=other)
    bulk.s3.put_bucket_notification_configuration(
        Bucket=other, NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": bulk.queues[MODEL][1], "Events": ["s3:ObjectCreated:*"]}]})
    bulk.receive(MODEL)  # its s3:TestEvent
    rows = csv_bytes(NAMES, list(valid_rows(MODEL, 3)))
    bulk.s3.put_object(Bucket=other, Key=f"in/{MODEL}/theirs.csv", Body=rows)
    (foreign,) = bulk.receive(MODEL, expect=1)
    assert json.loads(foreign["Body"])["Records"][0]["s3"]["bucket"]["name"] == other
    ours = bulk.upload(MODEL, "ours.csv", rows)

    # The bucket as serverless_plugins/bulk.js names it in the deployed function.
    monkeypatch.setenv("FEATHERSERVE_BATCH_BUCKET", BULK_BUCKET)
    handler = serve_batch(tabular, s3=bulk.s3, batch_settings=BatchSettings.from_env())
    answer = bulk.score(handler, MODEL, [foreign, *ours])
    assert answer == {"batchItemFailures": []}  # refused for good: retrying cannot help
    assert bulk.out_keys() == [f"out/{MODEL}/ours.csv.predictions.jsonl",
                               f"out/{MODEL}/ours.csv.summary.json"]
    theirs = bulk.s3.list_objects_v2(Bucket=other).get("Contents", [])
    assert [o["Key"] for o in theirs] == [f"in/{MODEL}/theirs.csv"]  # nothing written there
