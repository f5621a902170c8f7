"""The one seam through which layer building runs other programs (pip, python3.12).

Tests pass a fake ``CommandRunner``; nothing here is ever given text from a request.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def output_tail(self, lines: int = 15) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


class CommandRunner(Protocol):
    def __call__(self, args: Sequence[str], *, env: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> CommandResult: ...


def run_command(args: Sequence[str], *, env: Mapping[str, str] | None = None,
                timeout: float | None = None) -> CommandResult:
    """Run a program without a shell and capture its output; a missing program is code 127."""
    argv = tuple(str(a) for a in args)
    try:
        proc = subprocess.run(argv, env=dict(env) if env is not None else None,
                              capture_output=True, text=True, check=False, timeout=timeout)
    except OSError as exc:
        return CommandResult(argv, 127, "", str(exc))
    except subprocess.TimeoutExpired:
        return CommandResult(argv, 124, "", f"timed out after {timeout} s")
    return CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)
