"""``featherserve predict``: the Lambda bulk pipeline, run on this machine.

Inputs are a file, a folder (every file in it, sorted, hidden ones skipped) or S3 (one
object, or every object under a prefix); the output is a file or an S3 object, written
atomically like the function's. The model is loaded, parsed and shaped by the handler
runtime itself (``model_runtime``), so a file scored here gets the lines the deployed
function would write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from featherserve.bulk.progress import Progress, counted
from model_runtime.batch.evaluation import Score, merged
from model_runtime.batch.job import Outcome, OutputWriter, score_file, summary_document
from model_runtime.batch.s3_events import CreatedObject
from model_runtime.batch.s3_io import S3AtomicWriter, open_object, s3_client
from model_runtime.batch.scoring import ScoringModel
from model_runtime.batch.settings import SUMMARY_SUFFIX, BatchSettings
from model_runtime.model_loading import load_model
from model_runtime.service import ModelEndpoint
from model_runtime.settings import Settings, default_model_source

LOCAL_REQUEST_ID = "local"
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    name: str  # on each output line when one output holds several files
    uri: str
    size: int
    open: Callable[[], IO[bytes]]


def load_scoring_model(name: str, *, store: str | None, version: str | None) -> ScoringModel:
    overrides: dict[str, Any] = {"model_source": store or default_model_source()}
    if version:
        overrides["model_version"] = version
    settings = Settings.from_env(**overrides)
    endpoint = ModelEndpoint(load_model(name, settings), settings)
    return ScoringModel(endpoint, top_k=settings.top_k, max_row_bytes=settings.max_body_bytes)


def inputs_at(location: str) -> list[InputFile]:
    if location.startswith("s3://"):
        return _s3_inputs(*_split_s3(location))
    path = Path(location)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(path).parts))
        return [_local(p, p.relative_to(path).as_posix()) for p in files]
    if path.is_file():
        return [_local(path, path.name)]
    raise FileNotFoundError(f"{location}: no such file or folder")


def _local(path: Path, name: str) -> InputFile:
    return InputFile(name, str(path), path.stat().st_size,
                     lambda: open(path, "rb", buffering=0))


def _split_s3(location: str) -> tuple[str, str]:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"{location}: an S3 location is s3://bucket/key")
    return bucket, key


def _s3_inputs(bucket: str, key: str) -> list[InputFile]:
    client = s3_client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    found = [(o["Key"], o["Size"]) for page in pages for o in page.get("Contents", [])
             if not o["Key"].endswith("/")]
    exact = [(k, s) for k, s in found if k == key]
    if exact:
        found = exact  # s3://bucket/file.csv, not everything starting with it
    elif key and not key.endswith("/"):
        found = [(k, s) for k, s in found if k.startswith(key + "/")]
    if not found:
        raise FileNotFoundError(f"s3://{bucket}/{key}: no such object or prefix")
    prefix = key if key.endswith("/") or not exact else key.rsplit("/", 1)[0] + "/"
    return [InputFile(k.removeprefix(prefix) if prefix != "/" else k, f"s3://{bucket}/{k}", s,
                      _s3_opener(client, bucket, k)) for k, s in found]


def _s3_opener(client: Any, bucket: str, key: str) -> Callable[[], IO[bytes]]:
    def open_it() -> IO[bytes]:
        source = open_object(client, CreatedObject(bucket, key))
        if source is None:  # only with an ETag condition, which is not given here
            raise FileNotFoundError(f"s3://{bucket}/{key} changed while reading")
        return source.stream
    return open_it


class LocalAtomicWriter:
    """A file that appears whole or not at all: a temporary file beside it, then rename."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self._temporary = Path(name)
        self._file = os.fdopen(handle, "wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.close()
        os.replace(self._temporary, self.path)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


class SpoolWriter:
    """One file's lines, held until it is scored whole, then appended to the shared output."""

    def __init__(self, target: OutputWriter) -> None:
        self._target = target
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self._spool.write(data)

    def commit(self) -> None:
        self._spool.seek(0)
        while chunk := self._spool.read(1024 * 1024):
            self._target.write(chunk)
        self._spool.close()

    def abort(self) -> None:
        self._spool.close()


def open_output(location: str, settings: BatchSettings) -> OutputWriter:
    if location.startswith("s3://"):
        bucket, key = _split_s3(location)
        if not key or key.endswith("/"):
            raise ValueError(f"{location}: name the output object (s3://bucket/key.jsonl)")
        return S3AtomicWriter(s3_client(), bucket, key, part_bytes=settings.part_bytes)
    return LocalAtomicWriter(Path(location))


@dataclass
class RunReport:
    summaries: list[dict[str, Any]]
    seconds: float
    scores: list[Score] = field(default_factory=list)  # each scored file's, in order

    @property
    def refused(self) -> list[dict[str, Any]]:
        return [s for s in self.summaries if s["status"] == "refused"]

    def document(self, output: str) -> dict[str, Any]:
        if len(self.summaries) == 1:
            return self.summaries[0]
        scored = [s for s in self.summaries if s["status"] == "scored"]
        total = merged(self.scores)
        return {"output": output, "files": len(self.summaries), "refused": len(self.refused),
                "rows": sum(s["rows"] for s in scored),
                "errors": sum(s["errors"] for s in scored),
                "seconds": round(self.seconds, 3),
                "score": None if total is None else total.document(),  # all files together
                "summaries": self.summaries}

    def score_line(self) -> str:
        total = merged(self.scores)
        return "no file was scored" if total is None else total.line()


def predict_files(model: ScoringModel, inputs: list[InputFile], output: str, *,
                  settings: BatchSettings, progress: Progress) -> RunReport:
    """Score every input into one output (lines tagged with their file when several)."""
    started = time.perf_counter()
    writer = open_output(output, settings)
    several = len(inputs) > 1
    summaries = []
    scores: list[Score] = []
    done_before = rows_before = 0
    try:
        for item in inputs:
            with _opened(item) as (stream, counter):
                def report(rows: int, _base: int = done_before, _rows: int = rows_before,
                           _counter: Any = counter) -> None:
                    progress.update(_base + _counter.count, _rows + rows)

                file_writer: OutputWriter = SpoolWriter(writer) if several else _Uncommitted(
                    writer)
                outcome = score_file(item.name, stream, item.size, model, file_writer,
                                     settings=settings, request_id=LOCAL_REQUEST_ID,
                                     on_chunk=report, source=item.name if several else None)
            summaries.append(_summary(model, outcome, item, output))
            if not outcome.refused and outcome.tally.score is not None:
                scores.append(outcome.tally.score)
            done_before += item.size
            rows_before += outcome.tally.rows
            progress.update(done_before, rows_before)
        if several or summaries[0]["status"] != "refused":
            writer.commit()
        else:
            writer.abort()
    except BaseException:
        writer.abort()
        raise
    finally:
        progress.close()
    return RunReport(summaries, time.perf_counter() - started, scores)


class _Uncommitted:
    """The one file's writer is the output itself; committing it is the run's last step."""

    def __init__(self, target: OutputWriter) -> None:
        self._target = target

    def write(self, data: bytes) -> None:
        self._target.write(data)

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


@contextlib.contextmanager
def _opened(item: InputFile) -> Iterator[tuple[IO[bytes], Any]]:
    raw = item.open()
    stream, counter = counted(raw)
    try:
        yield stream, counter
    finally:
        stream.close()


def _summary(model: ScoringModel, outcome: Outcome, item: InputFile,
             output: str) -> dict[str, Any]:
    return summary_document(model, outcome, input_uri=item.uri, input_bytes=item.size,
                            input_etag=None, output_uri=output, request_id=LOCAL_REQUEST_ID)


def summary_location(output: str) -> str:
    """Beside the predictions, named as the bulk function names its own."""
    return output + SUMMARY_SUFFIX


def write_summary(output: str, document: dict[str, Any], settings: BatchSettings) -> str:
    """The run's summary (with its score) beside the output, written whole or not at all."""
    where = summary_location(output)
    writer = open_output(where, settings)
    try:
        writer.write((json.dumps(document, indent=2) + "\n").encode())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return where


def total_bytes(inputs: list[InputFile]) -> int:
    return sum(item.size for item in inputs)
