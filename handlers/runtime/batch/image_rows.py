"""Image files as rows: one image object is one row; a tar archive (``.tar``, ``.tar.gz``,
``.tgz``) is a folder of images in one object, one row per file, read as a stream (one
member in memory at a time), so a folder of photos costs one GET and one PUT, not two per
photo. JSON Lines of ``{"b64": ...}`` instances are read by rows.jsonl_rows.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO

from handlers.runtime.batch.rows import Row
from handlers.runtime.errors import PayloadTooLarge, UnprocessableInstance

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_tar(name: str) -> bool:
    return name.lower().endswith(TAR_SUFFIXES)


def image_rows(stream: IO[bytes], *, max_bytes: int) -> Iterator[Row]:
    """An image object is one row; one byte past the limit is enough to refuse it."""
    yield Row(1, stream.read(max_bytes + 1))


def tar_rows(stream: IO[bytes], *, max_bytes: int) -> Iterator[Row]:
    """Each regular file of the archive, in archive order (hidden files and folders skipped)."""
    number = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
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
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnprocessableInstance(
            f"the archive cannot be read after row {number}: {exc}; send a tar of image files",
            code="malformed_archive") from None


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)
