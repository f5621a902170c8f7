"""What reading a file costs, counted as the readers take it: a chunk of rows ends by bytes as
well as by rows (scoring.py), and an archive's unpacked bytes and every member, skipped or
not, count against the file's size limit and the invocation's time (image_rows.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, cast


def _no_limit(rows_done: int) -> None:
    pass


@dataclass
class FileBudget:
    """One file's limits as it is read: its bytes once unpacked, and the time left (a check
    that raises ``OutOfTime``, given the rows read so far)."""

    max_unpacked: int | None = None
    check_time: Callable[[int], None] = field(default=_no_limit)


class MeteredStream(io.BufferedIOBase):
    """``stream`` as its reader sees it, counting the bytes handed out; ``on_read`` runs after
    each read with its length (a limit or a deadline that raises stops the reader there).
    Closing it leaves ``stream`` open: its owner closes it."""

    def __init__(self, stream: IO[bytes], *, budget: FileBudget | None = None,
                 on_read: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self._stream = stream
        self.budget = budget or FileBudget()
        self._on_read = on_read
        self.bytes_read = 0
        self.unpacked = 0  # bytes an archive reader unpacked from it (image_rows.py)

    def taken(self) -> int:
        """Every byte read from the file or unpacked from it so far."""
        return self.bytes_read + self.unpacked

    def as_io(self) -> IO[bytes]:
        return cast(IO[bytes], self)

    def readable(self) -> bool:
        return True

    def _took(self, data: bytes) -> bytes:
        self.bytes_read += len(data)
        if self._on_read is not None:
            self._on_read(len(data))
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._took(self._stream.read(-1 if size is None else size))

    def read1(self, size: int = -1) -> bytes:
        read1: Any = getattr(self._stream, "read1", None)
        return self._took(read1(size) if read1 is not None else self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._took(self._stream.readline(-1 if size is None else size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readinto1(self, buffer: Any) -> int:
        data = self.read1(len(buffer))
        buffer[:len(data)] = data
        return len(data)
