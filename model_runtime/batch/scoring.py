"""The chunked predict loop: rows → the HTTP path's own parser, session and result shaping.

A chunk of rows is parsed with ``parser.from_instances`` exactly as one HTTP request's
instances are; if any row is invalid, each row of that chunk is parsed alone to find which
(so an error names its row and no other row is lost), and the valid rows run together.
Every row then becomes one output line, in order: its prediction, or its error in the
contract's shape. Memory is one chunk of rows and their lines.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

import numpy as np

from lambda_kit.context import LambdaContext
from lambda_kit.errors import HttpError, UnprocessableInstance
from model_runtime.batch.evaluation import Score
from model_runtime.batch.exceptions import OutOfTime
from model_runtime.batch.rows import Row
from model_runtime.inputs import OCTET_STREAM
from model_runtime.service import ModelEndpoint, ModelService
from model_store.manifest import ImageSpec

_HTTP_WHERE = "instances[0]"
_log = logging.getLogger("featherserve.batch")
# One encoder for every line (json.dumps would build one per call with these options).
_LINES = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class LineWriter(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass
class Tally:
    rows: int = 0
    errors: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    read_s: float = 0.0  # reading the file and checking its rows
    predict_s: float = 0.0  # the session and result shaping
    write_s: float = 0.0  # encoding lines and handing them to the writer
    score: Score | None = None  # against the file's target column, when it names one

    @property
    def predicted(self) -> int:
        return self.rows - self.errors


class Deadline:
    """Lambda's remaining time, less a margin to stop cleanly (no limit without a context)."""

    def __init__(self, remaining_ms: Callable[[], int] | None = None,
                 margin_s: float = 15.0) -> None:
        self._remaining_ms = remaining_ms
        self.margin_s = margin_s

    @classmethod
    def of(cls, context: LambdaContext | None, margin_s: float) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining if callable(remaining) else None, margin_s)

    def seconds_left(self) -> float:
        return math.inf if self._remaining_ms is None else self._remaining_ms() / 1000

    def check(self, rows_done: int) -> None:
        if self.seconds_left() < self.margin_s:
            raise OutOfTime(f"stopped after {rows_done} rows: the invocation's time ran out",
                            rows_done=rows_done)


class ScoringModel:
    """One loaded model as the bulk path uses it: the same parts the HTTP path answers with."""

    def __init__(self, endpoint: ModelEndpoint, *, top_k: int, max_row_bytes: int) -> None:
        self.manifest = endpoint.manifest
        self.name = self.manifest.name
        self.parser = endpoint.parser
        self.predictor = endpoint.predictor
        self.results = endpoint.results
        self.top_k = min(top_k, self.results.max_top_k)
        self.takes_images = isinstance(self.manifest.input, ImageSpec)
        # One row (or image) may be as large as one HTTP request body, no larger.
        self.max_row_bytes = max_row_bytes

    @classmethod
    def of(cls, service: ModelService) -> ScoringModel:
        return cls(service.ensure_loaded(), top_k=service.settings.top_k,
                   max_row_bytes=service.settings.max_body_bytes)

    def parse(self, rows: list[Row]) -> tuple[Any, list[Row], dict[int, HttpError]]:
        """(the batch of the valid rows or None, those rows, each invalid row's error)."""
        errors = {r.number: r.error for r in rows if r.error is not None}
        pending = [r for r in rows if r.error is None]
        if not pending:
            return None, [], errors
        try:
            return self._batch(pending), pending, errors
        except Exception:
            pass
        valid = []
        for row in pending:
            try:
                self._batch([row])
            except HttpError as error:
                errors[row.number] = at_row(error, row.number)
                continue
            except Exception:  # the HTTP path's bug must not sink the other rows
                _log.exception("row %d: the instance parser failed", row.number)
                errors[row.number] = UnprocessableInstance(
                    f"row {row.number}: could not be read as an instance",
                    code="invalid_instance")
                continue
            valid.append(row)
        return (self._batch(valid) if valid else None), valid, errors

    def _batch(self, rows: list[Row]) -> Any:
        if self.takes_images and isinstance(rows[0].instance, bytes):  # image files
            arrays = [self.parser.from_raw_body(r.instance, OCTET_STREAM) for r in rows]
            return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        return self.parser.from_instances([r.instance for r in rows])

    def predict(self, batch: Any) -> list[dict[str, Any]]:
        outputs = self.predictor.predict(batch)
        return self.results.to_predictions(outputs, self.top_k)


def at_row(error: HttpError, number: int) -> HttpError:
    """The HTTP path's error for a one-instance request, naming the row instead."""
    if not error.message.startswith(_HTTP_WHERE):
        return error
    renamed = copy.copy(error)
    renamed.message = f"row {number}{error.message[len(_HTTP_WHERE):]}"
    renamed.args = (renamed.message,)
    return renamed


def _where(row: Row, source: str | None) -> dict[str, Any]:
    where: dict[str, Any] = {} if source is None else {"file": source}
    where["row"] = row.number
    if row.member is not None:
        where["member"] = row.member
    if row.keep is not None:
        where["keep"] = row.keep
    return where


def prediction_line(row: Row, prediction: dict[str, Any], source: str | None = None) -> str:
    return _LINES.encode({**_where(row, source), "prediction": prediction})


def error_line(row: Row, error: HttpError, request_id: str, source: str | None = None) -> str:
    body = {"code": error.code, "message": error.public_message, "request_id": request_id}
    return _LINES.encode({**_where(row, source), "error": body})


def score_rows(rows: Iterable[Row], model: ScoringModel, writer: LineWriter, *,
               chunk_rows: int, request_id: str, deadline: Deadline | None = None,
               chunk_bytes: int | None = None, bytes_read: Callable[[], int] | None = None,
               on_chunk: Callable[[int], None] | None = None,
               source: str | None = None, score: Score | None = None) -> Tally:
    """Score every row, writing one line per row in order; the tally of what happened.

    ``source`` names the file on each line, when one output holds several files' rows;
    ``score`` accumulates each row's prediction against its target."""
    tally = Tally(score=score)
    deadline = deadline or Deadline()
    for chunk, read_s in _chunks(iter(rows), chunk_rows, chunk_bytes, bytes_read):
        started = time.perf_counter()
        batch, valid, errors = model.parse(chunk)
        parsed = time.perf_counter()
        predictions = iter(model.predict(batch)) if valid else iter(())
        predicted = time.perf_counter()
        lines = []
        for row in chunk:
            error = errors.get(row.number)
            if error is None:
                prediction = next(predictions)
                lines.append(prediction_line(row, prediction, source))
                if score is not None:
                    score.add(prediction, row.target)
            else:
                lines.append(error_line(row, error, request_id, source))
                tally.error_codes[error.code] += 1
                if score is not None:
                    score.add(None, row.target)
        writer.write(("\n".join(lines) + "\n").encode())
        tally.rows += len(chunk)
        tally.errors += len(errors)
        tally.read_s += read_s + parsed - started
        tally.predict_s += predicted - parsed
        tally.write_s += time.perf_counter() - predicted
        if on_chunk is not None:
            on_chunk(tally.rows)
        deadline.check(tally.rows)
    return tally


def _chunks(rows: Iterator[Row], size: int, max_bytes: int | None = None,
            bytes_read: Callable[[], int] | None = None) -> Iterator[tuple[list[Row], float]]:
    """Chunks of ``size`` rows; given ``bytes_read`` (what the reader took of the file so far),
    a chunk also ends once its rows took ``max_bytes``: rows alone do not bound memory."""
    while True:
        started = time.perf_counter()
        if max_bytes is None or bytes_read is None:
            chunk = list(islice(rows, size))
        else:
            chunk, until = [], bytes_read() + max_bytes
            for row in rows:
                chunk.append(row)
                if len(chunk) >= size or bytes_read() >= until:
                    break
        if not chunk:
            return
        yield chunk, time.perf_counter() - started
