"""A one-line progress bar on stderr for long inputs, and the byte counter that feeds it."""

from __future__ import annotations

import io
import sys
import time
from typing import IO, Any, TextIO

_WIDTH = 28


class CountingReader(io.RawIOBase):
    """Counts the bytes read through it (the file's share done, for the bar)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def counted(stream: IO[bytes]) -> tuple[io.BufferedReader, CountingReader]:
    counter = CountingReader(stream)
    return io.BufferedReader(counter, buffer_size=256 * 1024), counter


class Progress:
    """``[#####.....]  45%  45,000 rows  12,345 rows/s``, redrawn at most 10 times a second."""

    def __init__(self, total_bytes: int, *, enabled: bool, out: TextIO | None = None) -> None:
        self.total = max(total_bytes, 1)
        self.enabled = enabled
        self.out = out or sys.stderr
        self.started = time.monotonic()
        self._drawn = 0.0
        self.rows = 0
        self.done_bytes = 0

    def update(self, done_bytes: int, rows: int, *, force: bool = False) -> None:
        self.done_bytes, self.rows = done_bytes, rows
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < 0.1):
            return
        self._drawn = now
        share = min(done_bytes / self.total, 1.0)
        filled = int(share * _WIDTH)
        rate = rows / max(now - self.started, 1e-9)
        self.out.write(f"\r[{'#' * filled}{'.' * (_WIDTH - filled)}] {share:4.0%}  "
                       f"{rows:,} rows  {rate:,.0f} rows/s")
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(self.total, self.rows, force=True)
            self.out.write("\n")
            self.out.flush()
