"""Tar archives built in memory, as users upload them to the bulk path (tests, benchmarks)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping


def tar_of(files: Mapping[str, bytes], *, gzip: bool = False) -> bytes:
    """A tar (``gzip``: a .tar.gz) holding each name's bytes as a regular file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gzip else "w") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return out.getvalue()
