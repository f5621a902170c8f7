"""Run one measured child process and read its JSON-lines reports from a private pipe.

The child's stdout and stderr (handler logs, EMF metrics, tracebacks) go to a log file;
its reports arrive on a pipe passed as an extra file descriptor (``spec["fd"]``), so
nothing the code under test prints can be mistaken for a measurement. The parent stamps
the moment the first report line arrives: that is the cold start seen from outside.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.support.processes import stop_group

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
# Variables that would point a child at another model, cache or AWS account than ours.
_SCRUBBED_PREFIXES = ("AWS_", "FEATHERSERVE_")
# Set on some machines for old OpenBLAS builds; they slow a current numpy's kernels. Every
# measured process runs without both (never the tests: only the benchmark's children), and
# the BLAS thread settings come from the scenario, not from the parent's shell.
_SCRUBBED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
             "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ChildFailed(RuntimeError):
    """A measured process crashed, timed out, or reported something unusable."""


@dataclass(frozen=True)
class ChildRun:
    spawned: float                  # parent's perf_counter just before the spawn
    first_report: float             # parent's perf_counter when the first line arrived
    reports: list[dict[str, Any]]
    returncode: int

    @property
    def wall_ms(self) -> float:
        return (self.first_report - self.spawned) * 1000

    def report(self, event: str) -> dict[str, Any]:
        for report in self.reports:
            if report.get("event") == event:
                return report
        raise ChildFailed(f"the child sent no {event!r} report (got {self.reports})")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus AWS and featherserve settings, with the project importable.

    Bytecode is never written: Lambda's /var/task is read-only, and the tree is shared.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_EC2_METADATA_DISABLED": "true"})
    env.update(extra or {})
    return env


def script_command(script: str) -> list[str]:
    """Run ``benchmarks/<script>`` as a plain script; ``-P`` keeps its folder off sys.path."""
    return [sys.executable, "-P", str(BENCH_DIR / script)]


def run_child(command: list[str], spec: Mapping[str, Any], *, env: Mapping[str, str],
              log_path: Path, timeout: float) -> ChildRun:
    """Start ``command + [spec as JSON]``, collect its reports, and always stop its group."""
    read_fd, write_fd = os.pipe()
    argv = [*command, json.dumps({**spec, "fd": write_fd})]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n--- {' '.join(command)}\n".encode())
        log.flush()
        spawned = time.perf_counter()
        try:
            process = subprocess.Popen(argv, cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       pass_fds=(write_fd,), start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
    try:
        first, lines = _read_reports(read_fd, spawned + timeout)
        returncode = process.wait(timeout=max(1.0, spawned + timeout - time.perf_counter()))
    except (subprocess.TimeoutExpired, TimeoutError):
        raise ChildFailed(f"timed out after {timeout:.0f}s\n{_tail(log_path)}") from None
    finally:
        os.close(read_fd)
        stop_group(process, grace=2.0)
    if returncode != 0 or first is None:
        raise ChildFailed(f"exited with {returncode}\n{_tail(log_path)}")
    try:
        reports = [json.loads(line) for line in lines]
    except ValueError as exc:
        raise ChildFailed(f"unreadable report: {exc}\n{lines}") from None
    return ChildRun(spawned=spawned, first_report=first, reports=reports,
                    returncode=returncode)


def _read_reports(fd: int, deadline: float) -> tuple[float | None, list[str]]:
    """Every line written to ``fd`` until EOF, and when the first one was complete."""
    buffer = b""
    first: float | None = None
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if first is None and b"\n" in chunk:
            first = time.perf_counter()
        if not chunk:
            return first, [line for line in buffer.decode().splitlines() if line.strip()]
        buffer += chunk


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
