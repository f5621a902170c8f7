"""Score one file: pick its reader, run the chunked loop, commit or abort the output, and
say what happened in a summary. The same for an S3 object (Lambda) and a local file (CLI).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, Protocol

from lambda_kit.errors import (
    HttpError,
    PayloadTooLarge,
    UnprocessableInstance,
    UnsupportedMediaType,
)
from model_runtime.batch.columns import EVERY_OTHER_COLUMN, ColumnChoice
from model_runtime.batch.evaluation import score_for
from model_runtime.batch.exceptions import OutOfTime
from model_runtime.batch.image_rows import image_rows, is_tar, tar_rows
from model_runtime.batch.metering import FileBudget, MeteredStream
from model_runtime.batch.rows import Row, csv_rows, jsonl_rows
from model_runtime.batch.scoring import Deadline, ScoringModel, Tally, score_rows
from model_runtime.batch.settings import MAX_KEY_BYTES, BatchSettings, key_bytes
from model_store.manifest import TabularSpec

TABULAR_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
IMAGE_KEYS = frozenset({"b64"})  # an image instance's one key; others pass through
PAST_ONE_INVOCATION = ("split it into smaller files, or score it with Step Functions "
                       "Distributed Map over this function (README.md, \"Score a file\")")


class OutputWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


@dataclass
class Outcome:
    tally: Tally = field(default_factory=Tally)
    error: HttpError | None = None  # the file was refused: nothing was written
    total_s: float = 0.0

    @property
    def refused(self) -> bool:
        return self.error is not None


def rows_of(name: str, stream: IO[bytes], model: ScoringModel,
            choice: ColumnChoice = EVERY_OTHER_COLUMN) -> Iterator[Row]:
    """The reader for this file, by its extension; any other file of an image model is one
    image."""
    suffix = PurePosixPath(name).suffix.lower()
    if model.takes_images:
        if suffix in JSON_LINES_SUFFIXES:  # {"b64": ...} instances, as in a request
            return jsonl_rows(stream, max_row_bytes=model.max_row_bytes,
                              instance_keys=IMAGE_KEYS, choice=choice)
        if choice.named:  # an archive's rows carry their member's name, and nothing else
            choice.check_present([], what="column")
        if is_tar(name):
            return tar_rows(stream, max_bytes=model.max_row_bytes)
        return image_rows(stream, max_bytes=model.max_row_bytes)
    if suffix not in TABULAR_SUFFIXES:
        raise UnsupportedMediaType(
            f"{PurePosixPath(name).name!r}: {model.name} scores tabular rows from .csv, .tsv, "
            ".jsonl or .ndjson files; name the file after its format",
            code="unsupported_file_type")
    delimiter = TABULAR_SUFFIXES[suffix]
    assert isinstance(model.manifest.input, TabularSpec)
    features = model.manifest.input.features
    if delimiter is None:
        return jsonl_rows(stream, max_row_bytes=model.max_row_bytes,
                          instance_keys=frozenset(f.name for f in features), choice=choice)
    return csv_rows(stream, features, model.name, delimiter=delimiter,
                    max_line_chars=model.max_row_bytes, choice=choice)


def refusal_for_size(size: int | None, settings: BatchSettings) -> HttpError | None:
    if size == 0:
        return UnprocessableInstance("the file is empty; send a CSV with a header row, JSON "
                                     "Lines, or an image", code="empty_file")
    if size is not None and size > settings.max_object_bytes:
        return PayloadTooLarge(
            f"the file is {size:,} bytes; one invocation scores files up to "
            f"{settings.max_object_bytes:,} bytes: {PAST_ONE_INVOCATION}", code="file_too_large")
    return None


def score_file(name: str, stream: IO[bytes], size: int | None, model: ScoringModel,
               writer: OutputWriter, *, settings: BatchSettings, request_id: str,
               deadline: Deadline | None = None,
               on_chunk: Callable[[int], None] | None = None,
               source: str | None = None) -> Outcome:
    """Score ``stream`` into ``writer``; commit it, or abort it and say why in the outcome."""
    started = time.perf_counter()
    refusal = refusal_for_size(size, settings)
    if refusal is not None:
        writer.abort()
        return Outcome(error=refusal, total_s=time.perf_counter() - started)
    # Every byte a reader takes is counted: a chunk ends by bytes as well as rows, and an
    # archive's members, skipped or not, count against the file's size and the time left.
    metered = MeteredStream(stream, budget=FileBudget(
        settings.max_object_bytes, deadline.check if deadline is not None else _no_limit))
    rows: Iterator[Row] = iter(())
    choice = settings.columns
    try:
        rows = rows_of(name, metered.as_io(), model, choice)
        tally = score_rows(rows, model, writer, chunk_rows=settings.chunk_rows,
                           chunk_bytes=settings.chunk_bytes, bytes_read=metered.taken,
                           request_id=request_id, deadline=deadline, on_chunk=on_chunk,
                           source=source, score=None if choice.target is None else score_for(
                               model.manifest, choice.target))
        committing = time.perf_counter()
        writer.commit()
        tally.write_s += time.perf_counter() - committing
    except HttpError as error:
        writer.abort()
        return Outcome(error=error, total_s=time.perf_counter() - started)
    except BaseException:  # OutOfTime included: the caller decides what running out means
        writer.abort()
        raise
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # the reader lets go of the stream before its owner closes it
    return Outcome(tally=tally, total_s=time.perf_counter() - started)


def _no_limit(rows_done: int) -> None:
    pass


def refusal_for_key(key: str, output_key: str) -> HttpError | None:
    """An input key so long that its output's key would pass S3's limit: refused before any
    row is scored (scoring it would fail only when the output is written, every time)."""
    if key_bytes(output_key) <= MAX_KEY_BYTES:
        return None
    room = MAX_KEY_BYTES - (key_bytes(output_key) - key_bytes(key))
    return UnprocessableInstance(
        f"the file's key is {key_bytes(key):,} bytes; its predictions' key would be "
        f"{key_bytes(output_key):,}, past S3's limit of {MAX_KEY_BYTES:,} bytes: upload it "
        f"again under a key of at most {room:,} bytes (a shorter name, fewer folders)",
        code="key_too_long")


def out_of_time(exc: OutOfTime, seconds: float) -> Outcome:
    """A file that did not finish in a whole invocation: refused, with what to do instead."""
    error = PayloadTooLarge(
        f"scoring stopped after {exc.rows_done:,} rows, when the invocation's time ran out: "
        f"the file is too large for one invocation; {PAST_ONE_INVOCATION}",
        code="file_too_large")
    return Outcome(error=error, total_s=seconds)


def summary_document(model: ScoringModel, outcome: Outcome, *, input_uri: str,
                     input_bytes: int | None, input_etag: str | None, output_uri: str | None,
                     request_id: str, **extra: Any) -> dict[str, Any]:
    """What a person (or ``featherserve batch submit``) reads to know how the file went."""
    tally, manifest = outcome.tally, model.manifest
    error = None if outcome.error is None else {
        "code": outcome.error.code, "message": outcome.error.public_message,
        "request_id": request_id}
    seconds = outcome.total_s
    return {
        "status": "refused" if outcome.refused else "scored",
        "input": {"uri": input_uri, "bytes": input_bytes, "etag": input_etag},
        "output": None if outcome.refused else output_uri,
        "model": {"name": manifest.name, "version": manifest.version,
                  "sha256": manifest.sha256},
        "rows": tally.rows, "predicted": tally.predicted, "errors": tally.errors,
        "error_codes": dict(sorted(tally.error_codes.items())),
        "error": error,
        "timings_ms": {"read": _ms(tally.read_s), "predict": _ms(tally.predict_s),
                       "write": _ms(tally.write_s), "total": _ms(seconds)},
        "rows_per_second": round(tally.rows / seconds, 1) if seconds > 0 else None,
        # Against the target column (evaluation.py); None when no target was named.
        "score": None if outcome.refused or tally.score is None else tally.score.document(),
        "request_id": request_id,
        **extra,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
