"""Small helpers every training job uses: seeding, progress, parameter counts, lineage."""

from __future__ import annotations

import os
import random
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def seed_everything(seed: int) -> None:
    """Fix every random source a job touches, so a rebuild gives the same model."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # tabular-only installs may not have torch
        return
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def kit_version() -> str:
    try:
        return version("featherserve")
    except PackageNotFoundError:
        return "0+unknown"


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def command_line(command: str = "") -> str:
    """The lineage's ``command``: what the caller says started the job (the CLI passes the
    command as the user typed it), else how this process was started."""
    return command or shlex.join([os.path.basename(sys.argv[0]) or "python", *sys.argv[1:]])


def build_folder(store_root: Path) -> Path:
    """A job's build folder (teachers, reports, work) when its caller names none: ``build/``
    beside the store, as a project keeps ``models/`` and ``build/``. The CLI names its
    project's folders; training never looks for a project itself."""
    return Path(store_root).parent / "build"


def progress(label: str, items: Iterable[T], total: int | None = None) -> Iterator[T]:
    """Yield ``items``, keeping one updating line on stderr (at most ~4 redraws a second)."""
    total = total if total is not None else _length(items)
    started = last_drawn = time.perf_counter()
    count = 0
    for count, item in enumerate(items, start=1):
        yield item
        now = time.perf_counter()
        if now - last_drawn >= 0.25 or count == total:
            last_drawn = now
            of_total = f"/{total}" if total else ""
            print(f"\r  {label}: {count}{of_total}  {now - started:5.1f}s", end="",
                  file=sys.stderr, flush=True)
    if count:
        print(file=sys.stderr)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table for the end of a training run."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([line, rule, *body])


def _length(items: Iterable[object]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None
