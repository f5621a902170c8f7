"""Streaming row readers: a CSV or JSON Lines file → ``Row``s, one at a time.

A row carries what the HTTP contract would receive as one instance (a list of raw values
in manifest order for CSV, the decoded JSON value for JSON Lines, an image file's bytes:
see image_rows.py), or the error that row already has. Nothing here holds more than one
row (CSV reads through an 8 KiB text buffer; JSON Lines reads a line at a time, capped), so
memory does not grow with the file. Rows are numbered from 1 in file order; blank lines
are not rows (a CSV's header is not one either).

A problem with the whole file (no header, a broken header, bytes that are not UTF-8, CSV
that cannot be parsed) raises an ``HttpError``: the file is refused, nothing is written.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from lambda_kit.errors import HttpError, PayloadTooLarge, UnprocessableInstance
from model_runtime.batch.columns import (
    EVERY_OTHER_COLUMN,
    ColumnChoice,
    ObjectSplitter,
    csv_picker,
)
from model_runtime.batch.missing import is_missing_cell
from model_runtime.inputs import decode_json
from model_store.manifest import Feature

UTF8_BOM = b"\xef\xbb\xbf"
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    instance: Any = None
    error: HttpError | None = None
    member: str | None = None  # the file inside an archive this row is
    keep: dict[str, Any] | None = None  # the columns that pass through (columns.py)
    target: Any = None  # the known answer, when the file is scored against one


def not_utf8(rows_read: int) -> UnprocessableInstance:
    return UnprocessableInstance(
        f"the file is not UTF-8 text (the first bad byte comes after row {rows_read}); "
        "save or export it as UTF-8", code="not_utf8")


def csv_rows(stream: IO[bytes], features: Sequence[Feature], model_name: str, *,
             max_line_chars: int, delimiter: str = ",",
             choice: ColumnChoice = EVERY_OTHER_COLUMN) -> Iterator[Row]:
    """Rows of a CSV whose header names every feature (any order; other columns pass
    through as ``choice`` says)."""
    # utf-8-sig: spreadsheets write a byte-order mark first; newline="" as csv requires.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = _bounded_records(text, max_line_chars, delimiter)
    number = 0
    try:
        header = next((record for record in reader if record), None)
        if header is None:
            raise UnprocessableInstance(
                "the file has no header row; the first line must name the model's "
                f"{len(features)} features (GET /models/{model_name} lists them)",
                code="invalid_header")
        columns = _header_columns(header, features, model_name)
        picker = csv_picker([cell.strip() for cell in header], [f.name for f in features],
                            choice)
        converters = [(column, _converter(feature)) for column, feature in columns]
        row_values = _row_converter(converters)
        width = len(header)
        for cells in reader:
            if not cells:
                continue
            number += 1
            if len(cells) != width:
                yield Row(number, error=UnprocessableInstance(
                    f"row {number}: has {len(cells)} values; the header has {width} columns",
                    code="wrong_length"))
                continue
            yield Row(number, row_values(cells), keep=picker.keep_of(cells),
                      target=picker.target_of(cells))
    except UnicodeDecodeError:
        raise not_utf8(number) from None
    except csv.Error as exc:
        raise UnprocessableInstance(f"the CSV cannot be parsed after row {number}: {exc}",
                                    code="malformed_csv") from None
    finally:
        with contextlib.suppress(ValueError):  # already closed by its owner
            text.detach()  # the caller closes its own stream


def _bounded_records(text: IO[str], limit: int, delimiter: str) -> Iterator[list[str]]:
    """The CSV's records, refusing one longer than ``limit`` characters (a row no request
    could carry): csv would otherwise hold a line of any length whole, or a record whose
    quoted fields run over any number of lines."""
    lines = _RecordLines(text, limit)
    for record in csv.reader(lines, delimiter=delimiter):
        yield record
        lines.next_record()


class _RecordLines:
    """The text's lines for csv, counting the characters of the record being read."""

    def __init__(self, text: IO[str], limit: int) -> None:
        self._text, self._limit = text, limit
        self._lines = 0  # lines read so far
        self._first = 1  # the line the record being read starts on
        self._chars = 0  # its characters so far, line ends aside

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(self._limit - self._chars + 1)
        if not line:
            raise StopIteration
        self._lines += 1
        self._chars += len(line.rstrip("\r\n"))
        if self._chars > self._limit:
            raise self._too_long()
        return line

    def next_record(self) -> None:
        self._first, self._chars = self._lines + 1, 0

    def _too_long(self) -> UnprocessableInstance:
        limit = f"{self._limit:,} characters"
        if self._first == self._lines:
            return UnprocessableInstance(
                f"line {self._lines} of the file is longer than {limit}; no row of this model "
                "is that long (one row may be as large as one request body)",
                code="malformed_csv")
        return UnprocessableInstance(
            f"the record that starts on line {self._first} of the file runs past {limit} "
            f"(lines {self._first} to {self._lines} and on): a quoted field that is never "
            'closed takes in every line after it; close it (a " inside a quoted field is '
            'written ""), or, if rows really are this long, raise FEATHERSERVE_MAX_BODY_BYTES '
            "(one row may be as large as one request body)", code="malformed_csv")


def _header_columns(header: list[str], features: Sequence[Feature],
                    model_name: str) -> list[tuple[int, Feature]]:
    names = [cell.strip() for cell in header]
    wanted = [f.name for f in features]
    hint = f"GET /models/{model_name} lists the {len(wanted)} features"
    known, present = set(wanted), set(names)
    duplicated = sorted({n for n in names if n in known and names.count(n) > 1})
    missing = [n for n in wanted if n not in present]
    # Not features: they pass through (columns.py); named only when a feature is missing.
    unknown = [n for n in names if n not in known] if missing else []
    if missing and all(_looks_numeric(n) for n in names):
        raise UnprocessableInstance(
            "the first row looks like data; it must be a header naming the features "
            f"({hint})", code="invalid_header")
    if duplicated:
        raise UnprocessableInstance(f"the header names {_quote(duplicated)} more than once",
                                    code="invalid_header")
    if missing or unknown:
        parts = ([f"missing column(s) {_quote(missing)}"] if missing else []) + (
            [f"other column(s) {_quote(unknown)}"] if unknown else [])
        raise UnprocessableInstance(f"the header has {'; '.join(parts)}; {hint}",
                                    code="invalid_header")
    position = {name: i for i, name in enumerate(names)}
    return [(position[f.name], f) for f in features]


def _row_converter(converters: list[tuple[int, Callable[[str], Any]]]
                   ) -> Callable[[list[str]], list[Any]]:
    """A row's cells → its values in manifest order (all-number rows the fast way)."""
    if any(convert is not _number_cell for _, convert in converters):
        return lambda cells: [convert(cells[column]) for column, convert in converters]
    order = [column for column, _ in converters]

    def numbers(cells: list[str]) -> list[Any]:
        picked = [cells[column] for column in order]
        try:
            values: list[Any] = list(map(float, picked))
        except ValueError:  # an empty or non-numeric cell: each cell on its own
            return [_number_cell(cell) for cell in picked]
        text = "".join(picked)
        # float() takes "nan" and "NaN", which are missing cells (and "inf"): each on its own.
        plain = text.isascii() and "_" not in text and "n" not in text and "N" not in text
        return values if plain else [_number_cell(cell) for cell in picked]

    return numbers


def _converter(feature: Feature) -> Callable[[str], Any]:
    """A CSV cell → the value a JSON client would send: a missing cell (empty, ``NA``,
    ``nan``, ... as pandas reads them: missing.py) is null, numbers are numbers."""
    if getattr(feature, "kind", "number") == "category":
        return _category_cell
    return _number_cell


def _category_cell(cell: str) -> str | None:
    return None if is_missing_cell(cell) else cell


def _number_cell(cell: str) -> float | str | None:
    if is_missing_cell(cell):
        return None
    try:
        value = float(cell)
    except ValueError:
        return cell  # the instance check answers "must be a number, not a string"
    # float() also takes "1_000" and non-ASCII digits; JSON numbers are neither.
    return value if cell.isascii() and "_" not in cell else cell


def _looks_numeric(text: str) -> bool:
    return isinstance(_number_cell(text), float)


def jsonl_rows(stream: IO[bytes], *, max_row_bytes: int,
               instance_keys: frozenset[str] | None = None,
               choice: ColumnChoice = EVERY_OTHER_COLUMN) -> Iterator[Row]:
    """Rows of a JSON Lines file: one instance (object or list) per line; an object's keys
    other than ``instance_keys`` pass through as ``choice`` says."""
    splitter = None if instance_keys is None else ObjectSplitter(instance_keys, choice)
    number = 0
    first = True
    while line := stream.readline(max_row_bytes + 1):
        if len(line) > max_row_bytes and not line.endswith(b"\n"):
            _skip_line(stream, max_row_bytes)
            number += 1
            yield Row(number, error=PayloadTooLarge(
                f"row {number}: longer than {max_row_bytes:,} bytes, the most one request "
                "body may be (FEATHERSERVE_MAX_BODY_BYTES)", code="row_too_large"))
            continue
        if first:
            line, first = line.removeprefix(UTF8_BOM), False
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise not_utf8(number) from None
        if not text.strip():
            continue
        number += 1
        try:
            value = decode_json(text, what=f"row {number}")
        except HttpError as error:
            yield Row(number, error=error)
        except RecursionError:
            yield Row(number, error=UnprocessableInstance(
                f"row {number}: nested too deeply to be an instance", code="malformed_json"))
        else:
            if splitter is None:
                yield Row(number, value)
            else:
                instance, keep, target = splitter.split(value)
                yield Row(number, instance, keep=keep, target=target)
    if splitter is not None:
        splitter.finish()


def _skip_line(stream: IO[bytes], chunk: int) -> None:
    while (part := stream.readline(chunk)) and not part.endswith(b"\n"):
        pass


def _quote(names: list[str]) -> str:
    shown = ", ".join(repr(n[:80]) for n in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
