"""Image files as rows: one image object is one row; a tar archive (``.tar``, ``.tar.gz``,
``.tgz``) is a folder of images in one object, one row per file, read as a stream (one
member in memory at a time), so a folder of photos costs one GET and one PUT, not two per
photo. JSON Lines of ``{"b64": ...}`` instances are read by rows.jsonl_rows.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO, Any, cast

from lambda_kit.errors import PayloadTooLarge, UnprocessableInstance
from model_runtime.batch.metering import FileBudget, MeteredStream
from model_runtime.batch.rows import Row

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_tar(name: str) -> bool:
    return name.lower().endswith(TAR_SUFFIXES)


def image_rows(stream: IO[bytes], *, max_bytes: int) -> Iterator[Row]:
    """An image object is one row; one byte past the limit is enough to refuse it."""
    yield Row(1, stream.read(max_bytes + 1))


def tar_rows(stream: IO[bytes], *, max_bytes: int) -> Iterator[Row]:
    """Each regular file of the archive, in archive order (hidden files and folders skipped).

    Every member costs: what is unpacked to reach it (its header, its data read or skipped)
    counts against the file's limit, and the time left is checked as it is read; so a flood
    of links, or a member declaring gigabytes of zeros, stops like a large file does."""
    metered = stream if isinstance(stream, MeteredStream) else MeteredStream(stream)
    budget = metered.budget
    number = 0

    def unpacked(size: int) -> None:
        metered.unpacked += size
        if budget.max_unpacked is not None and metered.unpacked > budget.max_unpacked:
            raise _too_large(budget)
        budget.check_time(number)

    try:
        contents = MeteredStream(_decompressed(metered.as_io()), on_read=unpacked)
        with tarfile.open(fileobj=contents.as_io(), mode="r|") as archive:
            while (member := archive.next()) is not None:
                cast(Any, archive).members.clear()  # a stream's members pile up otherwise
                budget.check_time(number)
                if not member.isfile() or _hidden(member.name):
                    continue
                number += 1
                if member.size > max_bytes:
                    yield Row(number, error=PayloadTooLarge(
                        f"row {number}: {member.name!r} is {member.size} bytes; the limit is "
                        f"{max_bytes}", code="image_too_large"), member=member.name)
                    continue
                extracted = archive.extractfile(member)
                data = extracted.read() if extracted is not None else b""
                yield Row(number, data, member=member.name)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise UnprocessableInstance(
            f"the archive cannot be read after row {number}: {exc}; send a tar of image files",
            code="malformed_archive") from None


def _too_large(budget: FileBudget) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"unpacked, the archive holds more than {budget.max_unpacked:,} bytes, the most one "
        "invocation scores as one file; split it into smaller archives (README.md, "
        "\"Score a file\")", code="file_too_large")


def _decompressed(stream: IO[bytes]) -> IO[bytes]:
    """The archive's tar bytes: gzip, bzip2 and xz are unpacked here, not by tarfile, so that
    every unpacked byte (headers included) goes through the budget."""
    head = stream.read(6)
    whole: Any = io.BufferedReader(_Prefixed(head, stream))
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=whole, mode="rb")  # type: ignore[return-value]
    if head.startswith(b"BZh"):
        return bz2.BZ2File(whole)
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(whole)
    return whole  # type: ignore[no-any-return]


class _Prefixed(io.RawIOBase):
    """``head`` (already read to sniff the format), then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            data, self._head = self._head[:len(buffer)], self._head[len(buffer):]
        else:
            data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)
